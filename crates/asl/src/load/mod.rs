//! Loading and validating a definition: JSON in, a [`StateMachine`] or every problem out.
//!
//! Validation follows the Amazon States Language specification (<https://states-language.net/spec.html>)
//! and the AWS Step Functions developer guide, JSONPath query language. The loader never stops
//! at the first problem: it walks the whole definition, records each problem with the JSON
//! pointer of the offending value and the state it belongs to, and only builds the typed model
//! when nothing was found.
//!
//! Layout: `fields` reads typed values out of JSON objects, `machine` checks a state machine
//! (top level, Parallel branch, Map processor) and its transition graph, `state` the common
//! state fields and the simple state types, `flow` Choice and Wait, `task`, `retry`
//! and `map` the rest.

mod fields;
mod flow;
mod json;
mod machine;
mod map;
mod query;
mod retry;
mod state;
mod task;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::limits::Limits;
use crate::model::StateMachine;

/// One problem found in a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// JSON pointer (RFC 6901) to the offending value, e.g. `/States/Resize/Next`.
    pub pointer: String,
    /// The state it belongs to, as a path through nested machines
    /// (`Fan out/branch 0/Audit`), when there is one.
    pub state: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            Some(state) => write!(f, "state '{}' ({}): {}", state, self.pointer, self.message),
            None => write!(
                f,
                "{}: {}",
                if self.pointer.is_empty() {
                    "/"
                } else {
                    &self.pointer
                },
                self.message
            ),
        }
    }
}

/// Parses and validates a definition given as text.
///
/// JSON syntax errors are reported with their line and column. A key repeated in one JSON
/// object (which a JSON parser would silently resolve to the last value, losing a state with a
/// duplicate name) is reported too, together with every other problem of the definition.
pub fn load_str(src: &str) -> Result<StateMachine, Vec<Diagnostic>> {
    load_str_with(src, &Limits::default())
}

/// [`load_str`] under `limits` (definition size, state count and nesting).
pub fn load_str_with(src: &str, limits: &Limits) -> Result<StateMachine, Vec<Diagnostic>> {
    limits
        .check_definition_size(src.len())
        .map_err(|e| vec![e])?;
    let (json, duplicates) = json::parse(src).map_err(|e| vec![e])?;
    let mut loader = Loader {
        limits: Some((limits.clone(), false)),
        ..Loader::default()
    };
    for (pointer, key) in duplicates {
        loader.report(
            pointer,
            None,
            format!(
                "key '{key}' appears more than once in the same object; JSON keys (and state names) must be unique"
            ),
        );
    }
    loader.run(&json)
}

/// Validates a definition and builds its typed form, or returns every problem found.
pub fn load(definition: &Json) -> Result<StateMachine, Vec<Diagnostic>> {
    load_with(definition, &Limits::default())
}

/// [`load`] under `limits`; the size of a parsed definition is that of its compact JSON.
pub fn load_with(definition: &Json, limits: &Limits) -> Result<StateMachine, Vec<Diagnostic>> {
    Loader {
        limits: Some((limits.clone(), true)),
        ..Loader::default()
    }
    .run(definition)
}

/// Deeper documents than this are refused before validation (the validator recurses).
const MAX_DEPTH: usize = 200;

/// Collects problems while walking one definition.
#[derive(Default)]
struct Loader {
    problems: Vec<Diagnostic>,
    /// Every state name defined so far, anywhere in the definition, with its pointer: names
    /// must be unique across nested machines too.
    names: HashMap<String, String>,
    /// Transitions to states missing from their machine: the index of the diagnostic and the
    /// target, so the message can say whether the target lives in another machine.
    missing: Vec<MissingTarget>,
    /// The limits to check before validating, and whether to measure the definition's size
    /// (its text was measured already when it came as text).
    limits: Option<(Limits, bool)>,
    /// The top-level `QueryLanguage`, which nested machines' states default to.
    language: crate::query::QueryLanguage,
    /// The language of the state being checked (for its catchers and choice rules).
    current: crate::query::QueryLanguage,
}

struct MissingTarget {
    problem: usize,
    field: &'static str,
    target: String,
}

impl Loader {
    fn run(mut self, definition: &Json) -> Result<StateMachine, Vec<Diagnostic>> {
        if depth_exceeds(definition, MAX_DEPTH) {
            self.report(
                String::new(),
                None,
                format!("the definition is nested more than {MAX_DEPTH} levels deep"),
            );
            return Err(self.problems);
        }
        if let Some((limits, measure)) = &self.limits {
            if *measure && limits.definition_bytes.is_some() {
                let bytes = serde_json::to_vec(definition).map_or(usize::MAX, |v| v.len());
                limits.check_definition_size(bytes).map_err(|e| vec![e])?;
            }
            let problems = limits.check_states(definition);
            if !problems.is_empty() {
                return Err(problems);
            }
        }
        let machine = self.top_level(definition);
        self.explain_missing_targets();
        match machine {
            Some(m) if self.problems.is_empty() => Ok(m),
            _ => {
                if self.problems.is_empty() {
                    // Every path that fails to build a part reports why; this is a safety net.
                    self.report(String::new(), None, "the definition is not valid");
                }
                Err(self.problems)
            }
        }
    }

    fn report(&mut self, pointer: String, state: Option<&str>, message: impl Into<String>) {
        self.problems.push(Diagnostic {
            pointer,
            state: state.map(str::to_string),
            message: message.into(),
        });
    }

    /// Records a transition (`Next`, `Default`, a catcher's `Next`, `StartAt`) to a state that
    /// is not in its machine; the message is completed once every name is known.
    fn report_missing(
        &mut self,
        pointer: String,
        state: Option<&str>,
        field: &'static str,
        target: &str,
    ) {
        self.missing.push(MissingTarget {
            problem: self.problems.len(),
            field,
            target: target.to_string(),
        });
        self.report(
            pointer,
            state,
            format!("{field} names '{target}', but there is no state with that name"),
        );
    }

    fn explain_missing_targets(&mut self) {
        for m in std::mem::take(&mut self.missing) {
            if self.names.contains_key(&m.target)
                && let Some(p) = self.problems.get_mut(m.problem)
            {
                p.message = format!(
                    "{} names '{}', which is a state of another state machine: transitions cannot leave or enter a Parallel branch or a Map processor",
                    m.field, m.target
                );
            }
        }
    }
}

/// Appends a reference token to a JSON pointer, escaping `~` and `/` (RFC 6901).
fn child(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

fn index(pointer: &str, i: usize) -> String {
    format!("{pointer}/{i}")
}

/// Whether `json` nests deeper than `limit`, checked without recursion.
fn depth_exceeds(json: &Json, limit: usize) -> bool {
    let mut stack = vec![(json, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        match value {
            Json::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Json::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    false
}
