//! What the engine itself costs per state, with native functions that do nothing:
//! `cargo bench -p faastlane-engine --bench per_state`.
//!
//! A chain of 100 Task states passing a small JSON object on, executed repeatedly; prints the
//! median time per execution and per state, and the same for Pass states.

use std::sync::Arc;
use std::time::Instant;

use engine::{Engine, ExecutionOptions, NativeRuntime, Workflow};
use serde_json::{Value as Json, json};

fn chain(kind: &str, n: usize) -> Json {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = if kind == "Task" {
            json!({"Type": "Task", "Resource": "echo"})
        } else {
            json!({"Type": "Pass"})
        };
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states})
}

fn main() {
    let runtime = Arc::new(NativeRuntime::new().with("echo", |_, input| Ok(input)));
    let engine = Engine::new(runtime);
    const STATES: usize = 100;
    for kind in ["Task", "Pass"] {
        let machine = asl::load(&chain(kind, STATES)).expect("valid chain");
        let workflow = Workflow {
            name: "bench".into(),
            machine,
        };
        let input = json!({"order": 42, "items": ["a", "b"]});
        let mut samples: Vec<f64> = (0..300)
            .map(|_| {
                let t = Instant::now();
                let r = engine.execute(&workflow, input.clone(), &ExecutionOptions::default());
                assert!(r.outcome.is_ok());
                t.elapsed().as_secs_f64()
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        println!(
            "{kind:<5} chain of {STATES}: median {:>9.1} µs per execution, {:>6.2} µs per state",
            median * 1e6,
            median * 1e6 / STATES as f64
        );
    }
}
