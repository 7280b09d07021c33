//! What `--isolation mpk` adds to each Python call besides the two PKRU writes, measured
//! natively over `mpk::Domains::unprotected` (the same allocator routing, domain heap and
//! copy as with protection keys; no page tagged, no PKRU written):
//! - the hand-off (`domains::hand_off`): a result made in a function's domain copied object
//!   by object into the shared domain, for results from `{}` to 64 KB of JSON and the
//!   healthcare functions'; beside it the JSON path it replaced (`Value::into_json` only:
//!   the next function then also built its objects from the JSON);
//! - a whole isolated call of a small function against a plain one (the gate's bookkeeping,
//!   the hand-off and the release after the gate);
//! - the release after the gate alone (`domains::after_gate`).
//!
//! `cargo run --release -p faastlane-python --example domain_handoff -- [iterations]`

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::Value;
use engine::{Call, CancelToken, NoLog, Runtime};
use isolation::DomainIsolated;
use mpk::{DomainId, Domains};
use pyo3::Python;
use python_runtime::{PythonOptions, PythonRuntime, domains};
use serde_json::json;

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

fn time(iterations: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..iterations)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn runtime(dir: PathBuf) -> PythonRuntime {
    PythonRuntime::with_options(
        dir,
        PythonOptions::default()
            .install_requirements(false)
            .chdir(true),
    )
    .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let healthcare_dir = root.join("../../examples/healthcare");
    let healthcare = runtime(healthcare_dir.clone());
    let sized = Arc::new(runtime(root.join("tests/fixtures/handoff")));
    let domains = Arc::new(Domains::unprotected(15));
    domains::install(&domains).unwrap_or_else(|e| panic!("domains: {e}"));
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
    let errors = healthcare.prepare(&["detect_phi", "mask"]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(sized.prepare(&["sized", "lookup"]).is_empty());

    // Results made inside a domain, as a function's are under mpk.
    let id: DomainId = domains.create("bench");
    let in_domain = |rt: &dyn Runtime, function: &'static str, input: Value| {
        domains::before_gate();
        domains::enter(id);
        let result = rt.invoke(&call(function), input);
        domains::leave();
        domains::after_gate();
        result.unwrap_or_else(|e| panic!("{function}: {e}"))
    };
    let input: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(healthcare_dir.join("input.json"))
            .unwrap_or_else(|e| panic!("input: {e}")),
    )
    .unwrap_or_else(|e| panic!("input: {e}"));
    let detected = in_domain(&healthcare, "detect_phi", Value::Json(input));
    let masked = in_domain(&healthcare, "mask", detected.clone());
    let mut cases = vec![
        (
            "{}".to_string(),
            in_domain(
                sized.as_ref(),
                "sized",
                Value::Json(json!({"kind": "empty"})),
            ),
        ),
        (
            "{ok, id, note} (small)".to_string(),
            in_domain(
                sized.as_ref(),
                "sized",
                Value::Json(json!({"kind": "small", "id": 7})),
            ),
        ),
    ];
    let mut sizes = Vec::new();
    for kb in [1, 4, 16, 64] {
        let value = in_domain(
            sized.as_ref(),
            "sized",
            Value::Json(json!({"kind": "records", "kb": kb})),
        );
        sizes.push(cases.len());
        cases.push((format!("records, ~{kb} KB"), value));
    }
    cases.push(("healthcare detect_phi's result".into(), detected));
    cases.push(("healthcare mask's result".into(), masked));

    println!("hand-off into the shared domain, median of {iterations}:");
    let mut points = Vec::new();
    for (i, (name, result)) in cases.iter().enumerate() {
        let bytes = result.to_json().map(|j| j.to_string().len()).unwrap_or(0);
        // The hand-off runs inside the function's gate with the GIL taken; so here.
        domains::before_gate();
        // The copy, then freeing it (later, in a run: the original is freed at the hand-off,
        // as under none), each timed; freed one by one so memory does not grow.
        let (mut copy, mut free) = (Vec::new(), Vec::new());
        for _ in 0..iterations {
            let t = Instant::now();
            let copied = black_box(domains::hand_off(result.clone()).ok());
            copy.push(t.elapsed());
            Python::attach(|_py| {
                let t = Instant::now();
                drop(copied);
                free.push(t.elapsed());
            });
        }
        let (copy, free) = (median(copy), median(free));
        let json = time(iterations, || {
            black_box(result.clone().into_json().ok());
        });
        domains::after_gate();
        if sizes.contains(&i) {
            points.push((bytes as f64 / 1024.0, copy));
        }
        println!(
            "  {name:32} {bytes:6} bytes of JSON: copy {copy:8.2} µs, its free later {free:7.2} µs   (JSON path, into_json only: {json:8.2} µs)"
        );
    }
    // Least squares over the record sizes: µs = fixed + slope * KB.
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (sxx, sxy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x * x, b + x * y));
    let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    println!(
        "  fit over the records: {:.2} µs per KB of JSON, intercept {:.2} µs",
        slope,
        (sy - slope * sx) / n
    );

    // A whole call: plain, and isolated (gate bookkeeping + hand-off + release after it).
    let isolated = DomainIsolated::over(
        Arc::clone(&sized) as Arc<dyn Runtime>,
        &["sized".to_string()],
        Arc::clone(&domains),
    )
    .with_memory(Arc::new(domains::PythonMemory));
    let small = || Value::Json(json!({"kind": "small", "id": 7}));
    let plain = time(iterations, || {
        black_box(sized.invoke(&call("sized"), small()).ok());
    });
    let gated = time(iterations, || {
        black_box(isolated.invoke(&call("sized"), small()).ok());
    });
    println!(
        "a call of the small function: plain {plain:.1} µs, in a domain (no keys) {gated:.1} µs: +{:.1} µs",
        gated - plain
    );
    let isolated_lookup = DomainIsolated::over(
        Arc::clone(&sized) as Arc<dyn Runtime>,
        &["lookup".to_string()],
        Arc::clone(&domains),
    )
    .with_memory(Arc::new(domains::PythonMemory));
    let lookup = || Value::Json(json!({"n": 7}));
    let plain = time(iterations, || {
        black_box(sized.invoke(&call("lookup"), lookup()).ok());
    });
    let full = domains::full_releases();
    let gated = time(iterations, || {
        black_box(isolated_lookup.invoke(&call("lookup"), lookup()).ok());
    });
    assert!(
        domains::full_releases() >= full + iterations as u64,
        "every gate of lookup releases in full"
    );
    println!(
        "a call that leaves a name in the method cache: plain {plain:.1} µs, in a domain (no keys) {gated:.1} µs: +{:.1} µs (the whole release after each gate)",
        gated - plain
    );
    let release = time(iterations, || {
        domains::before_gate();
        domains::after_gate();
    });
    println!(
        "release after a gate that left nothing (young collection + freeze): median {release:.1} µs"
    );
}
