//! Function interaction latency through the whole engine: Python function A returns, the
//! engine applies the output processing of A and the input processing of B, B starts with
//! its input. A stamps `time.perf_counter_ns()` just before it returns, B just after it is
//! entered; the difference is the hand-off (one process, one clock).
//!
//! `cargo bench -p faastlane-python --bench engine_handoff` prints median and p90 for states
//! of 1 KB, 1 MB and 100 MB, held as one `bytes` object and as a list of ~100-byte records,
//! and the ratio of each median to the 1 KB one of the same kind.
//!
//! `cargo bench -p faastlane-python --bench engine_handoff -- workflow-jsonata.json` runs the
//! same hand-offs with A a JSONata state whose `Output` is `{% $states.result %}` (answered
//! from the value itself, no JSON), and `-- workflow-jsonata-object.json` with an `Output`
//! that builds a new object from the result's fields (the result becomes JSON; records only).
//!
//! Rows marked `existing` hand on a state that already exists (built once, returned by the
//! producer on every run): that is the hand-off alone. Rows marked `fresh` build the state
//! anew in every run; their `after write` column is the first hand-off after the producer
//! wrote it, which also pays for the caches the write evicted (a 1 KB state made after
//! touching 100 MB of other memory pays the same), and the effect lingers over a few hops.

use std::path::PathBuf;
use std::sync::Arc;

use engine::{Engine, ExecutionOptions, Workflow};
use pyo3::prelude::*;
use python_runtime::{PythonOptions, PythonRuntime};
use serde_json::json;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/handoff_workflow");
    let file = std::env::args()
        .skip(1)
        .find(|a| a.ends_with(".json"))
        .unwrap_or_else(|| "workflow.json".to_string());
    let text = std::fs::read_to_string(dir.join(&file)).expect("the workflow file");
    let only_records = file.contains("object");
    println!("{file}");
    let machine = asl::load_str(&text).expect("valid workflow");
    let workflow = Workflow {
        name: "handoff".to_string(),
        machine,
    };
    python_runtime::init().expect("python starts");
    let runtime = PythonRuntime::with_options(&dir, PythonOptions::default()).expect("runtime");
    let engine = Engine::new(Arc::new(runtime));
    engine.prepare(&workflow).expect("functions import");

    println!(
        "{:<17} {:>8} {:>6} {:>12} {:>12} {:>10} {:>16}",
        "kind", "state", "runs", "median µs", "p90 µs", "vs 1 KB", "after write µs"
    );
    for (kind, fresh) in [
        ("bytes", false),
        ("records", false),
        ("bytes", true),
        ("records", true),
    ] {
        if only_records && kind == "bytes" {
            continue;
        }
        let mut base = None;
        for (label, size, runs) in [
            ("1 KB", 1_000u64, 2_000),
            ("1 MB", 1_000_000, 300),
            ("100 MB", 100_000_000, 40),
        ] {
            let mut samples = Vec::with_capacity(runs);
            let mut cold = Vec::with_capacity(runs);
            for _ in 0..runs {
                let result = engine.execute(
                    &workflow,
                    json!({"size": size, "kind": kind, "fresh": fresh}),
                    &ExecutionOptions::default(),
                );
                let out = result.into_json().expect("execution succeeds");
                assert_eq!(out["size"], json!(size));
                let (steady, after_write) = Python::attach(|py| -> PyResult<(u64, u64)> {
                    let timing = py.import("timing")?;
                    let stamp = |name: &str| -> PyResult<u64> { timing.getattr(name)?.extract() };
                    Ok((
                        stamp("ENTERED_NS")? - stamp("RETURNED_NS")?,
                        stamp("RELAYED_NS")? - stamp("MADE_NS")?,
                    ))
                })
                .expect("timestamps");
                samples.push(steady);
                cold.push(after_write);
            }
            samples.sort_unstable();
            cold.sort_unstable();
            let median = percentile(&samples, 0.5);
            let base = *base.get_or_insert(median);
            println!(
                "{:<17} {label:>8} {runs:>6} {:>12.2} {:>12.2} {:>9.2}x {:>16.2}",
                format!("{kind} {}", if fresh { "fresh" } else { "existing" }),
                median as f64 / 1e3,
                percentile(&samples, 0.9) as f64 / 1e3,
                median as f64 / base as f64,
                percentile(&cold, 0.5) as f64 / 1e3,
            );
        }
    }
}
