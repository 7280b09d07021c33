//! The `platform` suite: what the OpenWhisk and Lambda runtimes cost around a workflow.
//!
//! - **Cold start**: from spawning `faastlane openwhisk` (or `faastlane lambda`) to the first
//!   activation's response, for a workflow without functions (the runtime alone) and for a
//!   one-function Python action (plus the interpreter's start and the module's import).
//! - **Warm activation**: the round trip of one more activation once the action is ready,
//!   for a workflow whose own work is negligible (one Pass state; one Python function that
//!   returns its input): what the runtime adds per request, with loopback HTTP included.
//!
//! OpenWhisk is driven through its `/init` and `/run`; Lambda through a Runtime API served
//! here (axum on loopback) that hands out events and times the responses, so that no
//! emulator's polling is measured.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
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

const NOOP_PYTHON: &str = "def main(args):\n    return args\n";

fn pass_workflow() -> String {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()
}

fn python_workflow() -> String {
    json!({"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": "noop", "End": true}}})
        .to_string()
}

/// Every case: OpenWhisk and Lambda, cold and warm, without and with Python.
pub fn run(options: &PlatformOptions) -> Result<Vec<PlatformCase>, PlatformBenchError> {
    let mut cases = Vec::new();
    let mut add = |name: &str, samples: Vec<f64>| {
        if let Some(summary) = summarize(&samples) {
            cases.push(PlatformCase {
                name: name.to_owned(),
                summary,
            });
        }
    };
    let pass = zip_b64(&[("workflow.json", &pass_workflow())])?;
    let pass_init = json!({"value": {"name": "pass", "code": pass, "binary": true}});
    let python_init = json!({"value": {"name": "noop", "code": NOOP_PYTHON, "main": "main"}});
    for (label, init) in [("pass", &pass_init), ("python", &python_init)] {
        let mut cold = Vec::new();
        for i in 0..options.cold_runs {
            let work = options.scratch.join(format!("ow-{label}-{i}"));
            cold.push(openwhisk_cold(options, &work, init)?);
        }
        add(&format!("openwhisk cold start ({label})"), cold);
        let work = options.scratch.join(format!("ow-{label}-warm"));
        add(
            &format!("openwhisk warm activation ({label})"),
            openwhisk_warm(options, &work, init)?,
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
        let (cold, warm) = lambda(options, &dir)?;
        add(&format!("lambda cold start ({label})"), cold);
        add(&format!("lambda warm activation ({label})"), warm);
    }
    Ok(cases)
}

/// A markdown table of the cases.
pub fn table(cases: &[PlatformCase]) -> String {
    let mut out = String::from("| case | runs | median | p90 | min |\n|---|---|---|---|---|\n");
    for c in cases {
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
    out
}

fn human(us: f64) -> String {
    if us >= 1000.0 {
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
    let mut response = agent
        .post(url)
        .content_type("application/json")
        .send(body.to_string())
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
    serde_json::from_str(&text).map_err(|e| PlatformBenchError::Protocol(format!("{url}: {e}")))
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

fn openwhisk_warm(
    options: &PlatformOptions,
    work: &Path,
    init: &Json,
) -> Result<Vec<f64>, PlatformBenchError> {
    let agent = agent();
    let (_child, url) = start_openwhisk(options, work)?;
    post(&agent, &format!("{url}/init"), init)?;
    let run = format!("{url}/run");
    let body = json!({"value": {"n": 1}, "activation_id": "a", "namespace": "ns"});
    for _ in 0..options.warm_runs.min(100) {
        post(&agent, &run, &body)?;
    }
    let mut samples = Vec::with_capacity(options.warm_runs);
    for _ in 0..options.warm_runs {
        let t = Instant::now();
        post(&agent, &run, &body)?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(samples)
}

/// The Runtime API side: events waiting to be handed out, and when each answer arrived.
#[derive(Default)]
struct RuntimeApi {
    pending: Mutex<Vec<(String, Json)>>,
    answered: Mutex<Vec<(String, Instant)>>,
    /// Wakes a `next` waiting for an event.
    ready: tokio::sync::Notify,
}

async fn next(
    axum::extract::State(api): axum::extract::State<Arc<RuntimeApi>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    loop {
        let notified = api.ready.notified();
        let event = api.pending.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some((id, event)) = event {
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(600))
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            return (
                [
                    ("Lambda-Runtime-Aws-Request-Id", id),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                ],
                event.to_string(),
            )
                .into_response();
        }
        notified.await;
    }
}

async fn response(
    axum::extract::State(api): axum::extract::State<Arc<RuntimeApi>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> &'static str {
    api.answered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, Instant::now()));
    ""
}

impl RuntimeApi {
    fn push(&self, id: String) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, json!({"n": 1})));
        self.ready.notify_one();
    }

    /// Waits (at most a minute) for the answer to `id`.
    fn wait(&self, id: &str) -> Result<Instant, PlatformBenchError> {
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            if let Some((_, at)) = self
                .answered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|(i, _)| i == id)
            {
                return Ok(*at);
            }
            std::thread::yield_now();
        }
        Err(PlatformBenchError::Protocol(format!(
            "no answer to invocation {id} within a minute"
        )))
    }
}

/// Cold starts and warm activations of `faastlane lambda` on `dir`.
fn lambda(
    options: &PlatformOptions,
    dir: &Path,
) -> Result<(Vec<f64>, Vec<f64>), PlatformBenchError> {
    let api = Arc::new(RuntimeApi::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr: SocketAddr = listener.local_addr()?;
    let app = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            axum::routing::get(next),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            axum::routing::post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            axum::routing::post(response),
        )
        .with_state(Arc::clone(&api));
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let spawn = || {
        Command::new(&options.exe)
            .arg("lambda")
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
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
        let id = format!("cold-{i}");
        api.push(id.clone());
        let started = Instant::now();
        let _child = spawn()?;
        let at = api.wait(&id)?;
        cold.push(at.duration_since(started).as_secs_f64() * 1e6);
    }
    let _child = spawn()?;
    let mut warm = Vec::with_capacity(options.warm_runs);
    for i in 0..options.warm_runs + options.warm_runs.min(100) {
        let id = format!("warm-{i}");
        let started = Instant::now();
        api.push(id.clone());
        let at = api.wait(&id)?;
        if i >= options.warm_runs.min(100) {
            warm.push(at.duration_since(started).as_secs_f64() * 1e6);
        }
    }
    Ok((cold, warm))
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
