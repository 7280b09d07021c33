//! The seam between the engine and the places branches run outside this process.
//!
//! A *process lane* runs some branches of one Parallel or Map state in another process (a
//! fork of a warm process that has this same program and the workflow's functions loaded).
//! The engine knows it only through these traits; the fork server lives in its own crate.
//!
//! ```text
//! parent (engine)                                 child (same binary, forked warm)
//!   codec.encode(inputs) -> Payload (shared mem)
//!   pool.spawn(job, inputs) -> ProcessWorker  ──>  decode inputs once
//!   worker.run_with(i, history) .................>  Engine::run_branch_in(job, i, input)
//!                 <...............................  checkpoint: a Task's input, retry counts
//!                 <...............................  encoded result + its state records, events
//!   codec.decode(result)
//!   (worker killed at a Task's deadline: the branch goes on here from its checkpoint)
//! ```
//!
//! This module holds the traits a pool or transport implements; the messages that cross are
//! the types of [`crate::wire`] (the one wire format, documented there) and the values cross
//! through a [`crate::codec::ValueCodec`]. Neither is re-exported here: each type has one path.

use std::sync::Arc;
use std::time::Duration;

use asl::{StatesError, Value};

use crate::codec::{Payload, PayloadSink};
use crate::runtime::{CancelToken, LogSink};
use crate::wire::{
    BranchJob, BranchReport, History, RemoteResponse, Resume, RunRequest, TaskCheckpoint,
};

/// A payload being written, in memory another process can read.
pub trait PayloadBuffer: PayloadSink + Send {
    fn finish(self: Box<Self>) -> Result<Payload, LaneError>;
}

/// Why a process pool cannot start workers now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// Still starting (loading the workflow's functions): ask again later.
    #[error("the process pool is still starting")]
    Starting,
    /// It will not start.
    #[error("{0}")]
    Failed(String),
}

/// A process lane could not be used (the branch itself did not fail): its branches run on
/// the calling thread's lanes instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LaneError {
    /// Memory another process can map could not be made or sealed for a payload.
    #[error("process lane: {0}")]
    Payload(String),
    /// The pool will start no worker (its setup failed, or it is gone): later requests fail
    /// the same way.
    #[error("process lane: {0}")]
    Unavailable(String),
    /// This worker did not start; the pool still serves, so another one may.
    #[error("process lane: {0}")]
    WorkerDidNotStart(String),
}

/// Starts worker processes that run branches.
pub trait ProcessPool: Send + Sync {
    /// Whether workers can be started; waits up to `wait` (`None`: as long as it takes) for
    /// the pool to finish starting (and asks it to start, if it waits to be asked).
    fn ready(&self, wait: Option<Duration>) -> Result<(), NotReady>;
    /// What starting one worker costs, as observed (for the planner).
    fn spawn_cost(&self) -> Duration;
    /// An empty payload in memory a worker can map.
    fn payload(&self) -> Result<Box<dyn PayloadBuffer>, LaneError>;
    /// Starts a worker for `job`, whose branch inputs are `inputs` (encoded by the runtime's
    /// codec: one value when [`BranchJob::shared_input`], else one per branch).
    fn spawn(&self, job: &BranchJob, inputs: &Payload)
    -> Result<Box<dyn ProcessWorker>, LaneError>;
}

/// One worker process, running branches one at a time. Dropping it ends the process.
pub trait ProcessWorker: Send {
    fn pid(&self) -> u32;
    /// Runs branch `index` and waits for it, forwarding what its functions log to `log`.
    /// When `cancel` is raised the process is killed. `trace_offset_us`: microseconds since
    /// the execution started, now (the worker's trace records are relative to it). The
    /// branch runs outside any execution's history (see [`RunRequest::history`]).
    fn run(
        &mut self,
        index: usize,
        trace_offset_us: Option<u64>,
        cancel: &CancelToken,
        log: &dyn LogSink,
    ) -> WorkerRun {
        let request = RunRequest {
            index,
            trace_offset_us,
            history: None,
        };
        self.run_with(&request, cancel, log)
    }

    /// Runs the branch `request` names, as [`ProcessWorker::run`] does, counting its
    /// history events on from the execution's.
    fn run_with(
        &mut self,
        request: &RunRequest,
        cancel: &CancelToken,
        log: &dyn LogSink,
    ) -> WorkerRun;
}

/// How a branch sent to a worker ended.
pub enum WorkerRun {
    /// The branch ran to its end (its outcome may be an error); the worker can take more.
    Finished(BranchReport),
    /// The worker process is gone (it crashed, was killed at a deadline or because the state
    /// was cancelled); the error is the branch's.
    Lost(StatesError),
    /// The worker was killed at the deadline of a Task that said where the branch can be
    /// taken up again: the parent continues the branch from that Task, which failed with
    /// `error` (`States.Timeout`), applying its Retry and Catch.
    Interrupted { error: StatesError, resume: Resume },
}

/// Told by the interpreter, in a worker, where the branch can be taken up again: before and
/// after each attempt of a Task a [`TaskCheckpoint`] describes.
pub trait Checkpoints: Sync {
    /// An attempt of a Task starts; `raw` is the Task's raw input.
    fn task_starts(&self, checkpoint: &TaskCheckpoint, raw: &Value);
    /// That attempt ended (either way): the branch has moved on from the checkpoint.
    fn task_ended(&self);
}

/// How a worker runs a branch as part of an execution.
#[derive(Clone, Copy, Default)]
pub struct BranchContext<'a> {
    /// The execution's history as the branch starts (see [`RunRequest::history`]).
    pub history: Option<History>,
    /// Where to say the branch's Tasks can be taken up again.
    pub checkpoints: Option<&'a dyn Checkpoints>,
    /// The branch's input is known to be within the payload bounds (a Parallel's shared
    /// input, measured once for a whole batch): its first state does not measure it again.
    pub input_checked: bool,
}

/// A remote lane's way to sibling instances of the same deployment (another `faastlane
/// serve` behind one URL, a Lambda function, an OpenWhisk action): it carries one batch of
/// branches and brings back their reports. Back ends live with the front ends
/// (`crates/server/src/remote/`); the engine decides what goes remote and records it.
pub trait RemoteTransport: Send + Sync {
    /// Where batches go, for the trace and errors (`http://lanes:8080`, `lambda:finra`).
    fn target(&self) -> &str;
    /// Sends one batch (`body`: a [`crate::wire::RemoteRequest`] as JSON, built once) and waits up to
    /// `timeout` for the sibling's answer. Never sends it twice: a request that may have
    /// reached a sibling is not retried.
    fn send(&self, body: Vec<u8>, timeout: Duration) -> Result<RemoteResponse, RemoteError>;
}

/// Remote lanes of an engine: the transport and how much to send through it.
#[derive(Clone)]
pub struct RemoteLanes {
    pub transport: Arc<dyn RemoteTransport>,
    /// The most requests one Parallel or Map state has in flight (each a batch of its
    /// branches, run one after the other by the sibling that takes it).
    pub cap: usize,
    /// How long a sibling may take to answer a batch (the execution's own deadline, when
    /// sooner, wins).
    pub timeout: Duration,
}

impl std::fmt::Debug for RemoteLanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteLanes")
            .field("target", &self.transport.target())
            .field("cap", &self.cap)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A batch sent to a sibling has no reports: each of its branches fails with the error
/// [`RemoteError::states_error`] gives (it is never run again elsewhere).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RemoteError {
    /// No answer within the timeout: `States.Timeout`.
    #[error("{target} did not answer within {seconds:.2} s")]
    Timeout { target: String, seconds: f64 },
    /// The sibling died or the connection broke (a reset, a proxy's 502): `Runtime.ExitError`.
    #[error("{target}: {reason}")]
    Lost { target: String, reason: String },
    /// The sibling refused the batch or answered something else than a report (no such
    /// workflow there, a bad gateway configuration): `States.Runtime`.
    #[error("{target}: {reason}")]
    Refused { target: String, reason: String },
    /// The sibling reported an error for the whole batch (`{"error", "cause"}`).
    #[error("{target}: {error}: {cause}")]
    Failed {
        target: String,
        error: String,
        cause: String,
    },
}

impl RemoteError {
    /// The error each branch of the batch fails with.
    pub fn states_error(&self) -> StatesError {
        match self {
            RemoteError::Timeout { .. } => StatesError::new(
                asl::names::TIMEOUT,
                format!("remote lane: {self}; the branch was not run again"),
            ),
            RemoteError::Lost { .. } => StatesError::new(
                "Runtime.ExitError",
                format!("remote lane: {self}; the branch was not run again"),
            ),
            RemoteError::Refused { .. } => StatesError::runtime(format!("remote lane: {self}")),
            RemoteError::Failed { error, cause, .. } => StatesError::new(error.clone(), cause),
        }
    }
}
