//! Cost of calling a Python function and of handing state from one function to the next.
//!
//! `cargo bench -p faastlane-python --bench handoff` prints medians:
//! - a trivial call (`handler` returning `None`, JSON `{}` in);
//! - the hand-off of a function's output to the next function (Value -> Python -> Value of a
//!   dict holding 1 KB, 1 MB and 100 MB of bytes): flat, since the object is passed as is;
//! - for comparison, the same sizes arriving as JSON (a string field), which must be copied
//!   into Python, and a result leaving the process (`to_json`).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use asl::Value;
use engine::{Call, CancelToken, NoLog, Runtime};
use python_runtime::{PythonOptions, PythonRuntime};
use serde_json::json;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn show(label: &str, samples: Vec<Duration>) {
    let n = samples.len();
    let m = median(samples);
    println!(
        "{label:<48} median {:>12.3} µs   ({n} samples)",
        m.as_secs_f64() * 1e6
    );
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/basic");
    let rt = PythonRuntime::with_options(dir, PythonOptions::default().install_requirements(false))
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let cancel = CancelToken::new();
    let log = NoLog;
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
    let errors = rt.prepare(&["noop", "echo", "make_blob"]);
    assert!(errors.is_empty(), "{errors:?}");

    let noop = call("noop");
    let samples = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            black_box(rt.invoke(&noop, Value::empty_object()).ok());
            t.elapsed()
        })
        .collect();
    show("invoke trivial function", samples);

    let samples = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                (0..20_000)
                    .map(|_| {
                        let t = Instant::now();
                        black_box(rt.invoke(&noop, Value::empty_object()).ok());
                        t.elapsed()
                    })
                    .collect::<Vec<_>>()
            })
            .join()
            .unwrap_or_else(|_| panic!("bench thread"))
    });
    show("invoke trivial function (from another thread)", samples);

    let deadline_call = Call {
        deadline: Some(Instant::now() + Duration::from_secs(3600)),
        ..call("noop")
    };
    let samples = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            black_box(rt.invoke(&deadline_call, Value::empty_object()).ok());
            t.elapsed()
        })
        .collect();
    show("invoke trivial function (with a deadline)", samples);

    let echo = call("echo");
    for (label, size, iterations) in [
        ("1 KB", 1 << 10, 20_000),
        ("1 MB", 1 << 20, 20_000),
        ("100 MB", 100 << 20, 2_000),
    ] {
        let state = rt
            .invoke(&call("make_blob"), Value::Json(json!({"size": size})))
            .unwrap_or_else(|e| panic!("make_blob: {e}"));
        let samples = (0..iterations)
            .map(|_| {
                let input = state.clone();
                let t = Instant::now();
                let out = rt.invoke(&echo, input);
                let took = t.elapsed();
                black_box(out.ok());
                took
            })
            .collect();
        show(&format!("hand-off Value->Python->Value, {label}"), samples);
    }

    for (label, size, iterations) in [
        ("1 KB", 1 << 10, 2_000),
        ("1 MB", 1 << 20, 200),
        ("100 MB", 100 << 20, 5),
    ] {
        let input = Value::Json(json!({"blob": "x".repeat(size)}));
        let mut out = None;
        let samples = (0..iterations)
            .map(|_| {
                let input = input.clone();
                let t = Instant::now();
                out = rt.invoke(&echo, input).ok();
                t.elapsed()
            })
            .collect();
        show(
            &format!("same size as JSON input (copied in), {label}"),
            samples,
        );
        let Some(out) = out else {
            panic!("echo failed")
        };
        let samples = (0..iterations)
            .map(|_| {
                let t = Instant::now();
                black_box(out.to_json().ok());
                t.elapsed()
            })
            .collect();
        show(
            &format!("result to_json (leaving the process), {label}"),
            samples,
        );
    }
}
