//! Process lanes with native functions: results equal inline ones, errors come back named
//! like AWS's, a Task killed at its deadline still gets its Retry and Catch, history events
//! count against the execution's limit, siblings are cancelled, and nothing is left behind
//! (no zombie, no descriptor).
//! No test harness: the fork server must start before any thread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use engine::{BranchLanes, ExecutionOptions, Lane};
use lanes::{ForkServer, ServerOptions};
use serde_json::{Value as Json, json};

fn items(dos: &[&str]) -> Json {
    let items: Vec<Json> = dos
        .iter()
        .enumerate()
        .map(|(n, d)| json!({"do": d, "n": n}))
        .collect();
    json!({"case": "map", "items": items})
}

fn execute(
    server: &Arc<ForkServer>,
    input: Json,
) -> (Result<Json, asl::StatesError>, engine::TraceReport) {
    let engine = engine(BranchLanes::Process, Some(server));
    let result = engine.execute(
        &workflow(),
        input,
        &ExecutionOptions {
            name: Some("x".into()),
            ..ExecutionOptions::default()
        },
    );
    let trace = result.trace.clone();
    (result.into_json(), trace)
}

fn error_of(server: &Arc<ForkServer>, dos: &[&str]) -> asl::StatesError {
    let fds = settled_fds(server);
    let (outcome, _) = within(&format!("{dos:?}"), Duration::from_secs(20), || {
        execute(server, items(dos))
    });
    assert_no_workers(server);
    assert_eq!(open_fds(), fds, "descriptors leaked");
    outcome.expect_err("the state fails")
}

/// The pid of the process that ran a one-item Map (forced onto a process lane).
fn worker_pid(server: &Arc<ForkServer>) -> u32 {
    let (out, trace) = within("one item", Duration::from_secs(20), || {
        execute(server, items(&["pid"]))
    });
    assert_eq!(trace.lanes[0].lane, Lane::Process, "{:?}", trace.lanes);
    let out = out.unwrap();
    u32::try_from(out[0]["out"]["pid"].as_u64().unwrap()).unwrap()
}

/// A job for the branches of the `Count` Map state (the seventh state of the pre-order walk).
fn count_job() -> engine::wire::BranchJob {
    engine::wire::BranchJob {
        workflow: workflow().name,
        state_index: 6,
        state: "Count".into(),
        prefix: String::new(),
        execution: engine::wire::ExecutionWire {
            arn: "arn".into(),
            name: "x".into(),
            start_time: "2026-01-01T00:00:00.000Z".into(),
            input: json!({}),
            role_arn: "role".into(),
            state_machine_arn: "sm".into(),
            state_machine_name: "lanes-test".into(),
        },
        deadline_ms: None,
        trace_offset_us: None,
        shared_input: false,
        first_index: 0,
        variables: Default::default(),
    }
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// Runs `input` with a history limit of `max_events`, on `server`'s workers (or inline).
fn execute_limited(
    server: Option<&Arc<ForkServer>>,
    input: Json,
    max_events: u64,
) -> (Result<Json, asl::StatesError>, engine::TraceReport) {
    let lanes = if server.is_some() {
        BranchLanes::Process
    } else {
        BranchLanes::Inline
    };
    let result = engine_with_history_limit(lanes, server, Some(max_events)).execute(
        &workflow(),
        input,
        &ExecutionOptions {
            name: Some("x".into()),
            ..ExecutionOptions::default()
        },
    );
    let trace = result.trace.clone();
    (result.into_json(), trace)
}

/// The error an execution gets past `max` history events.
fn history_error(max: u64) -> asl::StatesError {
    asl::StatesError::runtime(format!(
        "The execution reached the maximum number of history events ({max}); a state machine that loops must end"
    ))
}

fn main() {
    let server = start_server(ServerOptions {
        kill_grace: Duration::from_millis(200),
        worker_memory_limit: Some(256 << 20),
        ..ServerOptions::default()
    });
    let lazy = start_server(ServerOptions {
        lazy_setup: true,
        ..ServerOptions::default()
    });
    let no_idle = start_server(ServerOptions {
        idle_workers: 0,
        ..ServerOptions::default()
    });
    let outlived = start_server(ServerOptions::default());
    let s = || Arc::clone(&server);
    let tests: Vec<Check> = vec![
        ("workers_outlive_their_server", {
            let server = Arc::into_inner(outlived).expect("the only handle");
            Box::new(move || {
                let job = count_job();
                let inputs: engine::codec::Payload = Arc::new(br#"[{"do":"ok"}]"#.to_vec());
                let workers: Vec<lanes::Worker> = (0..2)
                    .map(|_| server.spawn_worker(&job, &inputs).expect("a worker"))
                    .collect();
                let pids: Vec<u32> = workers
                    .iter()
                    .map(engine::lanes::ProcessWorker::pid)
                    .collect();
                // The server goes first: it kills and reaps the workers it started.
                within("the server's drop", Duration::from_secs(10), || {
                    drop(server)
                });
                for pid in &pids {
                    assert!(
                        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                        "worker {pid} outlived its server"
                    );
                }
                // Their handles then find a shut channel: neither a crash nor a hang.
                within("the workers' drop", Duration::from_secs(10), || {
                    drop(workers)
                });
            })
        }),
        ("a_worker_takes_the_next_states_branches", {
            let server = s();
            Box::new(move || {
                let fds = settled_fds(&server);
                // One item: forced onto a process lane, it runs in a worker, not here.
                let first = worker_pid(&server);
                assert_ne!(first, std::process::id());
                assert_eq!(server.idle_workers(), vec![first], "kept, idle");
                // It renames itself when it has dropped its inputs, after the release.
                let idle = lanes::IDLE_NAME.to_str().unwrap();
                let end = std::time::Instant::now() + Duration::from_secs(5);
                while comm(first) != idle && std::time::Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(2));
                }
                assert_eq!(comm(first), idle);
                // The next execution's state gets the same process, with its new input.
                assert_eq!(worker_pid(&server), first, "reused");
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
                // Retired: the next state starts a new worker.
                assert_ne!(worker_pid(&server), first);
                assert_no_workers(&server);
            })
        }),
        ("an_idle_worker_that_died_is_replaced", {
            let server = s();
            Box::new(move || {
                let fds = settled_fds(&server);
                let first = worker_pid(&server);
                let pid = rustix::process::Pid::from_raw(first as i32).unwrap();
                rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
                // Whether or not the server has reaped it yet, the next state runs.
                let second = worker_pid(&server);
                assert_ne!(second, first);
                assert_eq!(server.idle_workers(), vec![second]);
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            })
        }),
        ("a_prestarted_worker_takes_the_first_state", {
            let server = s();
            Box::new(move || {
                let fds = settled_fds(&server);
                assert_eq!(server.prestart(1), Ok(1));
                let idle = server.idle_workers();
                assert_eq!(idle.len(), 1);
                assert_eq!(worker_pid(&server), idle[0], "the first state used it");
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            })
        }),
        ("without_idle_workers_each_state_starts_its_own", {
            let server = Arc::clone(&no_idle);
            Box::new(move || {
                let fds = open_fds();
                assert_eq!(server.prestart(2), Ok(0), "none may wait idle");
                let first = worker_pid(&server);
                assert!(server.idle_workers().is_empty());
                assert_ne!(worker_pid(&server), first);
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            })
        }),
        ("map_results_equal_inline", {
            let server = s();
            Box::new(move || {
                // Each item naps 2 ms.
                let input = items(&["nap"; 40]);
                let inline = engine(BranchLanes::Inline, None)
                    .execute(
                        &workflow(),
                        input.clone(),
                        &ExecutionOptions {
                            name: Some("x".into()),
                            ..ExecutionOptions::default()
                        },
                    )
                    .into_json()
                    .unwrap();
                let fds = settled_fds(&server);
                let (process, trace) =
                    within("map", Duration::from_secs(20), || execute(&server, input));
                assert_eq!(process.unwrap(), inline);
                let decision = &trace.lanes[0];
                assert_eq!(decision.lane, Lane::Process, "{decision:?}");
                assert!(trace.states.iter().any(|r| r.lane == Lane::Process));
                // Forced processes: this process only dispatches.
                assert!(
                    !trace
                        .states
                        .iter()
                        .any(|r| r.lane == Lane::Inline && r.state.starts_with("Each/"))
                );
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds);
            })
        }),
        ("a_lazy_server_sets_up_when_first_asked", {
            let lazy = Arc::clone(&lazy);
            Box::new(move || {
                let (out, trace) = within("lazy", Duration::from_secs(20), || {
                    execute(&lazy, items(&["ok"; 8]))
                });
                assert_eq!(out.unwrap()[7]["out"]["n2"], json!(14));
                assert_eq!(trace.lanes[0].lane, Lane::Process);
                assert_no_workers(&lazy);
            })
        }),
        ("parallel_results_equal_inline", {
            let server = s();
            Box::new(move || {
                let input = json!({"case": "parallel", "do": "ok", "n": 21});
                let inline = engine(BranchLanes::Inline, None)
                    .execute(&workflow(), input.clone(), &ExecutionOptions::default())
                    .into_json()
                    .unwrap();
                let (process, _) = within("parallel", Duration::from_secs(20), || {
                    execute(&server, input)
                });
                assert_eq!(process.unwrap(), inline);
                assert_eq!(inline, json!([{"n2": 42}, {"n2": 42}, "c"]));
            })
        }),
        ("large_results_travel_through_a_memfd", {
            let server = s();
            Box::new(move || {
                let (out, _) = within("big", Duration::from_secs(20), || {
                    execute(&server, items(&["big"; 4]))
                });
                let out = out.unwrap();
                assert_eq!(out[3]["out"].as_str().map(str::len), Some(200_000));
                assert_no_workers(&server);
            })
        }),
        ("a_raised_error_is_the_states_error", {
            let server = s();
            Box::new(move || {
                let e = error_of(&server, &["ok", "fail", "ok", "ok"]);
                assert_eq!(
                    (e.error.as_str(), e.cause.as_str()),
                    ("Boom", "item 1 failed")
                );
            })
        }),
        ("exit_3_is_runtime_exit_error", {
            let server = s();
            Box::new(move || {
                // Items the calling thread takes fail late; a worker's exits first.
                let e = error_of(&server, &["exit", "exit", "exit", "exit"]);
                assert_eq!(e.error, "Runtime.ExitError", "{e:?}");
                assert!(e.cause.contains("exit status 3"), "{}", e.cause);
            })
        }),
        ("sigkill_is_runtime_exit_error", {
            let server = s();
            Box::new(move || {
                let e = error_of(&server, &["kill", "kill", "kill", "kill"]);
                assert_eq!(e.error, "Runtime.ExitError");
                assert!(e.cause.contains("signal: killed"), "{}", e.cause);
            })
        }),
        ("abort_is_runtime_exit_error", {
            let server = s();
            Box::new(move || {
                let e = error_of(&server, &["abort", "abort", "abort", "abort"]);
                assert_eq!(e.error, "Runtime.ExitError");
                assert!(e.cause.contains("signal: aborted"), "{}", e.cause);
            })
        }),
        ("out_of_memory_under_rlimit_as", {
            let server = s();
            Box::new(move || {
                // Rust aborts when an allocation fails.
                let e = error_of(&server, &["oom", "oom", "oom", "oom"]);
                assert_eq!(e.error, "Runtime.ExitError");
                let cause: serde_json::Value = serde_json::from_str(&e.cause).unwrap();
                assert_eq!(
                    cause["errorMessage"],
                    "Error: Runtime exited with error: signal: aborted"
                );
                assert_eq!(cause["memoryLimitBytes"], 256 << 20);
                assert_eq!(
                    cause["hint"],
                    "the worker's memory is limited to 256 MiB (RLIMIT_AS); it may have run out"
                );
                // This process and the server carry on: the next execution's workers succeed.
                let (out, _) = execute(&server, items(&["ok", "ok", "ok", "ok"]));
                assert!(out.is_ok(), "{out:?}");
            })
        }),
        ("a_blocked_task_past_its_timeout_is_killed", {
            let server = s();
            Box::new(move || {
                let e = error_of(&server, &["block", "block", "block", "block"]);
                assert_eq!(e.error, "States.Timeout", "{e:?}");
                assert!(
                    e.cause.starts_with("Task 'Act' timed out") && e.cause.contains("killed"),
                    "{}",
                    e.cause
                );
            })
        }),
        ("a_catch_inside_the_branch_handles_a_killed_task", {
            let server = s();
            Box::new(move || {
                // Items the test process takes end in 200 ms; a worker's block until killed,
                // and this process runs the Catch and the rest of the branch.
                let mut input = items(&["block"; 4]);
                input["case"] = json!("caught");
                let fds = settled_fds(&server);
                let (out, trace) = within("caught", Duration::from_secs(20), || {
                    execute(&server, input)
                });
                let out = out.expect("the Catch handles the timeout");
                let recovered = json!({"recovered": "States.Timeout"});
                let outputs = out.as_array().unwrap();
                assert!(outputs.contains(&recovered), "{out}");
                for (n, o) in outputs.iter().enumerate() {
                    assert!(*o == recovered || *o == json!({"n2": n * 2}), "{out}");
                }
                assert!(
                    trace
                        .states
                        .iter()
                        .any(|r| r.state.ends_with("/Recovered") && r.lane == Lane::Inline),
                    "{:?}",
                    trace.states
                );
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            })
        }),
        ("a_retry_inside_the_branch_runs_again_after_a_kill", {
            let server = s();
            Box::new(move || {
                // The retry runs in this process, where `block` ends in 200 ms.
                let mut input = items(&["block"; 4]);
                input["case"] = json!("retried");
                let fds = settled_fds(&server);
                let (out, trace) = within("retried", Duration::from_secs(20), || {
                    execute(&server, input)
                });
                let expected: Vec<Json> = (0..4).map(|n| json!({"n2": n * 2})).collect();
                assert_eq!(out.expect("the retry succeeds"), json!(expected));
                assert!(
                    trace
                        .states
                        .iter()
                        .any(|r| r.state.ends_with("/Flaky") && r.attempts == 2),
                    "{:?}",
                    trace.states
                );
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            })
        }),
        ("siblings_are_cancelled", {
            let server = s();
            Box::new(move || {
                // Whichever lane takes the sleeper is stopped: the caller's by the cancel
                // token, a worker by SIGKILL. Without cancellation this takes 30 s.
                let e = error_of(&server, &["fail", "sleep", "sleep", "sleep", "sleep"]);
                assert_eq!(e.error, "Boom");
            })
        }),
        ("worker_history_events_count_against_max_events", {
            let server = s();
            Box::new(move || {
                // The smallest limit an inline run passes with: its Map's branches are most
                // of its history. With the branches' events counted wherever they ran,
                // processes pass with it too and fail one below, with inline's error.
                let mut input = items(&["nap"; 40]);
                input["case"] = json!("counted");
                let passes = |max| execute_limited(None, input.clone(), max).0.is_ok();
                let (mut low, mut high) = (1, 10_000);
                assert!(passes(high) && !passes(low));
                while high - low > 1 {
                    let mid = (low + high) / 2;
                    if passes(mid) { high = mid } else { low = mid }
                }
                let inline_fails = execute_limited(None, input.clone(), low).0.unwrap_err();
                assert_eq!(inline_fails, history_error(low));
                let fds = settled_fds(&server);
                let (fails, trace) = within("history", Duration::from_secs(20), || {
                    execute_limited(Some(&server), input.clone(), low)
                });
                assert!(
                    trace.states.iter().any(|r| r.lane == Lane::Process),
                    "no branch ran in a worker: {:?}",
                    trace.lanes
                );
                assert_eq!(fails.unwrap_err(), inline_fails);
                let (passes, _) = within("history", Duration::from_secs(20), || {
                    execute_limited(Some(&server), input.clone(), high)
                });
                assert_eq!(
                    passes.unwrap(),
                    execute_limited(None, input, high).0.unwrap()
                );
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            })
        }),
        (
            "a_branch_looping_in_a_worker_ends_at_the_execution_limit",
            {
                let server = s();
                Box::new(move || {
                    // Branches loop for ever in workers (the fork server's own limit is AWS's
                    // 25,000): the worker enforces the execution's limit.
                    let input = json!({"case": "spin", "items": [{"do": "spin"}, {"do": "spin"}, {"do": "spin"}]});
                    let fds = settled_fds(&server);
                    let (out, _) = within("spin", Duration::from_secs(20), || {
                        execute_limited(Some(&server), input, 300)
                    });
                    assert_eq!(out.unwrap_err(), history_error(300));
                    assert_no_workers(&server);
                    assert_eq!(open_fds(), fds, "descriptors leaked");
                })
            },
        ),
        ("auto_keeps_cheap_branches_inline", {
            let server = s();
            Box::new(move || {
                let engine = engine(BranchLanes::Auto, Some(&server));
                let r = engine.execute(
                    &workflow(),
                    items(&["ok"; 50]),
                    &ExecutionOptions::default(),
                );
                let decision = &r.trace.lanes[0];
                // Never timed: a few branches run here first, and their cost decides.
                assert!(decision.reason.contains("probing"), "{}", decision.reason);
                // Trivial branches (a few µs each) stay inline. On a loaded machine a probe
                // can be preempted and measure milliseconds; processes are then the right
                // call for what was measured, which on 2 CPUs must be at least 4x the
                // hand-offs of the 25 branches a worker would take (60 µs each): 6 ms.
                if decision.lane != Lane::Inline {
                    assert!(
                        decision.estimate_us.is_some_and(|us| us >= 6_000),
                        "processes for cheap branches: {decision:?}"
                    );
                }
                r.into_json().unwrap();
            })
        }),
    ];
    run_all(tests);
    let pid = server.pid();
    drop(server);
    assert!(
        children_of(std::process::id())
            .iter()
            .all(|(p, _)| *p != pid),
        "the fork server was not reaped"
    );
    assert!(children_of(pid).is_empty());
}
