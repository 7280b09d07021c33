//! Remote lanes (`remote.rs`) against an in-process sibling: the transport hands the request's
//! JSON bytes to another engine's `run_remote_batch` and the answer back as JSON bytes, as
//! `faastlane serve`'s `POST /lanes/branches` does, with no network.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::StatesError;
use engine::lanes::{RemoteError, RemoteLanes, RemoteTransport};
use engine::wire::{RemoteRequest, RemoteResponse};
use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, Lane, NativeRuntime, TraceReport,
    Workflow,
};
use serde_json::{Value as Json, json};

/// Counts every function call, wherever it runs.
fn runtime(calls: Arc<AtomicUsize>) -> Arc<NativeRuntime> {
    let raised = Arc::clone(&calls);
    Arc::new(
        NativeRuntime::new()
            .with("double", move |_, input| {
                calls.fetch_add(1, Ordering::Relaxed);
                let n = input
                    .to_json()
                    .ok()
                    .and_then(|j| j["n"].as_i64())
                    .unwrap_or(0);
                Ok(asl::Value::Json(json!({"n": n * 2})))
            })
            .with("fail_on_three", move |_, input| {
                raised.fetch_add(1, Ordering::Relaxed);
                let n = input
                    .to_json()
                    .ok()
                    .and_then(|j| j["n"].as_i64())
                    .unwrap_or(0);
                if n == 3 {
                    Err(StatesError::new("ValueError", "three is not allowed"))
                } else {
                    Ok(input)
                }
            }),
    )
}

fn workflow(name: &str, definition: Json) -> Workflow {
    Workflow {
        name: name.to_string(),
        machine: asl::load_str(&definition.to_string()).expect("valid definition"),
    }
}

fn parallel(branches: usize) -> Workflow {
    let branch = |i: usize| {
        json!({"StartAt": format!("Double {i}"), "States": {
            format!("Double {i}"): {"Type": "Task", "Resource": "double", "End": true}
        }})
    };
    workflow(
        "fan",
        json!({"StartAt": "Fan", "States": {
            "Fan": {"Type": "Parallel", "Next": "After",
                    "Branches": (0..branches).map(branch).collect::<Vec<_>>()},
            "After": {"Type": "Pass", "End": true}
        }}),
    )
}

fn map(function: &str) -> Workflow {
    workflow(
        "each",
        json!({"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "End": true, "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": function, "End": true}
            }}
        }}}),
    )
}

/// A sibling in this process: the request and the answer cross as JSON text.
struct Sibling {
    engine: Engine,
    workflow: Workflow,
    /// Batches sent, with their branch indices.
    sent: Mutex<Vec<Vec<usize>>>,
    /// Instead of answering: this error.
    fail_with: Option<RemoteError>,
}

impl RemoteTransport for Sibling {
    fn target(&self) -> &str {
        "test:sibling"
    }

    fn send(&self, body: Vec<u8>, _timeout: Duration) -> Result<RemoteResponse, RemoteError> {
        let request: RemoteRequest = serde_json::from_slice(&body).expect("a remote request");
        self.sent
            .lock()
            .expect("lock")
            .push(request.indices.clone());
        if let Some(e) = &self.fail_with {
            return Err(e.clone());
        }
        let answer = self
            .engine
            .run_remote_batch(&self.workflow, request, "sibling-1");
        let text = serde_json::to_vec(&answer).expect("serializable");
        Ok(serde_json::from_slice(&text).expect("a remote response"))
    }
}

struct Run {
    outcome: Result<Json, StatesError>,
    trace: TraceReport,
    sent: Vec<Vec<usize>>,
    calls: usize,
}

fn run(workflow: &Workflow, input: Json, cap: usize, fail_with: Option<RemoteError>) -> Run {
    let calls = Arc::new(AtomicUsize::new(0));
    let sibling = Arc::new(Sibling {
        engine: Engine::new(runtime(Arc::clone(&calls))),
        workflow: workflow.clone(),
        sent: Mutex::default(),
        fail_with,
    });
    let engine = Engine::with_options(
        runtime(Arc::clone(&calls)),
        EngineOptions {
            lanes: BranchLanes::Auto,
            trace: true,
            cpus: 1,
            remote: Some(RemoteLanes {
                transport: sibling.clone(),
                cap,
                timeout: Duration::from_secs(60),
            }),
            ..EngineOptions::default()
        },
    );
    let result = engine.execute(workflow, input, &ExecutionOptions::default());
    let trace = result.trace.clone();
    Run {
        outcome: result.into_json(),
        trace,
        // Batches leave on threads of their own: in whatever order they are sent.
        sent: {
            let mut sent = sibling.sent.lock().expect("lock").clone();
            sent.sort_unstable();
            sent
        },
        calls: calls.load(Ordering::Relaxed),
    }
}

fn inline(workflow: &Workflow, input: Json) -> Json {
    let engine = Engine::new(runtime(Arc::default()));
    engine
        .execute(workflow, input, &ExecutionOptions::default())
        .into_json()
        .expect("inline run succeeds")
}

#[test]
fn surplus_parallel_branches_run_on_the_sibling_with_the_same_output() {
    let w = parallel(6);
    let input = json!({"n": 21});
    let r = run(&w, input.clone(), 2, None);
    assert_eq!(r.outcome.clone().expect("succeeds"), inline(&w, input));
    // 1 CPU, cap 2: three lanes, two branches each; the last four went in two requests.
    assert_eq!(r.sent, vec![vec![2, 3], vec![4, 5]]);
    assert_eq!(r.calls, 6, "every branch ran exactly once");
    let decision = &r.trace.lanes[0];
    assert_eq!(decision.remote.len(), 2, "{decision:?}");
    assert!(decision.reason.contains("remote: "), "{}", decision.reason);
    for (assignment, branches) in decision.remote.iter().zip([[2, 3], [4, 5]]) {
        assert_eq!(assignment.branches, branches);
        assert_eq!(assignment.target, "test:sibling");
        assert_eq!(assignment.instance.as_deref(), Some("sibling-1"));
        assert_eq!(assignment.error, None);
    }
    // The sibling's state records come back with lane `remote`, under the state's path.
    let remote: Vec<&str> = r
        .trace
        .states
        .iter()
        .filter(|s| s.lane == Lane::Remote)
        .map(|s| s.state.as_str())
        .collect();
    let mut remote = remote;
    remote.sort_unstable();
    assert_eq!(
        remote,
        vec![
            "Fan/2/Double 2",
            "Fan/3/Double 3",
            "Fan/4/Double 4",
            "Fan/5/Double 5"
        ]
    );
}

#[test]
fn map_items_keep_their_order_across_lanes() {
    let w = map("double");
    let items: Vec<Json> = (0..9).map(|n| json!({"n": n})).collect();
    let input = json!({"items": items});
    let r = run(&w, input.clone(), 3, None);
    assert_eq!(r.outcome.expect("succeeds"), inline(&w, input));
    let sent: Vec<usize> = r.sent.concat();
    assert_eq!(sent.len(), 9 - 9 / 4, "{:?}", r.sent);
    assert_eq!(r.calls, 9);
}

#[test]
fn a_branch_error_on_the_sibling_fails_the_state_as_inline() {
    let w = map("fail_on_three");
    let items: Vec<Json> = (0..6).map(|n| json!({"n": n})).collect();
    let r = run(&w, json!({"items": items}), 1, None);
    let e = r.outcome.expect_err("item 3 fails");
    assert_eq!(
        (e.error.as_str(), e.cause.as_str()),
        ("ValueError", "three is not allowed")
    );
    assert_eq!(r.sent, vec![vec![3, 4, 5]], "item 3 went to the sibling");
}

#[test]
fn a_sibling_that_times_out_fails_its_branches_with_states_timeout_and_none_runs_twice() {
    let w = parallel(4);
    let r = run(
        &w,
        json!({"n": 1}),
        1,
        Some(RemoteError::Timeout {
            target: "test:sibling".into(),
            seconds: 60.0,
        }),
    );
    let e = r.outcome.expect_err("the batch timed out");
    assert_eq!(e.error, "States.Timeout");
    assert!(e.cause.contains("was not run again"), "{}", e.cause);
    assert_eq!(r.sent.len(), 1, "sent once");
    // Branches 0 and 1 ran here (or were cancelled); 2 and 3 never ran anywhere.
    assert!(r.calls <= 2, "{} calls", r.calls);
    let decision = &r.trace.lanes[0];
    assert!(
        decision.remote[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("did not answer")),
        "{decision:?}"
    );
}

#[test]
fn a_sibling_that_dies_fails_its_branches_with_runtime_exit_error_and_catch_sees_it() {
    let mut w = parallel(4);
    let definition = json!({"StartAt": "Fan", "States": {
        "Fan": {"Type": "Parallel", "Next": "Done",
                "Branches": (0..4).map(|i| json!({"StartAt": format!("D{i}"), "States": {
                    format!("D{i}"): {"Type": "Task", "Resource": "double", "End": true}}}))
                    .collect::<Vec<_>>(),
                "Catch": [{"ErrorEquals": ["Runtime.ExitError"], "Next": "Done"}]},
        "Done": {"Type": "Pass", "End": true}
    }});
    w.machine = asl::load_str(&definition.to_string()).expect("valid");
    let r = run(
        &w,
        json!({"n": 1}),
        1,
        Some(RemoteError::Lost {
            target: "test:sibling".into(),
            reason: "502 Bad Gateway".into(),
        }),
    );
    let out = r.outcome.expect("caught");
    assert_eq!(out["Error"], json!("Runtime.ExitError"), "{out}");
    assert!(
        out["Cause"]
            .as_str()
            .is_some_and(|c| c.contains("502 Bad Gateway")),
        "{out}"
    );
    assert_eq!(r.sent.len(), 1);
}

#[test]
fn branches_that_fit_the_cpus_stay_here() {
    let w = parallel(1);
    let r = run(&w, json!({"n": 2}), 4, None);
    assert_eq!(r.outcome.expect("succeeds"), json!([{"n": 4}]));
    assert!(r.sent.is_empty());
    assert!(
        r.trace.lanes[0].reason.contains("remote: not used"),
        "{}",
        r.trace.lanes[0].reason
    );
}

#[test]
fn the_history_limit_holds_across_remote_lanes_as_inline() {
    // Find the smallest limit the workflow runs under inline, then check that one event
    // fewer fails both inline and with remote lanes, and that the limit itself passes both.
    let w = parallel(6);
    let limited = |max: u64, remote: bool| {
        let calls = Arc::new(AtomicUsize::new(0));
        let limits = asl::Limits {
            history_events: Some(max),
            ..asl::Limits::default()
        };
        let sibling_engine = Engine::with_options(
            runtime(Arc::clone(&calls)),
            EngineOptions {
                limits: limits.clone(),
                ..EngineOptions::default()
            },
        );
        let sibling = Arc::new(Sibling {
            engine: sibling_engine,
            workflow: w.clone(),
            sent: Mutex::default(),
            fail_with: None,
        });
        let engine = Engine::with_options(
            runtime(calls),
            EngineOptions {
                lanes: BranchLanes::Auto,
                cpus: 1,
                limits,
                remote: remote.then(|| RemoteLanes {
                    transport: sibling.clone() as Arc<dyn RemoteTransport>,
                    cap: 2,
                    timeout: Duration::from_secs(60),
                }),
                ..EngineOptions::default()
            },
        );
        let result = engine.execute(&w, json!({"n": 1}), &ExecutionOptions::default());
        (
            result.outcome.is_ok(),
            sibling.sent.lock().expect("lock").len(),
        )
    };
    let needed = (1..200u64)
        .find(|&m| limited(m, false).0)
        .expect("some limit passes");
    assert_eq!(limited(needed, true), (true, 2));
    assert!(!limited(needed - 1, true).0);
}
