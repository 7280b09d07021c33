//! The engine's process lane (`branches.rs`: dispatch, encoding, decoding, taking a branch up
//! again after its worker was killed at a Task's deadline) against an in-process double of
//! the process pool: no fork.

#[path = "common/in_process_pool.rs"]
mod in_process_pool;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, Lane, ManualClock, NativeRuntime,
    Workflow,
};
use in_process_pool::InProcessPool;
use serde_json::json;

fn workflow() -> Workflow {
    let definition = json!({
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "End": true,
                "Branches": [
                    {"StartAt": "Slow", "States": {
                        "Slow": {"Type": "Task", "Resource": "echo", "TimeoutSeconds": 1,
                                 "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.caught", "Next": "Caught"}],
                                 "End": true},
                        "Caught": {"Type": "Pass", "End": true}
                    }},
                    {"StartAt": "Fast", "States": {
                        "Fast": {"Type": "Task", "Resource": "echo", "End": true}
                    }},
                    {"StartAt": "Also", "States": {
                        "Also": {"Type": "Pass", "Result": "also", "End": true}
                    }}
                ]
            }
        }
    });
    Workflow {
        name: "double".to_string(),
        machine: asl::load_str(&definition.to_string()).expect("valid"),
    }
}

fn run(kill_in: Option<&str>) -> (serde_json::Value, engine::TraceReport, usize) {
    run_workflow(workflow(), kill_in)
}

fn run_workflow(
    workflow: Workflow,
    kill_in: Option<&str>,
) -> (serde_json::Value, engine::TraceReport, usize) {
    let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
    let runtime = Arc::new(NativeRuntime::new().with("echo", |_, input| Ok(input)));
    let mut pool = InProcessPool::new(runtime.clone(), clock.clone(), workflow.clone());
    pool.kill_in = kill_in.map(str::to_owned);
    let pool = Arc::new(pool);
    let engine = Engine::with_options(
        runtime,
        EngineOptions {
            lanes: BranchLanes::Process,
            processes: Some(pool.clone()),
            trace: true,
            cpus: 2,
            ..EngineOptions::default()
        },
    )
    .with_clock(clock);
    let result = engine.execute(&workflow, json!({"n": 1}), &ExecutionOptions::default());
    let trace = result.trace.clone();
    let out = result.into_json().expect("the execution succeeds");
    (out, trace, pool.spawned.load(Ordering::Relaxed))
}

#[test]
fn forced_process_lanes_send_every_branch_to_a_worker() {
    let (out, trace, spawned) = run(None);
    assert_eq!(out, json!([{"n": 1}, {"n": 1}, "also"]));
    assert!(spawned >= 1);
    assert_eq!(trace.lanes[0].lane, Lane::Process, "{:?}", trace.lanes[0]);
    let branch_states: Vec<_> = trace
        .states
        .iter()
        .filter(|r| r.state.starts_with("Both/"))
        .collect();
    assert_eq!(branch_states.len(), 3, "{branch_states:?}");
    assert!(
        branch_states.iter().all(|r| r.lane == Lane::Process),
        "this thread only dispatches: {branch_states:?}"
    );
}

#[test]
fn a_branch_killed_at_a_task_deadline_goes_on_here_with_the_tasks_catch() {
    let (out, trace, _) = run(Some("Slow"));
    assert_eq!(
        out[0]["caught"]["Error"],
        json!("States.Timeout"),
        "the Catch ran: {out}"
    );
    assert_eq!(out[0]["n"], json!(1));
    assert_eq!(out[1], json!({"n": 1}));
    assert_eq!(out[2], json!("also"));
    // The Catch's Next ran in this process, after the worker was lost.
    assert!(
        trace
            .states
            .iter()
            .any(|r| r.state == "Both/0/Caught" && r.lane != Lane::Process),
        "{:?}",
        trace.states
    );
}

/// A branch that assigned a variable and then was killed in its worker at a Task's deadline
/// goes on here with the outer scope's variables and its own, as it would have in the worker;
/// its assignments still do not leak out of the Parallel state.
#[test]
fn a_branch_taken_up_here_keeps_the_variables_it_had_in_its_worker() {
    let definition = json!({
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"outer": "from before the Parallel"}, "Next": "Both"},
            "Both": {
                "Type": "Parallel",
                "Next": "After",
                "Branches": [
                    {"StartAt": "Mark", "States": {
                        "Mark": {"Type": "Pass", "Assign": {"mine": "assigned in the branch"},
                                 "Next": "Slow"},
                        "Slow": {"Type": "Task", "Resource": "echo", "TimeoutSeconds": 1,
                                 "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Caught",
                                            "Assign": {"caught.$": "$.Error"}}],
                                 "End": true},
                        "Caught": {"Type": "Pass", "End": true, "Parameters": {
                            "outer.$": "$outer", "mine.$": "$mine", "caught.$": "$caught"}}
                    }},
                    {"StartAt": "Other", "States": {
                        "Other": {"Type": "Pass", "Result": "other", "End": true}
                    }}
                ]
            },
            "After": {"Type": "Pass", "End": true, "Parameters": {
                "branches.$": "$", "outer.$": "$outer"}}
        }
    });
    let workflow = Workflow {
        name: "double".to_string(),
        machine: asl::load_str(&definition.to_string()).expect("valid"),
    };
    let (out, _, _) = run_workflow(workflow, Some("Slow"));
    assert_eq!(
        out["branches"][0],
        json!({"outer": "from before the Parallel", "mine": "assigned in the branch",
               "caught": "States.Timeout"}),
        "{out}"
    );
    assert_eq!(out["outer"], json!("from before the Parallel"));
}
