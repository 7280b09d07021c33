//! Top-level fields, JSON text, pointers, JSONata, many problems at once.

use serde_json::json;

use super::super::{Diagnostic, load, load_str};
use super::{find, load_err, load_ok, machine, only, render, single};
use crate::model::{StateKind, Transition};

#[test]
fn minimal_definition_loads() {
    let m = load_ok(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}));
    assert_eq!(m.start_at, "A");
    assert_eq!(m.states.len(), 1);
    assert_eq!(m.comment, None);
    assert_eq!(m.timeout_seconds, None);
    let a = &m.states["A"];
    assert_eq!(a.name, "A");
    assert!(matches!(a.kind, StateKind::Pass(_)));
    assert_eq!(a.transition, Transition::End);
    assert_eq!(a.input_path.as_ref().map(|p| p.as_str()), Some("$"));
    assert_eq!(a.output_path.as_ref().map(|p| p.as_str()), Some("$"));
    assert_eq!(a.result_path.as_ref().map(|p| p.as_str()), Some("$"));
}

#[test]
fn top_level_optional_fields_load() {
    let m = load_ok(json!({
        "Comment": "hello",
        "Version": "1.0",
        "TimeoutSeconds": 60,
        "QueryLanguage": "JSONPath",
        "StartAt": "A",
        "States": {"A": {"Type": "Succeed"}}
    }));
    assert_eq!(m.comment.as_deref(), Some("hello"));
    assert_eq!(m.timeout_seconds, Some(60));
}

#[test]
fn states_keep_definition_order() {
    let m = load_ok(machine(
        "Z",
        json!({
            "Z": {"Type": "Pass", "Next": "A"},
            "A": {"Type": "Pass", "Next": "M"},
            "M": {"Type": "Succeed"}
        }),
    ));
    let names: Vec<&str> = m.states.keys().map(String::as_str).collect();
    assert_eq!(names, ["Z", "A", "M"]);
}

#[test]
fn start_at_and_states_are_required() {
    let diags = load_err(json!({}));
    find(&diags, "", &["StartAt"]);
    find(&diags, "", &["States"]);
    assert_eq!(diags.len(), 2, "{}", render(&diags));
}

#[test]
fn states_must_be_a_non_empty_object() {
    only(
        json!({"StartAt": "A", "States": {}}),
        "/States",
        &["at least one state"],
    );
    only(
        json!({"StartAt": "A", "States": [{"Type": "Pass"}]}),
        "/States",
        &["object", "array"],
    );
}

#[test]
fn start_at_must_name_a_state() {
    let d = only(
        machine("Nope", json!({"A": {"Type": "Succeed"}})),
        "/StartAt",
        &["StartAt", "'Nope'", "no state"],
    );
    assert_eq!(d.state, None);
    only(
        json!({"StartAt": 3, "States": {"A": {"Type": "Succeed"}}}),
        "/StartAt",
        &["StartAt must be a string"],
    );
}

#[test]
fn timeout_seconds_must_be_a_positive_integer() {
    for bad in [
        json!(0),
        json!(-5),
        json!(1.5),
        json!("10"),
        json!(100_000_000),
    ] {
        let def =
            json!({"TimeoutSeconds": bad, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
        only(
            def,
            "/TimeoutSeconds",
            &["TimeoutSeconds", "positive integer"],
        );
    }
}

#[test]
fn version_and_comment_are_checked() {
    let def = json!({"Version": "2.0", "Comment": 7, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
    let diags = load_err(def);
    find(&diags, "/Version", &["\"1.0\""]);
    find(&diags, "/Comment", &["Comment must be a string"]);
    assert_eq!(diags.len(), 2);
}

#[test]
fn unknown_top_level_field_is_named() {
    let d = only(
        json!({"StartAt": "A", "Foo": 1, "States": {"A": {"Type": "Succeed"}}}),
        "/Foo",
        &["unknown field 'Foo'", "the state machine"],
    );
    assert_eq!(d.state, None);
}

#[test]
fn definition_must_be_an_object() {
    only(json!(["StartAt"]), "", &["JSON object", "array"]);
}

#[test]
fn jsonata_at_the_top_is_every_state_s_language_also_in_branches() {
    let def = json!({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Arguments": {"FunctionName": "f"}, "Output": "{% $states.result %}", "Next": "P"},
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "In", "States": {"In": {"Type": "Pass", "Output": "{% 1 %}", "End": true}}}
            ]}
        }
    });
    let m = load_ok(def);
    let crate::model::StateKind::Parallel(p) = &m.state("P").unwrap().kind else {
        panic!("P is a Parallel state")
    };
    assert!(p.branches[0].state("In").unwrap().jsonata.is_some());
}

#[test]
fn a_jsonata_machine_cannot_revert_a_state_to_jsonpath() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A",
                     "States": {"A": {"Type": "Succeed", "QueryLanguage": "JSONPath"}}});
    only(
        def,
        "/States/A",
        &["'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"],
    );
}

#[test]
fn query_language_must_be_known() {
    let def =
        json!({"QueryLanguage": "XPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
    only(
        def,
        "/QueryLanguage",
        &["Value should be one of the following: [JSONPath, JSONata]"],
    );
    let def = json!({"QueryLanguage": 1, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
    only(def, "/QueryLanguage", &["Expected value of type [STRING]"]);
}

#[test]
fn json_syntax_errors_have_line_and_column() {
    let err = load_str("{\n  \"StartAt\": \"A\",\n  \"States\": }\n").unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].pointer, "");
    assert!(
        err[0].message.contains("line 3, column 13"),
        "{}",
        err[0].message
    );
    assert!(
        err[0].message.starts_with("invalid JSON"),
        "{}",
        err[0].message
    );

    let err = load_str("").unwrap_err();
    assert!(err[0].message.contains("line 1"), "{}", err[0].message);
    let err = load_str("{} trailing").unwrap_err();
    assert!(
        err[0].message.contains("invalid JSON"),
        "{}",
        err[0].message
    );
}

#[test]
fn load_str_accepts_what_load_accepts() {
    let m = load_str(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": [1, 2.5, -3, null, true], "End": true}}}"#)
        .unwrap();
    let StateKind::Pass(pass) = &m.states["A"].kind else {
        panic!("not a Pass state")
    };
    assert_eq!(pass.result, Some(json!([1, 2.5, -3, null, true])));
}

#[test]
fn repeated_keys_are_reported_with_the_other_problems() {
    let src = r#"{
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "A": {"Type": "Pass", "End": true},
            "B": {"Type": "Succeed", "Type": "Succeed"}
        }
    }"#;
    let diags = load_str(src).unwrap_err();
    find(&diags, "/States/A", &["'A'", "more than once"]);
    find(&diags, "/States/B/Type", &["'Type'", "more than once"]);
    // The second A (End) replaced the first, so B is no longer reachable: also reported.
    find(&diags, "/States/B", &["unreachable"]);
    assert_eq!(diags.len(), 3, "{}", render(&diags));
}

#[test]
fn pointers_escape_tilde_and_slash() {
    let def = machine(
        "a/b~c",
        json!({"a/b~c": {"Type": "Pass", "Next": "missing"}}),
    );
    let d = only(def, "/States/a~1b~0c/Next", &["'missing'"]);
    assert_eq!(d.state.as_deref(), Some("a/b~c"));
}

#[test]
fn every_problem_is_reported() {
    let def = json!({
        "TimeoutSeconds": 0,
        "Extra": true,
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Retry": [], "Next": "B"},
            "B": {"Type": "Task", "Next": "Gone"},
            "C": {"Type": "Wait", "End": true},
            "D": {"Type": "Fail", "Next": "A"}
        }
    });
    let diags = load_err(def);
    find(&diags, "/TimeoutSeconds", &["positive integer"]);
    find(&diags, "/Extra", &["unknown field 'Extra'"]);
    find(
        &diags,
        "/States/A/Retry",
        &["Retry is not allowed in a Pass state"],
    );
    find(&diags, "/States/B", &["Resource"]);
    find(&diags, "/States/B/Next", &["'Gone'", "no state"]);
    find(&diags, "/States/C", &["exactly one of Seconds"]);
    find(&diags, "/States/C", &["unreachable"]);
    find(&diags, "/States/D/Next", &["Fail state ends the execution"]);
    find(&diags, "/States/D", &["unreachable"]);
    assert_eq!(diags.len(), 9, "{}", render(&diags));
}

#[test]
fn absurdly_deep_documents_are_refused() {
    let mut result = json!(1);
    for _ in 0..300 {
        result = json!([result]);
    }
    let diags = load_err(single(
        json!({"Type": "Pass", "Result": result, "End": true}),
    ));
    assert_eq!(diags.len(), 1);
    assert!(diags[0].message.contains("nested more than"));
}

#[test]
fn diagnostics_display_their_location() {
    let with_state = Diagnostic {
        pointer: "/States/A/Next".into(),
        state: Some("A".into()),
        message: "bad".into(),
    };
    assert_eq!(with_state.to_string(), "state 'A' (/States/A/Next): bad");
    let top = Diagnostic {
        pointer: String::new(),
        state: None,
        message: "bad".into(),
    };
    assert_eq!(top.to_string(), "/: bad");
}

#[test]
fn load_and_load_str_agree() {
    let text = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "X"}}}"#;
    let a = load_str(text).unwrap_err();
    let b = load(&serde_json::from_str(text).unwrap()).unwrap_err();
    assert_eq!(a, b);
}
