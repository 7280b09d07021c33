//! Process lanes with Python functions: the FINRA examples give the same output in processes
//! as inline; a raise, `os._exit(3)`, SIGKILL, `abort()`, MemoryError under `RLIMIT_AS` and
//! a blocked Task past its TimeoutSeconds each fail the state as AWS would, unless the Task
//! has a Retry or Catch for the timeout, which then runs in this process; a result pickle
//! cannot encode is `Runtime.MarshalError`, which a Catch on the Map handles; large buffers
//! come back intact; and forking stays safe while this process's threads hold a Python lock,
//! a Rust mutex and the stdout lock. No test harness: the fork servers start before any
//! thread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../lanes/tests/common/checks.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{Check, assert_no_workers, open_fds, run_all, settled_fds, within};
use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, Lane, NoLog, Runtime, Workflow,
};
use lanes::{ForkServer, Forked, Host, ServerOptions};
use pyo3::types::PyAnyMethods;
use python_runtime::{PythonOptions, PythonRuntime};
use serde_json::{Value as Json, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(dir: &Path) -> Workflow {
    let text = std::fs::read_to_string(dir.join("workflow.json")).unwrap();
    Workflow {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        machine: asl::load_str(&text).expect("valid"),
    }
}

fn python(dir: &Path) -> PythonRuntime {
    let options = PythonOptions::default()
        .install_requirements(false)
        .init_log(Arc::new(NoLog));
    PythonRuntime::with_options(dir, options).expect("python runtime")
}

/// A fork server for `dir`, set up the way the CLI does it.
fn server(dir: &Path, options: ServerOptions) -> Arc<ForkServer> {
    let dir = dir.to_path_buf();
    let server = ForkServer::start(options, move || {
        python_runtime::init().map_err(|e| e.to_string())?;
        let workflow = load(&dir);
        let runtime = python(&dir);
        let names = workflow.functions();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Some(p) = runtime.prepare(&names).first() {
            return Err(p.message.clone());
        }
        Ok(Host {
            workflow,
            runtime: Arc::new(runtime),
            options: EngineOptions::default(),
            fork_hooks: Some(Box::new(|fork| {
                python_runtime::around_fork(fork, |r| matches!(r, Ok(Forked::Child)))
            })),
        })
    })
    .expect("fork server");
    Arc::new(server)
}

fn engine(dir: &Path, lanes: BranchLanes, server: Option<&Arc<ForkServer>>) -> Engine {
    let engine = Engine::with_options(
        Arc::new(python(dir)),
        EngineOptions {
            lanes,
            processes: server.map(|s| Arc::clone(s) as Arc<dyn engine::lanes::ProcessPool>),
            cpus: 2,
            trace: true,
            ..EngineOptions::default()
        },
    );
    engine.prepare(&load(dir)).expect("functions load");
    engine
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lanes")
}

fn items(dos: &[&str], size: usize) -> Json {
    json!({"items": dos, "parent": std::process::id(), "size": size})
}

fn main() {
    // Before any thread (and before this process starts Python): every fork server.
    let finras: Vec<(String, Arc<ForkServer>)> =
        ["finra", "finra-5", "finra-50", "finra-100", "finra-200"]
            .iter()
            .map(|name| {
                let dir = repo().join("examples").join(name);
                (name.to_string(), server(&dir, ServerOptions::default()))
            })
            .collect();
    let fixture_server = server(
        &fixture(),
        ServerOptions {
            kill_grace: Duration::from_millis(200),
            worker_memory_limit: Some(1 << 30),
            ..ServerOptions::default()
        },
    );
    python_runtime::init().expect("python");

    let mut tests: Vec<Check> = Vec::new();
    for (name, server) in finras {
        tests.push((
            Box::leak(format!("{name}_process_output_equals_inline").into_boxed_str()),
            Box::new(move || {
                let dir = repo().join("examples").join(&name);
                let workflow = load(&dir);
                let mut input: Json =
                    serde_json::from_str(&std::fs::read_to_string(dir.join("input.json")).unwrap())
                        .unwrap();
                input["work"] = json!(2);
                let inline = engine(&dir, BranchLanes::Inline, None)
                    .execute(
                        &workflow,
                        input.clone(),
                        &ExecutionOptions {
                            name: Some("x".into()),
                            ..ExecutionOptions::default()
                        },
                    )
                    .into_json()
                    .unwrap();
                let fds = settled_fds(&server);
                let result = within(&name, Duration::from_secs(60), || {
                    engine(&dir, BranchLanes::Process, Some(&server)).execute(
                        &workflow,
                        input,
                        &ExecutionOptions {
                            name: Some("x".into()),
                            ..ExecutionOptions::default()
                        },
                    )
                });
                let decision = result.trace.lanes[0].clone();
                assert_eq!(decision.lane, Lane::Process, "{decision:?}");
                assert_eq!(result.into_json().unwrap(), inline);
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            }),
        ));
    }
    let dir = fixture();
    let s = || Arc::clone(&fixture_server);
    let fails = |dos: &'static [&'static str], server: Arc<ForkServer>| {
        let dir = fixture();
        move || -> asl::StatesError {
            let engine = engine(&dir, BranchLanes::Process, Some(&server));
            let fds = settled_fds(&server);
            let result = within(&format!("{dos:?}"), Duration::from_secs(30), || {
                engine.execute(&load(&dir), items(dos, 0), &ExecutionOptions::default())
            });
            assert_no_workers(&server);
            assert_eq!(open_fds(), fds, "descriptors leaked");
            result.into_json().expect_err("the Map fails")
        }
    };
    tests.push(("results_and_buffers_cross_intact", {
        let server = s();
        let dir = dir.clone();
        Box::new(move || {
            let input = items(&["bytes", "array", "ok", "bytes", "array", "ok"], 1 << 20);
            let inline = engine(&dir, BranchLanes::Inline, None)
                .execute(&load(&dir), input.clone(), &ExecutionOptions::default())
                .into_json()
                .unwrap();
            let result = within("buffers", Duration::from_secs(30), || {
                engine(&dir, BranchLanes::Process, Some(&server)).execute(
                    &load(&dir),
                    input,
                    &ExecutionOptions::default(),
                )
            });
            let out = result.into_json().unwrap();
            assert_eq!(out[0]["type"], "bytes");
            assert_eq!(out[0]["len"], 1 << 20);
            assert_eq!(out[1]["blob"]["type"], "bytearray");
            assert_eq!(out[1]["view"]["type"], "memoryview");
            // Identical but for which process ran the plain items.
            let strip = |mut v: Json| {
                for item in v.as_array_mut().unwrap() {
                    item.as_object_mut().map(|o| o.remove("pid_is_parent"));
                }
                v
            };
            assert_eq!(strip(out), strip(inline));
        })
    }));
    tests.push(("forced_process_lanes_run_every_branch_in_a_worker", {
        let server = s();
        let dir = dir.clone();
        Box::new(move || {
            let result = within("every branch", Duration::from_secs(30), || {
                engine(&dir, BranchLanes::Process, Some(&server)).execute(
                    &load(&dir),
                    items(&["ok"; 6], 0),
                    &ExecutionOptions::default(),
                )
            });
            let out = result.into_json().unwrap();
            for item in out.as_array().unwrap() {
                assert_eq!(item["pid_is_parent"], json!(false), "{out}");
            }
            assert_no_workers(&server);
        })
    }));
    tests.push(("a_segfault_in_any_branch_is_runtime_exit_error", {
        let f = fails(&["segv", "segv", "segv", "segv"], s());
        Box::new(move || {
            let e = f();
            assert_eq!(e.error, "Runtime.ExitError", "{e:?}");
        })
    }));
    tests.push(("a_raise_is_the_exception_name", {
        let f = fails(&["raise", "ok", "ok", "ok"], s());
        Box::new(move || {
            let e = f();
            assert_eq!(e.error, "ValueError");
            assert!(e.cause.contains("bad item"), "{}", e.cause);
        })
    }));
    tests.push(("os_exit_3_is_runtime_exit_error", {
        let f = fails(&["exit", "exit", "exit", "exit"], s());
        Box::new(move || {
            let e = f();
            assert_eq!(e.error, "Runtime.ExitError", "{e:?}");
            assert!(e.cause.contains("exit status 3"), "{}", e.cause);
        })
    }));
    tests.push(("sigkill_is_runtime_exit_error", {
        let f = fails(&["kill", "kill", "kill", "kill"], s());
        Box::new(move || {
            let e = f();
            assert_eq!(e.error, "Runtime.ExitError", "{e:?}");
            assert!(e.cause.contains("signal: killed"), "{}", e.cause);
        })
    }));
    tests.push(("abort_is_runtime_exit_error", {
        let f = fails(&["abort", "abort", "abort", "abort"], s());
        Box::new(move || {
            let e = f();
            assert_eq!(e.error, "Runtime.ExitError", "{e:?}");
            assert!(e.cause.contains("signal: aborted"), "{}", e.cause);
        })
    }));
    tests.push(("memory_error_under_rlimit_as", {
        let f = fails(&["oom", "oom", "oom", "oom"], s());
        Box::new(move || {
            let e = f();
            assert_eq!(e.error, "MemoryError", "{e:?}");
        })
    }));
    tests.push(("a_task_blocked_past_its_timeout_is_killed", {
        let f = fails(&["block", "block", "block", "block"], s());
        Box::new(move || {
            let e = f();
            assert_eq!(e.error, "States.Timeout", "{e:?}");
            assert!(e.cause.starts_with("Task 'Act' timed out"), "{}", e.cause);
        })
    }));
    // The part of the result at fault, its Python type, and pickle's reason.
    for (what, part, reason) in [
        (
            "generator",
            "$.gen (generator)",
            "TypeError: cannot pickle 'generator' object",
        ),
        (
            "file",
            "$.log (_io.TextIOWrapper)",
            "TypeError: cannot pickle '_io.TextIOWrapper' object",
        ),
        (
            "lambda",
            "$.fn (function)",
            "Can't pickle local object 'handler.<locals>.<lambda>'",
        ),
    ] {
        let server = s();
        let dir = dir.clone();
        tests.push((
            Box::leak(format!("a_{what}_result_is_runtime_marshal_error").into_boxed_str()),
            Box::new(move || {
                // Items the test process takes only wait: a worker's result fails the Map.
                let engine = engine(&dir, BranchLanes::Process, Some(&server));
                let fds = settled_fds(&server);
                let result = within(what, Duration::from_secs(30), || {
                    engine.execute(
                        &load(&dir),
                        items(&[what; 4], 0),
                        &ExecutionOptions::default(),
                    )
                });
                let e = result.into_json().expect_err("the Map fails");
                assert_eq!(e.error, "Runtime.MarshalError", "{e:?}");
                assert!(
                    e.cause
                        .starts_with("Unable to marshal response: the output of branch ")
                        && e.cause.contains(" of state 'Each' ")
                        && e.cause.contains(&format!(": {part}: "))
                        && e.cause.contains(reason),
                    "{}",
                    e.cause
                );
                assert_no_workers(&server);
                assert_eq!(open_fds(), fds, "descriptors leaked");
            }),
        ));
    }
    for (catch, state) in [("marshal", "Guarded"), ("all", "GuardedAll")] {
        let server = s();
        let dir = dir.clone();
        tests.push((
            Box::leak(
                format!("a_catch_{catch}_on_the_map_handles_a_marshal_error").into_boxed_str(),
            ),
            Box::new(move || {
                let engine = engine(&dir, BranchLanes::Process, Some(&server));
                let mut input = items(&["generator"; 4], 0);
                input["catch"] = json!(catch);
                let result = within(catch, Duration::from_secs(30), || {
                    engine.execute(&load(&dir), input.clone(), &ExecutionOptions::default())
                });
                let out = result.into_json().expect("the Catch handles it");
                let caught = &out["caught"];
                assert_eq!(caught["Error"], "Runtime.MarshalError", "{out}");
                let cause = caught["Cause"].as_str().unwrap_or_default();
                assert!(
                    cause.contains(&format!(" of state '{state}' ")) && cause.contains("$.gen"),
                    "{cause}"
                );
                assert_eq!(out["items"], input["items"]);
                assert_no_workers(&server);
            }),
        ));
    }
    tests.push(("a_catch_inside_the_branch_handles_a_killed_task", {
        let server = s();
        let dir = dir.clone();
        Box::new(move || {
            // The test process's items end in 0.2 s; a worker's sleep in C past the Task's
            // TimeoutSeconds (the watchdog cannot interrupt them), the worker is killed, and
            // this process runs the Catch and the rest of the branch.
            let engine = engine(&dir, BranchLanes::Process, Some(&server));
            let mut input = items(&["block"; 4], 0);
            input["catch"] = json!("timeout");
            let fds = settled_fds(&server);
            let result = within("caught", Duration::from_secs(30), || {
                engine.execute(&load(&dir), input, &ExecutionOptions::default())
            });
            let out = result.into_json().expect("the Catch handles the timeout");
            let recovered = json!({"recovered": "States.Timeout", "do": "block"});
            let outputs = out.as_array().unwrap();
            assert!(outputs.contains(&recovered), "{out}");
            assert!(
                outputs
                    .iter()
                    .all(|o| *o == recovered || *o == json!({"ok": true})),
                "{out}"
            );
            assert_no_workers(&server);
            assert_eq!(open_fds(), fds, "descriptors leaked");
        })
    }));
    tests.push(("a_retry_inside_the_branch_runs_again_after_a_kill", {
        let server = s();
        let dir = dir.clone();
        Box::new(move || {
            // The retry runs in this process, where `block` ends in 0.2 s.
            let engine = engine(&dir, BranchLanes::Process, Some(&server));
            let mut input = items(&["block"; 4], 0);
            input["catch"] = json!("retry");
            let fds = settled_fds(&server);
            let result = within("retried", Duration::from_secs(30), || {
                engine.execute(&load(&dir), input, &ExecutionOptions::default())
            });
            let retried = result
                .trace
                .states
                .iter()
                .any(|r| r.state.ends_with("/Flaky") && r.attempts == 2);
            assert_eq!(
                result.into_json().expect("the retry succeeds"),
                json!([{"ok": true}, {"ok": true}, {"ok": true}, {"ok": true}])
            );
            assert!(retried, "no Task was retried");
            assert_no_workers(&server);
            assert_eq!(open_fds(), fds, "descriptors leaked");
        })
    }));
    tests.push(("fork_safety_with_a_held_python_lock", {
        let server = s();
        let dir = dir.clone();
        Box::new(move || {
            // Threads of this process hold a Python lock, a Rust mutex and stdout's lock
            // while workers are forked (by the single-threaded fork server).
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            pyo3::Python::attach(|py| {
                py.import("locker").unwrap().call_method0("start").unwrap();
            });
            let mutex = Arc::new(std::sync::Mutex::new(0u64));
            let mut holders = Vec::new();
            for kind in 0..2 {
                let (stop, mutex) = (Arc::clone(&stop), Arc::clone(&mutex));
                holders.push(std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if kind == 0 {
                            *mutex.lock().unwrap() += 1;
                        } else {
                            let _out = std::io::stdout().lock();
                        }
                        std::thread::sleep(Duration::from_micros(100));
                    }
                }));
            }
            let engine = engine(&dir, BranchLanes::Process, Some(&server));
            for round in 0..40 {
                let out = within(&format!("round {round}"), Duration::from_secs(30), || {
                    engine
                        .execute(
                            &load(&dir),
                            items(&["ok"; 6], 0),
                            &ExecutionOptions::default(),
                        )
                        .into_json()
                });
                assert_eq!(out.unwrap().as_array().unwrap().len(), 6);
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for h in holders {
                h.join().unwrap();
            }
            pyo3::Python::attach(|py| {
                py.import("locker").unwrap().call_method0("stop").unwrap();
            });
            assert_no_workers(&server);
        })
    }));
    run_all(tests);
}
