//! Tests that need the intrinsic function parser (`crate::intrinsic::parse`), developed on
//! the `intrinsic` branch: they fail until that branch is merged, and must pass after.

use serde_json::json;

use super::{load_err, only, single, single_ok};
use crate::model::{StateKind, StringOrPath};
use crate::template::Template;

#[test]
fn intrinsic_calls_in_templates_load() {
    let s = single_ok(json!({
        "Type": "Pass",
        "Parameters": {
            "greeting.$": "States.Format('Hello, {}!', $.name)",
            "id.$": "States.UUID()",
            "nested": {"parts.$": "States.StringSplit($.csv, ',')"}
        },
        "End": true
    }));
    let Some(Template::Object(fields)) = s.parameters else {
        panic!("expected an object template")
    };
    assert!(matches!(&fields[0].1, Template::Intrinsic(c) if c.name == "States.Format"));
    assert!(matches!(&fields[1].1, Template::Intrinsic(c) if c.name == "States.UUID"));
    assert!(
        matches!(&fields[2].1, Template::Object(f) if matches!(&f[0].1, Template::Intrinsic(_)))
    );
}

#[test]
fn intrinsic_calls_in_result_and_item_selectors_load() {
    let s = single_ok(json!({
        "Type": "Map",
        "ItemSelector": {"pair.$": "States.Array($$.Map.Item.Index, $$.Map.Item.Value)"},
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
        "ResultSelector": {"count.$": "States.ArrayLength($)"},
        "End": true
    }));
    assert!(
        matches!(&s.result_selector, Some(Template::Object(f)) if matches!(f[0].1, Template::Intrinsic(_)))
    );
    let StateKind::Map(m) = s.kind else {
        panic!("not a Map")
    };
    assert!(
        matches!(&m.item_selector, Some(Template::Object(f)) if matches!(f[0].1, Template::Intrinsic(_)))
    );
}

#[test]
fn fail_paths_accept_intrinsic_calls() {
    let s = single_ok(json!({
        "Type": "Fail",
        "ErrorPath": "$.code",
        "CausePath": "States.Format('order {} failed', $.id)"
    }));
    let StateKind::Fail(fail) = s.kind else {
        panic!("not a Fail")
    };
    assert!(matches!(fail.error, Some(StringOrPath::Path(_))));
    assert!(matches!(fail.cause, Some(StringOrPath::Intrinsic(c)) if c.name == "States.Format"));
}

#[test]
fn bad_intrinsic_calls_are_reported_at_their_field() {
    let d = only(
        single(
            json!({"Type": "Pass", "Parameters": {"x.$": "States.Format('{}', $.a"}, "End": true}),
        ),
        "/States/S/Parameters/x.$",
        &["'x.$'", "invalid intrinsic function call"],
    );
    assert_eq!(d.state.as_deref(), Some("S"));
    only(
        single(
            json!({"Type": "Pass", "Parameters": {"x.$": "States.NoSuchFunction(1)"}, "End": true}),
        ),
        "/States/S/Parameters/x.$",
        &["'x.$'", "States.NoSuchFunction"],
    );
    only(
        single(json!({"Type": "Fail", "ErrorPath": "States.Format('{}'"})),
        "/States/S/ErrorPath",
        &["ErrorPath", "invalid intrinsic function call"],
    );
    let diags = load_err(single(json!({
        "Type": "Pass",
        "Parameters": {"a.$": "States.Array(", "b.$": "States.UUID()", "c.$": "States.JsonToString("},
        "End": true
    })));
    assert_eq!(diags.len(), 2);
}
