//! The loader must never panic, whatever it is given: arbitrary JSON built from ASL field
//! names and values that look like paths, ARNs and intrinsic calls, and arbitrary text.

use proptest::prelude::*;
use serde_json::{Map, Value as Json, json};

use super::super::{load, load_str};
use super::load_ok;

const KEYS: &[&str] = &[
    "Type",
    "Next",
    "End",
    "StartAt",
    "States",
    "Comment",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "Resource",
    "Retry",
    "Catch",
    "ErrorEquals",
    "Choices",
    "Default",
    "Variable",
    "And",
    "Not",
    "NumericEquals",
    "Branches",
    "ItemProcessor",
    "Iterator",
    "ProcessorConfig",
    "Mode",
    "ItemsPath",
    "ItemSelector",
    "MaxConcurrency",
    "Seconds",
    "Timestamp",
    "SecondsPath",
    "Error",
    "CausePath",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "BackoffRate",
    "JitterStrategy",
    "QueryLanguage",
    "x.$",
    "A",
    "B",
    "",
    "a/b~c",
];

const STRINGS: &[&str] = &[
    "Pass",
    "Task",
    "Choice",
    "Wait",
    "Succeed",
    "Fail",
    "Parallel",
    "Map",
    "A",
    "B",
    "$",
    "$.a",
    "$$.Execution.Id",
    "$.a[*]",
    "$..x",
    "$[",
    "States.Format('{}', $.a)",
    "States.ALL",
    "States.Nope",
    "arn:aws:states:::lambda:invoke",
    "arn:aws:lambda:r:1:function:f:q",
    "arn:",
    "arn:aws",
    "f",
    "DISTRIBUTED",
    "JSONata",
    "2024-01-01T00:00:00Z",
    "é",
    "",
];

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e3f64..1.0e3).prop_map(|f| json!(f)),
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Json::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|fields| {
                let map: Map<String, Json> = fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                Json::Object(map)
            }),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_definitions_never_panic(top in arb_json(), a in arb_json(), b in arb_json()) {
        let _ = load(&top);
        let _ = load(&json!({"StartAt": "A", "States": {"A": a, "B": b}}));
    }

    #[test]
    fn arbitrary_states_never_panic(a in arb_json(), b in arb_json()) {
        let mut state_a = json!({"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": b}}], "End": true});
        if let (Some(obj), Json::Object(extra)) = (state_a.as_object_mut(), a) {
            obj.extend(extra);
        }
        let _ = load(&json!({"StartAt": "A", "States": {"A": state_a}}));
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = load_str(&text);
    }
}

#[test]
fn deeply_nested_machines_load() {
    // 45 Parallel states inside each other, within the depth limit.
    let mut inner = json!({"StartAt": "L", "States": {"L": {"Type": "Pass", "End": true}}});
    for i in 0..45 {
        let name = format!("P{i}");
        inner = json!({"StartAt": name.clone(), "States": {name: {"Type": "Parallel", "Branches": [inner], "End": true}}});
    }
    load_ok(inner);
}

/// Regression: a path of nested filters made `serde_json_path`'s backtracking parser take time
/// doubling with each level (about an hour at 30). Loading 40 levels, closed or not, must end
/// with a located error; the load runs on a thread so a regression fails on the wait, not
/// by hanging the test run.
#[test]
fn nested_filter_paths_load_quickly_with_a_located_error() {
    for closing in ["", ")]"] {
        let levels = 40;
        let path = format!("$.a{}{}", "[?(@.p".repeat(levels), closing.repeat(levels));
        let definition = json!({
            "StartAt": "A",
            "States": {"A": {"Type": "Pass", "Parameters": {"x.$": path}, "End": true}}
        });
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(load(&definition).map(|_| ()));
        });
        let result = receive
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("loading a 40-level filter path did not finish within 60 s");
        let diagnostics = result.expect_err("a 40-level filter path is refused");
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let diagnostic = &diagnostics[0];
        assert_eq!(diagnostic.pointer, "/States/A/Parameters/x.$");
        assert_eq!(diagnostic.state.as_deref(), Some("A"));
        assert!(
            diagnostic
                .message
                .ends_with("brackets and parentheses nest more than 8 deep"),
            "{}",
            diagnostic.message
        );
    }
}
