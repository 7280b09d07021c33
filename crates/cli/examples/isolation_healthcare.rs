//! Per-execution cost of isolation on the healthcare example, in one warm process: the same
//! engine set-up as `faastlane run --isolation none|process|mpk` (mpk where protection
//! keys work: `MPK_BENCH=1 scripts/test-mpk-qemu.sh` runs this in its guest), the executions
//! interleaved (none, process, mpk, none, ...) so load on the machine hits all alike. Prints
//! the median per mode and the difference per isolated call (the three PHI functions).
//!
//! `cargo run --release -p faastlane --example isolation_healthcare -- [runs] [none,process,mpk]`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{Engine, ExecutionOptions, Runtime, Workflow};
use isolation::{DomainIsolated, ProcessIsolated, isolation_workflow};
use lanes::ServerOptions;
use python_runtime::{PythonOptions, PythonRuntime};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/healthcare");
    let dir = dir.canonicalize().expect("examples/healthcare");
    let text = std::fs::read_to_string(dir.join("workflow.json")).expect("workflow.json");
    let input: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("input.json")).expect("input.json"))
            .expect("input is JSON");
    let workflow = Workflow {
        name: "healthcare".into(),
        machine: asl::load_str(&text).expect("valid workflow"),
    };
    let sensitive: Vec<String> = ["deidentify", "detect_phi", "mask"]
        .map(String::from)
        .to_vec();
    let hosted = isolation_workflow(&workflow.name, &sensitive).expect("isolation workflow");
    // As the CLI: the fork server first, while this process has one thread.
    let server = python_runtime::fork_server::start(
        &dir,
        &hosted,
        &engine::EngineOptions::default(),
        PythonOptions::default().chdir(true),
        ServerOptions {
            idle_workers: 0,
            ..ServerOptions::default()
        },
    )
    .expect("fork server");
    python_runtime::init().expect("python starts");
    let plain: Arc<dyn Runtime> = Arc::new(
        PythonRuntime::with_options(&dir, PythonOptions::default().chdir(true)).expect("runtime"),
    );
    let mut modes = vec![
        ("none", Engine::new(Arc::clone(&plain))),
        (
            "process",
            Engine::new(Arc::new(ProcessIsolated::new(
                Arc::clone(&plain),
                Arc::new(server),
                &hosted.name,
                &sensitive,
            ))),
        ),
    ];
    if mpk::is_supported() {
        let isolated = DomainIsolated::new(Arc::clone(&plain), &sensitive).expect("domains");
        python_runtime::domains::install(isolated.domains()).expect("python in domains");
        let memory = Arc::new(python_runtime::domains::PythonMemory);
        modes.push(("mpk", Engine::new(Arc::new(isolated.with_memory(memory)))));
    } else {
        // No protection keys here: the same domain path over domains that tag no page and
        // write no PKRU (allocator routing, domain heap, hand-off copy, release after each
        // gate): what mpk costs besides the PKRU writes.
        let domains = Arc::new(mpk::Domains::unprotected(15));
        let isolated = DomainIsolated::over(Arc::clone(&plain), &sensitive, Arc::clone(&domains));
        python_runtime::domains::install(&domains).expect("python in domains");
        let memory = Arc::new(python_runtime::domains::PythonMemory);
        modes.push((
            "mpk (no keys)",
            Engine::new(Arc::new(isolated.with_memory(memory))),
        ));
    }
    // A second argument keeps only the modes it names (e.g. `none,mpk` for a profile).
    if let Some(only) = std::env::args().nth(2) {
        modes.retain(|(mode, _)| only.split(',').any(|m| mode.starts_with(m)));
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
    for round in 0..=runs {
        for ((_, engine), samples) in modes.iter().zip(&mut samples) {
            let t = Instant::now();
            let out = engine.execute(&workflow, input.clone(), &ExecutionOptions::default());
            let elapsed = t.elapsed();
            out.into_json().expect("healthcare runs");
            // Round 0 warms up (imports, caches).
            if round > 0 {
                samples.push(elapsed);
            }
        }
    }
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            s[s.len() / 2].as_secs_f64() * 1e3
        })
        .collect();
    for ((mode, _), median) in modes.iter().zip(&medians) {
        println!(
            "healthcare isolation={mode}: {median:.2} ms per execution (median of {runs}), {:+.2} ms per isolated call",
            (median - medians[0]) / sensitive.len() as f64
        );
    }
}
