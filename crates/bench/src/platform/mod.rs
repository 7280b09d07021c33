//! The `platform` suite: what the OpenWhisk and Lambda runtimes cost around a workflow.
//!
//! - **Cold start**: from spawning `faastlane openwhisk` (or `faastlane lambda`) to the first
//!   activation's response, for a workflow without functions (the runtime alone) and for a
//!   one-function Python action (plus the interpreter's start and the module's import). The
//!   module's import is also timed on its own ([`imports`]), so that faastlane's share of a
//!   cold start is the cold start minus the workflow's imports.
//! - **Warm activation**: the round trip of one more activation once the action is ready,
//!   for a workflow whose own work is negligible (one Pass state; one Python function that
//!   returns its input), beside the [`floor`]: the same client and bytes against a peer that
//!   does no work, measured alternately with it. Overhead is the round trip's median minus
//!   the floor's.
//!
//! OpenWhisk is driven through its `/init` and `/run`; Lambda through a Runtime API served
//! here ([`runtime_api`]) that hands out events and times the responses, so that no
//! emulator's polling is measured.

mod floor;
mod imports;
mod runtime_api;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::stats::{Summary, summarize};

/// Why the suite could not measure.
#[derive(Debug, thiserror::Error)]
pub enum PlatformBenchError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How much to measure.
#[derive(Clone, Debug)]
pub struct PlatformOptions {
    /// The `faastlane` binary.
    pub exe: PathBuf,
    pub scratch: PathBuf,
    /// Cold starts per case.
    pub cold_runs: usize,
    /// Warm activations per case.
    pub warm_runs: usize,
}

/// One measured case.
#[derive(Clone, Debug)]
pub struct PlatformCase {
    pub name: String,
    pub summary: Summary,
}

/// What the suite measured.
#[derive(Clone, Debug, Default)]
pub struct PlatformReport {
    /// Every case's samples: cold starts, warm round trips and their floors.
    pub cases: Vec<PlatformCase>,
    /// Warm overheads: `(case, round trip median, floor median)`, in microseconds.
    pub overheads: Vec<(String, f64, f64)>,
    /// Cold starts split: `(case, cold start median, the workflow's imports median)`.
    pub cold_splits: Vec<(String, f64, f64)>,
}

impl PlatformReport {
    /// Adds a case; its median, when it has samples.
    fn add(&mut self, name: &str, samples: &[f64]) -> Option<f64> {
        let summary = summarize(samples)?;
        self.cases.push(PlatformCase {
            name: name.to_owned(),
            summary,
        });
        Some(summary.median_us)
    }

    /// Adds a warm case and its floor, and their difference.
    fn add_warm(&mut self, name: &str, warm: &[f64], floor_name: &str, floor: &[f64]) {
        if let (Some(warm), Some(floor)) = (self.add(name, warm), self.add(floor_name, floor)) {
            self.overheads.push((name.to_owned(), warm, floor));
        }
    }

    /// Adds a cold case and its split; `imports` is `None` for a workflow without modules.
    fn add_cold(&mut self, name: &str, cold: &[f64], imports: Option<Option<f64>>) {
        let cold = self.add(name, cold);
        let imports = match imports {
            None => Some(0.0),
            Some(median) => median,
        };
        if let (Some(cold), Some(imports)) = (cold, imports) {
            self.cold_splits.push((name.to_owned(), cold, imports));
        }
    }
}

const NOOP_PYTHON: &str = "def main(args):\n    return args\n";

fn pass_workflow() -> String {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()
}

fn python_workflow() -> String {
    json!({"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": "noop", "End": true}}})
        .to_string()
}

/// Every case: OpenWhisk and Lambda, cold and warm, without and with Python; the floors and
/// the Python module's import on its own.
pub fn run(options: &PlatformOptions) -> Result<PlatformReport, PlatformBenchError> {
    let mut report = PlatformReport::default();
    let module_dir = options.scratch.join("python-module");
    std::fs::create_dir_all(&module_dir)?;
    std::fs::write(module_dir.join("noop.py"), NOOP_PYTHON)?;
    let import = imports::import_times(&module_dir, "noop", options.cold_runs)?;
    let starts = imports::interpreter_starts(&import.executable, options.cold_runs)?;
    let import = report.add(
        &format!(
            "import of the workflow's module alone (python3 {})",
            import.version
        ),
        &import.samples,
    );
    let imports = |label: &str| (label == "python").then_some(import);
    report.add(
        "python3 -c pass, spawn to exit (the interpreter's own start, for reference)",
        &starts,
    );

    let pass = zip_b64(&[("workflow.json", &pass_workflow())])?;
    let pass_init = json!({"value": {"name": "pass", "code": pass, "binary": true}});
    let python_init = json!({"value": {"name": "noop", "code": NOOP_PYTHON, "main": "main"}});
    for (label, init) in [("pass", &pass_init), ("python", &python_init)] {
        let mut cold = Vec::new();
        for i in 0..options.cold_runs {
            let work = options.scratch.join(format!("ow-{label}-{i}"));
            cold.push(openwhisk_cold(options, &work, init)?);
        }
        report.add_cold(
            &format!("openwhisk cold start ({label})"),
            &cold,
            imports(label),
        );
        let work = options.scratch.join(format!("ow-{label}-warm"));
        let (warm, floor) = openwhisk_warm(options, &work, init)?;
        report.add_warm(
            &format!("openwhisk warm activation ({label})"),
            &warm,
            &format!("openwhisk null server ({label} bytes)"),
            &floor,
        );
    }
    for label in ["pass", "python"] {
        let dir = options.scratch.join(format!("lambda-{label}"));
        std::fs::create_dir_all(&dir)?;
        if label == "pass" {
            std::fs::write(dir.join("workflow.json"), pass_workflow())?;
        } else {
            std::fs::write(dir.join("workflow.json"), python_workflow())?;
            std::fs::write(dir.join("noop.py"), NOOP_PYTHON)?;
        }
        let samples = lambda(options, &dir, label)?;
        report.add_cold(
            &format!("lambda cold start ({label})"),
            &samples.cold,
            imports(label),
        );
        report.add_warm(
            &format!("lambda warm activation ({label})"),
            &samples.warm,
            &format!("lambda null runtime ({label})"),
            &samples.floor,
        );
    }
    Ok(report)
}

/// The report as Markdown: every case, then the warm overheads and the cold-start splits.
pub fn table(report: &PlatformReport) -> String {
    let mut out = String::from("| case | runs | median | p90 | min |\n|---|---|---|---|---|\n");
    for c in &report.cases {
        let s = &c.summary;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.name,
            s.runs,
            human(s.median_us),
            human(s.p90_us),
            human(s.min_us)
        ));
    }
    difference_table(
        &mut out,
        "Warm overhead (median round trip minus the median of the same client and bytes \
         against a peer that does no work, measured alternately)",
        ["round trip", "floor", "overhead"],
        &report.overheads,
    );
    difference_table(
        &mut out,
        "Cold start split (median spawn to first answer, minus the median import of the \
         workflow's modules timed on their own)",
        ["cold start", "workflow's imports", "faastlane's own"],
        &report.cold_splits,
    );
    out
}

/// A titled table of `(case, a, b)` rows with a third column `a - b`.
fn difference_table(
    out: &mut String,
    title: &str,
    columns: [&str; 3],
    rows: &[(String, f64, f64)],
) {
    let [a, b, difference] = columns;
    out.push_str(&format!(
        "\n{title}:\n\n| case | {a} | {b} | {difference} |\n|---|---|---|---|\n"
    ));
    for (name, a, b) in rows {
        out.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            human(*a),
            human(*b),
            human(a - b)
        ));
    }
}

fn human(us: f64) -> String {
    if us.abs() >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// A child killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, url: &str, body: &Json) -> Result<Json, PlatformBenchError> {
    let text = post_text(agent, url, &body.to_string())?;
    serde_json::from_str(&text).map_err(|e| PlatformBenchError::Protocol(format!("{url}: {e}")))
}

/// Posts JSON text; the answer's text, or an error naming the URL and status.
fn post_text(agent: &ureq::Agent, url: &str, body: &str) -> Result<String, PlatformBenchError> {
    let mut response = agent
        .post(url)
        .content_type("application/json")
        .send(body)
        .map_err(|e| PlatformBenchError::Protocol(format!("{url}: {e}")))?;
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| PlatformBenchError::Protocol(format!("{url}: {e}")))?;
    if !status.is_success() {
        return Err(PlatformBenchError::Protocol(format!(
            "{url}: status {status}: {text}"
        )));
    }
    Ok(text)
}

/// Starts `faastlane openwhisk` on a free port; returns it with its URL once it listens.
fn start_openwhisk(
    options: &PlatformOptions,
    work: &Path,
) -> Result<(Killed, String), PlatformBenchError> {
    let mut child = Command::new(&options.exe)
        .args([
            "openwhisk",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--work-dir",
        ])
        .arg(work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PlatformBenchError::Spawn {
            program: options.exe.display().to_string(),
            source,
        })?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| PlatformBenchError::Protocol("no stderr".into()))?;
    let child = Killed(child);
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().ok_or_else(|| {
            PlatformBenchError::Protocol("faastlane openwhisk exited before listening".into())
        })??;
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_owned();
        }
    };
    // Keep draining stderr so the runtime never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, url))
}

/// Spawn to the first `/run` answer, in microseconds.
fn openwhisk_cold(
    options: &PlatformOptions,
    work: &Path,
    init: &Json,
) -> Result<f64, PlatformBenchError> {
    let agent = agent();
    let started = Instant::now();
    let (_child, url) = start_openwhisk(options, work)?;
    post(&agent, &format!("{url}/init"), init)?;
    post(&agent, &format!("{url}/run"), &json!({"value": {"n": 1}}))?;
    Ok(started.elapsed().as_secs_f64() * 1e6)
}

/// Warm `/run` round trips, alternated one for one with the same request to a
/// [`floor::NullServer`] answering the runtime's own answer: `(runtime, floor)` samples.
fn openwhisk_warm(
    options: &PlatformOptions,
    work: &Path,
    init: &Json,
) -> Result<(Vec<f64>, Vec<f64>), PlatformBenchError> {
    let agent = agent();
    let (_child, url) = start_openwhisk(options, work)?;
    post(&agent, &format!("{url}/init"), init)?;
    let run = format!("{url}/run");
    let body = json!({"value": {"n": 1}, "activation_id": "a", "namespace": "ns"}).to_string();
    let answer = post_text(&agent, &run, &body)?;
    let null = floor::NullServer::start(answer.into_bytes())?;
    let null_run = format!("{}/run", null.url);
    for _ in 0..options.warm_runs.min(100) {
        post_text(&agent, &run, &body)?;
        post_text(&agent, &null_run, &body)?;
    }
    let mut samples = Vec::with_capacity(options.warm_runs);
    let mut floor = Vec::with_capacity(options.warm_runs);
    for _ in 0..options.warm_runs {
        let t = Instant::now();
        post_text(&agent, &run, &body)?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        post_text(&agent, &null_run, &body)?;
        floor.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok((samples, floor))
}

/// What [`lambda`] measured, in microseconds.
struct LambdaSamples {
    cold: Vec<f64>,
    warm: Vec<f64>,
    /// A [`floor::NullRuntime`]'s round trips, alternated one for one with `warm`.
    floor: Vec<f64>,
}

/// Cold starts and warm activations of `faastlane lambda` on `dir`, the warm ones alternated
/// with a [`floor::NullRuntime`] polling a second Runtime API of the same kind.
fn lambda(
    options: &PlatformOptions,
    dir: &Path,
    label: &str,
) -> Result<LambdaSamples, PlatformBenchError> {
    let served = runtime_api::serve()?;
    let api = &served.api;
    let spawn = || {
        Command::new(&options.exe)
            .arg("lambda")
            .env("AWS_LAMBDA_RUNTIME_API", served.addr.to_string())
            .env("LAMBDA_TASK_ROOT", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Killed)
            .map_err(|source| PlatformBenchError::Spawn {
                program: options.exe.display().to_string(),
                source,
            })
    };
    let mut cold = Vec::new();
    for i in 0..options.cold_runs {
        let id = format!("cold-{label}-{i}");
        api.push(id.clone());
        let started = Instant::now();
        let _child = spawn()?;
        let at = api.wait(&id)?;
        cold.push(at.duration_since(started).as_secs_f64() * 1e6);
    }
    let _child = spawn()?;
    let null_api = runtime_api::serve()?;
    let null = floor::NullRuntime::start(null_api.addr, Arc::clone(&null_api.api));
    let warmup = options.warm_runs.min(100);
    let mut warm = Vec::with_capacity(options.warm_runs);
    let mut floor = Vec::with_capacity(options.warm_runs);
    for i in 0..warmup + options.warm_runs {
        let runtime = api.round_trip(format!("warm-{label}-{i}"))?;
        let null = null_api.api.round_trip(format!("floor-{label}-{i}"))?;
        if i >= warmup {
            warm.push(runtime);
            floor.push(null);
        }
    }
    null.stop()?;
    Ok(LambdaSamples { cold, warm, floor })
}

/// A base64 zip of `files`, as `/init` takes a binary action.
fn zip_b64(files: &[(&str, &str)]) -> Result<String, PlatformBenchError> {
    use base64::Engine as _;
    use std::io::Write;
    let mut bytes = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut bytes));
        for (name, text) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .map_err(|e| PlatformBenchError::Protocol(e.to_string()))?;
            zip.write_all(text.as_bytes())?;
        }
        zip.finish()
            .map_err(|e| PlatformBenchError::Protocol(e.to_string()))?;
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
