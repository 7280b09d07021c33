//! Every bundled example, run by the binary on each of its inputs, against its expected output.
//! (ml-pipeline and sentiment install their requirements into the venv cache on first use.)

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// (input, expected) pairs of one example: `input.json`/`expected.json`, `input-X.json`/`expected-X.json`.
fn cases(example: &str) -> Vec<(PathBuf, PathBuf)> {
    let dir = examples_dir().join(example);
    let mut out: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let suffix = name
                .strip_prefix("input")?
                .strip_suffix(".json")?
                .to_string();
            let expected = dir.join(format!("expected{suffix}.json"));
            expected.is_file().then_some((p, expected))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{example} has no input/expected pair");
    out
}

fn check(example: &str) {
    check_on(example, "auto");
}

/// Runs every input of `example` with `--lanes lanes`, against its expected output.
fn check_on(example: &str, lanes: &str) {
    check_with(example, &["--lanes", lanes]);
}

/// Runs every input of `example` with the extra arguments `args`, against its expected output.
fn check_with(example: &str, args: &[&str]) {
    let lanes = args.join(" ");
    for (input, expected) in cases(example) {
        let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
            .arg("run")
            .arg(examples_dir().join(example))
            .arg("--input")
            .arg(&input)
            .args(args)
            .output()
            .expect("the faastlane binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{example} {} on {lanes}: {stderr}",
            input.display()
        );
        let got: Json = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        let want: Json =
            serde_json::from_str(&std::fs::read_to_string(&expected).expect("expected file"))
                .expect("expected file is JSON");
        assert_eq!(got, want, "{example} {} on {lanes}", input.display());
    }
}

#[test]
fn hello() {
    // The hello example has no expected file: its output names the execution (a UUID).
    let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .args(["run", "--name", "x"])
        .arg(examples_dir().join("hello"))
        .arg("--input")
        .arg(examples_dir().join("hello/input.json"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn finra() {
    check("finra");
}

#[test]
fn finra_jsonata() {
    // The JSONata variant with workflow variables gives the JSONPath version's output.
    check("finra-jsonata");
}

#[test]
fn finra_fan_out_variants() {
    for n in [5, 50, 100, 200] {
        check(&format!("finra-{n}"));
    }
}

#[test]
fn healthcare() {
    check("healthcare");
}

#[test]
fn healthcare_with_its_phi_functions_in_worker_processes() {
    // faastlane.json marks detect_phi, mask and deidentify: each call in a fresh worker.
    check_with("healthcare", &["--isolation", "process"]);
}

#[test]
fn sentiment() {
    check("sentiment");
}

#[test]
fn ml_pipeline() {
    check("ml-pipeline");
}

#[test]
fn every_example_gives_the_same_output_on_every_lane() {
    // Process lanes: every branch in a worker process (started ahead, then reused), results
    // pickled back; threads and inline share this process's objects.
    for example in [
        "finra",
        "finra-5",
        "finra-50",
        "finra-100",
        "finra-200",
        "healthcare",
        "sentiment",
        "ml-pipeline",
        // The branches read variables assigned before the fan-out.
        "finra-jsonata",
    ] {
        for lanes in ["inline", "threads", "process"] {
            check_on(example, lanes);
        }
    }
}
