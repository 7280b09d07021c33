//! `faastlane lambda` against a real Lambda emulator (cargo-lambda's, see
//! `support/emulator.rs`): two instances of the runtime poll it, one given
//! `AWS_LAMBDA_RUNTIME_API` with a scheme and one without. Remote lanes through the emulator
//! are in `lambda_remote.rs`.

#[path = "support/emulator.rs"]
mod emulator;
#[path = "support/isolated.rs"]
mod isolated;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use emulator::{Killed, agent, free_port, invoke, repo, start_emulator, start_runtime};
use serde_json::{Value as Json, json};

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
        &[("LAMBDA_TASK_ROOT", root.join("flow").as_os_str())],
        &scratch.path().join("a.log"),
    );
    let _b = start_runtime(
        &format!("127.0.0.1:{port}/.rt/flow/"),
        &[
            ("LAMBDA_TASK_ROOT", root.as_os_str()),
            ("_HANDLER", "flow".as_ref()),
        ],
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
            &[("LAMBDA_TASK_ROOT", dir.as_os_str())],
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

/// `FAASTLANE_ISOLATION` (a Lambda function's configuration is its environment) isolates the
/// workflow's sensitive functions as `run --isolation` does: here in a fresh worker process
/// per call, nothing they keep reaching the next call or the other functions.
#[test]
fn the_environment_chooses_isolation() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let _emulator = start_emulator(scratch.path(), port, "isolation");
    let fixture = repo().join("crates/cli/tests/fixtures/isolation");
    let log = scratch.path().join("runtime.log");
    let _runtime = start_runtime(
        &format!("http://127.0.0.1:{port}/.rt/isolation"),
        &[
            ("LAMBDA_TASK_ROOT", fixture.as_os_str()),
            ("FAASTLANE_ISOLATION", "process".as_ref()),
        ],
        &log,
    );
    let (status, got) = invoke(&agent(), port, "isolation", &json!({}));
    assert_eq!(status, 200, "{got}");
    isolated::assert_process_isolated(&got);

    // A value it does not know stops the runtime before it polls.
    let mut bad = start_runtime(
        &format!("http://127.0.0.1:{port}/.rt/isolation"),
        &[
            ("LAMBDA_TASK_ROOT", fixture.as_os_str()),
            ("FAASTLANE_ISOLATION", "sandbox".as_ref()),
        ],
        &scratch.path().join("bad.log"),
    );
    assert_eq!(bad.0.wait().expect("wait").code(), Some(2));
    let bad = std::fs::read_to_string(scratch.path().join("bad.log")).expect("log");
    assert!(
        bad.contains("FAASTLANE_ISOLATION=\"sandbox\": expected none, mpk, process or auto"),
        "{bad}"
    );
}
