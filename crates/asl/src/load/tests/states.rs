//! Common state rules and the simple state types (Pass, Wait, Succeed, Fail).

use serde_json::json;

use super::{find, load_err, load_ok, machine, only, render, single, single_ok};
use crate::model::{StateKind, StringOrPath, Transition, WaitState};
use crate::path::Root;
use crate::template::Template;

#[test]
fn type_is_required_and_known() {
    let d = only(single(json!({"End": true})), "/States/S", &["needs a Type"]);
    assert_eq!(d.state.as_deref(), Some("S"));
    only(
        single(json!({"Type": "Lambda", "End": true})),
        "/States/S/Type",
        &["unknown state Type 'Lambda'", "Pass", "Map"],
    );
    only(
        single(json!({"Type": 1, "End": true})),
        "/States/S/Type",
        &["Type must be a string"],
    );
    only(
        single(json!("Pass")),
        "/States/S",
        &["a state must be a JSON object"],
    );
}

#[test]
fn a_broken_state_still_links_the_graph() {
    // B has no Type, but its Next still counts: C is not reported unreachable.
    let def = machine(
        "A",
        json!({
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Next": "C"},
            "C": {"Type": "Succeed"}
        }),
    );
    only(def, "/States/B", &["needs a Type"]);
}

#[test]
fn fields_not_allowed_by_the_state_type_are_named() {
    only(
        single(json!({"Type": "Pass", "Retry": [], "End": true})),
        "/States/S/Retry",
        &["Retry is not allowed in a Pass state"],
    );
    only(
        single(json!({"Type": "Pass", "Catch": [], "End": true})),
        "/States/S/Catch",
        &["Catch is not allowed in a Pass state"],
    );
    only(
        single(json!({"Type": "Wait", "Seconds": 1, "Parameters": {}, "End": true})),
        "/States/S/Parameters",
        &["Parameters is not allowed in a Wait state"],
    );
    only(
        single(json!({"Type": "Succeed", "ResultPath": "$.x"})),
        "/States/S/ResultPath",
        &["ResultPath is not allowed in a Succeed state"],
    );
    only(
        single(json!({"Type": "Pass", "ResultSelector": {}, "End": true})),
        "/States/S/ResultSelector",
        &["ResultSelector is not allowed in a Pass state"],
    );
}

#[test]
fn unknown_fields_are_named() {
    only(
        single(json!({"Type": "Pass", "Nxt": "S", "End": true})),
        "/States/S/Nxt",
        &["unknown field 'Nxt' in a Pass state"],
    );
}

#[test]
fn succeed_and_fail_have_no_transition() {
    only(
        single(json!({"Type": "Succeed", "Next": "S"})),
        "/States/S/Next",
        &["Succeed state ends the execution", "Next"],
    );
    only(
        single(json!({"Type": "Succeed", "End": true})),
        "/States/S/End",
        &["Succeed state ends the execution", "End"],
    );
    only(
        single(json!({"Type": "Fail", "Next": "S"})),
        "/States/S/Next",
        &["Fail state ends the execution"],
    );
}

#[test]
fn fail_allows_only_error_and_cause() {
    let def = single(json!({
        "Type": "Fail", "Comment": "c", "InputPath": "$", "OutputPath": "$", "ResultPath": "$",
        "Parameters": {}
    }));
    let diags = load_err(def);
    for field in ["InputPath", "OutputPath", "ResultPath", "Parameters"] {
        find(
            &diags,
            &format!("/States/S/{field}"),
            &[field, "not allowed in a Fail state"],
        );
    }
    assert_eq!(diags.len(), 4, "{}", render(&diags));
}

#[test]
fn exactly_one_of_next_and_end() {
    let def = machine(
        "A",
        json!({"A": {"Type": "Pass", "Next": "B", "End": true}, "B": {"Type": "Succeed"}}),
    );
    only(def, "/States/A/End", &["both Next and End"]);
    only(
        single(json!({"Type": "Pass"})),
        "/States/S",
        &["Pass state needs Next", "End"],
    );
    only(
        single(json!({"Type": "Pass", "End": false})),
        "/States/S/End",
        &["End must be true", "Next"],
    );
    only(
        single(json!({"Type": "Pass", "End": "yes"})),
        "/States/S/End",
        &["End must be true"],
    );
    only(
        single(json!({"Type": "Pass", "Next": ["S"]})),
        "/States/S/Next",
        &["Next must be a state name"],
    );
}

#[test]
fn next_must_name_a_state() {
    let d = only(
        machine("A", json!({"A": {"Type": "Pass", "Next": "B"}})),
        "/States/A/Next",
        &["Next names 'B'", "no state"],
    );
    assert_eq!(d.state.as_deref(), Some("A"));
}

#[test]
fn unreachable_states_are_reported() {
    let def = machine(
        "A",
        json!({
            "A": {"Type": "Pass", "End": true},
            "B": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Succeed"}
        }),
    );
    let diags = load_err(def);
    let b = find(&diags, "/States/B", &["'B' is unreachable", "StartAt 'A'"]);
    assert_eq!(b.state.as_deref(), Some("B"));
    find(&diags, "/States/C", &["'C' is unreachable"]);
    assert_eq!(diags.len(), 2);
}

#[test]
fn states_reached_only_through_catch_are_reachable() {
    let m = load_ok(machine(
        "A",
        json!({
            "A": {"Type": "Task", "Resource": "f", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}]},
            "Recover": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }),
    ));
    assert_eq!(m.states.len(), 3);
}

#[test]
fn loops_are_allowed() {
    load_ok(machine(
        "A",
        json!({
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Wait", "Seconds": 1, "Next": "A"}
        }),
    ));
}

#[test]
fn state_names_are_at_most_80_characters() {
    let ok = "n".repeat(80);
    load_ok(machine(&ok, json!({ ok.clone(): {"Type": "Succeed"} })));
    let long = "é".repeat(81);
    only(
        machine(&long, json!({ long.clone(): {"Type": "Succeed"} })),
        &format!("/States/{long}"),
        &["81 characters", "80"],
    );
}

#[test]
fn paths_load_and_null_discards() {
    let s = single_ok(json!({
        "Type": "Pass", "InputPath": null, "OutputPath": "$.a.b[0]", "ResultPath": null, "End": true
    }));
    assert!(s.input_path.is_none());
    assert_eq!(s.output_path.as_ref().map(|p| p.as_str()), Some("$.a.b[0]"));
    assert!(s.result_path.is_none());

    let s = single_ok(json!({
        "Type": "Pass", "InputPath": "$$.Execution.Input", "OutputPath": "$.items[*].id",
        "ResultPath": "$.out.x", "End": true
    }));
    assert_eq!(s.input_path.as_ref().map(|p| p.root()), Some(Root::Context));
    assert_eq!(s.result_path.as_ref().map(|p| p.as_str()), Some("$.out.x"));
}

#[test]
fn bad_paths_are_reported() {
    only(
        single(json!({"Type": "Pass", "InputPath": "a.b", "End": true})),
        "/States/S/InputPath",
        &["InputPath", "must begin with '$'"],
    );
    only(
        single(json!({"Type": "Pass", "OutputPath": 5, "End": true})),
        "/States/S/OutputPath",
        &["OutputPath must be a path string"],
    );
    only(
        single(json!({"Type": "Pass", "InputPath": "States.Format('{}', $.a)", "End": true})),
        "/States/S/InputPath",
        &["InputPath"],
    );
}

#[test]
fn result_path_must_be_a_reference_path() {
    only(
        single(json!({"Type": "Pass", "ResultPath": "$.a[*]", "End": true})),
        "/States/S/ResultPath",
        &["ResultPath", "reference path"],
    );
    only(
        single(json!({"Type": "Pass", "ResultPath": "$$.Execution", "End": true})),
        "/States/S/ResultPath",
        &["ResultPath", "context"],
    );
    only(
        single(json!({"Type": "Pass", "ResultPath": "$..a", "End": true})),
        "/States/S/ResultPath",
        &["ResultPath"],
    );
}

#[test]
fn pass_result_is_literal_json() {
    let s = single_ok(json!({"Type": "Pass", "Result": {"x.$": "$.not-a-template"}, "End": true}));
    let StateKind::Pass(pass) = s.kind else {
        panic!("not a Pass state")
    };
    assert_eq!(pass.result, Some(json!({"x.$": "$.not-a-template"})));
}

#[test]
fn templates_keep_literal_parts_whole() {
    let s = single_ok(json!({
        "Type": "Pass",
        "Parameters": {"static": {"a": [1, {"b": 2}]}, "x.$": "$.x", "ctx.$": "$$.Execution.Id",
                       "list": [{"v.$": "$.v"}, 3]},
        "End": true
    }));
    let Some(Template::Object(fields)) = s.parameters else {
        panic!("expected an object template, got {:?}", s.parameters)
    };
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["static", "x", "ctx", "list"]);
    assert!(matches!(&fields[0].1, Template::Literal(j) if *j == json!({"a": [1, {"b": 2}]})));
    assert!(matches!(&fields[1].1, Template::Path(p) if p.as_str() == "$.x"));
    assert!(matches!(&fields[2].1, Template::Path(p) if p.root() == Root::Context));
    let Template::Array(items) = &fields[3].1 else {
        panic!("expected an array template")
    };
    assert!(matches!(&items[0], Template::Object(f) if f[0].0 == "v"));
    assert!(matches!(&items[1], Template::Literal(j) if *j == json!(3)));
}

#[test]
fn templates_without_dynamic_fields_are_one_literal() {
    let s = single_ok(json!({"Type": "Pass", "Parameters": {"a": {"b": [1, 2]}}, "End": true}));
    assert!(matches!(s.parameters, Some(Template::Literal(j)) if j == json!({"a": {"b": [1, 2]}})));
    let s = single_ok(json!({"Type": "Pass", "Parameters": "just a string", "End": true}));
    assert!(matches!(s.parameters, Some(Template::Literal(j)) if j == json!("just a string")));
}

#[test]
fn dynamic_template_fields_must_be_paths_or_intrinsics() {
    let def = single(json!({
        "Type": "Pass",
        "Parameters": {
            "num.$": 5,
            "word.$": "hello",
            "bad.$": "$.a[",
            "deep": {"also.$": ["$.x"]}
        },
        "End": true
    }));
    let diags = load_err(def);
    find(
        &diags,
        "/States/S/Parameters/num.$",
        &["'num.$'", "must be a string"],
    );
    find(
        &diags,
        "/States/S/Parameters/word.$",
        &["'word.$'", "path", "intrinsic function", "'hello'"],
    );
    find(
        &diags,
        "/States/S/Parameters/bad.$",
        &["'bad.$'", "invalid path"],
    );
    find(
        &diags,
        "/States/S/Parameters/deep/also.$",
        &["'also.$'", "must be a string"],
    );
    assert_eq!(diags.len(), 4, "{}", render(&diags));
    assert!(diags.iter().all(|d| d.state.as_deref() == Some("S")));
}

#[test]
fn a_field_given_with_and_without_dollar_is_ambiguous() {
    only(
        single(json!({"Type": "Pass", "Parameters": {"a": 1, "a.$": "$.x"}, "End": true})),
        "/States/S/Parameters/a.$",
        &["'a' is given twice"],
    );
}

#[test]
fn wait_takes_exactly_one_duration() {
    let s = single_ok(json!({"Type": "Wait", "Seconds": 0, "End": true}));
    assert!(matches!(s.kind, StateKind::Wait(WaitState::Seconds(0))));
    let s = single_ok(json!({"Type": "Wait", "SecondsPath": "$.wait", "End": true}));
    assert!(matches!(s.kind, StateKind::Wait(WaitState::SecondsPath(p)) if p.as_str() == "$.wait"));
    let s = single_ok(json!({"Type": "Wait", "Timestamp": "2024-08-18T17:33:00Z", "End": true}));
    assert!(
        matches!(s.kind, StateKind::Wait(WaitState::Timestamp(t)) if t == "2024-08-18T17:33:00Z")
    );
    let s =
        single_ok(json!({"Type": "Wait", "TimestampPath": "$$.Execution.StartTime", "End": true}));
    assert!(matches!(
        s.kind,
        StateKind::Wait(WaitState::TimestampPath(_))
    ));

    only(
        single(json!({"Type": "Wait", "End": true})),
        "/States/S",
        &["exactly one of Seconds, SecondsPath, Timestamp or TimestampPath"],
    );
    let d = only(
        single(
            json!({"Type": "Wait", "Seconds": 5, "Timestamp": "2024-08-18T17:33:00Z", "End": true}),
        ),
        "/States/S/Timestamp",
        &["exactly one", "Seconds is already given"],
    );
    assert_eq!(d.state.as_deref(), Some("S"));
}

#[test]
fn wait_values_are_checked() {
    only(
        single(json!({"Type": "Wait", "Seconds": -1, "End": true})),
        "/States/S/Seconds",
        &["non-negative integer"],
    );
    only(
        single(json!({"Type": "Wait", "Seconds": 2.5, "End": true})),
        "/States/S/Seconds",
        &["non-negative integer"],
    );
    for bad in [
        "2024-08-18t17:33:00Z",
        "2024-08-18T17:33:00z",
        "2024-08-18 17:33:00Z",
        "2024-13-18T17:33:00Z",
        "tomorrow",
    ] {
        only(
            single(json!({"Type": "Wait", "Timestamp": bad, "End": true})),
            "/States/S/Timestamp",
            &["RFC 3339"],
        );
    }
    single_ok(json!({"Type": "Wait", "Timestamp": "2024-08-18T17:33:00.250+02:00", "End": true}));
    only(
        single(json!({"Type": "Wait", "SecondsPath": "$.waits[*]", "End": true})),
        "/States/S/SecondsPath",
        &["SecondsPath", "single value"],
    );
}

#[test]
fn fail_error_and_cause() {
    let s = single_ok(json!({"Type": "Fail", "Error": "Oops", "CausePath": "$.why"}));
    let StateKind::Fail(fail) = s.kind else {
        panic!("not a Fail state")
    };
    assert!(matches!(fail.error, Some(StringOrPath::Literal(e)) if e == "Oops"));
    assert!(matches!(fail.cause, Some(StringOrPath::Path(p)) if p.as_str() == "$.why"));
    assert_eq!(s.transition, Transition::None);

    let s = single_ok(json!({"Type": "Fail"}));
    let StateKind::Fail(fail) = s.kind else {
        panic!("not a Fail state")
    };
    assert!(fail.error.is_none() && fail.cause.is_none());
}

#[test]
fn fail_fields_are_checked() {
    only(
        single(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})),
        "/States/S/ErrorPath",
        &["only one of Error and ErrorPath"],
    );
    only(
        single(json!({"Type": "Fail", "Cause": "C", "CausePath": "$.c"})),
        "/States/S/CausePath",
        &["only one of Cause and CausePath"],
    );
    only(
        single(json!({"Type": "Fail", "Error": 5})),
        "/States/S/Error",
        &["Error must be a string"],
    );
    only(
        single(json!({"Type": "Fail", "CausePath": "$.c[*]"})),
        "/States/S/CausePath",
        &["CausePath", "single value"],
    );
    only(
        single(json!({"Type": "Fail", "CausePath": "cause"})),
        "/States/S/CausePath",
        &["CausePath must be a path or an intrinsic function call"],
    );
}

#[test]
fn succeed_takes_input_and_output_paths() {
    let s = single_ok(json!({"Type": "Succeed", "InputPath": "$.a", "OutputPath": null}));
    assert!(matches!(s.kind, StateKind::Succeed));
    assert!(s.output_path.is_none());
    assert_eq!(s.transition, Transition::None);
}

#[test]
fn jsonata_fields_in_a_jsonpath_state_are_reported_at_the_state_in_aws_words() {
    let def = single(json!({
        "Type": "Task", "Resource": "f", "Arguments": {"a": 1}, "Output": {}, "Assign": {"x": 1},
        "End": true
    }));
    let diags = load_err(def);
    for field in ["Arguments", "Output"] {
        find(
            &diags,
            "/States/S",
            &[&format!(
                "The QueryLanguage is set to 'JSONPath', but field '{field}' is only supported for the 'JSONata' QueryLanguage"
            )],
        );
    }
    // Assign belongs to both languages.
    assert_eq!(diags.len(), 2, "{}", render(&diags));
}

#[test]
fn a_jsonata_state_in_a_jsonpath_machine_builds_its_expressions() {
    let def = machine(
        "A",
        json!({
            "A": {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
                  "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"},
                  "Assign": {"x": "{% $states.result.Payload %}"}, "Next": "B"},
            "B": {"Type": "Succeed", "QueryLanguage": "JSONPath"}
        }),
    );
    let m = load_ok(def);
    let a = m.state("A").unwrap();
    assert_eq!(a.query_language, crate::query::QueryLanguage::Jsonata);
    let fields = a.jsonata.as_deref().unwrap();
    assert!(matches!(
        fields.arguments,
        Some(crate::query::Jsonata::Object(_))
    ));
    assert!(matches!(a.assign, Some(crate::query::Assign::Jsonata(_))));
    assert!(m.state("B").unwrap().jsonata.is_none());
}

#[test]
fn jsonpath_only_fields_in_a_jsonata_state_are_reported_at_the_state() {
    let def = single(json!({
        "Type": "Pass", "QueryLanguage": "JSONata", "InputPath": "$.a", "Parameters": {"b": 1},
        "Result": 1, "End": true
    }));
    let diags = load_err(def);
    for field in ["InputPath", "Parameters", "Result"] {
        find(
            &diags,
            "/States/S",
            &[&format!(
                "The QueryLanguage is set to 'JSONata', but field '{field}' is only supported for the 'JSONPath' QueryLanguage"
            )],
        );
    }
    assert_eq!(diags.len(), 3, "{}", render(&diags));
}

#[test]
fn comments_must_be_strings() {
    only(
        single(json!({"Type": "Succeed", "Comment": {"text": "x"}})),
        "/States/S/Comment",
        &["Comment must be a string"],
    );
    let s = single_ok(json!({"Type": "Succeed", "Comment": "done"}));
    assert_eq!(s.comment.as_deref(), Some("done"));
}
