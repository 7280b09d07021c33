//! Python workflows through the `faastlane` binary, as a user runs them.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

fn faastlane(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("the faastlane binary runs")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn stdout_json(out: &Output) -> Json {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

#[test]
fn python_functions_run_with_lambda_semantics_and_faults_do_not_end_the_process() {
    let out = faastlane(&["run", &fixture("python"), "--input", r#"{"word": "hi"}"#]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let got = stdout_json(&out);
    assert_eq!(got["shouted"], json!("HI"));
    assert_eq!(
        got["flaky"],
        json!({"calls": 2}),
        "retried once after TransientError"
    );
    assert_eq!(
        got["faults"],
        json!([
            {"error": "Runtime.ExitError"},
            {"error": "KeyboardInterrupt"},
            {"error": "RecursionError"},
            null
        ])
    );
    assert_eq!(
        got["context"],
        json!({
            "function_name": "whoami",
            "function_version": "$LATEST",
            "arn": "arn:aws:lambda:us-east-1:111111111111:function:whoami",
            "remaining_ok": true,
            "log_group": "/aws/lambda/whoami"
        })
    );
}

#[test]
fn what_functions_print_goes_to_stderr_tagged_with_the_state() {
    let out = faastlane(&["run", &fixture("python"), "--input", r#"{"word": "hi"}"#]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("[Shout] hello from shout"), "{stderr}");
    assert!(stderr.contains("[Shout] to stderr"), "{stderr}");
    assert!(stderr.contains("a warning"), "{stderr}");
    assert!(
        !text(&out.stdout).contains("hello from shout"),
        "stdout holds only the output JSON"
    );
}

#[test]
fn a_python_exception_fails_the_execution_as_lambda_reports_it() {
    let out = faastlane(&[
        "run",
        &fixture("python"),
        "--input",
        r#"{"word": "hi", "fail": "this"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let got = stdout_json(&out);
    assert_eq!(got["error"], json!("ValueError"));
    let cause: Json = serde_json::from_str(got["cause"].as_str().expect("cause is a string"))
        .expect("cause is JSON");
    assert_eq!(cause["errorMessage"], json!("cannot handle this"));
    assert_eq!(cause["errorType"], json!("ValueError"));
    assert!(cause["requestId"].as_str().is_some_and(|s| !s.is_empty()));
    let trace = cause["stackTrace"]
        .as_array()
        .expect("stackTrace is a list");
    assert!(
        trace
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("explode.py"))),
        "{trace:?}"
    );
}

#[test]
fn broken_functions_are_reported_before_the_run_naming_state_and_file() {
    let out = faastlane(&["run", &fixture("python-broken")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("state 'Missing'") && stderr.contains("not_there.py"),
        "{stderr}"
    );
    assert!(
        stderr.contains("state 'Broken'")
            && stderr.contains("syntax_error.py")
            && stderr.contains("line 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("state 'NoEntry'") && stderr.contains("no_entry.py"),
        "{stderr}"
    );
}

#[test]
fn an_output_that_is_not_json_fails_clearly_at_the_boundary() {
    let out = faastlane(&["run", &fixture("python-bytes")]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let got = stdout_json(&out);
    assert_eq!(got["error"], json!("Runtime.MarshalError"));
    let cause = got["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("$.blob") && cause.contains("bytes"),
        "{cause}"
    );
}

/// Measuring a self-referencing result against the payload warning bound once recursed
/// until the stack overflowed (a segfault of the whole run).
#[test]
fn a_result_that_contains_itself_fails_clearly_instead_of_crashing() {
    let out = faastlane(&["run", &fixture("python-cycle")]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let got = stdout_json(&out);
    assert_eq!(got["error"], json!("Runtime.MarshalError"));
    let cause = got["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("$.loop[0]") && cause.contains("reference cycle"),
        "{cause}"
    );
}

#[test]
fn a_result_the_function_keeps_gives_the_same_output_on_every_lane() {
    let input = r#"{"items": [1, 2, 3, 4]}"#;
    let each = json!({"count": 1, "tags": ["seen"]});
    for lanes in ["inline", "threads", "process", "auto"] {
        let out = faastlane(&[
            "run",
            &fixture("python-aliasing"),
            "--input",
            input,
            "--lanes",
            lanes,
        ]);
        assert_eq!(out.status.code(), Some(0), "{lanes}: {}", text(&out.stderr));
        assert_eq!(
            stdout_json(&out),
            json!([each, each, each, each]),
            "on {lanes}"
        );
    }
}

#[test]
fn stdout_carries_the_output_only_whatever_functions_write_to_fd_1() {
    for lanes in ["inline", "threads", "process"] {
        let out = faastlane(&["run", &fixture("python-noisy"), "--lanes", lanes]);
        assert_eq!(out.status.code(), Some(0), "{lanes}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "[{\"ok\":true},{\"ok\":true}]\n",
            "on {lanes}; stderr: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        for line in ["raw write to fd 1", "from a child process", "printed"] {
            assert!(stderr.contains(line), "{lanes}: {line:?} not in {stderr}");
        }
    }
}

#[test]
fn validate_checks_each_function_without_running_it() {
    let out = faastlane(&["validate", &fixture("python-broken")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    for expected in [
        "function 'not_there': ",
        "function 'syntax_error': ",
        "syntax_error.py:1",
        "function 'no_entry': ",
        "defines neither handler(event, context) nor main(args)",
        "3 problem(s)",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }

    let out = faastlane(&["validate", &fixture("python-signatures")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("too_many.py:1: 'handler' must accept (event, context) or (args)"),
        "{stderr}"
    );
    assert!(stderr.contains("has no function 'handlr'"), "{stderr}");
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
    assert!(
        !stderr.contains("nonexistent-validate"),
        "good.py was not imported"
    );

    let out = faastlane(&["validate", &fixture("python")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_crash_inline_prints_the_python_stack() {
    let out = faastlane(&["run", &fixture("python-segv"), "--lanes", "inline"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Fatal Python error: Segmentation fault"),
        "{stderr}"
    );
    assert!(stderr.contains("segv.py\", line 5 in handler"), "{stderr}");
}

#[test]
fn a_function_named_only_at_run_time_runs_in_python() {
    let dir = fixture("python-dynamic");
    let input = r#"{"fn": "greet", "event": {"name": "ada"}}"#;
    let out = faastlane(&["run", &dir, "--input", input]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(
        stdout_json(&out),
        json!({"greeting": "hello ada", "function": "greet"})
    );
    // A name that resolves to nothing fails the execution as Lambda does, not the run.
    let input = r#"{"fn": "arn:aws:lambda:eu-west-1:123456789012:function:nobody", "event": {}}"#;
    let out = faastlane(&["run", &dir, "--input", input]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let got = stdout_json(&out);
    assert_eq!(got["error"], json!("Lambda.ResourceNotFoundException"));
    let cause = got["cause"].as_str().unwrap_or_default();
    assert!(
        cause.starts_with("Function not found: arn:aws:lambda:eu-west-1:123456789012:function:nobody:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: ")
            && cause.ends_with("; Proxy: null)"),
        "{cause}"
    );
}

/// Issue 9, item 10: a Python function's `context.invoked_function_arn` is the ARN the
/// definition invoked it as, with that ARN's region and account.
#[test]
fn invoked_function_arn_keeps_the_region_and_account_of_the_definition() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        Path::new(&fixture("python")).join("whoami.py"),
        dir.path().join("whoami.py"),
    )
    .expect("copy whoami.py");
    let arn = "arn:aws:lambda:eu-central-1:444455556666:function:whoami:blue";
    let definition = json!({
        "StartAt": "Who",
        "States": {"Who": {"Type": "Task", "Resource": arn, "End": true}}
    });
    std::fs::write(dir.path().join("workflow.json"), definition.to_string()).expect("write");
    let out = faastlane(&["run", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let got = stdout_json(&out);
    assert_eq!(got["arn"], json!(arn));
}
