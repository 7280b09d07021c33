//! Runs the `faastlane` binary as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

fn faastlane(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("the faastlane binary runs")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn stdout_json(out: &Output) -> Json {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn run_prints_the_output_and_exits_0() {
    let out = faastlane(&[
        "run",
        "examples/hello",
        "--input",
        "examples/hello/input.json",
        "--name",
        "demo",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout_json(&out),
        json!({
            "greeting": "Hello, faastlane!",
            "items": ["a", "b", "c"],
            "execution": "demo",
            "size": "small",
            "summary": {"count": 3, "tags": ["0:a", "1:b", "2:c"]}
        })
    );
}

#[test]
fn inline_json_input_and_inline_lanes_give_the_same_output() {
    let out = faastlane(&[
        "run",
        "examples/hello/workflow.json",
        "--lanes",
        "inline",
        "--name",
        "demo",
        "--input",
        r#"{"name": "x", "items": [1, 2, 3, 4]}"#,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = stdout_json(&out);
    assert_eq!(
        got["summary"],
        json!({"count": 4, "tags": ["0:1", "1:2", "2:3", "3:4"]})
    );
    assert_eq!(
        got.get("size"),
        None,
        "four items take the big-order branch"
    );
}

#[test]
fn a_failed_execution_prints_error_and_cause_and_exits_1() {
    let out = faastlane(&[
        "run",
        &fixture("fails.json"),
        "--input",
        r#"{"ok": false, "reason": "too large"}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout_json(&out),
        json!({"error": "Order.Rejected", "cause": "too large"})
    );
}

#[test]
fn an_invalid_definition_lists_every_problem_and_exits_2() {
    let out = faastlane(&["run", &fixture("invalid.json")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/States/First/Next"), "{err}");
    assert!(err.contains("Orphan"), "{err}");
    assert!(err.contains("/States/Odd/Type"), "{err}");

    let out = faastlane(&["validate", &fixture("invalid.json")]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_accepts_a_valid_definition() {
    let out = faastlane(&["validate", "examples/hello"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
}

#[test]
fn validate_names_the_tasks_whose_functions_are_missing() {
    let out = faastlane(&["validate", &fixture("python-broken")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state 'Missing'") && err.contains("not_there"),
        "{err}"
    );
    // Functions that exist but fail to import are found only when run.
    assert!(!err.contains("state 'Broken'"), "{err}");
}

#[test]
fn malformed_input_json_is_a_usage_error() {
    let out = faastlane(&["run", "examples/hello", "--input", r#"{"name": "#]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));

    let out = faastlane(&["run", "examples/hello", "--input", "no-such-file.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("neither an existing file nor valid JSON")
    );
}

#[test]
fn a_missing_workflow_is_a_usage_error() {
    let out = faastlane(&["run", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or directory"));
}

#[test]
fn graph_draws_mermaid_and_dot() {
    let out = faastlane(&["graph", "examples/hello"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("flowchart TD"), "{text}");
    assert!(
        text.contains("subgraph"),
        "Parallel branches are subgraphs: {text}"
    );
    assert!(text.contains("Big order?"), "{text}");

    let out = faastlane(&["graph", "examples/hello", "--format", "dot"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("digraph"), "{text}");
    assert!(text.contains("subgraph cluster_"), "{text}");
}
