//! Parallel and Map states: nested machines, their scopes and their fields.

use serde_json::{Value as Json, json};

use super::{find, load_err, load_ok, machine, only, render, single, single_ok};
use crate::model::{MapState, NumberOrPath, ProcessorMode, StateKind, Transition};
use crate::path::Root;
use crate::template::Template;

fn pass_branch(name: &str) -> Json {
    json!({"StartAt": name, "States": {name: {"Type": "Pass", "End": true}}})
}

fn processor(name: &str) -> Json {
    pass_branch(name)
}

fn map(state: Json) -> MapState {
    match single_ok(state).kind {
        StateKind::Map(m) => m,
        other => panic!("not a Map: {other:?}"),
    }
}

#[test]
fn parallel_branches_load_recursively() {
    let s = single_ok(json!({
        "Type": "Parallel",
        "Branches": [pass_branch("A"), {"Comment": "two", "StartAt": "B1", "States": {
            "B1": {"Type": "Pass", "Next": "B2"}, "B2": {"Type": "Succeed"}}}],
        "ResultSelector": {"first.$": "$[0]"},
        "Parameters": {"x.$": "$.x"},
        "ResultPath": "$.results",
        "Retry": [{"ErrorEquals": ["States.BranchFailed"]}],
        "End": true
    }));
    let StateKind::Parallel(p) = &s.kind else {
        panic!("not a Parallel state")
    };
    assert_eq!(p.branches.len(), 2);
    assert_eq!(p.branches[0].start_at, "A");
    assert_eq!(p.branches[1].comment.as_deref(), Some("two"));
    assert_eq!(
        p.branches[1].states["B1"].transition,
        Transition::Next("B2".into())
    );
    assert_eq!(p.retry.len(), 1);
    assert!(s.result_selector.is_some() && s.parameters.is_some());
}

#[test]
fn branches_must_be_a_non_empty_array_of_machines() {
    only(
        single(json!({"Type": "Parallel", "End": true})),
        "/States/S",
        &["needs Branches"],
    );
    only(
        single(json!({"Type": "Parallel", "Branches": [], "End": true})),
        "/States/S/Branches",
        &["at least one branch"],
    );
    only(
        single(json!({"Type": "Parallel", "Branches": {"StartAt": "A"}, "End": true})),
        "/States/S/Branches",
        &["array of state machines"],
    );
    only(
        single(json!({"Type": "Parallel", "Branches": ["A"], "End": true})),
        "/States/S/Branches/0",
        &["branch must be a state machine object"],
    );
}

#[test]
fn problems_inside_branches_carry_the_nested_state_path() {
    let def = machine(
        "Fan out",
        json!({
            "Fan out": {"Type": "Parallel", "End": true, "Branches": [
                pass_branch("Left"),
                {"StartAt": "Audit", "States": {"Audit": {"Type": "Task", "Resource": "audit", "Next": "Nope"}}},
                {"States": {"X": {"Type": "Succeed"}}, "Version": "1.0"}
            ]}
        }),
    );
    let diags = load_err(def);
    let d = find(
        &diags,
        "/States/Fan out/Branches/1/States/Audit/Next",
        &["'Nope'", "no state"],
    );
    assert_eq!(d.state.as_deref(), Some("Fan out/branch 1/Audit"));
    let d = find(
        &diags,
        "/States/Fan out/Branches/2",
        &["Parallel branch needs a StartAt"],
    );
    assert_eq!(d.state.as_deref(), Some("Fan out/branch 2"));
    find(
        &diags,
        "/States/Fan out/Branches/2/Version",
        &["unknown field 'Version' in a Parallel branch"],
    );
    assert_eq!(diags.len(), 3, "{}", render(&diags));
}

#[test]
fn transitions_cannot_leave_a_branch() {
    let def = machine(
        "P",
        json!({
            "P": {"Type": "Parallel", "Next": "After", "Branches": [
                {"StartAt": "In", "States": {"In": {"Type": "Pass", "Next": "After"}}}
            ]},
            "After": {"Type": "Succeed"}
        }),
    );
    let d = only(
        def,
        "/States/P/Branches/0/States/In/Next",
        &["'After'", "another state machine", "cannot leave or enter"],
    );
    assert_eq!(d.state.as_deref(), Some("P/branch 0/In"));
}

#[test]
fn transitions_cannot_enter_a_branch() {
    let def = machine(
        "A",
        json!({
            "A": {"Type": "Pass", "Next": "In"},
            "P": {"Type": "Parallel", "End": true, "Branches": [pass_branch("In")]}
        }),
    );
    let diags = load_err(def);
    find(&diags, "/States/A/Next", &["'In'", "another state machine"]);
    find(&diags, "/States/P", &["unreachable"]);
    assert_eq!(diags.len(), 2, "{}", render(&diags));
}

#[test]
fn state_names_are_unique_across_nested_machines() {
    let def = machine(
        "Work",
        json!({
            "Work": {"Type": "Parallel", "Next": "Done", "Branches": [pass_branch("Step"), pass_branch("Step")]},
            "Done": {"Type": "Map", "End": true, "ItemProcessor": processor("Work")}
        }),
    );
    let diags = load_err(def);
    find(
        &diags,
        "/States/Work/Branches/1/States/Step",
        &[
            "'Step' is already used at /States/Work/Branches/0/States/Step",
            "unique",
        ],
    );
    let d = find(
        &diags,
        "/States/Done/ItemProcessor/States/Work",
        &["'Work' is already used at /States/Work"],
    );
    assert_eq!(d.state.as_deref(), Some("Done/ItemProcessor/Work"));
    assert_eq!(diags.len(), 2, "{}", render(&diags));
}

#[test]
fn map_with_item_processor_loads() {
    let m = map(json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "MaxConcurrency": 4,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I",
                          "States": {"I": {"Type": "Task", "Resource": "f", "End": true}}},
        "ResultSelector": {"first.$": "$[0]"},
        "ResultPath": "$.out",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S", "ResultPath": "$.err"}],
        "End": true
    }));
    assert_eq!(m.items_path.as_str(), "$.items");
    assert_eq!(m.mode, ProcessorMode::Inline);
    assert_eq!(m.max_concurrency, NumberOrPath::Literal(4));
    assert_eq!(m.processor.start_at, "I");
    assert!(matches!(&m.item_selector, Some(Template::Object(f)) if f.len() == 2));
    assert_eq!(m.catch.len(), 1);
}

#[test]
fn map_defaults() {
    let m = map(json!({"Type": "Map", "ItemProcessor": processor("I"), "End": true}));
    assert_eq!(m.items_path.as_str(), "$");
    assert_eq!(m.mode, ProcessorMode::Inline);
    assert_eq!(m.max_concurrency, NumberOrPath::Literal(0));
    assert!(m.item_selector.is_none());
    assert!(m.tolerated_failure_count.is_none() && m.tolerated_failure_percentage.is_none());
    assert!(m.label.is_none());
}

#[test]
fn legacy_iterator_and_parameters_load() {
    let s = single_ok(json!({
        "Type": "Map", "Iterator": processor("I"), "Parameters": {"v.$": "$$.Map.Item.Value"},
        "ItemsPath": "$$.Execution.Input.items", "MaxConcurrencyPath": "$.limit", "End": true
    }));
    // The legacy Parameters is the item selector, not the state's Parameters.
    assert!(s.parameters.is_none());
    let StateKind::Map(m) = s.kind else {
        panic!("not a Map")
    };
    assert!(matches!(&m.item_selector, Some(Template::Object(_))));
    assert_eq!(m.items_path.root(), Root::Context);
    assert!(matches!(&m.max_concurrency, NumberOrPath::Path(p) if p.as_str() == "$.limit"));
}

#[test]
fn map_needs_exactly_one_processor_and_one_selector() {
    only(
        single(json!({"Type": "Map", "End": true})),
        "/States/S",
        &["needs ItemProcessor"],
    );
    only(
        single(
            json!({"Type": "Map", "ItemProcessor": processor("I"), "Iterator": processor("J"), "End": true}),
        ),
        "/States/S/Iterator",
        &["only one of ItemProcessor and Iterator"],
    );
    only(
        single(
            json!({"Type": "Map", "ItemProcessor": processor("I"), "ItemSelector": {}, "Parameters": {}, "End": true}),
        ),
        "/States/S/Parameters",
        &["only one of ItemSelector and Parameters"],
    );
    only(
        single(json!({"Type": "Map", "ItemProcessor": [], "End": true})),
        "/States/S/ItemProcessor",
        &["state machine object"],
    );
}

#[test]
fn map_fields_are_checked() {
    let def = single(json!({
        "Type": "Map",
        "ItemProcessor": processor("I"),
        "ItemsPath": "$.items[*]",
        "MaxConcurrency": -1,
        "End": true
    }));
    let diags = load_err(def);
    find(
        &diags,
        "/States/S/ItemsPath",
        &["ItemsPath", "single value"],
    );
    find(
        &diags,
        "/States/S/MaxConcurrency",
        &["non-negative integer"],
    );
    assert_eq!(diags.len(), 2, "{}", render(&diags));
    only(
        single(
            json!({"Type": "Map", "ItemProcessor": processor("I"), "ItemsPath": null, "End": true}),
        ),
        "/States/S/ItemsPath",
        &["ItemsPath must be a path, not null"],
    );
    only(
        single(
            json!({"Type": "Map", "ItemProcessor": processor("I"), "MaxConcurrency": 2,
                      "MaxConcurrencyPath": "$.m", "End": true}),
        ),
        "/States/S/MaxConcurrencyPath",
        &["only one of MaxConcurrency and MaxConcurrencyPath"],
    );
}

#[test]
fn processor_config_is_checked() {
    only(
        single(json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "PARALLEL"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}})),
        "/States/S/ItemProcessor/ProcessorConfig/Mode",
        &["INLINE", "DISTRIBUTED", "PARALLEL"],
    );
    only(
        single(json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}})),
        "/States/S/ItemProcessor/ProcessorConfig",
        &["DISTRIBUTED Map needs ExecutionType"],
    );
    only(
        single(json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "FAST"}, "StartAt": "I",
            "States": {"I": {"Type": "Succeed"}}}})),
        "/States/S/ItemProcessor/ProcessorConfig/ExecutionType",
        &["STANDARD", "EXPRESS", "FAST"],
    );
    only(
        single(json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"ExecutionType": "EXPRESS"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}})),
        "/States/S/ItemProcessor/ProcessorConfig/ExecutionType",
        &["only used in DISTRIBUTED mode"],
    );
    only(
        single(json!({"Type": "Map", "End": true, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE", "Concurrency": 3}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}})),
        "/States/S/ItemProcessor/ProcessorConfig/Concurrency",
        &["unknown field 'Concurrency' in ProcessorConfig"],
    );
    only(
        single(json!({"Type": "Map", "End": true, "Iterator": {
            "ProcessorConfig": {"Mode": "PARALLEL"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}})),
        "/States/S/Iterator/ProcessorConfig/Mode",
        &["Mode must be \"INLINE\" or \"DISTRIBUTED\""],
    );
}

#[test]
fn legacy_iterator_holds_processor_config() {
    // AWS accepts ProcessorConfig in the older Iterator as in ItemProcessor.
    let m = map(json!({
        "Type": "Map", "End": true,
        "Iterator": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}
    }));
    assert_eq!(m.mode, ProcessorMode::Inline);
    let m = map(json!({
        "Type": "Map", "End": true, "ToleratedFailureCount": 1,
        "Iterator": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                     "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}
    }));
    assert_eq!(m.mode, ProcessorMode::Distributed);
    assert_eq!(m.tolerated_failure_count, Some(1));
}

#[test]
fn distributed_map_loads_with_failure_tolerance() {
    let m = map(json!({
        "Type": "Map", "End": true, "Label": "batch",
        "ToleratedFailurePercentage": 12.5, "ToleratedFailureCountPath": "$.maxFailures",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                          "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}
    }));
    assert_eq!(m.mode, ProcessorMode::Distributed);
    assert_eq!(m.tolerated_failure_percentage, Some(12.5));
    assert!(m.tolerated_failure_count.is_none());
    assert_eq!(
        m.tolerated_failure_count_path.as_ref().map(|p| p.as_str()),
        Some("$.maxFailures")
    );
    assert_eq!(m.label.as_deref(), Some("batch"));

    let m = map(json!({
        "Type": "Map", "End": true, "ToleratedFailureCount": 3, "ToleratedFailurePercentagePath": "$.pct",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "I", "States": {"I": {"Type": "Succeed"}}}
    }));
    assert_eq!(m.tolerated_failure_count, Some(3));
    assert!(m.tolerated_failure_percentage_path.is_some());
}

#[test]
fn failure_tolerance_is_distributed_only_and_checked() {
    let def = single(json!({
        "Type": "Map", "End": true, "ItemProcessor": processor("I"),
        "ToleratedFailurePercentage": 10, "ToleratedFailureCount": 1, "Label": "x"
    }));
    let diags = load_err(def);
    for field in [
        "ToleratedFailurePercentage",
        "ToleratedFailureCount",
        "Label",
    ] {
        find(
            &diags,
            &format!("/States/S/{field}"),
            &[field, "only allowed in DISTRIBUTED mode"],
        );
    }
    assert_eq!(diags.len(), 3, "{}", render(&diags));

    let distributed = json!({"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                             "StartAt": "I", "States": {"I": {"Type": "Succeed"}}});
    let def = single(json!({
        "Type": "Map", "End": true, "ItemProcessor": distributed,
        "ToleratedFailurePercentage": 101, "ToleratedFailurePercentagePath": "$.p",
        "ToleratedFailureCount": -2
    }));
    let diags = load_err(def);
    find(
        &diags,
        "/States/S/ToleratedFailurePercentage",
        &["from 0 to 100"],
    );
    find(
        &diags,
        "/States/S/ToleratedFailurePercentagePath",
        &["only one of"],
    );
    find(
        &diags,
        "/States/S/ToleratedFailureCount",
        &["non-negative integer"],
    );
    assert_eq!(diags.len(), 3, "{}", render(&diags));
}

#[test]
fn s3_backed_map_fields_are_not_supported() {
    let def = single(json!({
        "Type": "Map", "End": true, "ItemProcessor": processor("I"),
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}},
        "ItemBatcher": {"MaxItemsPerBatch": 10}
    }));
    let diags = load_err(def);
    find(
        &diags,
        "/States/S/ItemReader",
        &[
            "not supported",
            "faastlane runs locally",
            "pass the items in the input",
        ],
    );
    find(
        &diags,
        "/States/S/ResultWriter",
        &["not supported", "runs locally"],
    );
    find(&diags, "/States/S/ItemBatcher", &["not supported"]);
    assert_eq!(diags.len(), 3, "{}", render(&diags));
}

#[test]
fn map_processor_problems_carry_the_nested_state_path() {
    let def = single(json!({
        "Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Next": "Out"}}}
    }));
    let d = only(
        def,
        "/States/S/ItemProcessor/States/I/Next",
        &["'Out'", "no state"],
    );
    assert_eq!(d.state.as_deref(), Some("S/ItemProcessor/I"));
    let def = single(json!({
        "Type": "Map", "End": true,
        "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass"}}}
    }));
    let d = only(def, "/States/S/Iterator/States/I", &["needs Next"]);
    assert_eq!(d.state.as_deref(), Some("S/Iterator/I"));
}

#[test]
fn nested_containers_load() {
    let m = load_ok(machine(
        "Outer",
        json!({
            "Outer": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "Each", "States": {
                    "Each": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Inner", "States": {
                        "Inner": {"Type": "Parallel", "End": true, "Branches": [pass_branch("Leaf")]}
                    }}}
                }}
            ]}
        }),
    ));
    let StateKind::Parallel(p) = &m.states["Outer"].kind else {
        panic!("not a Parallel")
    };
    let StateKind::Map(each) = &p.branches[0].states["Each"].kind else {
        panic!("not a Map")
    };
    assert!(each.processor.states.contains_key("Inner"));
}
