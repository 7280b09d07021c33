//! Python functions invoked as Lambda functions through the engine: what `lambda:invoke`
//! and a Lambda-ARN Task make of a result (Lambda's response body), names known only at run
//! time, and names that resolve to nothing.

mod common;

use std::sync::Arc;

use common::runtime;
use engine::{Engine, ExecutionOptions, Workflow};
use serde_json::{Value as Json, json};

fn run(definition: Json, input: Json) -> Result<Json, (String, String)> {
    let workflow = Workflow {
        name: "lambda".into(),
        machine: asl::load(&definition).expect("valid definition"),
    };
    let engine = Engine::new(Arc::new(runtime("basic")));
    engine
        .prepare(&workflow)
        .map_err(|p| ("prepare".into(), format!("{p:?}")))?;
    engine
        .execute(&workflow, input, &ExecutionOptions::default())
        .into_json()
        .map_err(|e| (e.error, e.cause))
}

/// One lambda:invoke of `function` with `payload`, its whole result.
fn invoke(function: &str, payload: Json) -> Result<Json, (String, String)> {
    run(
        json!({"StartAt": "Invoke", "States": {"Invoke": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload": payload}, "End": true}}}),
        json!({}),
    )
}

fn content_length(result: &Json) -> &Json {
    &result["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"]
}

#[test]
fn bytes_are_the_response_body_parsed_as_json_when_they_are_json() {
    let out = invoke("raw_body", json!({"kind": "json"})).expect("succeeds");
    assert_eq!(out["Payload"], json!("HelloWorld!"));
    assert_eq!(content_length(&out), &json!("13"));
    let out = invoke("raw_body", json!({"kind": "object"})).expect("succeeds");
    assert_eq!(out["Payload"], json!({"a": [1, 2]}));
    assert_eq!(content_length(&out), &json!("13"));
}

#[test]
fn bytes_that_are_not_json_stay_a_string() {
    let out = invoke("raw_body", json!({"kind": "text"})).expect("succeeds");
    assert_eq!(out["Payload"], json!("plain é text"));
    assert_eq!(content_length(&out), &json!("13"));
}

#[test]
fn content_length_is_the_length_of_json_dumps() {
    // json.dumps({"word": "été"}) == '{"word": "\u00e9t\u00e9"}': 25 bytes.
    let out = invoke("raw_body", json!({"kind": "unicode"})).expect("succeeds");
    assert_eq!(out["Payload"], json!({"word": "été"}));
    assert_eq!(content_length(&out), &json!("25"));
}

#[test]
fn a_result_json_cannot_encode_is_a_marshal_error() {
    let (error, cause) = invoke("raw_body", json!({"kind": "set"})).expect_err("fails");
    assert_eq!(error, "Runtime.MarshalError");
    let cause: Json = serde_json::from_str(&cause).expect("cause is JSON");
    assert_eq!(
        cause["errorMessage"],
        json!("Unable to marshal response: Object of type set is not JSON serializable")
    );
    assert_eq!(cause["stackTrace"], json!([]));
}

#[test]
fn a_lambda_arn_task_parses_a_bytes_result_too() {
    let out = run(
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:raw_body", "End": true}}}),
        json!({"kind": "json"}),
    );
    assert_eq!(out, Ok(json!("HelloWorld!")));
}

#[test]
fn function_names_known_at_run_time_are_imported_when_first_called() {
    let definition = json!({"StartAt": "Invoke", "States": {"Invoke": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName.$": "$.fn", "Payload.$": "$.event"},
        "OutputPath": "$.Payload", "End": true}}});
    let out = run(definition.clone(), json!({"fn": "echo", "event": {"a": 1}}));
    assert_eq!(out, Ok(json!({"a": 1})));
    let (error, cause) =
        run(definition, json!({"fn": "nowhere", "event": {}})).expect_err("no such function");
    assert_eq!(error, "Lambda.ResourceNotFoundException");
    assert!(
        cause.starts_with("Function not found: arn:aws:lambda:us-east-1:111111111111:function:nowhere:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: "),
        "{cause}"
    );
}

#[test]
fn a_lambda_arn_naming_no_module_fails_when_it_runs() {
    let (error, cause) = run(
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
            "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:nowhere", "End": true}}}),
        json!({}),
    )
    .expect_err("no such function");
    assert_eq!(error, "Lambda.ResourceNotFoundException");
    assert!(
        cause.contains("arn:aws:lambda:eu-west-1:123456789012:function:nowhere:$LATEST"),
        "{cause}"
    );
}

#[test]
fn a_plain_name_naming_no_module_is_refused_before_the_run() {
    let result = run(
        json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "nowhere", "End": true}}}),
        json!({}),
    );
    assert!(
        matches!(result, Err((ref stage, _)) if stage == "prepare"),
        "{result:?}"
    );
}
