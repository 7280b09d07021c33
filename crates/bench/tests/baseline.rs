//! The baseline against a real redis-server: a tiny workflow, warm and cold.
//!
//! redis-server comes from Debian's package, which `scripts/ensure-redis.sh` installs (CI runs
//! it before the tests). Without it these tests fail, saying so.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bench::case::{BaselineSetup, CaseSpec, Measure};
use bench::container::{ContainerOptions, ContainerRuntime, Start};
use bench::redis_server::{RedisServer, find_program};
use bench::{Mode, Status, Suite, run_case, workloads};
use engine::{BranchLanes, Engine, EngineOptions, ExecutionOptions, Workflow};
use serde_json::json;

/// Fails the test, saying how to fix it, when redis-server is missing: a test that passed
/// without running would hide a broken baseline. CI installs it first (`.ci/run` runs
/// `scripts/ensure-redis.sh`); no test installs packages itself.
fn require_redis() {
    assert!(
        find_program("redis-server").is_some(),
        "redis-server is not installed: the baseline needs it; run scripts/ensure-redis.sh (as root: it installs Debian's redis-server package)"
    );
}

fn python() -> PathBuf {
    python_runtime::init()
        .expect("the embedded interpreter starts")
        .executable
}

fn workflow(dir: &Path) -> Workflow {
    let text = std::fs::read_to_string(dir.join("workflow.json")).expect("workflow.json");
    Workflow {
        name: "bench-test".into(),
        machine: asl::load_str(&text).expect("a valid definition"),
    }
}

fn spec(dir: &Path, mode: Mode) -> CaseSpec {
    CaseSpec {
        suite: Suite::Interaction,
        case: "1 KB".into(),
        mode,
        workflow_dir: dir.to_path_buf(),
        input: workloads::interaction_input(1024),
        expected: None,
        measure: Measure::Interaction,
        warmup: 1,
        runs: 3,
        clients: 1,
        payload_bytes: Some(1024),
        branches: None,
        threads: 2,
        baseline: BaselineSetup {
            python: python(),
            site_packages: Vec::new(),
        },
    }
}

#[test]
fn faastlane_measures_a_hand_off_in_one_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    workloads::write_interaction(dir.path()).expect("workflow written");
    let record = run_case(&spec(dir.path(), Mode::Faastlane));
    assert_eq!(record.status, Status::Ok, "{}", record.note);
    assert!(record.median_us.is_some_and(|m| m > 0.0));
}

#[test]
fn process_lanes_in_a_threaded_process_fail_the_case_and_say_why() {
    // A case of the process-lane mode starts a fork server, which needs a process with one
    // thread: `faastlane bench` runs each case in a fresh one (tested in the CLI's tests).
    // The test harness has threads, so here the case must fail with the reason.
    let dir = tempfile::tempdir().expect("temp dir");
    workloads::write_interaction_process(dir.path()).expect("workflow written");
    let record = run_case(&spec(dir.path(), Mode::FaastlaneProcess));
    assert_eq!(record.status, Status::Failed);
    assert!(
        record.note.contains("fork server") && record.note.contains("before any thread"),
        "{}",
        record.note
    );
}

#[test]
fn warm_and_cold_baselines_measure_a_hand_off() {
    require_redis();
    let dir = tempfile::tempdir().expect("temp dir");
    workloads::write_interaction(dir.path()).expect("workflow written");
    for mode in [Mode::BaselineWarm, Mode::BaselineCold] {
        let record = run_case(&spec(dir.path(), mode));
        assert_eq!(record.status, Status::Ok, "{mode:?}: {}", record.note);
        assert_eq!(record.runs, 3);
        let median = record.median_us.expect("a median");
        assert!(median > 0.0, "{mode:?}: {median}");
        assert!(record.p90_us.expect("a p90") >= median);
        assert!(record.peak_rss_kb.is_some_and(|kb| kb > 0));
    }
}

#[test]
fn results_travel_by_reference_and_errors_keep_their_names() {
    require_redis();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("make.py"),
        "def handler(event, context):\n    return {'n': event['n'] * 2, 'who': context.function_name}\n",
    )
    .expect("make.py");
    // bytes have no JSON form: this state can only reach `size` by reference.
    std::fs::write(
        dir.path().join("blob.py"),
        "def main(args):\n    return {'n': args['n'], 'who': args['who'], 'blob': b'x' * 10}\n",
    )
    .expect("blob.py");
    std::fs::write(
        dir.path().join("size.py"),
        "def main(args):\n    return {'n': args['n'], 'who': args['who'], 'size': len(args['blob'])}\n",
    )
    .expect("size.py");
    std::fs::write(
        dir.path().join("fail.py"),
        "class Broken(Exception):\n    pass\n\ndef main(args):\n    raise Broken('n is %d' % args['n'])\n",
    )
    .expect("fail.py");
    let definition = json!({
        "StartAt": "Make",
        "States": {
            "Make": {"Type": "Task", "Resource": "make", "ResultSelector": {"n.$": "$.n", "who.$": "$.who"}, "Next": "Blob"},
            "Blob": {"Type": "Task", "Resource": "blob", "Next": "Size"},
            "Size": {"Type": "Task", "Resource": "size", "Next": "Big?"},
            "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Fail"}], "Default": "Done"},
            "Fail": {"Type": "Task", "Resource": "fail", "End": true},
            "Done": {"Type": "Succeed"}
        }
    });
    std::fs::write(dir.path().join("workflow.json"), definition.to_string()).expect("written");
    let redis = RedisServer::start().expect("redis starts");
    let runtime = ContainerRuntime::new(ContainerOptions {
        dir: dir.path().to_path_buf(),
        python: python(),
        site_packages: Vec::new(),
        redis_port: redis.port(),
        start: Start::Warm,
    })
    .expect("runtime");
    let runtime = Arc::new(runtime);
    let engine = Engine::with_options(
        runtime.clone(),
        EngineOptions {
            lanes: BranchLanes::Inline,
            ..EngineOptions::default()
        },
    );
    let wf = workflow(dir.path());
    engine.prepare(&wf).expect("functions load");
    assert_eq!(
        runtime.worker_pids().len(),
        4,
        "one warm worker per function"
    );

    let small = engine.execute(&wf, json!({"n": 3}), &ExecutionOptions::default());
    assert_eq!(
        small.into_json().expect("succeeds"),
        json!({"n": 6, "who": "make", "size": 10})
    );

    let big = engine.execute(&wf, json!({"n": 7}), &ExecutionOptions::default());
    let error = big.into_json().expect_err("fail raises");
    assert_eq!(error.error, "Broken");
    assert!(error.cause.contains("n is 14"), "{}", error.cause);
    assert_eq!(runtime.worker_pids().len(), 4, "workers are reused");
}
