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
        err.contains("state 'Missing': function 'not_there'"),
        "{err}"
    );
    // Modules that exist but cannot load are found without running them (parsed, not
    // imported): a syntax error, and a module with no entry point.
    assert!(
        err.contains("state 'Broken': function 'syntax_error'"),
        "{err}"
    );
    assert!(
        err.contains("state 'NoEntry': function 'no_entry'"),
        "{err}"
    );
    assert!(err.contains("3 problem(s)"), "{err}");
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

#[test]
fn run_limits_fail_the_execution_naming_the_limit() {
    let input = "examples/hello/input.json";
    let out = faastlane(&[
        "run",
        "examples/hello",
        "--input",
        input,
        "--max-map-items",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let output = stdout_json(&out);
    assert_eq!(output["error"], "States.Runtime");
    assert!(
        output["cause"]
            .as_str()
            .is_some_and(|c| c.ends_with("has 3 items, more than the limit of 2")),
        "{output}"
    );
    let out = faastlane(&[
        "run",
        "examples/hello",
        "--input",
        input,
        "--max-input-bytes",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["error"], "States.DataLimitExceeded");
}

/// `faastlane run examples/hello` with its input and `extra` arguments.
fn run_hello(extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "examples/hello",
        "--input",
        "examples/hello/input.json",
    ];
    args.extend_from_slice(extra);
    faastlane(&args)
}

#[test]
fn an_unwritable_trace_path_is_reported_before_the_run() {
    let out = run_hello(&["--trace", "/nonexistent/dir/t.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write the trace to /nonexistent/dir/t.json"),
        "{stderr}"
    );
}

#[test]
fn the_trace_is_written_where_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("t.json");
    let path = path.to_str().expect("utf-8 temp path");
    let out = run_hello(&["--trace", path]);
    assert_eq!(out.status.code(), Some(0));
    stdout_json(&out);
    let trace: Json =
        serde_json::from_str(&std::fs::read_to_string(path).expect("trace")).expect("json");
    assert!(trace.is_object() || trace.is_array(), "{trace}");
}

#[test]
fn a_directory_as_input_is_named_as_such() {
    let out = faastlane(&["run", "examples/hello", "--input", "examples/hello"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--input 'examples/hello' is a directory"),
        "{stderr}"
    );
}

#[test]
fn yaml_definitions_with_substitutions_run() {
    let dir = fixture("sam-yaml");
    let file = format!("{dir}/statemachine.asl.yaml");
    for target in [&dir, &file] {
        let out = faastlane(&[
            "run",
            target,
            "--substitute",
            "Who=SAM",
            "--substitute",
            "Stage=prod",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{target}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout_json(&out),
            json!({"greeting": "Hello, SAM!", "stage": "prod"})
        );
    }
    let subs = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(subs.path(), r#"{"Who": "file", "Stage": 3}"#).expect("write");
    let out = faastlane(&[
        "run",
        &dir,
        "--substitutions",
        subs.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(
        stdout_json(&out),
        json!({"greeting": "Hello, file!", "stage": 3})
    );
}

#[test]
fn a_placeholder_without_a_value_is_named() {
    let out = faastlane(&["validate", &fixture("sam-yaml"), "--substitute", "Who=x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("${Stage} (line 8)"), "{stderr}");
}

#[test]
fn the_readme_validate_sample_is_what_validate_prints() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let command = "  $ faastlane validate crates/cli/tests/fixtures/invalid.json\n";
    let start = readme.find(command).expect("the sample in the README") + command.len();
    let sample: String = readme[start..]
        .lines()
        .take_while(|l| !l.trim_start().starts_with("```"))
        .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
        .collect();
    let out = faastlane(&["validate", "crates/cli/tests/fixtures/invalid.json"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), sample);
}

#[test]
fn bench_help_and_the_readme_agree_on_how_long_quick_takes() {
    let out = faastlane(&["bench", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    let quick = help
        .lines()
        .skip_while(|l| !l.contains("--quick"))
        .nth(1)
        .or_else(|| help.lines().find(|l| l.contains("--quick")))
        .unwrap_or_default()
        .to_owned();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    assert!(
        quick.contains("under 2 minutes") && readme.contains("`--quick`: under 2 minutes"),
        "bench --help: {quick:?}"
    );
}

#[test]
fn history_is_written_as_get_execution_history_returns_it() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let file = scratch.path().join("history.json");
    let out = faastlane(&[
        "run",
        "examples/finra",
        "--input",
        "examples/finra/input.json",
        "--history",
        &file.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).expect("the history file is written");
    let history: Json = serde_json::from_str(&text).expect("the history is JSON");
    let events = history["events"].as_array().expect("an events list");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1), "event {e}");
        assert!(
            e["previousEventId"].as_u64() < e["id"].as_u64(),
            "event {e}"
        );
        assert!(e["timestamp"].is_f64(), "event {e}");
    }
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"ExecutionStarted"));
    assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
    assert!(types.contains(&"ParallelStateStarted"), "{types:?}");
    let scheduled: Vec<&Json> = events
        .iter()
        .filter(|e| e["type"] == "LambdaFunctionScheduled")
        .collect();
    assert!(!scheduled.is_empty(), "{types:?}");
    for e in scheduled {
        let resource = e["lambdaFunctionScheduledEventDetails"]["resource"]
            .as_str()
            .unwrap_or_default();
        assert!(
            resource.starts_with("arn:aws:lambda:") && resource.contains(":function:"),
            "{e}"
        );
    }
    // Every state entered is exited: finra has no failures.
    let entered = types.iter().filter(|t| t.ends_with("StateEntered")).count();
    let exited = types.iter().filter(|t| t.ends_with("StateExited")).count();
    assert_eq!(entered, exited, "{types:?}");
}
