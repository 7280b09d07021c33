//! The process-lane wire format: what crosses between the parent, which runs an execution,
//! and a worker process, which runs some branches of one of its Parallel or Map states.
//!
//! ```text
//! parent                                            worker
//!   BranchJob (the state, the execution's context)
//!   + inputs: Payload (codec-encoded, shared memory) ─>  decodes the inputs once
//!   RunRequest { index, trace offset, History } ─────>  runs branch `index`
//!                <──────────────────────────────────  TaskCheckpoint + the Task's input
//!                                                     (before each attempt of a Task that
//!                                                     may be killed at its deadline)
//!                <──────────────────────────────────  BranchReport: the encoded outcome,
//!                                                     RemoteRecords, durations, events
//!   killed at a Task's deadline: Resume (the checkpoint and its input) continues the
//!   branch in the parent
//! ```
//!
//! The types that cross as messages derive `Serialize`/`Deserialize` (the lanes crate frames
//! them); values travel separately, as a [`Payload`] a [`crate::codec::ValueCodec`] wrote.
//! A transport (the fork server's socket pair today, a remote lane tomorrow) carries these and
//! nothing else; the engine's side of it is in [`crate::lanes`].

use asl::{StatesError, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::codec::Payload;

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
    /// The execution's limit ([`crate::EngineOptions::limits`]).
    pub max_events: Option<u64>,
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
    /// The variables the Task sees (the outer scope's and the branch's own `Assign`s before
    /// it): a branch taken up in the parent goes on with them.
    #[serde(default)]
    pub variables: serde_json::Map<String, Json>,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// A batch of branches of one Parallel or Map state for a sibling instance to run (a remote
/// lane): what `POST /lanes/branches` of `faastlane serve`, a Lambda invoke or an OpenWhisk
/// activation carries. Values are JSON here: the request may cross machines.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteRequest {
    pub job: BranchJob,
    /// The branches (Map: item indices) to run, in order.
    pub indices: Vec<usize>,
    /// The execution's history counter as the batch left (see [`RunRequest::history`]).
    #[serde(default)]
    pub history: Option<History>,
    /// With [`BranchJob::shared_input`] one value every branch gets a copy of, else one
    /// value per index, in the order of `indices`.
    pub inputs: Vec<Json>,
}

/// The key that marks a [`RemoteRequest`] inside a platform's event (a Lambda payload, an
/// OpenWhisk activation's parameters): `{"faastlaneLanes": {...request...}}`.
pub const REMOTE_EVENT_KEY: &str = "faastlaneLanes";

/// The [`RemoteRequest`] inside a platform event (`{"faastlaneLanes": REQUEST}`), if it is one.
pub fn lanes_request(event: &serde_json::Value) -> Option<Result<RemoteRequest, String>> {
    let request = event.get(REMOTE_EVENT_KEY)?;
    Some(
        RemoteRequest::deserialize(request)
            .map_err(|e| format!("the remote-lane request is malformed: {e}")),
    )
}

/// What a platform runtime (`faastlane lambda`, `faastlane openwhisk`) answers when its event
/// is a remote-lane request: `None` when it is not one (run an execution as usual), else the
/// batch's report, or `Err((error, cause))` for a request it cannot run (malformed, another
/// workflow), which the runtime reports as its function error.
pub fn answer_event(
    engine: &crate::Engine,
    workflow: &crate::Workflow,
    event: &serde_json::Value,
    instance: &str,
) -> Option<Result<RemoteResponse, (String, String)>> {
    let request = match lanes_request(event)? {
        Ok(request) => request,
        Err(cause) => return Some(Err((asl::names::RUNTIME.to_string(), cause))),
    };
    if request.job.workflow != workflow.name {
        return Some(Err((
            asl::names::RUNTIME.to_string(),
            format!(
                "this instance runs workflow '{}', not '{}'",
                workflow.name, request.job.workflow
            ),
        )));
    }
    Some(Ok(engine.run_remote_batch(workflow, request, instance)))
}

/// What a sibling sends back for a [`RemoteRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteResponse {
    /// Which instance ran the batch, as it names itself (for the trace).
    pub instance: String,
    /// One report per requested index, in the order of the request.
    pub branches: Vec<RemoteBranch>,
}

/// One branch a sibling ran, as a process lane's [`BranchReport`] says it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteBranch {
    pub index: usize,
    pub outcome: RemoteOutcome,
    #[serde(default)]
    pub states: Vec<RemoteRecord>,
    /// How long each Task function ran, in nanoseconds.
    #[serde(default)]
    pub durations: Vec<(String, u64)>,
    /// History events the branch added.
    #[serde(default)]
    pub events: u64,
}

/// A remote branch's output, or its error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteOutcome {
    Output(Json),
    Error { error: String, cause: String },
}
