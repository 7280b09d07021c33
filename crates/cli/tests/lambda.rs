//! `faastlane lambda` against a real Lambda emulator: cargo-lambda's `watch --only-lambda-apis`
//! (installed from PyPI by `scripts/ensure-cargo-lambda.sh`) serves the Runtime API and the
//! Invoke API on loopback; two instances of the runtime poll it, one given
//! `AWS_LAMBDA_RUNTIME_API` with a scheme and one without.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The cargo-lambda binary, installed by the project's script (the test fails if it cannot be).
fn cargo_lambda() -> PathBuf {
    let out = Command::new(repo().join("scripts/ensure-cargo-lambda.sh"))
        .output()
        .expect("run scripts/ensure-cargo-lambda.sh");
    assert!(
        out.status.success(),
        "scripts/ensure-cargo-lambda.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The emulator on `port`, in a scratch Cargo package whose binaries are the function names
/// it accepts invocations for (it reads `cargo metadata` at start; nothing is built).
fn start_emulator(scratch: &Path, port: u16, function: &str) -> Killed {
    std::fs::write(
        scratch.join("Cargo.toml"),
        format!(
            "[package]\nname = \"emulated\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bin]]\nname = \"{function}\"\npath = \"main.rs\"\n"
        ),
    )
    .expect("Cargo.toml");
    std::fs::write(scratch.join("main.rs"), "fn main() {}\n").expect("main.rs");
    let log = std::fs::File::create(scratch.join("emulator.log")).expect("log");
    let child = Command::new(cargo_lambda())
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start cargo lambda watch");
    let emulator = Killed(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the emulator did not listen: {}",
            std::fs::read_to_string(scratch.join("emulator.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    emulator
}

fn start_runtime(api: &str, env: &[(&str, &Path)], log: &Path) -> Killed {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faastlane"));
    command
        .arg("lambda")
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env_remove("LAMBDA_TASK_ROOT")
        .env_remove("_HANDLER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("runtime log"));
    for (k, v) in env {
        command.env(k, v);
    }
    Killed(command.spawn().expect("start faastlane lambda"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// Invokes `function` through the emulator's Invoke API: (status, body).
fn invoke(agent: &ureq::Agent, port: u16, function: &str, event: &Json) -> (u16, Json) {
    let mut response = agent
        .post(format!(
            "http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
        ))
        .content_type("application/json")
        .send(event.to_string())
        .expect("invoke");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

fn write_workflow(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let definition = json!({
        "StartAt": "Who",
        "States": {
            "Who": {
                "Type": "Task", "Resource": "who", "Next": "Check",
                "Parameters": { "input.$": "$", "execution.$": "$$.Execution.Name" }
            },
            "Check": { "Type": "Choice", "Choices": [
                { "Variable": "$.input.fail", "IsPresent": true, "Next": "Boom" }
            ], "Default": "Done" },
            "Boom": { "Type": "Fail", "Error": "Boom", "Cause": "asked to fail ✗" },
            "Done": { "Type": "Succeed" }
        }
    });
    std::fs::write(dir.join("workflow.json"), definition.to_string()).expect("workflow");
    std::fs::write(
        dir.join("who.py"),
        "import os\n\ndef handler(event, context):\n    return dict(event, trace=os.environ.get('_X_AMZN_TRACE_ID'), pid=os.getpid(),\n                left=context.get_remaining_time_in_millis())\n",
    )
    .expect("who.py");
}

#[test]
fn two_runtimes_serve_one_emulated_function() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _emulator = start_emulator(scratch.path(), port, "flow");
    let root = scratch.path().join("task");
    write_workflow(&root.join("flow"));
    // One finds the workflow through LAMBDA_TASK_ROOT, the other through _HANDLER naming a
    // directory under it; one API address has a scheme, the other not.
    let _a = start_runtime(
        &format!("http://127.0.0.1:{port}/.rt/flow"),
        &[("LAMBDA_TASK_ROOT", &root.join("flow"))],
        &scratch.path().join("a.log"),
    );
    let _b = start_runtime(
        &format!("127.0.0.1:{port}/.rt/flow/"),
        &[("LAMBDA_TASK_ROOT", &root), ("_HANDLER", Path::new("flow"))],
        &scratch.path().join("b.log"),
    );
    let agent = agent();
    let mut executions = std::collections::BTreeSet::new();
    let mut traces = std::collections::BTreeSet::new();
    for n in 0..8 {
        let (status, body) = invoke(&agent, port, "flow", &json!({ "n": n, "text": "ünï" }));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["input"], json!({ "n": n, "text": "ünï" }));
        // The request id is the execution's name: a fresh UUID per invocation.
        let execution = body["execution"].as_str().expect("execution name");
        assert_eq!(execution.len(), 36, "{execution}");
        executions.insert(execution.to_owned());
        let trace = body["trace"].as_str().expect("_X_AMZN_TRACE_ID");
        assert!(trace.starts_with("Root=1-"), "{trace}");
        traces.insert(trace.to_owned());
        // The emulator's 600000 ms timeout is the execution's deadline.
        let left = body["left"].as_i64().expect("remaining time");
        assert!(left > 0 && left <= 600_000, "{left}");
    }
    assert_eq!(executions.len(), 8);
    assert_eq!(traces.len(), 8);
    let (status, body) = invoke(&agent, port, "flow", &json!({ "fail": true }));
    assert_eq!(status, 500);
    assert_eq!(
        body,
        json!({ "errorMessage": "asked to fail ✗", "errorType": "Boom", "stackTrace": [] })
    );
}

#[test]
fn a_workflow_that_cannot_start_is_an_init_error() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _emulator = start_emulator(scratch.path(), port, "broken");
    let dir = scratch.path().join("broken");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("workflow.json"),
        json!({ "StartAt": "A", "States": { "A": { "Type": "Pass", "Next": "Nowhere" } } })
            .to_string(),
    )
    .expect("workflow");
    // The emulator answers a queued invocation with the init error: queue one first, then
    // start runtimes (each reports and exits) until it is answered.
    let pending = std::thread::spawn(move || invoke(&agent(), port, "broken", &json!({})));
    let log = scratch.path().join("runtime.log");
    for _ in 0..50 {
        if pending.is_finished() {
            break;
        }
        let mut runtime = start_runtime(
            &format!("http://127.0.0.1:{port}/.rt/broken"),
            &[("LAMBDA_TASK_ROOT", &dir)],
            &log,
        );
        let status = runtime.0.wait().expect("wait");
        assert_eq!(status.code(), Some(2), "the runtime must fail to start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = pending.join().expect("invocation");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errorType"], "Runtime.InvalidWorkflow", "{body}");
    let message = body["errorMessage"].as_str().expect("message");
    assert!(message.contains("/States/A/Next"), "{message}");
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(log.contains("Nowhere"), "{log}");
}

#[test]
fn the_packaged_zip_runs_finra_through_its_bootstrap() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let zip_path = scratch.path().join("finra-lambda.zip");
    let out = Command::new(repo().join("scripts/package-lambda.sh"))
        .arg(repo().join("examples/finra"))
        .arg(&zip_path)
        .env("FAASTLANE_BIN", env!("CARGO_BIN_EXE_faastlane"))
        .output()
        .expect("run scripts/package-lambda.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let task_root = scratch.path().join("var-task");
    let file = std::fs::File::open(&zip_path).expect("zip");
    zip::ZipArchive::new(file)
        .expect("a zip")
        .extract(&task_root)
        .expect("extract");
    for (path, _) in [
        ("bootstrap", ()),
        ("bin/faastlane", ()),
        ("workflow/workflow.json", ()),
    ] {
        assert!(
            task_root.join(path).is_file(),
            "{path} missing from the zip"
        );
    }
    let port = free_port();
    let _emulator = start_emulator(scratch.path(), port, "finra");
    let log = std::fs::File::create(scratch.path().join("bootstrap.log")).expect("log");
    let _runtime = Killed(
        Command::new(task_root.join("bootstrap"))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("127.0.0.1:{port}/.rt/finra"),
            )
            .env("LAMBDA_TASK_ROOT", &task_root)
            .env("_HANDLER", "workflow")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start bootstrap"),
    );
    let example = repo().join("examples/finra");
    let read = |name: &str| -> Json {
        serde_json::from_str(&std::fs::read_to_string(example.join(name)).expect("read"))
            .expect("json")
    };
    let (status, body) = invoke(&agent(), port, "finra", &read("input.json"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, read("expected.json"));
}

/// `faastlane run` of the remote-lanes fixture on items of `modes`, sending its surplus with
/// `--remote lambda:remote-lanes --remote-cap CAP` through cargo-lambda's emulator to two
/// `faastlane lambda` runtimes polling it; gives the run, its output, its trace, the
/// runtimes' names as they sign a report (`(pid N)`) and their logs.
fn run_through_emulated_siblings(
    modes: &[&str],
    cap: usize,
    extra: &[&str],
) -> (std::process::Output, Json, Json, Vec<String>, String) {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _emulator = start_emulator(scratch.path(), port, "remote-lanes");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/remote-lanes");
    let api = format!("127.0.0.1:{port}/.rt/remote-lanes");
    let runtimes: Vec<Killed> = ["a", "b"]
        .iter()
        .map(|name| {
            start_runtime(
                &api,
                &[("LAMBDA_TASK_ROOT", &fixture)],
                &scratch.path().join(format!("{name}.log")),
            )
        })
        .collect();
    let pids: Vec<String> = runtimes
        .iter()
        .map(|r| format!("(pid {})", r.0.id()))
        .collect();
    let items: Vec<Json> = modes
        .iter()
        .enumerate()
        .map(|(n, mode)| json!({"n": n, "mode": mode, "seconds": 30}))
        .collect();
    let trace = scratch.path().join("trace.json");
    let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .arg("run")
        .arg(&fixture)
        .args(["--input", &json!({ "items": items }).to_string()])
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
    (out, output, trace, pids, logs)
}

/// The Lambda back end of remote lanes end to end: `faastlane run --remote lambda:NAME` sends
/// a Map's surplus items through the emulator's Invoke API, and `faastlane lambda` runtimes
/// polling the emulator (two, so that batches in flight together can both be taken) run them
/// and answer with the report; the output is the local run's.
#[test]
fn runtimes_answer_the_branches_a_sibling_sends_through_the_invoke_api() {
    let (out, output, trace, pids, logs) = run_through_emulated_siblings(&["ok"; 6], 2, &[]);
    assert!(
        out.status.success(),
        "{}\nruntimes:\n{logs}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<Json> = (0..6)
        .map(|i| json!({"n": i * 2, "label": format!("item {}", i * 2)}))
        .collect();
    assert_eq!(output, Json::Array(expected));
    let remote = trace["lanes"][0]["remote"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!remote.is_empty(), "no batch went remote: {trace}");
    for batch in &remote {
        assert_eq!(batch["target"], json!("lambda:remote-lanes"), "{batch}");
        // Answered by one of the two runtimes, which names itself by its process id.
        let instance = batch["instance"].as_str().unwrap_or_default();
        assert!(
            pids.iter().any(|pid| instance.ends_with(pid.as_str())),
            "{instance} is not one of {pids:?}: {batch}\n{logs}"
        );
    }
}

/// A batch whose Lambda sibling does not answer within `--remote-timeout` fails its branches
/// with `States.Timeout`, and says it is not run again.
#[test]
fn a_lambda_sibling_that_does_not_answer_in_time_fails_its_branches_with_states_timeout() {
    // The last item goes to a sibling first (a Map's last items are sent first) and sleeps.
    let (out, output, trace, _, logs) =
        run_through_emulated_siblings(&["ok", "ok", "ok", "sleep"], 1, &["--remote-timeout", "1"]);
    assert!(!out.status.success(), "{output}\n{logs}");
    assert_eq!(output["error"], json!("States.Timeout"), "{output}\n{logs}");
    assert!(
        output["cause"].as_str().is_some_and(
            |c| c.contains("did not answer within 1.00 s") && c.contains("not run again")
        ),
        "{output}"
    );
    let remote = &trace["lanes"][0]["remote"][0];
    assert_eq!(remote["target"], json!("lambda:remote-lanes"), "{trace}");
    assert!(remote["error"].is_string(), "{trace}");
}
