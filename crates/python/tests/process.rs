//! The process around the functions: which interpreter runs them, that their output never
//! reaches stdout, that several threads can call them at once, and that a deadline
//! interrupts them.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::Value;
use common::{Invocation, Lines, call_json, runtime};
use engine::TaskFailure;
use serde_json::json;

#[test]
fn the_interpreter_is_pyenvs_3_11_7() {
    let info = python_runtime::init().expect("interpreter");
    assert!(info.version.starts_with("3.11.7"), "{}", info.version);
    assert_eq!(info.version_info, (3, 11, 7));
    assert!(info.executable.is_file(), "{}", info.executable.display());
    let rt = runtime("basic");
    let seen = call_json(&rt, "interp", json!({}));
    assert!(
        seen["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.11.7")),
        "{seen}"
    );
    assert_eq!(seen["base_prefix"], info.base_prefix.display().to_string());
    // The workflow directory comes first on sys.path.
    assert_eq!(seen["path0"], rt.directory().display().to_string());
    // A real interpreter, not whatever `python3` on PATH is.
    let cwd = call_json(&rt, "cwd", json!({}));
    assert_eq!(cwd["executable"], info.executable.display().to_string());
}

#[test]
fn chdir_makes_the_workflow_directory_the_working_directory() {
    let before = std::env::current_dir().expect("cwd");
    let options = python_runtime::PythonOptions::default()
        .install_requirements(false)
        .chdir(true);
    let rt = python_runtime::PythonRuntime::with_options(common::fixture("basic"), options)
        .expect("runtime");
    let cwd = call_json(&rt, "cwd", json!({}));
    std::env::set_current_dir(before).expect("restore cwd");
    assert_eq!(cwd["cwd"], rt.directory().display().to_string());
}

const CHILD: &str = "FAASTLANE_TEST_OUTPUT_CHILD";

/// Runs in a child process (see the next test) so its real stdout can be inspected.
#[test]
fn output_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let rt = runtime("basic");
    let log = Lines::default();
    Invocation::new("printer", &log)
        .run(&rt, Value::Json(json!({"tag": "MARK-CALL"})))
        .expect("printer");
    assert!(log.texts().iter().any(|l| l.contains("MARK-CALL")));
    // A thread the function starts has no call of its own: its output goes to stderr.
    Invocation::new("noisy_thread", &log)
        .run(&rt, Value::Json(json!({"marker": "MARK-THREAD"})))
        .expect("noisy_thread");
}

#[test]
fn function_output_never_reaches_stdout() {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args(["--exact", "output_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(
        !stdout.contains("MARK"),
        "function output on stdout:\n{stdout}"
    );
    assert!(
        !stderr.contains("MARK-CALL"),
        "call output escaped its sink:\n{stderr}"
    );
    assert!(stderr.contains("MARK-THREAD"), "{stderr}");
}

#[test]
fn two_threads_call_concurrently_with_their_own_logs() {
    let rt = Arc::new(runtime("basic"));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let rt = Arc::clone(&rt);
            std::thread::spawn(move || {
                let log = Lines::default();
                for i in 0..50 {
                    let mut invocation = Invocation::new("work", &log);
                    let state = format!("W{w}");
                    invocation.state = &state;
                    let out = invocation
                        .run(
                            rt.as_ref(),
                            Value::Json(json!({"worker": w, "i": i, "n": 10_000})),
                        )
                        .expect("work")
                        .to_json()
                        .expect("json");
                    assert_eq!(out["worker"], json!(w));
                    assert_eq!(out["i"], json!(i));
                    assert_eq!(out["total"], json!(49_995_000));
                }
                log.all()
            })
        })
        .collect();
    for (w, worker) in workers.into_iter().enumerate() {
        let lines = worker.join().expect("worker thread");
        assert_eq!(lines.len(), 50);
        for (i, (state, line)) in lines.iter().enumerate() {
            assert_eq!(state, &format!("W{w}"));
            assert_eq!(line, &format!("worker {w} call {i}"));
        }
    }
}

fn timed_out(mode: &str, budget: Duration) -> Duration {
    let rt = runtime("basic");
    let log = Lines::default();
    let mut invocation = Invocation::new("spin", &log);
    let started = Instant::now();
    invocation.deadline = Some(started + budget);
    let result = invocation.run(&rt, Value::Json(json!({"mode": mode})));
    let took = started.elapsed();
    match result {
        Err(TaskFailure::Function(e)) => {
            assert_eq!(e.error, "States.Timeout", "{e}");
            assert!(e.cause.starts_with("Task timed out after"), "{e}");
        }
        other => panic!("{mode}: expected States.Timeout, got {other:?}"),
    }
    assert!(
        log.texts()
            .iter()
            .any(|l| l.starts_with("req-0001 Task timed out after")),
        "{:?}",
        log.texts()
    );
    // The thread is clean afterwards: no exception left pending for the next call.
    for _ in 0..3 {
        assert_eq!(
            call_json(&rt, "spin", json!({"mode": "quick"})),
            json!("done")
        );
    }
    took
}

#[test]
fn a_deadline_interrupts_a_busy_loop() {
    let took = timed_out("spin", Duration::from_millis(200));
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_deadline_interrupts_between_short_sleeps() {
    let took = timed_out("sleepy", Duration::from_millis(150));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_function_that_swallows_the_timeout_is_interrupted_again() {
    let took = timed_out("swallow", Duration::from_millis(100));
    assert!(took >= 2 * python_runtime::watchdog::REFIRE, "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_deadline_already_passed_does_not_run_the_function() {
    let rt = runtime("basic");
    let log = Lines::default();
    let mut invocation = Invocation::new("printer", &log);
    invocation.deadline = Some(Instant::now());
    let result = invocation.run(&rt, Value::Json(json!({})));
    assert!(matches!(result, Err(TaskFailure::Function(e)) if e.error == "States.Timeout"));
    assert!(log.all().is_empty());
}

#[test]
fn calls_that_finish_in_time_are_not_interrupted() {
    let rt = runtime("basic");
    let log = Lines::default();
    for _ in 0..200 {
        let mut invocation = Invocation::new("echo", &log);
        invocation.deadline = Some(Instant::now() + Duration::from_millis(50));
        invocation.run(&rt, Value::Json(json!(1))).expect("in time");
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(call_json(&rt, "echo", json!(2)), json!(2));
}

/// Deadlines that fall right around the moment the function returns: whichever way each race
/// goes, the call either succeeds or times out, and no interruption leaks into a later call.
#[test]
fn deadlines_racing_the_return_never_leak_into_later_calls() {
    let rt = Arc::new(runtime("basic"));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let rt = Arc::clone(&rt);
            std::thread::spawn(move || {
                let log = Lines::default();
                let (mut ok, mut timeouts) = (0, 0);
                for i in 0..300u64 {
                    let mut invocation = Invocation::new("busy", &log);
                    invocation.deadline =
                        Some(Instant::now() + Duration::from_micros(200 + (i * 7 + t * 3) % 400));
                    match invocation.run(rt.as_ref(), Value::Json(json!({"us": 400}))) {
                        Ok(_) => ok += 1,
                        Err(TaskFailure::Function(e)) if e.error == "States.Timeout" => {
                            timeouts += 1
                        }
                        Err(other) => panic!("unexpected failure: {other:?}"),
                    }
                    // A call with no deadline right after must never see a stray interruption.
                    let plain = Invocation::new("busy", &log)
                        .run(rt.as_ref(), Value::Json(json!({"us": 50})));
                    assert!(plain.is_ok(), "leaked interruption: {plain:?}");
                }
                (ok, timeouts)
            })
        })
        .collect();
    for t in threads {
        let (ok, timeouts) = t.join().expect("thread");
        assert_eq!(ok + timeouts, 300);
    }
}

/// Each engine thread keeps its Python thread state between calls and gives it back when it
/// exits: many short-lived threads neither hang nor crash.
#[test]
fn short_lived_threads_come_and_go() {
    let rt = Arc::new(runtime("basic"));
    for i in 0..64 {
        let rt = Arc::clone(&rt);
        let seen = std::thread::spawn(move || {
            let a = call_json(rt.as_ref(), "echo", json!(i));
            let b = call_json(rt.as_ref(), "echo", json!(i + 1));
            (a, b)
        })
        .join()
        .expect("thread");
        assert_eq!(seen, (json!(i), json!(i + 1)));
    }
}
