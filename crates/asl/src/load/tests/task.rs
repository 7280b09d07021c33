//! Task states: resources, timeouts, Retry and Catch.

use serde_json::json;

use super::{find, load_err, load_ok, machine, only, render, single, single_ok};
use crate::model::{Invocation, Jitter, NumberOrPath, StateKind, TaskState};
use crate::template::Template;

fn task(state: serde_json::Value) -> TaskState {
    match single_ok(state).kind {
        StateKind::Task(t) => t,
        other => panic!("not a Task: {other:?}"),
    }
}

fn invocation(resource: &str) -> Invocation {
    task(json!({"Type": "Task", "Resource": resource, "End": true}))
        .resource
        .invocation
}

#[test]
fn plain_names_call_local_functions() {
    let t = task(json!({"Type": "Task", "Resource": "resize", "End": true}));
    assert_eq!(t.resource.arn, "resize");
    assert_eq!(
        t.resource.invocation,
        Invocation::Direct {
            function: "resize".into(),
            qualifier: None
        }
    );
    assert!(t.timeout.is_none() && t.heartbeat.is_none());
    assert!(t.retry.is_empty() && t.catch.is_empty());
}

#[test]
fn lambda_arns_call_local_functions() {
    assert_eq!(
        invocation("arn:aws:lambda:us-east-1:123456789012:function:resize"),
        Invocation::Direct {
            function: "resize".into(),
            qualifier: None
        }
    );
    assert_eq!(
        invocation("arn:aws-cn:lambda:cn-north-1:123456789012:function:resize:$LATEST"),
        Invocation::Direct {
            function: "resize".into(),
            qualifier: Some("$LATEST".into())
        }
    );
    assert_eq!(
        invocation("arn:aws:lambda:REGION:ACCOUNT:function:classify:prod"),
        Invocation::Direct {
            function: "classify".into(),
            qualifier: Some("prod".into())
        }
    );
}

#[test]
fn malformed_lambda_arns_are_reported() {
    for bad in [
        "arn:aws:lambda:us-east-1:123456789012:layer:x",
        "arn:aws:lambda:us-east-1:123456789012:function:",
        "arn:aws:lambda:us-east-1:123456789012:function:a:b:c",
        "arn:aws:lambda",
    ] {
        only(
            single(json!({"Type": "Task", "Resource": bad, "End": true})),
            "/States/S/Resource",
            &[bad],
        );
    }
}

#[test]
fn lambda_invoke_reads_the_function_from_parameters() {
    let s = single_ok(json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:resize:$LATEST", "Payload.$": "$"},
        "End": true
    }));
    let StateKind::Task(t) = &s.kind else {
        panic!("not a Task")
    };
    assert_eq!(t.resource.invocation, Invocation::LambdaInvoke);
    assert!(matches!(&s.parameters, Some(Template::Object(f)) if f.len() == 2));

    let t = task(json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName.$": "$.fn", "Payload": {"x": 1}, "Qualifier": "1", "InvocationType": "RequestResponse"},
        "End": true
    }));
    assert_eq!(t.resource.invocation, Invocation::LambdaInvoke);
}

#[test]
fn lambda_invoke_parameters_are_checked() {
    only(
        single(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true})),
        "/States/S",
        &["lambda:invoke needs Parameters", "FunctionName"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"Payload.$": "$"}, "End": true}),
        ),
        "/States/S/Parameters",
        &["needs FunctionName"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "f", "FunctionName.$": "$.f"}, "End": true}),
        ),
        "/States/S/Parameters/FunctionName.$",
        &["'FunctionName' is given twice"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": 12}, "End": true}),
        ),
        "/States/S/Parameters/FunctionName",
        &["FunctionName must be a string"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "f", "Bogus": 1}, "End": true}),
        ),
        "/States/S/Parameters/Bogus",
        &["unknown lambda:invoke parameter 'Bogus'"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "f", "InvocationType": "Event"}, "End": true}),
        ),
        "/States/S/Parameters/InvocationType",
        &["'Event' is not supported"],
    );
}

#[test]
fn unsupported_resources_say_so() {
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                      "Parameters": {"FunctionName": "f"}, "End": true}),
        ),
        "/States/S/Resource",
        &["waitForTaskToken", "not supported"],
    );
    only(
        single(json!({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true})),
        "/States/S/Resource",
        &["service integration 'sns:publish' is not supported"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": true}),
        ),
        "/States/S/Resource",
        &["'dynamodb:putItem' is not supported"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:Hello", "End": true}),
        ),
        "/States/S/Resource",
        &["activities are not supported"],
    );
    only(
        single(json!({"Type": "Task", "Resource": "arn:aws:s3:::bucket", "End": true})),
        "/States/S/Resource",
        &["not supported"],
    );
}

#[test]
fn resource_is_a_required_non_empty_string() {
    only(
        single(json!({"Type": "Task", "End": true})),
        "/States/S",
        &["Task state needs a Resource"],
    );
    only(
        single(json!({"Type": "Task", "Resource": 7, "End": true})),
        "/States/S/Resource",
        &["Resource must be a string"],
    );
    only(
        single(json!({"Type": "Task", "Resource": " ", "End": true})),
        "/States/S/Resource",
        &["must name a function"],
    );
}

#[test]
fn timeouts_load() {
    let t = task(
        json!({"Type": "Task", "Resource": "f", "TimeoutSeconds": 30, "HeartbeatSeconds": 10, "End": true}),
    );
    assert_eq!(t.timeout, Some(NumberOrPath::Literal(30)));
    assert_eq!(t.heartbeat, Some(NumberOrPath::Literal(10)));
    let t = task(
        json!({"Type": "Task", "Resource": "f", "TimeoutSecondsPath": "$.t",
                        "HeartbeatSecondsPath": "$$.Execution.Input.hb", "End": true}),
    );
    assert!(matches!(t.timeout, Some(NumberOrPath::Path(p)) if p.as_str() == "$.t"));
    assert!(matches!(t.heartbeat, Some(NumberOrPath::Path(_))));
}

#[test]
fn timeouts_are_checked() {
    only(
        single(
            json!({"Type": "Task", "Resource": "f", "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t", "End": true}),
        ),
        "/States/S/TimeoutSecondsPath",
        &["only one of TimeoutSeconds and TimeoutSecondsPath"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "f", "HeartbeatSeconds": 5, "HeartbeatSecondsPath": "$.h", "End": true}),
        ),
        "/States/S/HeartbeatSecondsPath",
        &["only one of HeartbeatSeconds and HeartbeatSecondsPath"],
    );
    only(
        single(json!({"Type": "Task", "Resource": "f", "TimeoutSeconds": 0, "End": true})),
        "/States/S/TimeoutSeconds",
        &["positive integer"],
    );
    only(
        single(json!({"Type": "Task", "Resource": "f", "HeartbeatSeconds": 1.5, "End": true})),
        "/States/S/HeartbeatSeconds",
        &["positive integer"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "f", "TimeoutSeconds": 10, "HeartbeatSeconds": 10, "End": true}),
        ),
        "/States/S/HeartbeatSeconds",
        &["HeartbeatSeconds (10) must be smaller than TimeoutSeconds (10)"],
    );
    only(
        single(
            json!({"Type": "Task", "Resource": "f", "TimeoutSecondsPath": "$.t[0:2]", "End": true}),
        ),
        "/States/S/TimeoutSecondsPath",
        &["single value"],
    );
}

#[test]
fn credentials_are_accepted_and_ignored() {
    task(
        json!({"Type": "Task", "Resource": "f", "Credentials": {"RoleArn": "arn:aws:iam::1:role/x"}, "End": true}),
    );
    only(
        single(json!({"Type": "Task", "Resource": "f", "Credentials": "role", "End": true})),
        "/States/S/Credentials",
        &["Credentials must be an object"],
    );
}

#[test]
fn result_selector_and_parameters_build_templates() {
    let s = single_ok(json!({
        "Type": "Task", "Resource": "f",
        "Parameters": {"in.$": "$.a"}, "ResultSelector": {"out.$": "$.Payload"}, "ResultPath": "$.r",
        "End": true
    }));
    assert!(matches!(&s.parameters, Some(Template::Object(f)) if f[0].0 == "in"));
    assert!(matches!(&s.result_selector, Some(Template::Object(f)) if f[0].0 == "out"));
}

#[test]
fn retriers_load_with_defaults() {
    let t = task(json!({
        "Type": "Task", "Resource": "f", "End": true,
        "Retry": [
            {"ErrorEquals": ["Custom.Error", "States.Timeout"]},
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "MaxAttempts": 0, "BackoffRate": 1.5,
             "MaxDelaySeconds": 10, "JitterStrategy": "FULL", "Comment": "last"}
        ]
    }));
    let [first, last] = &t.retry[..] else {
        panic!("expected two retriers")
    };
    assert_eq!(first.error_equals, ["Custom.Error", "States.Timeout"]);
    assert_eq!(first.interval_seconds, 1);
    assert_eq!(first.max_attempts, 3);
    assert_eq!(first.backoff_rate, 2.0);
    assert_eq!(first.max_delay_seconds, None);
    assert_eq!(first.jitter, Jitter::None);
    assert_eq!(last.interval_seconds, 3);
    assert_eq!(last.max_attempts, 0);
    assert_eq!(last.backoff_rate, 1.5);
    assert_eq!(last.max_delay_seconds, Some(10));
    assert_eq!(last.jitter, Jitter::Full);
}

#[test]
fn retrier_fields_are_checked() {
    let def = single(json!({
        "Type": "Task", "Resource": "f", "End": true,
        "Retry": [
            {"ErrorEquals": [], "IntervalSeconds": 0},
            {"ErrorEquals": "States.ALL", "MaxAttempts": -1, "BackoffRate": 0.5},
            {"ErrorEquals": ["E", 3], "MaxDelaySeconds": 0, "JitterStrategy": "HALF", "Next": "S"},
            {"IntervalSeconds": 1},
            "retry"
        ]
    }));
    let diags = load_err(def);
    find(&diags, "/States/S/Retry/0/ErrorEquals", &["at least one"]);
    find(
        &diags,
        "/States/S/Retry/0/IntervalSeconds",
        &["positive integer"],
    );
    find(
        &diags,
        "/States/S/Retry/1/ErrorEquals",
        &["array of error names"],
    );
    find(
        &diags,
        "/States/S/Retry/1/MaxAttempts",
        &["non-negative integer"],
    );
    find(&diags, "/States/S/Retry/1/BackoffRate", &["at least 1.0"]);
    find(
        &diags,
        "/States/S/Retry/2/ErrorEquals/1",
        &["error name must be a string"],
    );
    find(
        &diags,
        "/States/S/Retry/2/MaxDelaySeconds",
        &["positive integer"],
    );
    find(
        &diags,
        "/States/S/Retry/2/JitterStrategy",
        &["FULL", "NONE", "HALF"],
    );
    find(
        &diags,
        "/States/S/Retry/2/Next",
        &["unknown field 'Next' in a retrier"],
    );
    find(&diags, "/States/S/Retry/3", &["retrier needs ErrorEquals"]);
    find(&diags, "/States/S/Retry/4", &["retrier must be an object"]);
    assert_eq!(diags.len(), 11, "{}", render(&diags));
    assert!(diags.iter().all(|d| d.state.as_deref() == Some("S")));
}

#[test]
fn states_all_must_be_alone_and_last() {
    let def = single(json!({
        "Type": "Task", "Resource": "f", "End": true,
        "Retry": [
            {"ErrorEquals": ["States.ALL"]},
            {"ErrorEquals": ["States.Timeout", "States.ALL"]}
        ]
    }));
    let diags = load_err(def);
    find(
        &diags,
        "/States/S/Retry/0/ErrorEquals/0",
        &["States.ALL", "last one in Retry"],
    );
    find(
        &diags,
        "/States/S/Retry/1/ErrorEquals/1",
        &["States.ALL must appear alone"],
    );
    assert_eq!(diags.len(), 2, "{}", render(&diags));

    let def = machine(
        "S",
        json!({
            "S": {"Type": "Task", "Resource": "f", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}, {"ErrorEquals": ["E"], "Next": "F"}]},
            "F": {"Type": "Fail"}
        }),
    );
    only(
        def,
        "/States/S/Catch/0/ErrorEquals/0",
        &["catcher matching States.ALL must be the last one in Catch"],
    );
}

#[test]
fn reserved_error_names_must_be_known() {
    only(
        single(json!({"Type": "Task", "Resource": "f", "End": true,
                      "Retry": [{"ErrorEquals": ["States.Timout"]}]})),
        "/States/S/Retry/0/ErrorEquals/0",
        &["unknown error name 'States.Timout'", "reserved"],
    );
    task(
        json!({"Type": "Task", "Resource": "f", "End": true, "Retry": [{"ErrorEquals": [
            "States.TaskFailed", "States.HeartbeatTimeout", "States.Permissions", "States.ResultPathMatchFailure",
            "States.ParameterPathFailure", "States.BranchFailed", "States.NoChoiceMatched",
            "States.IntrinsicFailure", "States.ExceedToleratedFailureThreshold", "States.DataLimitExceeded",
            "States.Runtime", "States.Http.Socket", "Lambda.ServiceException", "MyError"
        ]}]}),
    );
}

#[test]
fn catchers_load() {
    let m = load_ok(machine(
        "S",
        json!({
            "S": {"Type": "Task", "Resource": "f", "End": true, "Catch": [
                {"ErrorEquals": ["A"], "Next": "F", "ResultPath": "$.error"},
                {"ErrorEquals": ["B"], "Next": "F", "ResultPath": null, "Comment": "drop it"},
                {"ErrorEquals": ["States.ALL"], "Next": "F"}
            ]},
            "F": {"Type": "Fail"}
        }),
    ));
    let StateKind::Task(t) = &m.states["S"].kind else {
        panic!("not a Task")
    };
    assert_eq!(t.catch.len(), 3);
    assert_eq!(t.catch[0].next, "F");
    assert_eq!(
        t.catch[0].result_path.as_ref().map(|p| p.as_str()),
        Some("$.error")
    );
    assert!(t.catch[1].result_path.is_none());
    assert_eq!(
        t.catch[2].result_path.as_ref().map(|p| p.as_str()),
        Some("$")
    );
}

#[test]
fn catcher_fields_are_checked() {
    let def = machine(
        "S",
        json!({
            "S": {"Type": "Task", "Resource": "f", "End": true, "Catch": [
                {"ErrorEquals": ["A"]},
                {"ErrorEquals": ["B"], "Next": "Nowhere"},
                {"ErrorEquals": ["C"], "Next": "F", "ResultPath": "$.a[*]", "MaxAttempts": 1}
            ]},
            "F": {"Type": "Fail"}
        }),
    );
    let diags = load_err(def);
    find(&diags, "/States/S/Catch/0", &["catcher needs a Next"]);
    find(&diags, "/States/S/Catch/1/Next", &["'Nowhere'", "no state"]);
    find(&diags, "/States/S/Catch/2/ResultPath", &["ResultPath"]);
    find(
        &diags,
        "/States/S/Catch/2/MaxAttempts",
        &["unknown field 'MaxAttempts' in a catcher"],
    );
    assert_eq!(diags.len(), 4, "{}", render(&diags));
    only(
        single(
            json!({"Type": "Task", "Resource": "f", "End": true, "Catch": {"ErrorEquals": ["A"]}}),
        ),
        "/States/S/Catch",
        &["Catch must be an array of catchers"],
    );
}
