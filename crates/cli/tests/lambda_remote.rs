//! Remote lanes through a real Lambda emulator (cargo-lambda's, see `support/emulator.rs`):
//! a parent sends a Map's surplus items with the Lambda Invoke API, and `faastlane lambda`
//! runtimes polling the emulator answer the `{"faastlaneLanes": ...}` events.
//!
//! How the emulator routes: it queues every invocation of a function and hands each to
//! whichever runtime asks `/next` first; with `--only-lambda-apis` it starts no runtime of its
//! own. A runtime busy with an execution does not ask, so a parent running inside one of the
//! runtimes can only be answered by the others (Lambda itself would start a new execution
//! environment when none is idle; the emulator leaves the request queued until one asks).

#[path = "support/emulator.rs"]
mod emulator;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use emulator::{Killed, agent, free_port, invoke, start_emulator, start_runtime};
use serde_json::{Value as Json, json};

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remote-lanes")
}

/// The fixture's input: one item per mode (`ok`, `exit`, `sleep`), numbered.
fn items(modes: &[&str]) -> Json {
    let items: Vec<Json> = modes
        .iter()
        .enumerate()
        .map(|(n, mode)| json!({"n": n, "mode": mode, "seconds": 30}))
        .collect();
    json!({ "items": items })
}

/// The fixture's output when every item is `ok`.
fn expected(count: usize) -> Json {
    (0..count)
        .map(|i| json!({"n": i * 2, "label": format!("item {}", i * 2)}))
        .collect()
}

/// What [`run_through_emulated_siblings`] saw.
struct Run {
    out: std::process::Output,
    output: Json,
    trace: Json,
    /// The runtimes' names as they sign a report: `(pid N)`.
    pids: Vec<String>,
    /// Each runtime's exit code when the run ended, `None` while it still runs.
    exited: Vec<Option<i32>>,
    logs: String,
}

/// `faastlane run` of the remote-lanes fixture on items of `modes`, sending its surplus with
/// `--remote lambda:remote-lanes --remote-cap CAP` through cargo-lambda's emulator to two
/// `faastlane lambda` runtimes polling it.
fn run_through_emulated_siblings(modes: &[&str], cap: usize, extra: &[&str]) -> Run {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _emulator = start_emulator(scratch.path(), port, "remote-lanes");
    let fixture = fixture();
    let api = format!("127.0.0.1:{port}/.rt/remote-lanes");
    let mut runtimes: Vec<Killed> = ["a", "b"]
        .iter()
        .map(|name| {
            start_runtime(
                &api,
                &[("LAMBDA_TASK_ROOT", fixture.as_os_str())],
                &scratch.path().join(format!("{name}.log")),
            )
        })
        .collect();
    let pids: Vec<String> = runtimes
        .iter()
        .map(|r| format!("(pid {})", r.0.id()))
        .collect();
    let trace = scratch.path().join("trace.json");
    let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .arg("run")
        .arg(&fixture)
        .args(["--input", &items(modes).to_string()])
        .args([
            "--remote",
            "lambda:remote-lanes",
            "--remote-cap",
            &cap.to_string(),
        ])
        .arg("--trace")
        .arg(&trace)
        .args(extra)
        .env(
            "AWS_ENDPOINT_URL_LAMBDA",
            format!("http://127.0.0.1:{port}"),
        )
        .output()
        .expect("faastlane run");
    let exited = runtimes
        .iter_mut()
        .map(|r| {
            r.0.try_wait()
                .expect("runtime status")
                .map(|s| s.code().unwrap_or(-1))
        })
        .collect();
    let logs = ["a", "b"]
        .iter()
        .filter_map(|n| std::fs::read_to_string(scratch.path().join(format!("{n}.log"))).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let output = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    let trace = std::fs::read(&trace)
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or(Json::Null);
    Run {
        out,
        output,
        trace,
        pids,
        exited,
        logs,
    }
}

/// The Lambda back end of remote lanes end to end: `faastlane run --remote lambda:NAME` sends
/// a Map's surplus items through the emulator's Invoke API, and `faastlane lambda` runtimes
/// polling the emulator (two, so that batches in flight together can both be taken) run them
/// and answer with the report; the output is the local run's, and the trace says where each
/// batch went and where its time went.
#[test]
fn runtimes_answer_the_branches_a_sibling_sends_through_the_invoke_api() {
    let run = run_through_emulated_siblings(&["ok"; 6], 2, &[]);
    let logs = &run.logs;
    assert!(
        run.out.status.success(),
        "{}\nruntimes:\n{logs}",
        String::from_utf8_lossy(&run.out.stderr)
    );
    assert_eq!(run.output, expected(6));
    let remote = run.trace["lanes"][0]["remote"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!remote.is_empty(), "no batch went remote: {}", run.trace);
    for batch in &remote {
        assert_eq!(batch["target"], json!("lambda:remote-lanes"), "{batch}");
        // Answered by one of the two runtimes, which names itself by its process id.
        let instance = batch["instance"].as_str().unwrap_or_default();
        assert!(
            run.pids.iter().any(|pid| instance.ends_with(pid.as_str())),
            "{instance} is not one of {:?}: {batch}\n{logs}",
            run.pids
        );
        // The sibling's function time is part of the round trip that waited for it.
        let timing = &batch["timing"];
        let round_trip = timing["round_trip_us"].as_u64().expect("round trip");
        let functions = timing["sibling_functions_us"].as_u64().expect("functions");
        assert!(timing["serialize_us"].is_u64(), "{batch}");
        assert!(functions <= round_trip, "{batch}");
    }
}

/// A batch whose Lambda sibling does not answer within `--remote-timeout` fails its branches
/// with `States.Timeout`, and says it is not run again.
#[test]
fn a_lambda_sibling_that_does_not_answer_in_time_fails_its_branches_with_states_timeout() {
    // The last item goes to a sibling first (a Map's last items are sent first) and sleeps.
    let run =
        run_through_emulated_siblings(&["ok", "ok", "ok", "sleep"], 1, &["--remote-timeout", "1"]);
    let (output, logs) = (&run.output, &run.logs);
    assert!(!run.out.status.success(), "{output}\n{logs}");
    assert_eq!(output["error"], json!("States.Timeout"), "{output}\n{logs}");
    assert!(
        output["cause"].as_str().is_some_and(
            |c| c.contains("did not answer within 1.00 s") && c.contains("not run again")
        ),
        "{output}"
    );
    let remote = &run.trace["lanes"][0]["remote"][0];
    assert_eq!(
        remote["target"],
        json!("lambda:remote-lanes"),
        "{}",
        run.trace
    );
    assert!(remote["error"].is_string(), "{}", run.trace);
}

/// A Lambda sibling whose process exits while it runs a batch (the item's function calls
/// `os._exit(3)`): the emulator never answers that invocation (it neither re-queues it nor
/// reports the exit), so the parent's `--remote-timeout` fails the batch's branches with
/// `States.Timeout`, saying they are not run again. They are not: the parent is alive to
/// report it (run here, the item would have ended the parent too), and only one runtime died
/// (handed to the other, the item would have ended it as well).
#[test]
fn a_lambda_sibling_that_dies_mid_batch_fails_its_branches_and_they_are_not_run_again() {
    let run =
        run_through_emulated_siblings(&["ok", "ok", "ok", "exit"], 1, &["--remote-timeout", "5"]);
    let (output, logs) = (&run.output, &run.logs);
    assert!(!run.out.status.success(), "{output}\n{logs}");
    assert_eq!(
        run.out.status.code(),
        Some(1),
        "the parent must report the failure, not die: {}",
        String::from_utf8_lossy(&run.out.stderr)
    );
    let error = output["error"].as_str().unwrap_or_default();
    assert!(
        ["States.Timeout", "Runtime.ExitError"].contains(&error),
        "{output}\n{logs}"
    );
    assert!(
        output["cause"]
            .as_str()
            .is_some_and(|c| c.contains("not run again")),
        "{output}"
    );
    let died: Vec<_> = run.exited.iter().filter(|e| **e == Some(3)).collect();
    assert_eq!(
        died.len(),
        1,
        "exactly one runtime ran the item: {:?}",
        run.exited
    );
    assert!(
        run.exited.contains(&None),
        "the other runtime is still polling: {:?}",
        run.exited
    );
    let remote = &run.trace["lanes"][0]["remote"][0];
    assert!(remote["error"].is_string(), "{}", run.trace);
}

/// The parent runs inside a `faastlane lambda` runtime (`FAASTLANE_REMOTE=lambda:NAME` in its
/// environment, as a deployed function has it), invoked through the emulator's Invoke API; it
/// sends its surplus through the same emulator to the function's other runtimes. Three
/// runtimes poll: the one that takes the invocation runs the execution and, busy, never asks
/// for its own batches, which the other two answer. The output is the local run's; the
/// parent's log (`remote batch answered`, at `FAASTLANE_LOG=info`) names the instances that
/// answered, and none is the parent.
#[test]
fn a_parent_inside_a_lambda_runtime_sends_its_surplus_to_the_function_s_other_runtimes() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _emulator = start_emulator(scratch.path(), port, "remote-lanes");
    let fixture = fixture();
    let api = format!("127.0.0.1:{port}/.rt/remote-lanes");
    let endpoint = format!("http://127.0.0.1:{port}");
    let names = ["a", "b", "c"];
    let runtimes: Vec<Killed> = names
        .iter()
        .map(|name| {
            start_runtime(
                &api,
                &[
                    ("LAMBDA_TASK_ROOT", fixture.as_os_str()),
                    ("FAASTLANE_REMOTE", OsStr::new("lambda:remote-lanes")),
                    ("FAASTLANE_REMOTE_CAP", OsStr::new("2")),
                    ("AWS_ENDPOINT_URL_LAMBDA", OsStr::new(&endpoint)),
                    ("FAASTLANE_LOG", OsStr::new("info")),
                ],
                &scratch.path().join(format!("{name}.log")),
            )
        })
        .collect();
    let (status, body) = invoke(&agent(), port, "remote-lanes", &items(&["ok"; 6]));
    let logs: Vec<String> = names
        .iter()
        .map(|n| {
            std::fs::read_to_string(scratch.path().join(format!("{n}.log"))).unwrap_or_default()
        })
        .collect();
    let all = logs.join("\n----\n");
    assert_eq!(status, 200, "{body}\n{all}");
    assert_eq!(body, expected(6), "{all}");
    // The parent is the runtime whose log has the execution's answered batches.
    let parents: Vec<usize> = (0..logs.len())
        .filter(|&i| logs[i].contains("remote batch answered"))
        .collect();
    assert_eq!(parents.len(), 1, "one parent sent batches:\n{all}");
    let parent = parents[0];
    let pid = |i: usize| format!("(pid {})", runtimes[i].0.id());
    let answered: Vec<&str> = logs[parent]
        .lines()
        .filter(|l| l.contains("remote batch answered"))
        .collect();
    for line in &answered {
        assert!(line.contains("target=lambda:remote-lanes"), "{line}");
        assert!(
            !line.contains(&pid(parent)),
            "the parent answered itself: {line}"
        );
        assert!(
            (0..names.len())
                .filter(|&i| i != parent)
                .any(|i| line.contains(&pid(i))),
            "{line} names none of the other runtimes\n{all}"
        );
    }
}
