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
//! Values cross the boundary through a [`ValueCodec`], which a [`crate::Runtime`] provides
//! for its own objects (Python pickles them); [`JsonCodec`] is the fallback for runtimes
//! whose values are plain JSON.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use asl::{StatesError, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::runtime::{CancelToken, LogSink};

/// Bytes written by one process and read by another, usually in shared memory.
pub trait PayloadBytes: Send + Sync {
    fn bytes(&self) -> &[u8];

    /// A file descriptor whose content, from offset 0, is [`PayloadBytes::bytes`] (a memfd).
    /// A codec may map it to hand out large buffers without copying them.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl PayloadBytes for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// Encoded values, shared between the threads that read them.
pub type Payload = Arc<dyn PayloadBytes>;

/// Where a codec writes an encoding.
pub trait PayloadSink {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Bytes written so far.
    fn position(&self) -> u64;
    /// Says how many bytes the encoding will have in all, before writing them: shared memory
    /// allocated in one go costs a third of the same memory faulted in page by page.
    fn reserve(&mut self, _total: u64) -> io::Result<()> {
        Ok(())
    }
}

impl PayloadSink for Vec<u8> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    fn position(&self) -> u64 {
        self.len() as u64
    }
}

/// A value could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// Turns values into bytes another process of the same program can turn back into equal
/// values (a runtime's objects included).
pub trait ValueCodec: Send + Sync {
    /// Encodes `values` as one payload.
    fn encode(&self, values: &[&Value], out: &mut dyn PayloadSink) -> Result<(), CodecError>;
    /// The values of a payload [`ValueCodec::encode`] wrote, in order.
    fn decode(&self, payload: &Payload) -> Result<Vec<Value>, CodecError>;
}

/// Values as a JSON array: for runtimes whose values are JSON (native functions).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonCodec;

struct SinkWriter<'a>(&'a mut dyn PayloadSink);

impl io::Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ValueCodec for JsonCodec {
    fn encode(&self, values: &[&Value], out: &mut dyn PayloadSink) -> Result<(), CodecError> {
        let json = values
            .iter()
            .map(|v| v.to_json())
            .collect::<Result<Vec<Json>, _>>()
            .map_err(|e| CodecError(e.to_string()))?;
        let mut writer = io::BufWriter::new(SinkWriter(out));
        serde_json::to_writer(&mut writer, &json).map_err(|e| CodecError(e.to_string()))?;
        io::Write::flush(&mut writer).map_err(|e| CodecError(e.to_string()))
    }

    fn decode(&self, payload: &Payload) -> Result<Vec<Value>, CodecError> {
        let json: Vec<Json> =
            serde_json::from_slice(payload.bytes()).map_err(|e| CodecError(e.to_string()))?;
        Ok(json.into_iter().map(Value::Json).collect())
    }
}

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

/// A process lane could not be used (the branch itself did not fail).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("process lane: {0}")]
pub struct LaneError(pub String);

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

/// A branch for a worker to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunRequest {
    pub index: usize,
    /// Microseconds since the execution started, when it records a trace.
    pub trace_offset_us: Option<u64>,
    /// The execution's history as the branch starts. `None`: a branch run on its own (a
    /// benchmark), counted from zero against the worker's own limit.
    pub history: Option<History>,
}

/// An execution's history-event counter, as it crosses to a worker: the worker counts on from
/// `events` and fails the branch once it passes `max_events`, as the parent's interpreter
/// would; the events the branch adds come back in [`BranchReport::events`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Events of the execution so far (as far as the parent knows: branches still running
    /// on other lanes are counted when they end).
    pub events: u64,
    /// The execution's limit ([`crate::EngineOptions::max_events`]).
    pub max_events: Option<u64>,
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

/// Where a branch killed in a worker can be taken up again.
pub struct Resume {
    pub checkpoint: TaskCheckpoint,
    /// The Task's raw input, encoded with the runtime's codec (one value).
    pub input: Payload,
}

/// A Task of a branch running in a worker, as it starts an attempt: what the parent needs to
/// run the Task's Retry and Catch itself if the worker is killed at the Task's deadline. A
/// worker says it only for a Task with `TimeoutSeconds` whose Retry or Catch matches
/// `States.Timeout`, in the branch's own state machine (not in a nested Parallel or Map).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCheckpoint {
    /// The Task's name in the branch's state machine.
    pub state: String,
    /// Retries before this attempt (`$$.State.RetryCount`).
    pub retries: u32,
    /// Retries used so far by each of the Task's retriers, in order.
    pub used: Vec<u64>,
    /// The Task's history event id.
    pub event_id: u64,
    /// When the Task was entered (`$$.State.EnteredTime`), in nanoseconds since the epoch.
    pub entered_unix_ns: u64,
    /// The execution's history-event counter as the attempt starts.
    pub events: u64,
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
}

/// What a worker sends back for one branch.
pub struct BranchReport {
    /// The branch's output, encoded with the runtime's codec (one value).
    pub outcome: Result<Payload, StatesError>,
    pub states: Vec<RemoteRecord>,
    /// How long each Task function ran, in nanoseconds, for the planner's estimates.
    pub durations: Vec<(String, u64)>,
    /// History events the branch added, for the execution's counter.
    pub events: u64,
}

/// What a child needs to run branches of one Parallel or Map state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BranchJob {
    /// The workflow's name (the child checks it runs the same one).
    pub workflow: String,
    /// The Parallel or Map state: its position in a pre-order walk of every state of the
    /// workflow, and its name as a check.
    pub state_index: usize,
    pub state: String,
    /// The trace prefix of the state (`Outer/3/`).
    pub prefix: String,
    pub execution: ExecutionWire,
    /// Time left before the execution's TimeoutSeconds, in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Microseconds since the execution started, when the trace is recorded (each run
    /// request carries the current value).
    pub trace_offset_us: Option<u64>,
    /// Every branch gets (a copy of) the same input: the payload holds one value.
    pub shared_input: bool,
    /// Otherwise the payload holds the inputs of branches `first_index..`, in order.
    pub first_index: usize,
    /// The workflow variables the branches start with (`Assign` of the states before).
    #[serde(default)]
    pub variables: serde_json::Map<String, Json>,
}

/// The execution's context-object fields, as they cross to a child.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecutionWire {
    pub arn: String,
    pub name: String,
    pub start_time: String,
    pub input: Json,
    pub role_arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
}

/// A state a child ran, for the parent's trace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteRecord {
    pub state: String,
    pub kind: String,
    pub start_us: u64,
    pub end_us: u64,
    pub attempts: u32,
    pub error: Option<String>,
}

/// What [`crate::Engine::run_branch`] produced in a child.
pub struct BranchRun {
    pub outcome: Result<Value, StatesError>,
    pub states: Vec<RemoteRecord>,
    pub durations: Vec<(String, u64)>,
    /// History events the branch added.
    pub events: u64,
}
