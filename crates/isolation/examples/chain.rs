//! End-to-end cost of isolation on a healthcare-shaped chain of four native functions
//! (detect -> mask -> deidentify -> analytics, a few KB of JSON state): one execution with
//! isolation none, process (each call in a fresh fork-server worker) and mpk (a domain per
//! function; needs PKU, e.g. the QEMU guest of `scripts/test-mpk-qemu.sh` with
//! `MPK_BENCH=1`). Prints the median of `runs` executions per mode, the modes interleaved.
//!
//! `cargo run --release -p faastlane-isolation --example chain -- [runs]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::{StatesError, Value};
use engine::{Engine, ExecutionOptions, NativeRuntime, Runtime, Workflow};
use isolation::{DomainIsolated, ProcessIsolated, isolation_workflow};
use lanes::{ForkServer, Host, ServerOptions};
use serde_json::{Value as Json, json};

const FUNCTIONS: [&str; 4] = ["detect", "mask", "deidentify", "analytics"];

fn step(call: &engine::Call<'_>, input: Value) -> Result<Value, StatesError> {
    let mut j = input.to_json().unwrap_or(Json::Null);
    if let Some(private) = isolation::alloc_private(256) {
        // SAFETY: a fresh 256-byte private allocation: the function's scratch memory.
        unsafe { private.as_ptr().write_bytes(7, 256) };
    }
    j["steps"] = json!(j["steps"].as_u64().unwrap_or(0) + 1);
    j["last"] = json!(call.function);
    Ok(Value::Json(j))
}

fn native() -> NativeRuntime {
    let mut r = NativeRuntime::new();
    for f in FUNCTIONS {
        r.register(f, step);
    }
    r
}

/// Medians per mode of `runs` rounds, each round running every mode once (interleaved, so a
/// load that comes and goes on the machine hits every mode alike).
fn medians(
    runs: usize,
    modes: &[(&str, Engine)],
    workflow: &Workflow,
    input: &Json,
) -> Vec<Duration> {
    let mut samples = vec![Vec::with_capacity(runs); modes.len()];
    for _ in 0..runs {
        for ((_, engine), samples) in modes.iter().zip(&mut samples) {
            let t = Instant::now();
            let out = engine.execute(workflow, input.clone(), &ExecutionOptions::default());
            samples.push(t.elapsed());
            assert!(out.into_json().is_ok(), "the chain failed");
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort();
            s[runs / 2]
        })
        .collect()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let names: Vec<String> = FUNCTIONS.iter().map(|f| f.to_string()).collect();
    let hosted = isolation_workflow("chain", &names).expect("isolation workflow");
    let server_workflow = hosted.clone();
    let server = ForkServer::start(
        ServerOptions {
            idle_workers: 0,
            ..ServerOptions::default()
        },
        move || {
            Ok(Host {
                workflow: server_workflow,
                runtime: Arc::new(native()),
                options: engine::EngineOptions::default(),
                fork_hooks: None,
            })
        },
    )
    .expect("fork server");
    let mut states = serde_json::Map::new();
    for (i, f) in FUNCTIONS.iter().enumerate() {
        let mut s = json!({"Type": "Task", "Resource": f});
        match FUNCTIONS.get(i + 1) {
            Some(next) => s["Next"] = json!(next.to_uppercase()),
            None => s["End"] = json!(true),
        }
        states.insert(f.to_uppercase(), s);
    }
    let workflow = Workflow {
        name: "chain".into(),
        machine: asl::load(&json!({"StartAt": "DETECT", "States": states})).expect("chain"),
    };
    let notes: Vec<Json> = (0..20)
        .map(|i| json!({"id": i, "text": "Patient Jane Roe, DOB 1931-02-03, phone 555-0100, MRN 88231, seen for hypertension."}))
        .collect();
    let input = json!({"notes": notes});
    let plain: Arc<dyn Runtime> = Arc::new(native());
    let mut modes: Vec<(&str, Engine)> = vec![
        ("none", Engine::new(Arc::clone(&plain))),
        (
            "process",
            Engine::new(Arc::new(ProcessIsolated::new(
                Arc::clone(&plain),
                Arc::new(server),
                &hosted.name,
                &names,
            ))),
        ),
    ];
    match DomainIsolated::new(Arc::clone(&plain), &names) {
        Ok(domains) => modes.push(("mpk", Engine::new(Arc::new(domains)))),
        Err(e) => println!("chain: no mpk mode: {e}"),
    }
    let medians = medians(runs, &modes, &workflow, &input);
    let none = medians[0];
    for ((mode, _), d) in modes.iter().zip(medians) {
        let per_call = (d.as_secs_f64() - none.as_secs_f64()) * 1e6 / FUNCTIONS.len() as f64;
        println!(
            "chain isolation={mode}: {:.1} us per execution (median of {runs}, modes interleaved), {per_call:+.1} us per isolated call",
            d.as_secs_f64() * 1e6
        );
    }
}
