//! A bounded pool of executor processes. Each runs one execution at a time; at most
//! `workers` run at once and further jobs wait for a free executor, so a slow or hung
//! execution holds one executor and never the API. An executor that dies mid-job (a
//! segfault, `os._exit`, the OOM killer) fails that job with `Runtime.ExitError` and is
//! replaced by a fresh one on the next job. StopExecution kills the executor running it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use super::{Job, JobResult};

/// Why a job has no result.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The executor process died during the job.
    #[error("{0}")]
    Crashed(String),
    /// StopExecution killed it.
    #[error("stopped")]
    Stopped,
    /// No executor could be started, or the pool is shutting down.
    #[error("{0}")]
    Unavailable(String),
}

struct Executor {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

struct Running {
    pid: Option<u32>,
    stopped: bool,
}

pub struct Pool {
    command: Vec<OsString>,
    permits: Semaphore,
    idle: Mutex<Vec<Executor>>,
    running: Mutex<HashMap<String, Running>>,
    restarts: AtomicU64,
    spawned: AtomicU64,
}

impl Pool {
    /// A pool of up to `workers` executors, each started as `command` (the `faastlane`
    /// binary with its hidden `executor` subcommand).
    pub fn new(command: Vec<OsString>, workers: usize) -> Self {
        Pool {
            command,
            permits: Semaphore::new(workers.max(1)),
            idle: Mutex::default(),
            running: Mutex::default(),
            restarts: AtomicU64::new(0),
            spawned: AtomicU64::new(0),
        }
    }

    /// Executors that died and were replaced.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Jobs running now.
    pub fn busy(&self) -> usize {
        lock(&self.running).len()
    }

    /// Runs `job` on a free executor; `key` (the execution ARN) is what [`Pool::stop`] names.
    pub async fn run(&self, key: &str, job: &Job) -> Result<JobResult, RunError> {
        // Registered while waiting too, so that a stop before it starts keeps it from starting.
        lock(&self.running).insert(
            key.to_string(),
            Running {
                pid: None,
                stopped: false,
            },
        );
        let result = self.run_registered(key, job).await;
        lock(&self.running).remove(key);
        result
    }

    async fn run_registered(&self, key: &str, job: &Job) -> Result<JobResult, RunError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| RunError::Unavailable("the server is shutting down".to_string()))?;
        let idle = lock(&self.idle).pop();
        let mut executor = match idle {
            Some(e) => e,
            None => self.spawn()?,
        };
        {
            let mut running = lock(&self.running);
            match running.get_mut(key) {
                Some(r) if r.stopped => {
                    drop(running);
                    lock(&self.idle).push(executor);
                    return Err(RunError::Stopped);
                }
                Some(r) => r.pid = executor.child.id(),
                None => {}
            }
        }
        let mut outcome = exchange(&mut executor, job).await;
        if let Err(Exchange::Send(e)) = &outcome {
            // The executor died while idle: the job never reached it, so a fresh one takes it.
            tracing::warn!("an idle executor had died ({e}): starting another");
            let _ = executor.child.start_kill();
            let _ = executor.child.wait().await;
            self.restarts.fetch_add(1, Ordering::Relaxed);
            executor = self.spawn()?;
            if let Some(r) = lock(&self.running).get_mut(key) {
                r.pid = executor.child.id();
            }
            outcome = exchange(&mut executor, job).await;
        }
        let stopped = lock(&self.running).get(key).is_some_and(|r| r.stopped);
        match outcome {
            Ok(result) => {
                lock(&self.idle).push(executor);
                Ok(result)
            }
            Err(Exchange::Send(io) | Exchange::Receive(io)) => {
                let _ = executor.child.start_kill();
                let status = executor.child.wait().await.ok();
                if stopped {
                    return Err(RunError::Stopped);
                }
                self.restarts.fetch_add(1, Ordering::Relaxed);
                let how = status.map_or_else(|| format!("{io}"), describe);
                tracing::warn!(execution = key, "executor died: {how}");
                Err(RunError::Crashed(how))
            }
        }
    }

    /// Kills the executor running `key`, if one is; a job still waiting for an executor is
    /// marked so that it does not start. Returns whether `key` was running.
    pub fn stop(&self, key: &str) -> bool {
        let mut running = lock(&self.running);
        match running.get_mut(key) {
            Some(r) => {
                r.stopped = true;
                if let Some(pid) = r.pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                true
            }
            None => false,
        }
    }

    /// Stops taking jobs and kills every executor (running jobs fail with `Stopped` or
    /// `Crashed`; callers record them).
    pub fn shutdown(&self) {
        self.permits.close();
        let keys: Vec<String> = lock(&self.running).keys().cloned().collect();
        for key in keys {
            self.stop(&key);
        }
        lock(&self.idle).clear();
    }

    fn spawn(&self) -> Result<Executor, RunError> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| RunError::Unavailable("no executor command".to_string()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .env(super::child::SERVER_PID, std::process::id().to_string())
            // Its own process group: a terminal's Ctrl-C goes to the server, which lets the
            // running executions finish within the grace period.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                RunError::Unavailable(format!(
                    "cannot start an executor ({}): {e}",
                    program.to_string_lossy()
                ))
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(RunError::Unavailable("executor pipes missing".to_string()));
        };
        self.spawned.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(pid = child.id(), "started an executor");
        Ok(Executor {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }
}

/// Where an exchange with an executor broke.
enum Exchange {
    /// Sending the job: it never started.
    Send(std::io::Error),
    /// Waiting for the result: the executor died during the job.
    Receive(std::io::Error),
}

async fn exchange(executor: &mut Executor, job: &Job) -> Result<JobResult, Exchange> {
    let mut text = serde_json::to_vec(job).map_err(|e| Exchange::Send(std::io::Error::other(e)))?;
    text.push(b'\n');
    executor
        .stdin
        .write_all(&text)
        .await
        .map_err(Exchange::Send)?;
    executor.stdin.flush().await.map_err(Exchange::Send)?;
    let mut line = String::new();
    let read = executor
        .stdout
        .read_line(&mut line)
        .await
        .map_err(Exchange::Receive)?;
    if read == 0 {
        return Err(Exchange::Receive(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the executor exited",
        )));
    }
    serde_json::from_str(&line).map_err(|e| Exchange::Receive(std::io::Error::other(e)))
}

/// Lambda's words for how a runtime process ended (`Runtime exited with error: ...`).
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal: {}", signal_name(signal)),
        _ => "unknown exit".to_string(),
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        6 => "aborted".to_string(),
        9 => "killed".to_string(),
        11 => "segmentation fault".to_string(),
        15 => "terminated".to_string(),
        7 => "bus error".to_string(),
        other => format!("signal {other}"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
