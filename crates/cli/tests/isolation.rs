//! `--isolation` through the binary: sensitive functions in worker processes, `auto`'s
//! notice, `mpk` refused before anything runs where it cannot work, bad markings named.

#[path = "support/isolated.rs"]
mod isolated;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value as Json;

fn faastlane(isolation: &str, fixture: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .args(["run", "--isolation", isolation])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(fixture),
        )
        .output()
        .expect("the faastlane binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn output(out: &Output) -> Json {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn process_isolation_runs_each_sensitive_call_in_a_fresh_process() {
    isolated::assert_process_isolated(&output(&faastlane("process", "isolation")));

    let shared = output(&faastlane("none", "isolation"));
    assert_eq!(shared["first"]["pid"], shared["public"]["pid"]);
    assert_eq!(shared["second"]["calls"], 2, "without isolation: {shared}");
    assert_eq!(
        shared["snooped"]["found"], "123-45-6789",
        "without isolation it leaks"
    );
}

#[test]
fn auto_says_what_it_chose() {
    let out = faastlane("auto", "isolation");
    let stderr = text(&out.stderr);
    let notice = stderr.lines().next().unwrap_or_default();
    // Python functions are isolated by processes, with or without protection keys.
    assert!(notice.starts_with("isolation: process ("), "{stderr}");
    let got = output(&out);
    assert_ne!(got["first"]["pid"], got["public"]["pid"]);
}

#[test]
fn mpk_is_refused_before_running_where_it_cannot_work() {
    let out = faastlane("mpk", "isolation");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: --isolation mpk "), "{stderr}");
    assert!(
        stderr.contains("use --isolation process (or auto)"),
        "{stderr}"
    );
}

#[test]
fn isolated_functions_stay_off_process_lanes() {
    let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .args(["run", "--isolation", "process", "--lanes", "process"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/isolation"))
        .output()
        .expect("the faastlane binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: --lanes process cannot be combined with --isolation"),
        "{stderr}"
    );
}

#[test]
fn a_marking_of_an_unknown_function_is_named() {
    let out = faastlane("process", "isolation-bad");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "faastlane.json: /isolation/sensitive/1: no Task calls a function named 'unknown'"
        ),
        "{stderr}"
    );
}

/// A function reading, through ctypes, the address of a secret another function kept (the
/// fixture `isolation-peek`). Without isolation it reads the secret; under `process` the
/// address is in another process, so whatever it reads (or the crash of its worker, caught)
/// is not the secret, and the execution goes on. (Under `mpk` the read is reported as
/// `Faastlane.IsolationViolation`: `scripts/test-mpk-qemu.sh` checks that in its guest.)
#[test]
fn a_function_reading_another_ones_memory_finds_nothing_under_process() {
    let secret = "patient ssn 123-45-6789";
    let shared = output(&faastlane("none", "isolation-peek"));
    assert_eq!(
        shared["peeked"]["read"], secret,
        "without isolation it leaks"
    );

    let isolated = output(&faastlane("process", "isolation-peek"));
    assert!(!isolated.to_string().contains(secret), "{isolated}");
    assert_eq!(isolated["after"]["ok"], true, "{isolated}");
}

/// Eighteen sensitive Python functions in a chain (the fixture `isolation-many`, more
/// functions than the 15 protection keys `--isolation mpk` multiplexes in the guest of
/// `scripts/test-mpk-qemu.sh`), each working on the object the previous one handed on: under
/// `process` the output is the unisolated run's, and a read of another function's secret
/// among them finds nothing while the execution goes on.
#[test]
fn eighteen_sensitive_python_functions_give_the_unisolated_output_under_process() {
    let shared = output(&faastlane("none", "isolation-many"));
    assert_eq!(shared["total"], (1..=18).sum::<i32>(), "{shared}");
    assert_eq!(
        shared["notes"].as_array().map(Vec::len),
        Some(18),
        "{shared}"
    );
    assert_eq!(shared["after"]["steps"], 18, "{shared}");
    assert_eq!(output(&faastlane("process", "isolation-many")), shared);

    let secret = "patient ssn 123-45-6789";
    let peek = |isolation: &str| {
        let input = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/isolation-many/input-peek.json");
        let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
            .args(["run", "--isolation", isolation])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/isolation-many"))
            .arg("--input")
            .arg(input)
            .output()
            .expect("the faastlane binary runs");
        output(&out)
    };
    let leaked = peek("none");
    assert_eq!(
        leaked["peeked"]["read"], secret,
        "without isolation it leaks"
    );
    let isolated = peek("process");
    assert!(!isolated.to_string().contains(secret), "{isolated}");
    assert_eq!(isolated["after"]["steps"], 18, "{isolated}");
}
