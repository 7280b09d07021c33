//! Process isolation with native functions: a sensitive function runs in a fresh worker
//! process per call, the others here, and the execution's output is the unisolated one.
//!
//! No test harness: the fork server must start before any thread.

#![allow(clippy::expect_used, reason = "a failed step ends the test")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use asl::{StatesError, Value};
use engine::{Engine, ExecutionOptions, NativeRuntime, Runtime, Workflow};
use isolation::{ProcessIsolated, isolation_workflow};
use lanes::{ForkServer, Host, ServerOptions};
use serde_json::{Value as Json, json};

const WORKFLOW: &str = r#"{
  "StartAt": "Collect",
  "States": {
    "Collect": {"Type": "Task", "Resource": "collect", "ResultPath": "$.collected", "Next": "Report",
      "Catch": [{"ErrorEquals": ["Refused"], "ResultPath": "$.refused", "Next": "Report"}]},
    "Report": {"Type": "Task", "Resource": "report", "End": true}
  }
}"#;

/// Calls of `collect` in this process: in a fresh worker it is always the first.
static CALLS: AtomicU64 = AtomicU64::new(0);

fn runtime() -> NativeRuntime {
    NativeRuntime::new()
        .with("collect", |_, input: Value| {
            let j = input.to_json().unwrap_or(Json::Null);
            match j.get("do").and_then(Json::as_str) {
                Some("refuse") => return Err(StatesError::new("Refused", "not today")),
                Some("exit") => std::process::exit(3),
                Some("hang") => std::thread::sleep(std::time::Duration::from_secs(30)),
                _ => {}
            }
            let call = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
            Ok(Value::Json(json!({
                "patient": j.get("patient").cloned().unwrap_or(Json::Null),
                "pid": std::process::id(),
                "call": call,
            })))
        })
        .with("report", |_, input: Value| {
            let mut j = input.to_json().unwrap_or(Json::Null);
            j["reported_by"] = json!(std::process::id());
            Ok(Value::Json(j))
        })
}

fn run(engine: &Engine, workflow: &Workflow, input: Json) -> Result<Json, StatesError> {
    engine
        .execute(workflow, input, &ExecutionOptions::default())
        .into_json()
}

fn main() {
    let sensitive = vec!["collect".to_string()];
    let iso = isolation_workflow("records", &sensitive).expect("isolation workflow");
    let hosted = iso.clone();
    let server = ForkServer::start(
        ServerOptions {
            idle_workers: 0,
            ..ServerOptions::default()
        },
        move || {
            Ok(Host {
                workflow: hosted,
                runtime: Arc::new(runtime()),
                options: engine::EngineOptions::default(),
                fork_hooks: None,
            })
        },
    )
    .expect("fork server");
    let server = Arc::new(server);
    let workflow = Workflow {
        name: "records".into(),
        machine: asl::load_str(WORKFLOW).expect("definition"),
    };
    let plain: Arc<dyn Runtime> = Arc::new(runtime());
    let isolated = Engine::new(Arc::new(ProcessIsolated::new(
        Arc::clone(&plain),
        Arc::clone(&server) as Arc<dyn engine::lanes::ProcessPool>,
        &iso.name,
        &sensitive,
    )));
    let me = u64::from(std::process::id());

    // The sensitive function ran in another process, the other one here.
    let out = run(&isolated, &workflow, json!({"patient": "p1"})).expect("isolated run");
    let worker = out["collected"]["pid"].as_u64().expect("pid");
    assert_ne!(worker, me, "collect ran in a worker");
    assert_eq!(out["reported_by"].as_u64(), Some(me), "report ran here");
    assert_eq!(out["collected"]["patient"], "p1");

    // A fresh worker per call: nothing a call leaves in the process reaches the next.
    let again = run(&isolated, &workflow, json!({"patient": "p2"})).expect("second run");
    assert_eq!(out["collected"]["call"], 1);
    assert_eq!(
        again["collected"]["call"], 1,
        "module state did not persist"
    );
    assert_ne!(again["collected"]["pid"].as_u64(), Some(worker));

    // Same output as the unisolated run, process ids aside.
    let unisolated = Engine::new(Arc::clone(&plain));
    let mut a = run(&unisolated, &workflow, json!({"patient": "p3"})).expect("plain");
    let mut b = run(&isolated, &workflow, json!({"patient": "p3"})).expect("isolated");
    for j in [&mut a, &mut b] {
        j["collected"]["pid"] = Json::Null;
        j["collected"]["call"] = Json::Null;
    }
    assert_eq!(a, b);

    // The function's error is the Task's, so Catch sees it by name.
    let caught = run(&isolated, &workflow, json!({"do": "refuse"})).expect("caught");
    assert_eq!(
        caught["refused"],
        json!({"Error": "Refused", "Cause": "not today"})
    );

    // A worker that dies fails the Task with Lambda's error; this process keeps serving.
    let err = run(&isolated, &workflow, json!({"do": "exit"})).expect_err("worker exited");
    assert_eq!(err.error, "Runtime.ExitError", "{err:?}");
    assert!(err.cause.contains("exit status 3"), "{}", err.cause);
    run(&isolated, &workflow, json!({"patient": "p4"})).expect("after a crash");

    // A call past its Task's TimeoutSeconds: the worker is killed, the Task times out.
    let timed = Workflow {
        name: "records".into(),
        machine: asl::load_str(
            r#"{"StartAt": "Collect", "States": {
                "Collect": {"Type": "Task", "Resource": "collect", "TimeoutSeconds": 1, "End": true}}}"#,
        )
        .expect("definition"),
    };
    let err = run(&isolated, &timed, json!({"do": "hang"})).expect_err("timed out");
    assert_eq!(err.error, "States.Timeout", "{err:?}");
    run(&isolated, &workflow, json!({"patient": "p5"})).expect("after a timeout");
    assert_eq!(
        CALLS.load(Ordering::Relaxed),
        1,
        "collect never ran here but once, unisolated"
    );
    eprintln!("process isolation: ok");
}
