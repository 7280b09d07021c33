//! The `serve` suite of `faastlane bench`: StartSyncExecution under load from a real HTTP load
//! generator (Debian's `wrk`), against the same workflow run in-process (its own time) and
//! through the warm container-per-function baseline.
//!
//! Cases: a trivial three-Pass workflow (runs in the server process) and a three-Task Python
//! workflow (runs in executor processes), each at 1 connection (latency) and at `--clients`
//! connections (throughput); then an optional soak of the Python workflow
//! (`--soak-seconds`) in 10-second slices,
//! counting errors and sampling the resident memory of the server and its executors.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{Engine, ExecutionOptions, NativeRuntime, Runtime, Workflow};

use crate::error::BenchError;

/// Why the serve suite could not measure.
#[derive(Debug, thiserror::Error)]
pub enum ServeBenchError {
    /// Setting up or driving the server, wrk or a reference run failed.
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Bench(#[from] BenchError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

type Result<T> = std::result::Result<T, ServeBenchError>;

macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(ServeBenchError::Setup(format!($($arg)*)))
    };
}

/// Adds what was being done to an error or a missing value.
trait Context<T> {
    fn context(self, what: &str) -> Result<T>;
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| ServeBenchError::Setup(format!("{what}: {e}")))
    }
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| ServeBenchError::Setup(format!("{}: {e}", what())))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &str) -> Result<T> {
        self.ok_or_else(|| ServeBenchError::Setup(what.to_string()))
    }
    fn with_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| ServeBenchError::Setup(what()))
    }
}

/// What the suite runs with.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The `faastlane` binary (its `serve` subcommand is measured).
    pub exe: PathBuf,
    /// Shorter runs.
    pub quick: bool,
    /// Connections of the throughput runs and the soak.
    pub connections: usize,
    /// Seconds of soak after the cases (0: none).
    pub soak_seconds: u64,
    /// The command line that ran the suite, for the report.
    pub command: String,
}

const PASS3: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"C"},"C":{"Type":"Pass","End":true}}}"#;
const TASK3: &str = r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"step","Next":"B"},"B":{"Type":"Task","Resource":"step","Next":"C"},"C":{"Type":"Task","Resource":"step","End":true}}}"#;
const STEP_PY: &str =
    "def handler(event, context):\n    event[\"n\"] = event.get(\"n\", 0) + 1\n    return event\n";
const INPUT: &str = r#"{"n": 0}"#;

/// One wrk run's figures.
#[derive(Debug)]
struct Load {
    requests: u64,
    seconds: f64,
    errors: u64,
    p50_us: f64,
    p99_us: f64,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// The server under test; killed on drop.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the suite and returns its report (Markdown).
pub fn run(args: &ServeOptions) -> Result<String> {
    let wrk = ensure_wrk()?;
    let load_before = crate::report::load_average();
    let scratch = tempfile::Builder::new()
        .prefix("faastlane-bench-serve-")
        .tempdir()
        .context("creating a scratch directory")?;
    let functions = scratch.path().join("functions");
    std::fs::create_dir(&functions)?;
    std::fs::write(functions.join("step.py"), STEP_PY)?;
    let seconds = if args.quick { 5 } else { 15 };
    let clients = args.connections.max(1);

    // In-process reference first (before the server starts competing for the CPUs).
    let pass_own = in_process(PASS3, &functions, false, 20_000)?;
    let task_own = in_process(TASK3, &functions, true, 5_000)?;
    let warm = warm_baseline(&functions, if args.quick { 500 } else { 2_000 })?;

    let server = start_server(&args.exe, &functions, scratch.path())?;
    let pass_arn = create(server.addr, "pass3", PASS3)?;
    let task_arn = create(server.addr, "task3", TASK3)?;
    let mut rows = Vec::new();
    for (label, arn, own) in [
        ("3 Pass states (in the server)", &pass_arn, &pass_own),
        ("3 Python Tasks (in executors)", &task_arn, &task_own),
    ] {
        let script = lua(scratch.path(), arn)?;
        // Warm-up: executors start and import the function.
        run_wrk(&wrk, &script, server.addr, 1, 2)?;
        let one = run_wrk(&wrk, &script, server.addr, 1, seconds)?;
        let many = run_wrk(&wrk, &script, server.addr, clients, seconds)?;
        rows.push((label, one, many, own.0, own.1));
    }
    let soak = soak(
        &wrk,
        &scratch,
        &server,
        &pass_arn,
        clients,
        args.soak_seconds,
    )?;
    drop(server);

    let mut md = String::new();
    md.push_str(&format!(
        "# faastlane serve: StartSyncExecution under load\n\n{}; `wrk` over loopback, 1 thread; \
         load average before: {}. Command: `{}`.\n\n",
        crate::report::machine_description(),
        load_before,
        args.command
    ));
    md.push_str("| workflow | own time in-process p50 | 1 connection p50 / p99 | server time beyond the workflow (p50) | executions/s at 1 | executions/s at ");
    md.push_str(&format!(
        "{clients} | p50 / p99 at {clients} | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
    ));
    for (label, one, many, own_p50, _) in &rows {
        md.push_str(&format!(
            "| {label} | {own_p50:.1} µs | {:.0} / {:.0} µs | {:.0} µs | {:.0} | {:.0} | {:.0} / {:.0} µs | {} |\n",
            one.p50_us,
            one.p99_us,
            one.p50_us - own_p50,
            one.per_second(),
            many.per_second(),
            many.p50_us,
            many.p99_us,
            one.errors + many.errors
        ));
    }
    md.push_str(&format!(
        "\nThe 3-Task workflow through the warm container-per-function baseline (a long-lived \
         Python process per function, state through Redis), one client in-process: p50 {:.0} µs, \
         p99 {:.0} µs, {:.0} executions/s; through `faastlane serve` at 1 connection: {:.1}x \
         lower p50.\n",
        warm.0,
        warm.1,
        1e6 / warm.0,
        warm.0 / rows[1].1.p50_us
    ));
    md.push_str(
        "\n\"Server time beyond the workflow\" is wrk's latency at 1 connection minus the same \
         workflow's p50 run in-process (`Engine::execute`): HTTP, JSON, the API, the executor \
         hop for Tasks, and wrk's own client-side time.\n",
    );
    if let Some(soak) = soak {
        md.push_str(&soak);
    }
    Ok(md)
}

/// p50 and p99 (µs) of `runs` executions of `definition` in this process.
fn in_process(definition: &str, functions: &Path, python: bool, runs: usize) -> Result<(f64, f64)> {
    let workflow = Workflow {
        name: "reference".to_string(),
        machine: asl::load_str(definition).map_err(|d| ServeBenchError::Setup(format!("{d:?}")))?,
    };
    let runtime: Arc<dyn Runtime> = if python {
        python_runtime::init().context("starting Python")?;
        Arc::new(
            python_runtime::PythonRuntime::new(functions)
                .context("loading the reference function")?,
        )
    } else {
        Arc::new(NativeRuntime::new())
    };
    let engine = Engine::new(runtime);
    if let Err(p) = engine.prepare(&workflow) {
        bail!("the reference workflow cannot run: {p:?}");
    }
    let input: serde_json::Value = serde_json::from_str(INPUT)?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let result = engine.execute(&workflow, input.clone(), &ExecutionOptions::default());
        result
            .into_json()
            .map_err(|e| ServeBenchError::Setup(format!("reference run failed: {e:?}")))?;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(percentiles(samples))
}

/// The 3-Task workflow through the warm container-per-function baseline.
fn warm_baseline(functions: &Path, runs: usize) -> Result<(f64, f64)> {
    let redis =
        crate::RedisServer::start().context("starting redis-server (scripts/ensure-redis.sh)")?;
    let runtime = crate::ContainerRuntime::new(crate::ContainerOptions {
        dir: functions.to_path_buf(),
        python: crate::suite::worker_python()?,
        site_packages: Vec::new(),
        redis_port: redis.port(),
        start: crate::Start::Warm,
    })?;
    runtime.prewarm(&["step".to_string()], 1)?;
    let workflow = Workflow {
        name: "baseline".to_string(),
        machine: asl::load_str(TASK3).map_err(|d| ServeBenchError::Setup(format!("{d:?}")))?,
    };
    let engine = Engine::new(Arc::new(runtime));
    let input: serde_json::Value = serde_json::from_str(INPUT)?;
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs + 50 {
        let started = Instant::now();
        let result = engine.execute(&workflow, input.clone(), &ExecutionOptions::default());
        result
            .into_json()
            .map_err(|e| ServeBenchError::Setup(format!("baseline run failed: {e:?}")))?;
        if i >= 50 {
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(percentiles(samples))
}

fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| {
        let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples[rank.clamp(1, samples.len()) - 1]
    };
    (at(50.0), at(99.0))
}

fn start_server(exe: &Path, functions: &Path, scratch: &Path) -> Result<Served> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(exe)
        .arg("serve")
        .args(["--port", &port.to_string()])
        .arg("--db")
        .arg(scratch.join("serve.db"))
        .arg("--functions")
        .arg(functions)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting faastlane serve")?;
    let served = Served { child, addr };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(addr, "GET", "/healthz", None, "").is_err() {
        if Instant::now() > deadline {
            bail!("faastlane serve did not answer /healthz within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(served)
}

fn create(addr: SocketAddr, name: &str, definition: &str) -> Result<String> {
    let body = serde_json::json!({
        "name": name, "definition": definition, "type": "EXPRESS",
        "roleArn": "arn:aws:iam::111111111111:role/bench",
    });
    let (status, text) = http(
        addr,
        "POST",
        "/",
        Some("CreateStateMachine"),
        &body.to_string(),
    )?;
    if status != 200 {
        bail!("CreateStateMachine {name}: HTTP {status}: {text}");
    }
    let out: serde_json::Value = serde_json::from_str(&text)?;
    let arn = out["stateMachineArn"]
        .as_str()
        .context("no stateMachineArn")?
        .to_string();
    // One execution checked by hand before any load.
    let start = serde_json::json!({"stateMachineArn": arn, "input": INPUT});
    let (status, text) = http(
        addr,
        "POST",
        "/",
        Some("StartSyncExecution"),
        &start.to_string(),
    )?;
    if status != 200 || !text.contains("\"SUCCEEDED\"") {
        bail!("StartSyncExecution on {name} did not succeed: HTTP {status}: {text}");
    }
    Ok(arn)
}

/// A one-shot HTTP/1.1 request (set-up only; the load goes through wrk).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &str,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let target = target
        .map(|t| {
            format!(
                "X-Amz-Target: AWSStepFunctions.{t}\r\nContent-Type: application/x-amz-json-1.0\r\n"
            )
        })
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{target}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The wrk script: StartSyncExecution, counting any answer that is not SUCCEEDED as an error.
fn lua(dir: &Path, arn: &str) -> Result<PathBuf> {
    let body = serde_json::json!({"stateMachineArn": arn, "input": INPUT}).to_string();
    let script = format!(
        r#"wrk.method = "POST"
wrk.body = {body:?}
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AWSStepFunctions.StartSyncExecution"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) failed = 0 end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"SUCCEEDED"', 1, true) then failed = failed + 1 end
end
function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("failed") end
  local e = summary.errors
  io.write(string.format("FAASTLANE %d %d %d %f %f\n", summary.requests, summary.duration,
    f + e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
"#
    );
    let path = dir.join(format!("{}.lua", arn.rsplit(':').next().unwrap_or("load")));
    std::fs::write(&path, script)?;
    Ok(path)
}

fn run_wrk(
    wrk: &Path,
    script: &Path,
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
) -> Result<Load> {
    let out = Command::new(wrk)
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "30s",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://{addr}/"))
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("FAASTLANE "))
        .with_context(|| {
            format!(
                "wrk printed no summary: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() != 5 {
        bail!("unexpected wrk summary: {line}");
    }
    Ok(Load {
        requests: f[0] as u64,
        seconds: f[1] / 1e6,
        errors: f[2] as u64,
        p50_us: f[3],
        p99_us: f[4],
    })
}

/// Resident memory (KiB) of `pid` and its children (the executors).
fn rss_kib(pid: u32) -> u64 {
    let status = |p: u32| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    // Children are listed per thread: the executors are started from Tokio's workers.
    let children: u64 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .filter_map(|t| t.ok())
                .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
                .flat_map(|c| {
                    c.split_whitespace()
                        .filter_map(|p| p.parse().ok())
                        .collect::<Vec<u32>>()
                })
                .map(status)
                .sum()
        })
        .unwrap_or(0);
    status(pid) + children
}

fn soak(
    wrk: &Path,
    scratch: &tempfile::TempDir,
    server: &Served,
    arn: &str,
    connections: usize,
    seconds: u64,
) -> Result<Option<String>> {
    if seconds == 0 {
        return Ok(None);
    }
    let script = lua(scratch.path(), arn)?;
    let slices = seconds.div_ceil(10);
    let mut rows = String::new();
    let (mut total, mut errors) = (0u64, 0u64);
    let mut rss = Vec::new();
    for i in 0..slices {
        let load = run_wrk(wrk, &script, server.addr, connections, 10)?;
        let kib = rss_kib(server.child.id());
        total += load.requests;
        errors += load.errors;
        rss.push(kib);
        rows.push_str(&format!(
            "| {}-{} s | {:.0} | {:.0} / {:.0} µs | {} | {:.1} MiB |\n",
            i * 10,
            (i + 1) * 10,
            load.per_second(),
            load.p50_us,
            load.p99_us,
            load.errors,
            kib as f64 / 1024.0
        ));
    }
    let first = rss.first().copied().unwrap_or(0).max(1) as f64;
    let last = rss.last().copied().unwrap_or(0) as f64;
    Ok(Some(format!(
        "\n## Soak: 3 Python Tasks, {connections} connections, {seconds} s (full load: wrk cannot \
         hold a fixed rate)\n\n{total} executions, {errors} errors; resident memory of the \
         server and its executors {:.1} MiB after the first slice, {:.1} MiB after the last \
         ({:+.1}%).\n\n| slice | executions/s | p50 / p99 | errors | RSS |\n|---|---:|---:|---:|---:|\n{rows}",
        first / 1024.0,
        last / 1024.0,
        (last / first - 1.0) * 100.0
    )))
}

fn ensure_wrk() -> Result<PathBuf> {
    if let Some(p) = crate::redis_server::find_program("wrk") {
        return Ok(p);
    }
    let script = Path::new("scripts/ensure-wrk.sh");
    if !script.is_file() {
        bail!(
            "wrk is not installed; install Debian's wrk (scripts/ensure-wrk.sh in the repository)"
        );
    }
    let out = Command::new("bash")
        .arg(script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
