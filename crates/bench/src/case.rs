//! One case: a workflow, a mode, repeated executions, one [`Record`].
//!
//! A case runs in a process of its own (the CLI starts `faastlane bench --run-case SPEC` for
//! each), so that its peak memory is its own and the baseline's orchestrator never carries an
//! embedded Python interpreter. [`run_case`] is that process's work; tests call it directly.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use engine::lanes::ProcessPool;
use engine::{BranchLanes, Engine, EngineOptions, ExecutionOptions, Runtime, Workflow};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::container::{ContainerOptions, ContainerRuntime, Start};
use crate::error::BenchError;
use crate::memory::{Sampler, Watched};
use crate::record::{Mode, Record, Suite};
use crate::redis_server::RedisServer;
use crate::stats;
use crate::workloads::{CROSSED_FIELD, INTERACTION_FIELD};

/// What a run's sample is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// The workflow reports its own interaction latency (`interaction_ns` in its output).
    Interaction,
    /// The execution's wall time, from `execute` to the output as JSON.
    EndToEnd,
}

/// How the baseline's workers run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BaselineSetup {
    /// The interpreter (faastlane's embedded installation's own `python3.11`).
    pub python: PathBuf,
    /// The workflow's requirements environment, when it has one.
    pub site_packages: Vec<PathBuf>,
}

/// Everything a case process needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseSpec {
    pub suite: Suite,
    pub case: String,
    pub mode: Mode,
    pub workflow_dir: PathBuf,
    pub input: Json,
    /// Checked against the first execution's output.
    pub expected: Option<Json>,
    pub measure: Measure,
    pub warmup: usize,
    pub runs: usize,
    /// Clients executing at once (1: one after the other).
    pub clients: usize,
    pub payload_bytes: Option<u64>,
    pub branches: Option<usize>,
    /// Threads a Parallel or Map state may use.
    pub threads: usize,
    pub baseline: BaselineSetup,
}

impl CaseSpec {
    /// An empty record of this case (its identity: suite, case, mode, size, branches, clients).
    pub fn record(&self) -> Record {
        let mut record = Record::new(self.suite, self.case.clone(), self.mode);
        record.payload_bytes = self.payload_bytes;
        record.branches = self.branches;
        record.clients = self.clients;
        record
    }
}

/// Runs a case in this process. Never fails: a failure is a record that says why.
pub fn run_case(spec: &CaseSpec) -> Record {
    match measure(spec) {
        Ok(record) => record,
        Err(e) => spec.record().failed(e.to_string()),
    }
}

/// The runtime of a mode and what to sample for its memory. Holds the Redis server so that
/// it outlives the workers.
struct Setup {
    runtime: Arc<dyn Runtime>,
    watched: Watched,
    lanes: BranchLanes,
    processes: Option<Arc<dyn ProcessPool>>,
    _redis: Option<RedisServer>,
}

fn setup(spec: &CaseSpec, workflow: &Workflow) -> Result<Setup, BenchError> {
    // The baseline's branches run in parallel in its worker processes, as a platform runs
    // parallel invocations; faastlane's in-process functions share one GIL, so its branches
    // run inline (threads would only add GIL hand-offs: up to a 5 ms switch interval each).
    let lanes = BranchLanes::Threads(spec.threads.max(1));
    match spec.mode {
        Mode::Faastlane => Ok(Setup {
            runtime: faastlane_runtime(spec)?,
            watched: Watched::default(),
            lanes: BranchLanes::Inline,
            processes: None,
            _redis: None,
        }),
        Mode::FaastlaneProcess => faastlane_process_lanes(spec, workflow),
        Mode::BaselineWarm | Mode::BaselineCold => {
            let redis = RedisServer::start()?;
            let runtime = ContainerRuntime::new(ContainerOptions {
                dir: spec.workflow_dir.clone(),
                python: spec.baseline.python.clone(),
                site_packages: spec.baseline.site_packages.clone(),
                redis_port: redis.port(),
                start: if spec.mode == Mode::BaselineWarm {
                    Start::Warm
                } else {
                    Start::Cold
                },
            })?;
            if spec.mode == Mode::BaselineWarm && spec.clients > 1 {
                // As many warm workers per function as there are clients, before the load.
                runtime.prewarm(&workflow.functions(), spec.clients)?;
            }
            let watched = Watched {
                fixed: vec![redis.pid()],
                live: Some(runtime.live_workers()),
                forked: Vec::new(),
            };
            Ok(Setup {
                runtime: Arc::new(runtime),
                watched,
                lanes,
                processes: None,
                _redis: Some(redis),
            })
        }
    }
}

fn faastlane_runtime(spec: &CaseSpec) -> Result<Arc<dyn Runtime>, BenchError> {
    python_runtime::init().map_err(|e| BenchError::Python(e.to_string()))?;
    let options = python_runtime::PythonOptions::default().chdir(true);
    let runtime = python_runtime::PythonRuntime::with_options(&spec.workflow_dir, options)
        .map_err(|e| BenchError::Python(e.to_string()))?;
    Ok(Arc::new(runtime))
}

/// faastlane with Parallel branches and Map iterations forced onto process lanes
/// (`--lanes process`). The fork server starts first, while this process (a case runs in a
/// process of its own) has one thread and no interpreter; the case waits until it has
/// imported the functions, so that no run pays for its start. Its memory and its workers'
/// count in the mode's peak by proportional set size (pages they share copy-on-write count
/// once, split between them).
fn faastlane_process_lanes(spec: &CaseSpec, workflow: &Workflow) -> Result<Setup, BenchError> {
    let server = python_runtime::fork_server::start(
        &spec.workflow_dir,
        workflow,
        &EngineOptions::default(),
        python_runtime::PythonOptions::default().chdir(true),
        lanes::ServerOptions::default(),
    )
    .map_err(|e| BenchError::Execution(format!("cannot start the fork server: {e}")))?;
    server
        .ready()
        .map_err(|e| BenchError::Execution(format!("the fork server did not start: {e}")))?;
    let pid = server.pid();
    Ok(Setup {
        runtime: faastlane_runtime(spec)?,
        watched: Watched {
            fixed: Vec::new(),
            live: None,
            forked: vec![pid],
        },
        lanes: BranchLanes::Process,
        processes: Some(Arc::new(server)),
        _redis: None,
    })
}

fn load_workflow(spec: &CaseSpec) -> Result<Workflow, BenchError> {
    let path = spec.workflow_dir.join("workflow.json");
    let text = std::fs::read_to_string(&path).map_err(|e| BenchError::Workflow {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let machine = asl::load_str(&text).map_err(|diagnostics| BenchError::Workflow {
        path: path.clone(),
        message: diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let name = spec
        .workflow_dir
        .file_name()
        .map_or_else(|| "workflow".into(), |n| n.to_string_lossy().into_owned());
    Ok(Workflow { name, machine })
}

/// A mode set up for a workflow, with its engine, ready to execute.
struct Prepared {
    workflow: Workflow,
    engine: Engine,
    setup: Setup,
}

fn prepare(spec: &CaseSpec) -> Result<Prepared, BenchError> {
    let workflow = load_workflow(spec)?;
    let setup = setup(spec, &workflow)?;
    let engine = Engine::with_options(
        Arc::clone(&setup.runtime),
        EngineOptions {
            lanes: setup.lanes,
            processes: setup.processes.clone(),
            cpus: spec.threads.max(1),
            ..EngineOptions::default()
        },
    );
    engine.prepare(&workflow).map_err(|problems| {
        BenchError::Execution(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    Ok(Prepared {
        workflow,
        engine,
        setup,
    })
}

/// Whether a case runs as one faastlane instance (process) per client: faastlane's modes
/// with concurrent clients. A platform scales a workflow out by instances, one execution
/// each at a time (the paper's deployment: a container per workflow instance), as it scales
/// the baseline's functions out by warm workers; one process serving every client would
/// instead put all of them behind one GIL.
pub fn scales_out(spec: &CaseSpec) -> bool {
    spec.clients > 1 && matches!(spec.mode, Mode::Faastlane | Mode::FaastlaneProcess)
}

/// What one client process of a scaled-out case reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientReport {
    /// Latency of each of its executions, µs.
    pub samples_us: Vec<f64>,
    /// Peak RSS of the client and its helper processes (a fork server and its workers), KiB.
    pub peak_rss_kb: u64,
}

/// One client of a scaled-out case, in a process of its own (see [`scales_out`]): sets the
/// mode up, warms up (checking the first output), then calls `ready`, which returns when
/// every client is ready, and runs its share (`runs / clients`, rounded up) of executions.
pub fn run_client(
    spec: &CaseSpec,
    ready: impl FnOnce() -> std::io::Result<()>,
) -> Result<ClientReport, BenchError> {
    let Prepared {
        workflow,
        engine,
        setup,
    } = prepare(spec)?;
    let sampler = Sampler::start(setup.watched.clone());
    let (output, _) = execute(&engine, &workflow, spec)?;
    check(spec, &output)?;
    for _ in 1..spec.warmup {
        execute(&engine, &workflow, spec)?;
    }
    ready().map_err(|e| BenchError::Execution(format!("waiting for the other clients: {e}")))?;
    let per_client = spec.runs.div_ceil(spec.clients.max(1));
    let samples_us = (0..per_client)
        .map(|_| execute(&engine, &workflow, spec).and_then(|run| sample(spec, run)))
        .collect::<Result<Vec<f64>, BenchError>>()?;
    let helpers_kb = sampler.finish();
    Ok(ClientReport {
        samples_us,
        peak_rss_kb: crate::memory::own_peak_kb().unwrap_or(0) + helpers_kb,
    })
}

/// The record of a scaled-out case: every client's samples, the wall time from the start
/// signal to the last client's end, and the clients' peaks added up.
pub fn scaled_out_record(
    spec: &CaseSpec,
    reports: &[ClientReport],
    wall: Duration,
) -> Result<Record, BenchError> {
    let samples: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.samples_us.iter().copied())
        .collect();
    let summary = stats::summarize(&samples)
        .ok_or_else(|| BenchError::Execution("no samples (runs = 0?)".into()))?;
    let mut record = spec.record().with_summary(&summary);
    record.throughput_per_s = Some(per_second(samples.len(), wall));
    record.peak_rss_kb = Some(reports.iter().map(|r| r.peak_rss_kb).sum());
    record.note = format!(
        "{} faastlane instances (processes), one per client",
        reports.len()
    );
    Ok(record)
}

fn measure(spec: &CaseSpec) -> Result<Record, BenchError> {
    let Prepared {
        workflow,
        engine,
        setup,
    } = prepare(spec)?;
    let sampler = Sampler::start(setup.watched.clone());

    let clients = spec.clients.max(1);
    // The first execution's output is checked: here when there is a warm-up (or clients,
    // whose runs are not checked), else the first measured run (a cold case needs no warm-up).
    let mut checked = false;
    if spec.warmup > 0 || clients > 1 {
        let (output, _) = execute(&engine, &workflow, spec)?;
        check(spec, &output)?;
        checked = true;
    }

    let (samples, wall) = if clients == 1 {
        for _ in 1..spec.warmup {
            execute(&engine, &workflow, spec)?;
        }
        let started = Instant::now();
        let mut samples = Vec::with_capacity(spec.runs);
        for _ in 0..spec.runs {
            let run = execute(&engine, &workflow, spec)?;
            if !checked {
                check(spec, &run.0)?;
                checked = true;
            }
            samples.push(sample(spec, run)?);
        }
        (samples, started.elapsed())
    } else {
        concurrent(&engine, &workflow, spec, clients)?
    };

    let helpers_kb = sampler.finish();
    let own_kb = crate::memory::own_peak_kb().unwrap_or(0);
    let summary = stats::summarize(&samples)
        .ok_or_else(|| BenchError::Execution("no samples (runs = 0?)".into()))?;
    let mut record = spec.record().with_summary(&summary);
    if spec.measure == Measure::EndToEnd {
        record.throughput_per_s = Some(per_second(samples.len(), wall));
    }
    record.peak_rss_kb = Some(own_kb + helpers_kb);
    drop(engine);
    drop(setup);
    Ok(record)
}

/// Runs `spec.runs` executions from `clients` threads at once; latency samples in µs and
/// the wall time of the measured part. Every client warms up first, concurrently, so that a
/// baseline has scaled out to as many warm workers as the load needs before timing starts.
fn concurrent(
    engine: &Engine,
    workflow: &Workflow,
    spec: &CaseSpec,
    clients: usize,
) -> Result<(Vec<f64>, Duration), BenchError> {
    let per_client = spec.runs.div_ceil(clients);
    // Clients that finished warming up, and how many clients there are (known once all are
    // spawned: until then usize::MAX, so nobody starts early).
    let warm = AtomicUsize::new(0);
    let total = AtomicUsize::new(usize::MAX);
    let all_warm = || {
        while warm.load(Ordering::Acquire) < total.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    std::thread::scope(|scope| {
        let client = || {
            let warmup =
                (0..spec.warmup).try_for_each(|_| execute(engine, workflow, spec).map(drop));
            warm.fetch_add(1, Ordering::AcqRel);
            all_warm();
            warmup.and_then(|()| {
                (0..per_client)
                    .map(|_| execute(engine, workflow, spec).and_then(|r| sample(spec, r)))
                    .collect::<Result<Vec<f64>, BenchError>>()
            })
        };
        let handles: Vec<_> = (0..clients)
            .map_while(|_| {
                std::thread::Builder::new()
                    .name("faastlane-client".into())
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, client)
                    .ok()
            })
            .collect();
        total.store(handles.len(), Ordering::Release);
        all_warm();
        let started = Instant::now();
        let mut all = Vec::with_capacity(per_client * clients);
        let mut failure = None;
        for handle in handles {
            match handle.join() {
                Ok(Ok(samples)) => all.extend(samples),
                Ok(Err(e)) => failure = Some(e),
                Err(_) => failure = Some(BenchError::Execution("a client thread panicked".into())),
            }
        }
        let wall = started.elapsed();
        match failure {
            Some(e) => Err(e),
            None if all.is_empty() => Err(BenchError::Execution("no client thread started".into())),
            None => Ok((all, wall)),
        }
    })
}

/// One execution: its output as JSON and its wall time.
fn execute(
    engine: &Engine,
    workflow: &Workflow,
    spec: &CaseSpec,
) -> Result<(Json, Duration), BenchError> {
    let started = Instant::now();
    let result = engine.execute(workflow, spec.input.clone(), &ExecutionOptions::default());
    let output = result
        .into_json()
        .map_err(|e| BenchError::Execution(format!("{}: {}", e.error, e.cause)))?;
    Ok((output, started.elapsed()))
}

fn sample(spec: &CaseSpec, (output, elapsed): (Json, Duration)) -> Result<f64, BenchError> {
    match spec.measure {
        Measure::EndToEnd => Ok(elapsed.as_secs_f64() * 1e6),
        Measure::Interaction => output[INTERACTION_FIELD]
            .as_f64()
            .map(|ns| ns / 1000.0)
            .ok_or_else(|| {
                BenchError::Execution(format!("the output has no {INTERACTION_FIELD}: {output}"))
            }),
    }
}

fn check(spec: &CaseSpec, output: &Json) -> Result<(), BenchError> {
    if let Some(bytes) = spec.payload_bytes
        && spec.measure == Measure::Interaction
    {
        if output["bytes"].as_u64() != Some(bytes) {
            return Err(BenchError::Execution(format!(
                "consume saw {} bytes, not {bytes}",
                output["bytes"]
            )));
        }
        // Only faastlane's in-process mode hands the state over inside one process.
        let should_cross = spec.mode != Mode::Faastlane;
        if output[CROSSED_FIELD].as_bool() != Some(should_cross) {
            return Err(BenchError::Execution(format!(
                "mode {}: consume {} in the process that ran produce ({CROSSED_FIELD}: {})",
                spec.mode.name(),
                if should_cross { "ran" } else { "did not run" },
                output[CROSSED_FIELD]
            )));
        }
    }
    match &spec.expected {
        Some(expected) if expected != output => Err(BenchError::WrongOutput {
            expected: spec.workflow_dir.join("expected.json"),
            detail: first_difference(expected, output, "$"),
        }),
        _ => Ok(()),
    }
}

/// Where two JSON documents first differ, as a path.
fn first_difference(expected: &Json, actual: &Json, path: &str) -> String {
    match (expected, actual) {
        (Json::Object(e), Json::Object(a)) => {
            for (k, v) in e {
                match a.get(k) {
                    Some(w) if v == w => {}
                    Some(w) => return first_difference(v, w, &format!("{path}.{k}")),
                    None => return format!("{path}.{k} is missing"),
                }
            }
            format!("{path} has extra fields")
        }
        (Json::Array(e), Json::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .find(|(_, (v, w))| v != w)
            .map_or_else(
                || path.to_owned(),
                |(i, (v, w))| first_difference(v, w, &format!("{path}[{i}]")),
            ),
        _ => {
            let cut = |j: &Json| j.to_string().chars().take(120).collect::<String>();
            format!("{path}: expected {}, got {}", cut(expected), cut(actual))
        }
    }
}

#[expect(clippy::cast_precision_loss, reason = "run counts are far below 2^52")]
fn per_second(count: usize, wall: Duration) -> f64 {
    count as f64 / wall.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_the_path() {
        let e = json!({"a": {"b": [1, 2, 3]}, "c": 1});
        let a = json!({"a": {"b": [1, 5, 3]}, "c": 1});
        assert_eq!(first_difference(&e, &a, "$"), "$.a.b[1]: expected 2, got 5");
        assert_eq!(
            first_difference(&json!({"x": 1}), &json!({}), "$"),
            "$.x is missing"
        );
    }
}
