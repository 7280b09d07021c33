//! Process lanes: what they cost, and what they buy.
//!
//! `cargo bench -p faastlane-python --bench lanes` prints medians of:
//! 1. a bare fork+exit+wait of this process (single-threaded, Python started, modules
//!    imported: the size of the fork server), next to the RSS of both;
//! 2. one trivial branch in a fresh worker (spawn, run, result back, decode) against the
//!    same branch inline, in an idle worker kept from the previous state, and per branch in
//!    a warm worker;
//! 3. a 100 MB `bytes` result from a worker, beyond the function's own time, against one
//!    memcpy of 100 MB (into fresh pages and into pages already touched);
//! 4. FINRA-100 (`examples/finra-100`) with `--lanes inline|process|auto` at work=1 (trivial)
//!    and work=50 (heavy), a fresh engine per run (as each CLI run is).
//!
//! No harness: the fork servers must start before any thread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::Value;
use engine::lanes::{ProcessPool, ProcessWorker, WorkerRun};
use engine::wire::{BranchJob, ExecutionWire};
use engine::{
    BranchLanes, CancelToken, Engine, EngineOptions, ExecutionOptions, NoLog, Runtime, Workflow,
};
use lanes::{ForkServer, ServerOptions};
use python_runtime::{PythonOptions, PythonRuntime};
use serde_json::{Value as Json, json};

const MB100: usize = 100 << 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn show(label: &str, samples: Vec<Duration>) -> Duration {
    let n = samples.len();
    let m = median(samples);
    println!("{label:<62} median {:>10.3} ms  ({n} samples)", ms(m));
    m
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load(dir: &Path) -> Workflow {
    Workflow {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        machine: asl::load_str(&std::fs::read_to_string(dir.join("workflow.json")).unwrap())
            .unwrap(),
    }
}

fn python(dir: &Path) -> PythonRuntime {
    PythonRuntime::with_options(
        dir,
        PythonOptions::default()
            .install_requirements(false)
            .init_log(Arc::new(NoLog)),
    )
    .unwrap()
}

fn server(dir: &Path) -> Arc<ForkServer> {
    let python = PythonOptions::default().install_requirements(false);
    let s = python_runtime::fork_server::start(
        dir,
        &load(dir),
        &EngineOptions::default(),
        python,
        ServerOptions::default(),
    )
    .unwrap();
    s.ready().unwrap();
    Arc::new(s)
}

fn job(workflow: &Workflow) -> BranchJob {
    BranchJob {
        workflow: workflow.name.clone(),
        state_index: 0,
        state: "Each".into(),
        prefix: String::new(),
        execution: ExecutionWire {
            arn: "arn".into(),
            name: "bench".into(),
            start_time: "2026-01-01T00:00:00.000Z".into(),
            input: json!({}),
            role_arn: "role".into(),
            state_machine_arn: "sm".into(),
            state_machine_name: "bench".into(),
        },
        deadline_ms: None,
        trace_offset_us: None,
        shared_input: false,
        first_index: 0,
        variables: Default::default(),
    }
}

fn main() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bench_dir = here.join("benches/lanes");
    let finra_dir = here.join("../../examples/finra-100");
    // Before any thread: the fork servers.
    let bench_server = server(&bench_dir);
    let finra_server = server(&finra_dir);

    python_runtime::init().unwrap();
    let runtime = Arc::new(python(&bench_dir));
    let workflow = load(&bench_dir);
    assert!(runtime.prepare(&["make"]).is_empty());
    let codec = runtime.codec();
    let inline_engine = Engine::with_options(runtime.clone(), EngineOptions::default());
    let cancel = CancelToken::new();

    // 1. The floor: fork + _exit + wait of a process this size (still single-threaded).
    let bare = show(
        &format!(
            "bare fork+exit+wait (this process {:.0} MB RSS, server {:.0} MB)",
            rss_mb(std::process::id()),
            rss_mb(bench_server.pid())
        ),
        (0..300).map(|_| lanes::fork_exit_wait().unwrap()).collect(),
    );

    // 2. One trivial branch.
    let n = 2000;
    let items: Vec<Json> = (0..n).map(|_| json!({})).collect();
    let item_values: Vec<Value> = items.iter().cloned().map(Value::Json).collect();
    let refs: Vec<&Value> = item_values.iter().collect();
    let payload = {
        let mut b = bench_server.payload().unwrap();
        codec.encode(&refs, b.as_mut()).unwrap();
        b.finish().unwrap()
    };
    let job = job(&workflow);
    let inline = show(
        "one trivial branch inline (Engine::run_branch)",
        (0..2000)
            .map(|_| {
                let t = Instant::now();
                black_box(
                    inline_engine
                        .run_branch(&workflow, &job, 0, Value::Json(json!({})), &cancel)
                        .outcome
                        .unwrap(),
                );
                t.elapsed()
            })
            .collect(),
    );
    let one = {
        let mut b = bench_server.payload().unwrap();
        codec.encode(&refs[..1], b.as_mut()).unwrap();
        b.finish().unwrap()
    };
    let (mut spawns, mut runs) = (Vec::new(), Vec::new());
    let fresh = show(
        "one trivial branch in a fresh worker (spawn, run, decode, exit)",
        (0..300)
            .map(|_| {
                // No idle worker to reuse: a worker starts (from the pre-forked spare).
                bench_server.retire_idle();
                // As between two Parallel states: the server has time to fork its spare.
                std::thread::sleep(Duration::from_millis(5));
                let t = Instant::now();
                let mut w = bench_server.spawn_worker(&job, &one).unwrap();
                spawns.push(t.elapsed());
                let r = Instant::now();
                let WorkerRun::Finished(report) = w.run(0, None, &cancel, &NoLog) else {
                    panic!("lost")
                };
                black_box(codec.decode(&report.outcome.unwrap()).unwrap());
                runs.push(r.elapsed());
                drop(w);
                t.elapsed()
            })
            .collect(),
    );
    show(
        "  of which: spawn (request, fork, decode inputs, hello)",
        spawns,
    );
    show("  of which: first branch in the new worker", runs);
    println!(
        "  -> process-lane overhead beyond the branch: {:.3} ms = {:.2}x a bare fork+exit+wait",
        ms(fresh.saturating_sub(inline)),
        fresh.saturating_sub(inline).as_secs_f64() / bare.as_secs_f64()
    );
    // The next state's branch, handed to the worker the previous state left idle.
    let (mut takes, mut firsts) = (Vec::new(), Vec::new());
    drop(bench_server.spawn_worker(&job, &one).unwrap());
    let reused = show(
        "one trivial branch in an idle worker kept from the last state",
        (0..300)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(5));
                let t = Instant::now();
                let mut w = bench_server.spawn_worker(&job, &one).unwrap();
                takes.push(t.elapsed());
                let r = Instant::now();
                let WorkerRun::Finished(report) = w.run(0, None, &cancel, &NoLog) else {
                    panic!("lost")
                };
                black_box(codec.decode(&report.outcome.unwrap()).unwrap());
                firsts.push(r.elapsed());
                drop(w);
                t.elapsed()
            })
            .collect(),
    );
    show("  of which: hand-over (job, decode inputs, hello)", takes);
    show("  of which: the branch", firsts);
    println!(
        "  -> process-lane overhead beyond the branch: {:.3} ms = {:.2}x a bare fork+exit+wait",
        ms(reused.saturating_sub(inline)),
        reused.saturating_sub(inline).as_secs_f64() / bare.as_secs_f64()
    );
    let mut warm = bench_server.spawn_worker(&job, &payload).unwrap();
    let per_branch = show(
        "one trivial branch in a warm worker (run, result, decode)",
        (0..n)
            .map(|i| {
                let t = Instant::now();
                let WorkerRun::Finished(report) = warm.run(i, None, &cancel, &NoLog) else {
                    panic!("lost")
                };
                black_box(codec.decode(&report.outcome.unwrap()).unwrap());
                t.elapsed()
            })
            .collect(),
    );
    println!(
        "  -> per-branch hand-off in a warm worker: {:.3} ms",
        ms(per_branch.saturating_sub(inline))
    );
    drop(warm);

    // 3. 100 MB of bytes back from a worker.
    let big = Value::Json(json!({"size": MB100}));
    let big_payload = {
        let mut b = bench_server.payload().unwrap();
        codec.encode(&[&big], b.as_mut()).unwrap();
        b.finish().unwrap()
    };
    let make_inline = show(
        "make 100 MB bytes inline (the function's own time)",
        (0..15)
            .map(|_| {
                let t = Instant::now();
                black_box(
                    inline_engine
                        .run_branch(&workflow, &job, 0, big.clone(), &cancel)
                        .outcome
                        .unwrap(),
                );
                t.elapsed()
            })
            .collect(),
    );
    let mut decodes = Vec::new();
    let from_worker = show(
        "100 MB bytes result from a warm worker (run, map, decode)",
        (0..15)
            .map(|_| {
                let mut w = bench_server.spawn_worker(&job, &big_payload).unwrap();
                let t = Instant::now();
                let WorkerRun::Finished(report) = w.run(0, None, &cancel, &NoLog) else {
                    panic!("lost")
                };
                let d = Instant::now();
                let v = codec.decode(&report.outcome.unwrap()).unwrap();
                decodes.push(d.elapsed());
                let took = t.elapsed();
                drop(v);
                took
            })
            .collect(),
    );
    show(
        "  of which: decode in this process (map, copy into bytes)",
        decodes,
    );
    let source = vec![1u8; MB100];
    let memcpy_fresh = show(
        "memcpy 100 MB into fresh pages (Vec clone)",
        (0..15)
            .map(|_| {
                let t = Instant::now();
                let copy = black_box(source.clone());
                let took = t.elapsed();
                drop(copy);
                took
            })
            .collect(),
    );
    let mut target = vec![0u8; MB100];
    let memcpy_warm = show(
        "memcpy 100 MB into touched pages",
        (0..15)
            .map(|_| {
                let t = Instant::now();
                target.copy_from_slice(black_box(&source));
                black_box(&target);
                t.elapsed()
            })
            .collect(),
    );
    let transfer = from_worker.saturating_sub(make_inline);
    println!(
        "  -> transfer beyond the function: {:.1} ms = {:.2}x memcpy into fresh pages, {:.2}x into touched pages",
        ms(transfer),
        transfer.as_secs_f64() / memcpy_fresh.as_secs_f64(),
        transfer.as_secs_f64() / memcpy_warm.as_secs_f64()
    );
    drop((source, target));

    // 4. FINRA-100.
    let finra = load(&finra_dir);
    let finra_runtime: Arc<dyn Runtime> = Arc::new(python(&finra_dir));
    let input: Json =
        serde_json::from_str(&std::fs::read_to_string(finra_dir.join("input.json")).unwrap())
            .unwrap();
    for work in [1, 50] {
        let mut input = input.clone();
        input["work"] = json!(work);
        let mut medians = Vec::new();
        for (label, lanes) in [
            ("inline", BranchLanes::Inline),
            ("process", BranchLanes::Process),
            ("auto", BranchLanes::Auto),
        ] {
            let samples = (0..9)
                .map(|_| {
                    let engine = Engine::with_options(
                        Arc::clone(&finra_runtime),
                        EngineOptions {
                            lanes,
                            processes: Some(Arc::clone(&finra_server) as Arc<dyn ProcessPool>),
                            cpus: lanes::cpus::usable().usable,
                            ..EngineOptions::default()
                        },
                    );
                    let t = Instant::now();
                    let out = engine.execute(&finra, input.clone(), &ExecutionOptions::default());
                    let took = t.elapsed();
                    out.into_json().unwrap();
                    took
                })
                .collect();
            medians.push(show(
                &format!("FINRA-100 work={work} --lanes {label} (whole execution)"),
                samples,
            ));
        }
        println!(
            "  -> work={work}: process {:.2}x faster than inline, auto {:.2}x",
            medians[0].as_secs_f64() / medians[1].as_secs_f64(),
            medians[0].as_secs_f64() / medians[2].as_secs_f64()
        );
    }
}
