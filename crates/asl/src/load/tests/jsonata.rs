//! JSONata syntax errors are definition errors at the string that holds them
//! (`/States/<state>/<field>/...`, as AWS locates JSONata expression problems), in every field
//! that takes an expression, as AWS rejects them when a state machine is created.

use serde_json::{Value as Json, json};

use super::{only, single};

/// An expression that does not parse.
const BAD: &str = "{% $states.input + %}";

/// `state` (a JSONata state named `S`, ending the machine unless it says otherwise) with
/// `BAD` placed at `pointer` must fail with one problem at `/States/S{pointer}`, naming
/// `within` (where in the field the expression is; empty: not checked).
fn rejects_in(mut state: Json, pointer: &str, within: &str) {
    state["QueryLanguage"] = json!("JSONata");
    let slot = state
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} is not in the state"));
    *slot = json!(BAD);
    let at = format!("/States/S{pointer}");
    let within = format!("(in '{within}')");
    let words: &[&str] = if within == "(in '')" {
        &["INVALID_JSONATA_EXPRESSION"]
    } else {
        &["INVALID_JSONATA_EXPRESSION", &within]
    };
    let d = only(single(state), &at, words);
    assert_eq!(d.state.as_deref(), Some("S"));
}

/// [`rejects_in`] for an expression that is the field's whole value (or one `Assign`
/// variable's, or one field of a catcher or choice rule).
fn rejects(state: Json, pointer: &str) {
    rejects_in(state, pointer, "");
}

#[test]
fn task_fields() {
    let task = || {
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
               "Arguments": {"FunctionName": "f", "Payload": {"a": [1, 2]}},
               "Output": 1, "Assign": {"x": 1}, "TimeoutSeconds": 2, "HeartbeatSeconds": 1,
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S", "Output": 1,
                          "Assign": {"y": 1}}]})
    };
    rejects_in(task(), "/Arguments/FunctionName", "Arguments/FunctionName");
    rejects_in(task(), "/Arguments/Payload/a/1", "Arguments/Payload/a[1]");
    for pointer in [
        "/Arguments",
        "/Output",
        "/Assign/x",
        "/TimeoutSeconds",
        "/HeartbeatSeconds",
        "/Catch/0/Output",
        "/Catch/0/Assign/y",
    ] {
        rejects(task(), pointer);
    }
}

#[test]
fn pass_succeed_wait_and_fail_fields() {
    for pointer in ["/Output", "/Assign/x"] {
        rejects(
            json!({"Type": "Pass", "End": true, "Output": 1, "Assign": {"x": 1}}),
            pointer,
        );
    }
    rejects(json!({"Type": "Succeed", "Output": 1}), "/Output");
    rejects(
        json!({"Type": "Wait", "End": true, "Seconds": 1}),
        "/Seconds",
    );
    rejects(
        json!({"Type": "Wait", "End": true, "Timestamp": "2024-01-01T00:00:00Z"}),
        "/Timestamp",
    );
    rejects(
        json!({"Type": "Fail", "Error": "E", "Cause": "C"}),
        "/Error",
    );
    rejects(
        json!({"Type": "Fail", "Error": "E", "Cause": "C"}),
        "/Cause",
    );
}

#[test]
fn choice_fields() {
    let choice = || {
        json!({"Type": "Choice", "Default": "D", "Output": 1, "Assign": {"x": 1},
               "Choices": [{"Condition": "{% true %}", "Next": "D", "Output": 1,
                            "Assign": {"y": 1}}]})
    };
    for pointer in [
        "/Choices/0/Condition",
        "/Choices/0/Output",
        "/Choices/0/Assign/y",
        "/Output",
        "/Assign/x",
    ] {
        let mut def = single(Json::Null);
        let mut state = choice();
        state["QueryLanguage"] = json!("JSONata");
        *state.pointer_mut(pointer).expect("field") = json!(BAD);
        def["States"]["S"] = state;
        def["States"]["D"] = json!({"Type": "Succeed"});
        only(
            def,
            &format!("/States/S{pointer}"),
            &["INVALID_JSONATA_EXPRESSION"],
        );
    }
}

#[test]
fn map_and_parallel_fields() {
    let map = || {
        json!({"Type": "Map", "End": true, "Items": [1], "ItemSelector": {"a": 1},
               "MaxConcurrency": 1, "ToleratedFailureCount": 1,
               "ToleratedFailurePercentage": 1, "Output": 1, "Assign": {"x": 1},
               "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                     "ExecutionType": "STANDARD"},
                                 "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}})
    };
    for pointer in [
        "/Items",
        "/MaxConcurrency",
        "/ToleratedFailureCount",
        "/ToleratedFailurePercentage",
        "/Output",
        "/Assign/x",
    ] {
        rejects(map(), pointer);
    }
    rejects_in(map(), "/ItemSelector/a", "ItemSelector/a");
    let parallel = || {
        json!({"Type": "Parallel", "End": true, "Arguments": {"a": 1}, "Output": 1,
               "Assign": {"x": 1},
               "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}]})
    };
    for pointer in ["/Output", "/Assign/x"] {
        rejects(parallel(), pointer);
    }
    rejects_in(parallel(), "/Arguments/a", "Arguments/a");
}

#[test]
fn inside_a_branch_the_pointer_reaches_the_nested_state() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true, "Output": BAD}}}]}}});
    let d = only(
        def,
        "/States/P/Branches/0/States/B/Output",
        &["INVALID_JSONATA_EXPRESSION"],
    );
    assert_eq!(d.state.as_deref(), Some("P/branch 0/B"));
}

#[test]
fn a_string_that_is_not_a_whole_expression_is_a_literal() {
    // Only `{% ... %}` filling the whole string is an expression: this is text.
    super::load_ok(single(
        json!({"Type": "Pass", "QueryLanguage": "JSONata", "End": true,
                                   "Output": "price {% $x + %}"}),
    ));
}
