//! `faastlane bench --run-case`: one benchmark case in a fresh process of the binary, as the
//! suite runs it. The process-lane mode needs that (its fork server must start before any
//! thread), so it is tested here rather than in the bench crate's own tests.

use std::path::Path;
use std::process::Command;

use bench::case::{BaselineSetup, CaseSpec, Measure};
use bench::{Mode, Record, Status, Suite, workloads};

fn spec(dir: &Path, case: &str, measure: Measure, input: serde_json::Value) -> CaseSpec {
    CaseSpec {
        suite: Suite::Interaction,
        case: case.into(),
        mode: Mode::FaastlaneProcess,
        workflow_dir: dir.to_path_buf(),
        input,
        expected: None,
        measure,
        warmup: 1,
        runs: 3,
        clients: 1,
        payload_bytes: None,
        branches: None,
        threads: 2,
        baseline: BaselineSetup {
            python: "python3".into(),
            site_packages: Vec::new(),
        },
    }
}

fn run_case(spec: &CaseSpec, scratch: &Path) -> Record {
    let path = scratch.join("case.json");
    std::fs::write(&path, serde_json::to_vec(spec).expect("spec as JSON")).expect("spec written");
    let out = Command::new(env!("CARGO_BIN_EXE_faastlane"))
        .args(["bench", "--run-case"])
        .arg(&path)
        .output()
        .expect("the faastlane binary runs");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a record ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn the_process_lane_mode_hands_a_state_to_a_worker_process() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path().join("interaction-process");
    workloads::write_interaction_process(&dir).expect("workflow written");
    let mut case = spec(
        &dir,
        "1 MB",
        Measure::Interaction,
        workloads::interaction_input(1 << 20),
    );
    case.payload_bytes = Some(1 << 20);
    // The case checks that `consume` saw every byte and ran in another process than
    // `produce`; a failed check is a failed record.
    let record = run_case(&case, scratch.path());
    assert_eq!(record.status, Status::Ok, "{}", record.note);
    assert_eq!(record.runs, 3);
    assert!(record.median_us.is_some_and(|m| m > 0.0));
    // The fork server and its workers count in the peak.
    assert!(record.peak_rss_kb.is_some_and(|kb| kb > 0));
}

#[test]
fn the_process_lane_mode_runs_a_map_fan_out() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path().join("map-10");
    let input = workloads::write_fanout(&dir, workloads::Fanout::Map, 10).expect("written");
    let mut case = spec(&dir, "map 10", Measure::EndToEnd, input);
    case.suite = Suite::Fanout;
    case.branches = Some(10);
    let record = run_case(&case, scratch.path());
    assert_eq!(record.status, Status::Ok, "{}", record.note);
    assert!(record.throughput_per_s.is_some_and(|t| t > 0.0));
}

#[test]
fn concurrent_clients_of_faastlane_run_one_instance_each() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path().join("interaction");
    workloads::write_interaction(&dir).expect("workflow written");
    let mut case = spec(
        &dir,
        "1 KB",
        Measure::Interaction,
        workloads::interaction_input(1024),
    );
    case.mode = Mode::Faastlane;
    case.payload_bytes = Some(1024);
    case.clients = 2;
    case.runs = 6;
    let record = run_case(&case, scratch.path());
    assert_eq!(record.status, Status::Ok, "{}", record.note);
    assert_eq!(record.runs, 6, "3 runs in each of 2 clients");
    assert_eq!(record.clients, 2);
    assert!(
        record.note.contains("2 faastlane instances"),
        "{}",
        record.note
    );
    assert!(record.throughput_per_s.is_some_and(|t| t > 0.0));
}

#[test]
fn a_failing_client_fails_the_case_and_says_why() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path().join("interaction");
    workloads::write_interaction(&dir).expect("workflow written");
    std::fs::write(
        dir.join("consume.py"),
        "def main(args):\n    raise ValueError('nope')\n",
    )
    .expect("broken consume");
    let mut case = spec(
        &dir,
        "1 KB",
        Measure::Interaction,
        workloads::interaction_input(1024),
    );
    case.mode = Mode::Faastlane;
    case.clients = 2;
    let record = run_case(&case, scratch.path());
    assert_eq!(record.status, Status::Failed);
    assert!(record.note.contains("ValueError"), "{}", record.note);
}
