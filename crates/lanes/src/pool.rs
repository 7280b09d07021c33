//! The parent's side of a process lane: [`ForkServer`] as the engine's
//! [`engine::lanes::ProcessPool`], and a handle per worker process.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asl::StatesError;
use engine::codec::{Payload, PayloadBytes};
use engine::lanes::{LaneError, PayloadBuffer, ProcessPool, ProcessWorker, WorkerRun};
use engine::wire::{BranchJob, BranchReport, Resume, RunRequest};
use engine::{CancelToken, LogSink};

use crate::SpawnError;
use crate::protocol::{Channel, Exit, FromWorker, Outcome, Received, ToServer, ToWorker};
use crate::server::{ForkServer, Idle, Shared, wait_reaped};
use crate::shm::{MemfdBuffer, SharedPayload};

/// How often a waiting dispatcher looks at the cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(5);

/// The error of a branch whose worker process ended, named like Lambda's. A worker with a
/// memory limit that died of a signal most likely ran out of it (an allocation past
/// `RLIMIT_AS` fails, and Rust or a C extension then aborts or crashes): the cause says so and
/// carries the limit.
pub fn exit_error(status: Exit, pid: u32, index: usize, memory_limit: Option<u64>) -> StatesError {
    let how = match status {
        Exit::Code(code) => format!("exit status {code}"),
        Exit::Signal(sig) => format!("signal: {}", signal_name(sig)),
    };
    let mut cause = serde_json::json!({
        "errorMessage": format!("Error: Runtime exited with error: {how}"),
        "errorType": "Runtime.ExitError",
        "worker": {"pid": pid, "branch": index},
    });
    if let (Exit::Signal(_), Some(bytes)) = (status, memory_limit) {
        cause["memoryLimitBytes"] = bytes.into();
        cause["hint"] = format!(
            "the worker's memory is limited to {} MiB (RLIMIT_AS); it may have run out",
            bytes >> 20
        )
        .into();
    }
    StatesError::new("Runtime.ExitError", cause.to_string())
}

/// Go's names for signals, which Lambda's messages use (`signal: killed`).
fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGABRT => "aborted".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGBUS => "bus error".into(),
        libc::SIGILL => "illegal instruction".into(),
        libc::SIGFPE => "floating point exception".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGINT => "interrupt".into(),
        other => format!("signal {other}"),
    }
}

impl ProcessPool for ForkServer {
    fn ready(&self, wait: Option<Duration>) -> Result<(), engine::lanes::NotReady> {
        ForkServer::ready_within(self, wait)
    }

    fn spawn_cost(&self) -> Duration {
        ForkServer::spawn_cost(self)
    }

    fn payload(&self) -> Result<Box<dyn PayloadBuffer>, LaneError> {
        MemfdBuffer::new()
            .map(|b| Box::new(b) as Box<dyn PayloadBuffer>)
            .map_err(|e| LaneError::Payload(format!("cannot create a memfd: {e}")))
    }

    fn spawn(
        &self,
        job: &BranchJob,
        inputs: &Payload,
    ) -> Result<Box<dyn ProcessWorker>, LaneError> {
        self.spawn_worker(job, inputs)
            .map(|w| Box::new(w) as Box<dyn ProcessWorker>)
            .map_err(LaneError::from)
    }
}

impl ForkServer {
    /// A worker for `job`, waiting until it has decoded its inputs: an idle worker when one
    /// is waiting (see [`crate::ServerOptions::idle_workers`]), else a new one.
    pub fn spawn_worker(&self, job: &BranchJob, inputs: &Payload) -> Result<Worker, SpawnError> {
        let started = Instant::now();
        let copied;
        let inputs_fd = match inputs.fd() {
            Some(fd) => fd,
            None => {
                let shared = |e: std::io::Error| SpawnError::Payload(e.to_string());
                let mut buffer = MemfdBuffer::new().map_err(shared)?;
                engine::codec::PayloadSink::write_all(&mut buffer, inputs.bytes())
                    .map_err(shared)?;
                copied = buffer.into_shared().map_err(shared)?;
                copied.fd().ok_or_else(|| {
                    SpawnError::Payload("a shared payload has no descriptor".into())
                })?
            }
        };
        while let Some(idle) = self.take_idle() {
            let sent = idle.channel.send(
                &ToWorker::Job {
                    job: Box::new(job.clone()),
                },
                &[],
                &[inputs_fd],
            );
            if sent.is_err() {
                // Gone while idle (the server reports it reaped on a channel nobody reads).
                continue;
            }
            match self.hello(idle.channel, started) {
                Ok(worker) => {
                    self.record_reuse(started.elapsed());
                    return Ok(worker);
                }
                // It died idle, or on the new inputs: try the next, or a new one.
                Err(e) => tracing::debug!("an idle worker could not take a job: {e}"),
            }
        }
        let (ours, theirs) =
            Channel::pair().map_err(|e| SpawnError::WorkerDidNotStart(e.to_string()))?;
        self.shared
            .control
            .send(
                &ToServer::Spawn {
                    job: Some(Box::new(job.clone())),
                    memory_limit: self.shared.options.worker_memory_limit,
                },
                &[],
                &[theirs.as_fd(), inputs_fd],
            )
            .map_err(unreachable)?;
        drop(theirs);
        let worker = self.hello(ours, started)?;
        self.record_spawn(started.elapsed());
        Ok(worker)
    }

    fn take_idle(&self) -> Option<Idle> {
        self.shared
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
    }

    /// Starts up to `n` workers without a job, idle (never more idle workers than
    /// [`crate::ServerOptions::idle_workers`]), so that the first state that wants processes
    /// hands them its job instead of starting workers. Waits for the server's setup. Returns
    /// how many started.
    pub fn prestart(&self, n: usize) -> Result<usize, SpawnError> {
        self.ready()?;
        let mut started = 0;
        while started < n
            && self
                .shared
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len()
                < self.shared.options.idle_workers
        {
            let t = Instant::now();
            let (ours, theirs) =
                Channel::pair().map_err(|e| SpawnError::WorkerDidNotStart(e.to_string()))?;
            self.shared
                .control
                .send(
                    &ToServer::Spawn {
                        job: None,
                        memory_limit: self.shared.options.worker_memory_limit,
                    },
                    &[],
                    &[theirs.as_fd()],
                )
                .map_err(unreachable)?;
            drop(theirs);
            let pid = self.await_hello(&ours, t)?;
            self.shared
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Idle { channel: ours, pid });
            started += 1;
        }
        Ok(started)
    }

    /// Waits for a worker's `Hello` on `channel`: it has mapped and decoded its inputs.
    fn hello(&self, channel: Channel, started: Instant) -> Result<Worker, SpawnError> {
        let pid = self.await_hello(&channel, started)?;
        Ok(Worker {
            channel,
            pid,
            server: Arc::clone(&self.shared),
            dead: false,
            kill_grace: self.shared.options.kill_grace,
        })
    }

    /// The pid a worker says hello with on `channel`, or why it did not.
    fn await_hello(&self, channel: &Channel, started: Instant) -> Result<u32, SpawnError> {
        let mut said = Vec::new();
        loop {
            let left = self
                .shared
                .options
                .spawn_timeout
                .saturating_sub(started.elapsed());
            match channel.recv::<FromWorker>(Some(left)) {
                Ok(Some(Received {
                    message: FromWorker::Hello { pid },
                    ..
                })) => return Ok(pid),
                Ok(Some(Received {
                    message: FromWorker::Log { line, .. },
                    ..
                })) => said.push(line),
                Ok(Some(Received {
                    message: FromWorker::SpawnFailed { message },
                    ..
                })) => return Err(SpawnError::WorkerDidNotStart(message)),
                Ok(Some(Received {
                    message: FromWorker::Exited { status },
                    ..
                })) => {
                    return Err(SpawnError::WorkerDidNotStart(format!(
                        "the worker exited at start ({status:?}): {}",
                        said.join("; ")
                    )));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(SpawnError::ServerDown(
                        "the fork server closed the worker's channel".into(),
                    ));
                }
                Err(e) => {
                    return Err(SpawnError::WorkerDidNotStart(format!(
                        "the worker did not start: {e}"
                    )));
                }
            }
        }
    }
}

impl From<SpawnError> for LaneError {
    fn from(e: SpawnError) -> Self {
        match e {
            SpawnError::ServerDown(m) => LaneError::Unavailable(m),
            SpawnError::WorkerDidNotStart(m) => LaneError::WorkerDidNotStart(m),
            SpawnError::Payload(m) => LaneError::Payload(m),
        }
    }
}

fn unreachable(e: std::io::Error) -> SpawnError {
    SpawnError::ServerDown(format!("cannot reach the fork server: {e}"))
}

/// The Task a worker runs now must end by its deadline.
struct TaskDeadline {
    /// The Task state's name.
    state: String,
    /// When the worker is killed if the Task has not ended.
    kill_at: Instant,
    reported: Instant,
    allowed: Duration,
}

/// Encoded values a worker sent: the message's tail, or (`memfd`) its attached memfd.
fn payload(memfd: bool, tail: Vec<u8>, fds: Vec<OwnedFd>) -> Result<Payload, String> {
    if !memfd {
        return Ok(Arc::new(tail));
    }
    match fds.into_iter().next().map(SharedPayload::open) {
        Some(Ok(shared)) => Ok(Arc::new(shared)),
        Some(Err(e)) => Err(format!("cannot map the memfd: {e}")),
        None => Err("the memfd is missing".to_string()),
    }
}

/// A worker process, seen from the parent.
pub struct Worker {
    channel: Channel,
    pid: u32,
    /// Shared with the `ForkServer` that started it, which may be dropped first: then the
    /// control channel is shut down (a kill goes nowhere, the server has reaped the worker)
    /// and the idle list is freed with the last worker.
    server: Arc<Shared>,
    dead: bool,
    kill_grace: Duration,
}

impl Worker {
    /// Kills the process and waits until the fork server reports it reaped.
    fn kill(&mut self) {
        if self.dead {
            return;
        }
        self.dead = true;
        let _ = self
            .server
            .control
            .send(&ToServer::Kill { pid: self.pid }, &[], &[]);
        wait_reaped(&self.channel);
    }
}

impl Drop for Worker {
    /// A live worker goes idle, for the next state's branches, while the server keeps
    /// fewer than `idle_workers`; otherwise it exits.
    fn drop(&mut self) {
        if self.dead {
            return;
        }
        let server = &self.server;
        let mut idle = server.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < server.options.idle_workers
            && let Ok(channel) = self.channel.try_clone()
            && self.channel.send(&ToWorker::Release, &[], &[]).is_ok()
        {
            idle.push(Idle {
                channel,
                pid: self.pid,
            });
            return;
        }
        drop(idle);
        let _ = self.channel.send(&ToWorker::Exit, &[], &[]);
    }
}

impl ProcessWorker for Worker {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn run_with(
        &mut self,
        request: &RunRequest,
        cancel: &CancelToken,
        log: &dyn LogSink,
    ) -> WorkerRun {
        let index = request.index;
        if self.dead {
            return WorkerRun::Lost(StatesError::runtime("the worker process is gone"));
        }
        if let Err(e) = self.channel.send(
            &ToWorker::Run {
                index,
                trace_offset_us: request.trace_offset_us,
                history: request.history,
            },
            &[],
            &[],
        ) {
            self.kill();
            return WorkerRun::Lost(StatesError::runtime(format!(
                "cannot reach worker {}: {e}",
                self.pid
            )));
        }
        let mut deadline: Option<TaskDeadline> = None;
        // Where the branch can be taken up again if the Task running now is killed.
        let mut checkpoint: Option<Resume> = None;
        loop {
            let now = Instant::now();
            let wait = deadline.as_ref().map_or(CANCEL_POLL, |d| {
                CANCEL_POLL.min(d.kill_at.saturating_duration_since(now))
            });
            let received = match self.channel.recv::<FromWorker>(Some(wait)) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    if cancel.is_cancelled() {
                        self.kill();
                        return WorkerRun::Lost(StatesError::new(
                            "States.Cancelled",
                            "a sibling branch failed",
                        ));
                    }
                    if let Some(d) = deadline.take_if(|d| Instant::now() >= d.kill_at) {
                        self.kill();
                        let error = StatesError::new(
                            asl::names::TIMEOUT,
                            format!(
                                "Task '{}' timed out after {:.2} seconds (limit {:.2}); its worker process was killed",
                                d.state,
                                d.reported.elapsed().as_secs_f64(),
                                d.allowed.as_secs_f64()
                            ),
                        );
                        return match checkpoint.filter(|r| r.checkpoint.state == d.state) {
                            Some(resume) => WorkerRun::Interrupted { error, resume },
                            None => WorkerRun::Lost(error),
                        };
                    }
                    continue;
                }
                Err(e) => {
                    self.kill();
                    return WorkerRun::Lost(StatesError::runtime(format!(
                        "worker {}: {e}",
                        self.pid
                    )));
                }
            };
            let Some(Received { message, tail, fds }) = received else {
                self.dead = true;
                return WorkerRun::Lost(StatesError::runtime(format!(
                    "worker {} vanished while running branch {index}",
                    self.pid
                )));
            };
            match message {
                FromWorker::Log { state, line } => log.line(&state, &line),
                FromWorker::Deadline {
                    state,
                    in_ms: Some(ms),
                } => {
                    let allowed = Duration::from_millis(ms);
                    deadline = Some(TaskDeadline {
                        state,
                        kill_at: now + allowed + self.kill_grace,
                        reported: now,
                        allowed,
                    });
                }
                FromWorker::Deadline { in_ms: None, .. } => deadline = None,
                FromWorker::Checkpoint {
                    checkpoint: at,
                    memfd,
                } => {
                    // Without its input the Task cannot be taken up: a kill fails the branch.
                    checkpoint = payload(memfd, tail, fds).ok().map(|input| Resume {
                        checkpoint: at,
                        input,
                    });
                }
                FromWorker::CheckpointEnd => checkpoint = None,
                FromWorker::Result {
                    index: _,
                    outcome,
                    states,
                    durations,
                    events,
                } => {
                    let outcome = match outcome {
                        Outcome::Inline => payload(false, tail, fds).map_err(StatesError::runtime),
                        Outcome::Memfd => payload(true, tail, fds).map_err(|e| {
                            StatesError::runtime(format!("branch {index}'s result: {e}"))
                        }),
                        Outcome::Failed { error, cause } => Err(StatesError::new(error, cause)),
                    };
                    return WorkerRun::Finished(BranchReport {
                        outcome,
                        states,
                        durations,
                        events,
                    });
                }
                FromWorker::Exited { status } => {
                    self.dead = true;
                    let limit = self.server.options.worker_memory_limit;
                    return WorkerRun::Lost(exit_error(status, self.pid, index, limit));
                }
                FromWorker::SpawnFailed { message } => {
                    self.dead = true;
                    return WorkerRun::Lost(StatesError::runtime(message));
                }
                FromWorker::Hello { .. } => {}
            }
        }
    }
}
