//! The baseline: every function in a process of its own, the state through Redis.
//!
//! [`ContainerRuntime`] is an [`engine::Runtime`], so the same ASL engine orchestrates both
//! faastlane and the baseline and only the function interaction differs. An invocation:
//!
//! 1. the input is pickled and SET in Redis under a fresh key, unless it is exactly a result
//!    an earlier function stored (then its key is passed on as it is: a reference, the way
//!    S3-backed workflows pass large state);
//! 2. the key goes to the function's worker process (`python/worker.py`) as one tab-separated line
//!    over a Unix socket;
//! 3. the worker GETs and unpickles the input, calls the function, pickles the result, SETs
//!    it under a new key and answers with that key;
//! 4. the result stays in Redis: the engine receives a [`Blob`] handle, which fetches and
//!    decodes it only when the engine looks inside (a Choice, a path, the final output).
//!
//! [`Start::Warm`] keeps one long-lived worker per function (more when invocations of the
//! same function overlap, as a platform scales out); [`Start::Cold`] starts a fresh
//! `python worker.py` for every invocation.
//!
//! Payloads are pickles (protocol 5 from the workers; the Rust side writes protocol 3 with
//! `serde-pickle`): binary, no text escaping, and numpy arrays survive, which JSON cannot
//! carry. On this machine pickling a 1 MB string takes 0.9 ms against 5.7 ms for
//! `json.dumps`. Redis is used the way a careful engineer would: one reused connection per
//! engine thread, the deletion of spent keys pipelined with the next SET.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use asl::{Foreign, ForeignError, Kind, StatesError, Value};
use engine::{Call, PrepareError, Runtime, TaskFailure};
use serde_json::Value as Json;

use crate::error::BenchError;

/// How worker processes are started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// One long-lived process per function, reused across invocations (a warm container).
    Warm,
    /// A fresh process for every invocation (a cold container).
    Cold,
}

/// Where the baseline's pieces are.
#[derive(Clone, Debug)]
pub struct ContainerOptions {
    /// The workflow directory (its functions are `NAME.py`, as for faastlane).
    pub dir: PathBuf,
    /// The Python that runs the workers (the same 3.11.7 faastlane embeds).
    pub python: PathBuf,
    /// Extra `sys.path` entries: the workflow's requirements environment.
    pub site_packages: Vec<PathBuf>,
    /// The port of the Redis server on 127.0.0.1.
    pub redis_port: u16,
    pub start: Start,
}

/// The container-per-function baseline runtime.
pub struct ContainerRuntime {
    options: ContainerOptions,
    store: Arc<Store>,
    /// Idle warm workers, by function.
    warm: Mutex<HashMap<String, Vec<Worker>>>,
    /// Every worker process alive now (for memory sampling).
    live: Arc<Mutex<HashSet<u32>>>,
    /// Socket files and worker logs.
    scratch: tempfile::TempDir,
    worker_script: PathBuf,
    next_key: AtomicU64,
    next_worker: AtomicU64,
}

impl fmt::Debug for ContainerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerRuntime")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ContainerRuntime {
    pub fn new(options: ContainerOptions) -> Result<ContainerRuntime, BenchError> {
        let url = format!("redis://127.0.0.1:{}/", options.redis_port);
        // TCP_NODELAY, as the workers set it: a request is one write, never worth delaying.
        let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())
            .map_err(|e| BenchError::Redis(e.to_string()))?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = redis::Client::open(info).map_err(|e| BenchError::Redis(e.to_string()))?;
        let scratch = tempfile::Builder::new()
            .prefix("faastlane-baseline-")
            .tempdir()?;
        let worker_script = scratch.path().join("worker.py");
        std::fs::write(&worker_script, WORKER_PY)?;
        // Beside the script, so on its path: faastlane's rule for a function's arguments.
        std::fs::write(
            scratch.path().join("_faastlane_signature.py"),
            python_runtime::SIGNATURE_SOURCE,
        )?;
        Ok(ContainerRuntime {
            options,
            store: Arc::new(Store {
                client,
                idle: Mutex::default(),
                garbage: Mutex::default(),
            }),
            warm: Mutex::default(),
            live: Arc::default(),
            scratch,
            worker_script,
            next_key: AtomicU64::new(0),
            next_worker: AtomicU64::new(0),
        })
    }

    /// The process ids of the workers alive now.
    pub fn worker_pids(&self) -> Vec<u32> {
        lock(&self.live).iter().copied().collect()
    }

    /// A shared view of the live worker ids, for a memory sampler.
    pub fn live_workers(&self) -> Arc<Mutex<HashSet<u32>>> {
        Arc::clone(&self.live)
    }

    /// Deletes what spent results left in Redis.
    pub fn flush(&self) -> Result<(), BenchError> {
        self.store
            .flush()
            .map_err(|e| BenchError::Redis(e.to_string()))
    }

    fn spawn(&self, function: &str, once: bool) -> Result<Worker, String> {
        let n = self.next_worker.fetch_add(1, Ordering::Relaxed);
        let socket = self.scratch.path().join(format!("w{n}.sock"));
        let log = self.scratch.path().join(format!("w{n}.log"));
        let stderr =
            std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let mut command = Command::new(&self.options.python);
        // -S: no site module at start-up (the worker puts site-packages on sys.path itself).
        command
            .arg("-S")
            .arg(&self.worker_script)
            .arg(&self.options.dir)
            .arg(function)
            .arg(&socket)
            .arg(self.options.redis_port.to_string())
            .arg(if once { "once" } else { "serve" })
            .args(&self.options.site_packages);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.options.python.display()))?;
        let mut worker = Worker {
            pid: child.id(),
            child: Some(child),
            ready: None,
            stream: None,
            socket,
            log,
            live: Arc::clone(&self.live),
        };
        lock(&self.live).insert(worker.pid);
        worker.connect()?;
        Ok(worker)
    }

    /// Starts warm workers until each function has `count` idle ones, as a platform's
    /// provisioned concurrency does before a known load.
    pub fn prewarm(&self, functions: &[String], count: usize) -> Result<(), BenchError> {
        for function in functions {
            let idle = lock(&self.warm).get(function).map_or(0, Vec::len);
            for _ in idle..count {
                let worker = self
                    .spawn(function, false)
                    .map_err(|message| BenchError::Worker {
                        function: function.clone(),
                        message,
                    })?;
                self.give_back(function, worker);
            }
        }
        Ok(())
    }

    /// A warm worker for `function`: an idle one, or a new one when all are busy.
    fn take_warm(&self, function: &str) -> Result<Worker, String> {
        if let Some(worker) = lock(&self.warm).get_mut(function).and_then(Vec::pop) {
            return Ok(worker);
        }
        self.spawn(function, false)
    }

    fn give_back(&self, function: &str, worker: Worker) {
        lock(&self.warm)
            .entry(function.to_owned())
            .or_default()
            .push(worker);
    }

    /// The key holding `input`: the stored result itself when the engine passes one on
    /// untouched, else a new key with the pickled value.
    fn store_input(&self, input: &Value) -> Result<(String, bool), TaskFailure> {
        if let Value::Foreign(object) = input
            && let Some(blob) = object.as_any().downcast_ref::<Blob>()
            && Arc::ptr_eq(&blob.0.store, &self.store)
        {
            return Ok((blob.0.key.clone(), false));
        }
        let json = input
            .to_json()
            .map_err(|e| runtime_error(format!("the input: {e}")))?;
        let bytes = serde_pickle::to_vec(&json, serde_pickle::SerOptions::new())
            .map_err(|e| runtime_error(format!("pickling the input: {e}")))?;
        let key = format!(
            "fl:{}:{}",
            std::process::id(),
            self.next_key.fetch_add(1, Ordering::Relaxed)
        );
        self.store
            .put(&key, &bytes)
            .map_err(|e| runtime_error(format!("redis SET: {e}")))?;
        Ok((key, true))
    }
}

impl Drop for ContainerRuntime {
    fn drop(&mut self) {
        lock(&self.warm).clear();
        let _ = self.store.flush();
    }
}

impl Runtime for ContainerRuntime {
    /// Starts a worker per function (warm: kept; cold: only to check that it loads).
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        let mut problems = Vec::new();
        for function in functions {
            let has_idle = lock(&self.warm)
                .get(*function)
                .is_some_and(|idle| !idle.is_empty());
            if has_idle {
                continue;
            }
            match self.spawn(function, self.options.start == Start::Cold) {
                Ok(worker) if self.options.start == Start::Warm => {
                    self.give_back(function, worker);
                }
                Ok(worker) => drop(worker),
                Err(message) => problems.push(PrepareError::unloadable(*function, message)),
            }
        }
        problems
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        let (key, owned_key) = self.store_input(&input)?;
        let deadline = call.deadline.map_or_else(
            || "-".to_owned(),
            |d| {
                d.saturating_duration_since(Instant::now())
                    .as_millis()
                    .to_string()
            },
        );
        let line = format!(
            "{key}\t{}\t{}\t{deadline}\n",
            field(call.request_id.as_str()),
            field(&call.invoked_function_arn())
        );
        let outcome = match self.options.start {
            Start::Warm => {
                let mut worker = self.take_warm(call.function).map_err(runtime_error)?;
                let reply = worker.call(&line);
                if reply.is_ok() {
                    self.give_back(call.function, worker);
                }
                reply
            }
            Start::Cold => {
                let mut worker = self.spawn(call.function, true).map_err(runtime_error)?;
                let reply = worker.call(&line);
                worker.retire();
                reply
            }
        };
        if owned_key {
            self.store.discard(key);
        }
        // Only now: a result passed on by reference must outlive the call that reads it.
        drop(input);
        outcome.map_err(runtime_error)?.into_value(&self.store)
    }
}

/// A worker's answer line.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// `ok<TAB>KEY`: the result is at KEY.
    Ok(String),
    /// `err<TAB>function|runtime<TAB>ERROR<TAB>CAUSE`.
    Err {
        runtime: bool,
        error: String,
        cause: String,
    },
}

impl Reply {
    fn parse(line: &str) -> Result<Reply, String> {
        let line = line.trim_end_matches('\n');
        let mut fields = line.splitn(4, '\t');
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some("ok"), Some(key), None, None) if !key.is_empty() => Ok(Reply::Ok(key.into())),
            (Some("err"), Some(kind @ ("function" | "runtime")), Some(error), cause) => {
                Ok(Reply::Err {
                    runtime: kind == "runtime",
                    error: error.into(),
                    cause: cause.unwrap_or_default().into(),
                })
            }
            _ => Err(format!("unreadable answer from the worker: {line}")),
        }
    }

    fn into_value(self, store: &Arc<Store>) -> Result<Value, TaskFailure> {
        match self {
            Reply::Ok(key) => Ok(Value::Foreign(Arc::new(Blob(Arc::new(BlobInner {
                key,
                store: Arc::clone(store),
                decoded: OnceLock::new(),
            }))))),
            Reply::Err {
                runtime,
                error,
                cause,
            } => {
                let error = StatesError::new(error, cause);
                Err(if runtime {
                    TaskFailure::Runtime(error)
                } else {
                    TaskFailure::Function(error)
                })
            }
        }
    }
}

/// A request field: tabs and newlines would break the line.
fn field(text: &str) -> String {
    text.replace(['\t', '\n'], " ")
}

/// One worker process and the connection to it.
struct Worker {
    pid: u32,
    child: Option<Child>,
    /// Kept open: the worker wrote `ready` on it.
    ready: Option<ChildStdout>,
    stream: Option<(UnixStream, BufReader<UnixStream>)>,
    socket: PathBuf,
    log: PathBuf,
    live: Arc<Mutex<HashSet<u32>>>,
}

impl Worker {
    /// Waits for the `ready` line, then connects to the worker's socket.
    fn connect(&mut self) -> Result<(), String> {
        let mut stdout = self
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .ok_or("the worker has no stdout")?;
        let mut line = [0_u8; 6];
        if stdout.read_exact(&mut line).is_err() || &line != b"ready\n" {
            return Err(self.failure("exited before it was ready"));
        }
        self.ready = Some(stdout);
        let stream = UnixStream::connect(&self.socket)
            .map_err(|e| format!("connecting to {}: {e}", self.socket.display()))?;
        let reader = stream
            .try_clone()
            .map_err(|e| format!("cloning the worker socket: {e}"))?;
        self.stream = Some((stream, BufReader::new(reader)));
        Ok(())
    }

    fn call(&mut self, line: &str) -> Result<Reply, String> {
        let Some((stream, reader)) = self.stream.as_mut() else {
            return Err("the worker is not connected".into());
        };
        let mut answer = String::new();
        let sent = stream.write_all(line.as_bytes());
        let read = sent.and_then(|()| reader.read_line(&mut answer));
        match read {
            Ok(n) if n > 0 => Reply::parse(&answer),
            Ok(_) => Err(self.failure("closed the connection")),
            Err(e) => Err(self.failure(&format!("connection failed: {e}"))),
        }
    }

    /// Lets a cold worker exit on its own (it serves one request) and reaps it off the
    /// invocation's path, as a platform tears a container down after the response.
    fn retire(mut self) {
        self.stream = None;
        if let Some(mut child) = self.child.take() {
            let live = Arc::clone(&self.live);
            let pid = self.pid;
            let reaped = std::thread::Builder::new()
                .name("faastlane-reaper".into())
                .spawn(move || {
                    let _ = child.wait();
                    lock(&live).remove(&pid);
                });
            if let Err(e) = reaped {
                tracing::warn!("cannot start a reaper thread: {e}");
            }
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    /// A message with the end of the worker's stderr.
    fn failure(&mut self, what: &str) -> String {
        // A worker that broke its connection but still runs is of no use: end it, so that
        // waiting for its status cannot hang.
        let status = self
            .child
            .as_mut()
            .and_then(|c| {
                if matches!(c.try_wait(), Ok(None)) {
                    let _ = c.kill();
                }
                c.wait().ok()
            })
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("worker {what}{status}: {}", tail.join("\n"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stream = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        lock(&self.live).remove(&self.pid);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Redis connections (one per engine thread at a time) and the keys waiting for deletion.
struct Store {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
    garbage: Mutex<Vec<String>>,
}

impl Store {
    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let pooled = lock(&self.idle).pop();
        let mut connection = match pooled {
            Some(c) => c,
            None => self.client.get_connection()?,
        };
        let result = f(&mut connection);
        // A connection that failed may be mid-reply: do not reuse it.
        if result.is_ok() {
            lock(&self.idle).push(connection);
        }
        result
    }

    /// SETs `key`, deleting spent keys in the same round trip.
    fn put(&self, key: &str, bytes: &[u8]) -> redis::RedisResult<()> {
        let garbage = std::mem::take(&mut *lock(&self.garbage));
        let mut pipe = redis::pipe();
        if !garbage.is_empty() {
            pipe.cmd("UNLINK").arg(&garbage).ignore();
        }
        pipe.cmd("SET").arg(key).arg(bytes).ignore();
        self.with_connection(|c| pipe.query::<()>(c))
    }

    fn get(&self, key: &str) -> redis::RedisResult<Option<Vec<u8>>> {
        self.with_connection(|c| redis::cmd("GET").arg(key).query(c))
    }

    fn discard(&self, key: String) {
        lock(&self.garbage).push(key);
    }

    fn flush(&self) -> redis::RedisResult<()> {
        let garbage = std::mem::take(&mut *lock(&self.garbage));
        if garbage.is_empty() {
            return Ok(());
        }
        self.with_connection(|c| redis::cmd("UNLINK").arg(&garbage).query::<()>(c))
    }
}

/// A function's result, stored in Redis. Immutable: copies share it.
#[derive(Clone)]
pub struct Blob(Arc<BlobInner>);

struct BlobInner {
    key: String,
    store: Arc<Store>,
    /// Fetched and unpickled on first look.
    decoded: OnceLock<Result<Json, String>>,
}

impl Drop for BlobInner {
    fn drop(&mut self) {
        self.store.discard(std::mem::take(&mut self.key));
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({})", self.0.key)
    }
}

impl Blob {
    fn json(&self) -> Result<&Json, &str> {
        self.0
            .decoded
            .get_or_init(|| {
                let bytes = self
                    .0
                    .store
                    .get(&self.0.key)
                    .map_err(|e| format!("redis GET {}: {e}", self.0.key))?
                    .ok_or_else(|| format!("redis key {} is gone", self.0.key))?;
                serde_pickle::from_slice(&bytes, serde_pickle::DeOptions::new())
                    .map_err(|e| format!("the result has no JSON form: {e}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

impl Foreign for Blob {
    fn kind(&self) -> Kind {
        self.json().map_or(Kind::Opaque, asl::value::json_kind)
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.json().ok()?.get(key).cloned().map(Value::Json)
    }

    fn index(&self, index: usize) -> Option<Value> {
        self.json().ok()?.get(index).cloned().map(Value::Json)
    }

    fn len(&self) -> Option<usize> {
        match self.json().ok()? {
            Json::Array(a) => Some(a.len()),
            Json::Object(o) => Some(o.len()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<String> {
        match self.json() {
            Ok(Json::Object(o)) => o.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn to_json(&self) -> Result<Json, ForeignError> {
        self.json()
            .cloned()
            .map_err(|e| ForeignError::NotJson(e.to_owned()))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn detach(&self) -> Result<Value, ForeignError> {
        Ok(Value::Foreign(Arc::new(self.clone())))
    }
}

fn runtime_error(message: impl Into<String>) -> TaskFailure {
    TaskFailure::Runtime(StatesError::new("Runtime.ContainerError", message.into()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The worker script, written next to the workers' sockets when a runtime starts.
pub const WORKER_PY: &str = include_str!("../python/worker.py");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse() {
        assert_eq!(
            Reply::parse("ok\tfl:1:2:out:3:1\n"),
            Ok(Reply::Ok("fl:1:2:out:3:1".into()))
        );
        assert_eq!(
            Reply::parse("err\tfunction\tValueError\t{\"errorMessage\": \"a\\tb\"}\n"),
            Ok(Reply::Err {
                runtime: false,
                error: "ValueError".into(),
                cause: "{\"errorMessage\": \"a\\tb\"}".into()
            })
        );
        assert!(matches!(
            Reply::parse("err\truntime\tRuntime.InputError\tKeyError()"),
            Ok(Reply::Err { runtime: true, .. })
        ));
        assert!(Reply::parse("ok\t\n").is_err());
        assert!(Reply::parse("{\"ok\": true}").is_err());
    }
}
