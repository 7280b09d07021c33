//! The loader refuses definitions beyond its `Limits`, naming the limit and where.

use serde_json::{Value as Json, json};

use super::super::{load_str_with, load_with};
use crate::limits::{AWS_MAX_DEFINITION_BYTES, Limits};

fn pass(name: &str) -> Json {
    json!({"StartAt": name, "States": {name: {"Type": "Pass", "End": true}}})
}

/// `levels` Parallel states inside each other.
fn nested(levels: usize) -> Json {
    let mut machine = pass("L");
    for i in 0..levels {
        let name = format!("P{i}");
        machine = json!({"StartAt": name.clone(), "States": {name: {"Type": "Parallel", "Branches": [machine], "End": true}}});
    }
    machine
}

#[test]
fn a_definition_over_1_mb_is_refused_as_text_and_as_json() {
    let mut definition = pass("A");
    definition["Comment"] = json!("x".repeat(AWS_MAX_DEFINITION_BYTES));
    let text = definition.to_string();
    for diagnostics in [
        load_str_with(&text, &Limits::default()).unwrap_err(),
        load_with(&definition, &Limits::default()).unwrap_err(),
    ] {
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].pointer, "");
        assert_eq!(
            diagnostics[0].message,
            format!(
                "the definition is {} bytes, more than the limit of 1048576 bytes",
                text.len()
            )
        );
    }
    let unbounded = Limits::unbounded();
    assert!(load_str_with(&text, &unbounded).is_ok());
}

#[test]
fn too_many_states_are_refused() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Parallel", "Branches": [pass("C"), pass("D")], "End": true}
    }});
    let limits = Limits {
        states: Some(3),
        ..Limits::default()
    };
    let diagnostics = load_with(&definition, &limits).unwrap_err();
    assert_eq!(
        diagnostics[0].message,
        "the definition has 4 states, more than the limit of 3"
    );
    let limits = Limits {
        states: Some(4),
        ..Limits::default()
    };
    assert!(load_with(&definition, &limits).is_ok());
}

#[test]
fn nesting_beyond_the_limit_names_the_state() {
    let limits = Limits {
        state_nesting: Some(2),
        ..Limits::default()
    };
    assert!(load_with(&nested(2), &limits).is_ok());
    let diagnostics = load_with(&nested(3), &limits).unwrap_err();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(
        diagnostics[0].pointer,
        "/States/P2/Branches/0/States/P1/Branches/0/States/P0"
    );
    assert_eq!(diagnostics[0].state.as_deref(), Some("P0"));
    assert_eq!(
        diagnostics[0].message,
        "Parallel and Map states nest more than 2 deep (the limit)"
    );
    // Map processors count as well.
    let map = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": nested(2), "End": true}}});
    assert!(load_with(&map, &limits).is_err());
}
