//! Shared by the harness-less lane tests: a workflow of native functions that misbehave on
//! request, a watchdog, and checks for zombies and leaked descriptors.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use asl::{StatesError, Value};
use engine::{BranchLanes, Engine, EngineOptions, NativeRuntime, Workflow};
use lanes::{ForkServer, Host, ServerOptions};
use serde_json::{Value as Json, json};

mod checks;
pub use checks::*;

pub const WORKFLOW: &str = r#"{
  "StartAt": "Route",
  "States": {
    "Route": {"Type": "Choice", "Choices": [
        {"Variable": "$.case", "StringEquals": "parallel", "Next": "Fan"},
        {"Variable": "$.case", "StringEquals": "counted", "Next": "Count"},
        {"Variable": "$.case", "StringEquals": "spin", "Next": "Spin"},
        {"Variable": "$.case", "StringEquals": "caught", "Next": "Patient"},
        {"Variable": "$.case", "StringEquals": "retried", "Next": "Persistent"}
      ], "Default": "Each"},
    "Patient": {"Type": "Map", "ItemsPath": "$.items", "End": true,
      "ItemProcessor": {"StartAt": "Stuck", "States": {
        "Stuck": {"Type": "Task", "Resource": "act", "TimeoutSeconds": 1, "End": true,
          "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timedOut", "Next": "Recovered"}]},
        "Recovered": {"Type": "Pass", "Parameters": {"recovered.$": "$.timedOut.Error"}, "End": true}
      }}},
    "Persistent": {"Type": "Map", "ItemsPath": "$.items", "End": true,
      "ItemProcessor": {"StartAt": "Flaky", "States": {
        "Flaky": {"Type": "Task", "Resource": "act", "TimeoutSeconds": 1, "End": true,
          "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}]}
      }}},
    "Count": {"Type": "Map", "ItemsPath": "$.items", "Next": "Counted",
      "ItemProcessor": {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "act", "End": true}
      }}},
    "Counted": {"Type": "Pass", "End": true},
    "Spin": {"Type": "Map", "ItemsPath": "$.items", "End": true,
      "ItemProcessor": {"StartAt": "Turn", "States": {
        "Turn": {"Type": "Task", "Resource": "act", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [
            {"Variable": "$.again", "BooleanEquals": true, "Next": "Turn"}
          ], "Default": "Stop"},
        "Stop": {"Type": "Succeed"}
      }}},
    "Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
      "Iterator": {"StartAt": "Act", "States": {
        "Act": {"Type": "Task", "Resource": "act", "TimeoutSeconds": 1, "Next": "Tag"},
        "Tag": {"Type": "Pass", "Parameters": {"out.$": "$", "where.$": "$$.Execution.Name"}, "End": true}
      }}},
    "Fan": {"Type": "Parallel", "End": true, "Branches": [
      {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "act", "End": true}}},
      {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "act", "Parameters": {"do": "ok", "n.$": "$.n"}, "End": true}}},
      {"StartAt": "C", "States": {"C": {"Type": "Pass", "Result": "c", "End": true}}}
    ]}
  }
}"#;

/// The test process: crashes asked for happen only in workers (in the test process itself
/// they would end the test), which fail late instead.
static TEST_PROCESS: AtomicU32 = AtomicU32::new(0);

const CRASHES: [&str; 5] = ["exit", "kill", "abort", "oom", "block"];

/// `act`: does what its input's `do` says.
pub fn runtime() -> NativeRuntime {
    NativeRuntime::new().with("act", |call, input: Value| {
        let j = input.to_json().unwrap_or(Json::Null);
        let n = j.get("n").and_then(Json::as_i64).unwrap_or(0);
        let mut what = j.get("do").and_then(Json::as_str).unwrap_or("ok");
        if CRASHES.contains(&what) && std::process::id() == TEST_PROCESS.load(Ordering::Relaxed) {
            what = if what == "block" {
                "slow_ok"
            } else {
                "fail_late"
            };
        }
        match what {
            "ok" => Ok(Value::Json(json!({"n2": n * 2}))),
            "nap" => {
                std::thread::sleep(Duration::from_millis(2));
                Ok(Value::Json(json!({"n2": n * 2})))
            }
            "slow_ok" => {
                // Long enough for a worker to take an item too.
                std::thread::sleep(Duration::from_millis(200));
                Ok(Value::Json(json!({"n2": n * 2})))
            }
            "fail" => {
                std::thread::sleep(Duration::from_millis(
                    j.get("ms").and_then(Json::as_u64).unwrap_or(0),
                ));
                Err(StatesError::new("Boom", format!("item {n} failed")))
            }
            "fail_late" => {
                std::thread::sleep(Duration::from_millis(500));
                Err(StatesError::new(
                    "Late",
                    "the other branches finished first",
                ))
            }
            "exit" => std::process::exit(3),
            "kill" => {
                let _ = rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::KILL,
                );
                unreachable!("killed")
            }
            "abort" => std::process::abort(),
            "oom" => {
                let v: Vec<u8> = vec![1; 512 << 20];
                Ok(Value::Json(json!(v.len())))
            }
            "block" => {
                // Ignores cancellation: only a kill ends it early.
                std::thread::sleep(Duration::from_secs(30));
                Ok(Value::Json(json!("woke")))
            }
            "sleep" => {
                // Cooperative: stops when the branch is cancelled (this process only).
                let end = Instant::now() + Duration::from_secs(30);
                while Instant::now() < end && !call.cancel.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(Value::Json(json!("slept")))
            }
            "big" => Ok(Value::Json(json!("x".repeat(200_000)))),
            "pid" => Ok(Value::Json(json!({"pid": std::process::id()}))),
            "spin" => {
                // Loops for ever in a worker; in the test process it stops after a while,
                // long enough for a worker to take an item.
                let here = std::process::id() == TEST_PROCESS.load(Ordering::Relaxed);
                if here {
                    std::thread::sleep(Duration::from_millis(500));
                }
                Ok(Value::Json(json!({"do": "spin", "again": !here})))
            }
            other => Err(StatesError::new("Unknown", other.to_string())),
        }
    })
}

pub fn workflow() -> Workflow {
    Workflow {
        name: "lanes-test".into(),
        machine: asl::load_str(WORKFLOW).expect("valid"),
    }
}

pub fn start_server(options: ServerOptions) -> Arc<ForkServer> {
    TEST_PROCESS.store(std::process::id(), Ordering::Relaxed);
    let options_lazy = options.lazy_setup;
    let server = ForkServer::start(options, || {
        Ok(Host {
            workflow: workflow(),
            runtime: Arc::new(runtime()),
            options: EngineOptions::default(),
            fork_hooks: None,
        })
    })
    .expect("fork server starts");
    if !options_lazy {
        server.ready().expect("ready");
    }
    Arc::new(server)
}

pub fn engine(lanes: BranchLanes, server: Option<&Arc<ForkServer>>) -> Engine {
    engine_with_history_limit(lanes, server, Some(engine::AWS_MAX_HISTORY_EVENTS))
}

/// An engine whose executions fail past `max_events` history events.
pub fn engine_with_history_limit(
    lanes: BranchLanes,
    server: Option<&Arc<ForkServer>>,
    max_events: Option<u64>,
) -> Engine {
    Engine::with_options(
        Arc::new(runtime()),
        EngineOptions {
            lanes,
            processes: server.map(|s| Arc::clone(s) as Arc<dyn engine::lanes::ProcessPool>),
            cpus: 2,
            trace: true,
            limits: asl::Limits {
                history_events: max_events,
                ..asl::Limits::default()
            },
            ..EngineOptions::default()
        },
    )
}
