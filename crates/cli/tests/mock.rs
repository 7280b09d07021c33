//! `faastlane run --mock-config FILE --test-case NAME`: Step Functions Local's mocked responses.

use std::process::Command;

const WORKFLOW: &str = r#"{
  "StartAt": "Charge",
  "States": {
    "Charge": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "charge_card", "Payload.$": "$"},
      "Catch": [{"ErrorEquals": ["PaymentDeclined"], "ResultPath": "$.error", "Next": "Declined"}],
      "OutputPath": "$.Payload", "End": true
    },
    "Declined": {"Type": "Pass", "End": true}
  }
}"#;

const MOCKS: &str = r#"{
  "StateMachines": {"shop": {"TestCases": {
    "Happy": {"Charge": "Ok"},
    "Declined": {"Charge": "No"}
  }}},
  "MockedResponses": {
    "Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"charged": 42}}}},
    "No": {"0": {"Throw": {"Error": "PaymentDeclined", "Cause": "card expired"}}}
  }
}"#;

fn run(case: &str) -> (Option<i32>, serde_json::Value, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let workflow = dir.path().join("shop");
    std::fs::create_dir(&workflow).expect("workflow dir");
    std::fs::write(workflow.join("workflow.json"), WORKFLOW).expect("workflow");
    let mocks = dir.path().join("mocks.json");
    std::fs::write(&mocks, MOCKS).expect("mocks");
    let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .arg("run")
        .arg(&workflow)
        .arg("--mock-config")
        .arg(&mocks)
        .args(["--test-case", case, "--input", "{\"cart\": 1}"])
        .output()
        .expect("faastlane runs");
    let stdout = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code(),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_test_case_answers_the_task_without_the_function() {
    let (code, out, err) = run("Happy");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, serde_json::json!({"charged": 42}));
}

#[test]
fn a_mocked_throw_is_caught_like_the_real_error() {
    let (code, out, err) = run("Declined");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out["error"]["Error"], "PaymentDeclined");
    assert_eq!(out["error"]["Cause"], "card expired");
}

#[test]
fn an_unknown_test_case_is_a_usage_error() {
    let (code, _, err) = run("Nope");
    assert_eq!(code, Some(2));
    assert!(err.contains("no test case 'Nope'"), "{err}");
}
