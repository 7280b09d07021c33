//! Choice states. The rules themselves are parsed by `crate::choice::parse_rule`; these tests
//! check what the loader does around it (Choices, Next, Default, reachability, pointers).

use serde_json::{Value as Json, json};

use super::{find, load_err, load_ok, machine, only, render};
use crate::model::{StateKind, Transition};

fn with_choice(choice: Json) -> Json {
    machine(
        "C",
        json!({
            "C": choice,
            "Small": {"Type": "Pass", "End": true},
            "Big": {"Type": "Pass", "End": true},
            "Other": {"Type": "Succeed"}
        }),
    )
}

#[test]
fn choice_state_loads() {
    let m = load_ok(with_choice(json!({
        "Type": "Choice",
        "InputPath": "$.order",
        "Choices": [
            {"Variable": "$.n", "NumericLessThan": 10, "Next": "Small"},
            {"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 10}, {"Variable": "$.vip", "BooleanEquals": true}],
             "Next": "Big"}
        ],
        "Default": "Other"
    })));
    let c = &m.states["C"];
    assert_eq!(c.transition, Transition::None);
    let StateKind::Choice(choice) = &c.kind else {
        panic!("not a Choice")
    };
    assert_eq!(choice.choices.len(), 2);
    assert_eq!(choice.choices[0].next, "Small");
    assert_eq!(choice.choices[1].next, "Big");
    assert_eq!(choice.default.as_deref(), Some("Other"));
}

#[test]
fn choice_without_default_loads() {
    let def = machine(
        "C",
        json!({
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Yes"}]},
            "Yes": {"Type": "Succeed"}
        }),
    );
    load_ok(def);
}

#[test]
fn choice_targets_must_exist_and_count_for_reachability() {
    let def = with_choice(json!({
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericLessThan": 10, "Next": "Tiny"}],
        "Default": "Missing"
    }));
    let diags = load_err(def);
    find(&diags, "/States/C/Choices/0/Next", &["'Tiny'", "no state"]);
    find(&diags, "/States/C/Default", &["Default names 'Missing'"]);
    // Nothing leads to the three other states any more.
    for name in ["Small", "Big", "Other"] {
        find(&diags, &format!("/States/{name}"), &["unreachable"]);
    }
    assert_eq!(diags.len(), 5, "{}", render(&diags));
}

#[test]
fn choices_must_be_a_non_empty_array_of_rules() {
    let base = |choices: Json| {
        machine(
            "C",
            json!({"C": {"Type": "Choice", "Choices": choices, "Default": "D"}, "D": {"Type": "Succeed"}}),
        )
    };
    only(base(json!([])), "/States/C/Choices", &["at least one rule"]);
    only(base(json!({})), "/States/C/Choices", &["array of rules"]);
    only(
        base(json!(["rule"])),
        "/States/C/Choices/0",
        &["choice rule must be an object"],
    );
    only(
        machine(
            "C",
            json!({"C": {"Type": "Choice", "Default": "D"}, "D": {"Type": "Succeed"}}),
        ),
        "/States/C",
        &["needs Choices"],
    );
}

#[test]
fn each_rule_needs_next() {
    let d = only(
        with_choice(json!({
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.n", "NumericLessThan": 10, "Next": "Small"},
                {"Variable": "$.n", "NumericGreaterThan": 100},
                {"Variable": "$.n", "NumericEquals": 50, "Next": "Big"}
            ],
            "Default": "Other"
        })),
        "/States/C/Choices/1",
        &["choice rule needs Next"],
    );
    assert_eq!(d.state.as_deref(), Some("C"));
}

#[test]
fn rule_problems_are_reported_with_the_state() {
    let diags = load_err(with_choice(json!({
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.n", "Next": "Small"},
            {"Variable": "$.n", "NumericLessThan": 1, "Next": "Big"},
            {"Not": {"Variable": "$.n", "IsNull": true, "Next": "Big"}, "Next": "Other"}
        ],
        "Default": "Other"
    })));
    assert!(!diags.is_empty());
    assert!(
        diags
            .iter()
            .all(|d| d.state.as_deref() == Some("C") && d.pointer.starts_with("/States/C/Choices/")),
        "{}",
        render(&diags)
    );
    assert!(diags.iter().any(|d| d.pointer == "/States/C/Choices/0"));
    assert!(
        diags
            .iter()
            .any(|d| d.pointer == "/States/C/Choices/2/Not/Next")
    );
}

#[test]
fn choice_has_no_next_end_result_path_or_parameters() {
    let diags = load_err(with_choice(json!({
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.n", "NumericLessThan": 10, "Next": "Small"},
            {"Variable": "$.n", "NumericGreaterThan": 100, "Next": "Big"}
        ],
        "Default": "Other",
        "Next": "Big",
        "End": true,
        "ResultPath": "$.x",
        "Parameters": {},
        "ResultSelector": {}
    })));
    find(
        &diags,
        "/States/C/Next",
        &["Choice state cannot have Next", "Choices and Default"],
    );
    find(&diags, "/States/C/End", &["Choice state cannot have End"]);
    find(
        &diags,
        "/States/C/ResultPath",
        &["ResultPath is not allowed in a Choice state"],
    );
    find(
        &diags,
        "/States/C/Parameters",
        &["Parameters is not allowed in a Choice state"],
    );
    find(
        &diags,
        "/States/C/ResultSelector",
        &["ResultSelector is not allowed in a Choice state"],
    );
    assert_eq!(diags.len(), 5, "{}", render(&diags));
}
