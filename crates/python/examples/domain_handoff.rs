//! What `--isolation mpk` adds to each Python call besides the two PKRU writes, measured
//! natively (none of it needs protection keys):
//! - the hand-off: the healthcare functions' results copied into the shared domain as JSON
//!   (`domains::hand_off`), against handing the Python object on as is (isolation none);
//! - the release after the gate (`domains::after_gate`: `re.purge`, the method cache, a full
//!   collection that empties the free lists), with the healthcare modules loaded.
//!
//! `cargo run --release -p faastlane-python --example domain_handoff -- [iterations]`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use asl::Value;
use engine::{Call, CancelToken, NoLog, Runtime};
use python_runtime::{PythonOptions, PythonRuntime, domains};

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/healthcare");
    let rt = PythonRuntime::with_options(
        dir.clone(),
        PythonOptions::default()
            .install_requirements(false)
            .chdir(true),
    )
    .unwrap_or_else(|e| panic!("runtime: {e}"));
    let (cancel, log) = (CancelToken::new(), NoLog);
    let identity = engine::Identity::default();
    let request_id = engine::RequestId::fixed("bench");
    let call = |function: &'static str| Call {
        function,
        qualifier: None,
        identity: &identity,
        state_name: "Bench",
        request_id: &request_id,
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:bench:1",
        deadline: None,
        cancel: &cancel,
        log: &log,
    };
    let errors = rt.prepare(&["detect_phi", "mask"]);
    assert!(errors.is_empty(), "{errors:?}");
    let input: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("input.json")).unwrap_or_else(|e| panic!("input: {e}")),
    )
    .unwrap_or_else(|e| panic!("input: {e}"));
    let detected = rt
        .invoke(&call("detect_phi"), Value::Json(input))
        .unwrap_or_else(|e| panic!("detect_phi: {e}"));
    let masked = rt
        .invoke(&call("mask"), detected.clone())
        .unwrap_or_else(|e| panic!("mask: {e}"));
    for (name, result) in [("detect_phi", &detected), ("mask", &masked)] {
        let bytes = result.to_json().map(|j| j.to_string().len()).unwrap_or(0);
        let copy: Vec<Duration> = (0..iterations)
            .map(|_| {
                let t = Instant::now();
                black_box(domains::hand_off(result.clone()).ok());
                t.elapsed()
            })
            .collect();
        println!(
            "hand-off of {name}'s result ({bytes} bytes of JSON) into the shared domain: median {:.1} µs",
            median(copy)
        );
    }
    let release: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            domains::after_gate();
            t.elapsed()
        })
        .collect();
    println!(
        "release after the gate (re.purge, method cache, full collection): median {:.1} µs",
        median(release)
    );
}
