//! Loader tests: valid definitions build the right model; each invalid one yields the right
//! pointer, state and message.

mod choice;
mod containers;
mod jsonata;
mod limits;
mod needs_intrinsics;
mod robustness;
mod states;
mod task;
mod top;

use serde_json::{Value as Json, json};

use super::{Diagnostic, load};
use crate::model::{State, StateMachine};

/// Loads a definition that must be valid.
fn load_ok(definition: Json) -> StateMachine {
    match load(&definition) {
        Ok(m) => m,
        Err(diags) => panic!("expected a valid definition, got:\n{}", render(&diags)),
    }
}

/// Loads a definition that must be invalid.
fn load_err(definition: Json) -> Vec<Diagnostic> {
    match load(&definition) {
        Ok(_) => panic!("expected problems, the definition loaded"),
        Err(diags) => diags,
    }
}

fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| format!("  {:?} [{:?}] {}", d.pointer, d.state, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The diagnostic with exactly this pointer whose message holds every word.
fn find<'d>(diags: &'d [Diagnostic], pointer: &str, words: &[&str]) -> &'d Diagnostic {
    diags
        .iter()
        .find(|d| d.pointer == pointer && words.iter().all(|w| d.message.contains(w)))
        .unwrap_or_else(|| {
            panic!(
                "no diagnostic at {pointer:?} containing {words:?}; got:\n{}",
                render(diags)
            )
        })
}

/// Asserts the definition yields exactly one problem, at `pointer`, mentioning `words`.
fn only(definition: Json, pointer: &str, words: &[&str]) -> Diagnostic {
    let diags = load_err(definition);
    assert_eq!(
        diags.len(),
        1,
        "expected one problem, got:\n{}",
        render(&diags)
    );
    find(&diags, pointer, words).clone()
}

/// A definition whose single state `S` is `state`.
fn single(state: Json) -> Json {
    json!({"StartAt": "S", "States": {"S": state}})
}

/// A definition starting at the first of `states`.
fn machine(start: &str, states: Json) -> Json {
    json!({"StartAt": start, "States": states})
}

/// State `S` of a definition that must load.
fn single_ok(state: Json) -> State {
    let m = load_ok(single(state));
    match m.states.get("S") {
        Some(s) => s.clone(),
        None => panic!("state S missing"),
    }
}
