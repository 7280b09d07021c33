//! The engine: runs executions of a validated state machine.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::{StatesError, Value, names};
use serde_json::Value as Json;

use crate::context::{ExecutionInfo, timestamp};
use crate::history::HistorySink;
use crate::interpreter::{Exec, Frame};
use crate::lanes::BranchContext;
use crate::runtime::{CancelToken, PrepareError, PrepareErrorKind};
use crate::setup::{Engine, Workflow};
use crate::trace::{Lane, Trace, TraceReport};
use crate::wire::{BranchJob, BranchRun, History, RemoteRecord};

/// The error of an execution stopped through [`ExecutionOptions::cancel`] (not a `States.*`
/// name: nothing in the workflow can catch it).
pub const ABORTED: &str = "Execution.Aborted";

/// Per-execution settings.
#[derive(Clone, Default)]
pub struct ExecutionOptions {
    /// The execution's name (a UUID when absent).
    pub name: Option<String>,
    /// Receives the execution's history events as they happen ([`crate::history`]). Branches
    /// of a recorded execution run in this process (threads), not in worker processes.
    pub history: Option<Arc<dyn HistorySink>>,
    /// Stops the execution when cancelled (`StopExecution`): it ends as
    /// [`ExecutionStatus::Aborted`] with an `ExecutionAborted` event.
    pub cancel: Option<CancelToken>,
    /// When the platform running this execution stops waiting for it (a Lambda invocation's
    /// `Lambda-Runtime-Deadline-Ms`): past it the execution fails with `States.Timeout`, like
    /// the definition's `TimeoutSeconds`.
    pub deadline: Option<std::time::Instant>,
}

impl std::fmt::Debug for ExecutionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionOptions")
            .field("name", &self.name)
            .field("history", &self.history.is_some())
            .field("cancel", &self.cancel)
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// How an execution ended, as the Step Functions API's `ExecutionStatus` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

/// What an execution produced.
#[derive(Debug)]
pub struct ExecutionResult {
    pub arn: String,
    pub name: String,
    /// The final output, or the error that failed the execution.
    pub outcome: Result<Value, StatesError>,
    pub status: ExecutionStatus,
    pub duration: Duration,
    pub trace: TraceReport,
}

impl ExecutionResult {
    /// The outcome as JSON: the output, or `{"error", "cause"}` with the failure. A runtime
    /// object that cannot become JSON fails here, the way Lambda reports an unserializable
    /// response (`Runtime.MarshalError`).
    pub fn into_json(self) -> Result<Json, StatesError> {
        match self.outcome {
            Ok(value) => value.into_json().map_err(|e| {
                StatesError::new(
                    "Runtime.MarshalError",
                    format!("Unable to marshal the execution output: {e}"),
                )
            }),
            Err(e) => Err(e),
        }
    }
}

/// A problem that keeps a workflow from starting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("state '{state}': {error}")]
pub struct PrepareProblem {
    pub state: String,
    pub error: PrepareError,
}

impl Engine {
    /// Checks that every function the workflow's Tasks name can run, loading them.
    pub fn prepare(&self, workflow: &Workflow) -> Result<(), Vec<PrepareProblem>> {
        let tasks = asl::walk::task_functions(&workflow.machine);
        let mut names: Vec<&str> = tasks.iter().map(|(_, f)| f.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        // A function named by a Lambda ARN that nothing provides fails when its Task runs
        // (`Lambda.ResourceNotFoundException`), as on AWS, where a definition may name a
        // function that does not exist yet.
        let plain = asl::walk::plain_task_functions(&workflow.machine);
        let errors: Vec<_> = self
            .runtime
            .prepare(&names)
            .into_iter()
            .filter(|e| e.kind != PrepareErrorKind::NotFound || plain.contains(&e.function))
            .collect();
        if errors.is_empty() {
            return Ok(());
        }
        let problems = errors
            .into_iter()
            .map(|error| {
                let state = tasks
                    .iter()
                    .filter(|(_, f)| *f == error.function)
                    .map(|(s, _)| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                PrepareProblem { state, error }
            })
            .collect();
        Err(problems)
    }

    /// Runs one execution to completion on the calling thread (branches may use more).
    pub fn execute(
        &self,
        workflow: &Workflow,
        input: Json,
        options: &ExecutionOptions,
    ) -> ExecutionResult {
        let started = self.clock.instant();
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let identity = &self.options.identity;
        let arn = identity.execution_arn(&workflow.name, &name);
        let info = ExecutionInfo {
            arn: arn.clone(),
            name: name.clone(),
            start_time: timestamp(self.clock.now()),
            input: Arc::new(input),
            role_arn: identity.role_arn(),
            state_machine_arn: identity.state_machine_arn(&workflow.name),
            state_machine_name: workflow.name.clone(),
        };
        let limits = &self.options.limits;
        let machine_deadline = workflow
            .machine
            .timeout_seconds
            .and_then(|s| started.checked_add(Duration::from_secs(s)));
        let limit_deadline = limits.execution_time.and_then(|t| started.checked_add(t));
        let deadline = [machine_deadline, limit_deadline, options.deadline]
            .into_iter()
            .flatten()
            .min();
        let exec = Exec {
            engine: self,
            workflow,
            info: Arc::new(info),
            trace: Trace::new(started, self.options.trace),
            deadline,
            events: AtomicU64::new(0),
            history: options.history.clone(),
            history_lock: Mutex::default(),
            max_events: self.options.limits.history_events,
            observations: None,
            lane_override: None,
            payload_warned: Default::default(),
        };
        let cancel = options.cancel.clone().unwrap_or_default();
        let frame = Frame {
            cancel: &cancel,
            prefix: String::new(),
            checkpoints: None,
            lane: Lane::Inline,
            last_event: AtomicU64::new(0),
        };
        exec.execution_started(&frame);
        let outcome = match over_data_limit(limits.input_bytes, &exec.info.input, "input") {
            Some(error) => Err(error),
            None => {
                // A handle, not a copy: a large input is held once for the whole execution.
                let input = asl::SharedJson::value(Arc::clone(&exec.info.input));
                exec.run_machine(&workflow.machine, input, &frame)
            }
        };
        let mut outcome = match outcome {
            // Measured as text only when limited: the output may be large.
            Ok(output) => match limits.output_bytes.map(|max| (max, output_len(&output))) {
                Some((max, Some(bytes))) if bytes > max => {
                    Err(data_limit_error("output", bytes, max))
                }
                _ => Ok(output),
            },
            // The limit, not the definition's TimeoutSeconds, ended it: say so.
            Err(e)
                if e.error == names::TIMEOUT
                    && limit_deadline.is_some_and(|l| {
                        machine_deadline.is_none_or(|m| l < m) && self.clock.instant() >= l
                    }) =>
            {
                Err(StatesError::new(
                    names::TIMEOUT,
                    format!(
                        "the execution ran longer than the limit of {} s",
                        limits.execution_time.unwrap_or_default().as_secs_f64()
                    ),
                ))
            }
            // The platform's deadline came first.
            Err(e)
                if e.error == names::TIMEOUT
                    && options.deadline.is_some_and(|p| {
                        [machine_deadline, limit_deadline]
                            .into_iter()
                            .flatten()
                            .all(|other| p < other)
                            && self.clock.instant() >= p
                    }) =>
            {
                Err(StatesError::new(
                    names::TIMEOUT,
                    "the execution ran past the deadline of the platform running it",
                ))
            }
            Err(e) => Err(e),
        };
        let status = match &outcome {
            Ok(_) => ExecutionStatus::Succeeded,
            Err(_) if cancel.is_cancelled() => ExecutionStatus::Aborted,
            Err(e) if e.error == names::TIMEOUT && exec.execution_timed_out() => {
                ExecutionStatus::TimedOut
            }
            Err(_) => ExecutionStatus::Failed,
        };
        if status == ExecutionStatus::Aborted {
            outcome = Err(StatesError::new(
                ABORTED,
                "The execution was stopped before it ended",
            ));
        }
        exec.execution_ended(&frame, &outcome, status);
        let duration = exec
            .engine
            .clock
            .instant()
            .saturating_duration_since(started);
        ExecutionResult {
            arn,
            name,
            outcome,
            status,
            duration,
            trace: exec.trace.finish(),
        }
    }
}

impl Engine {
    /// Runs branch `index` of the Parallel or Map state `job` names, in a worker process: the
    /// other half of a process lane. `input` is the branch's input (a Map item after its
    /// ItemSelector). The branch's history is its own, limited by this engine's
    /// `max_events`; [`Engine::run_branch_in`] continues an execution's.
    pub fn run_branch(
        &self,
        workflow: &Workflow,
        job: &BranchJob,
        index: usize,
        input: Value,
        cancel: &CancelToken,
    ) -> BranchRun {
        self.run_branch_in(
            workflow,
            job,
            index,
            input,
            BranchContext::default(),
            cancel,
        )
    }

    /// [`Engine::run_branch`] as part of an execution. With the execution's `history`, the
    /// branch's events are counted on from the execution's and limited by its `max_events`,
    /// so the branch fails here exactly when it would fail inline, and the events it added
    /// come back in [`BranchRun::events`]. `checkpoints` hears where the branch's Tasks can
    /// be taken up again if this process is killed at a Task's deadline.
    pub fn run_branch_in(
        &self,
        workflow: &Workflow,
        job: &BranchJob,
        index: usize,
        input: Value,
        context: BranchContext<'_>,
        cancel: &CancelToken,
    ) -> BranchRun {
        let failed = |cause: String| BranchRun {
            outcome: Err(StatesError::runtime(cause)),
            states: Vec::new(),
            durations: Vec::new(),
            events: 0,
        };
        if workflow.name != job.workflow {
            return failed(format!(
                "this worker runs workflow '{}', not '{}'",
                workflow.name, job.workflow
            ));
        }
        let Some(state) = asl::walk::nth_state(&workflow.machine, job.state_index)
            .filter(|s| s.name == job.state)
        else {
            return failed(format!(
                "no state '{}' in workflow '{}'",
                job.state, job.workflow
            ));
        };
        let machine = match &state.kind {
            asl::model::StateKind::Parallel(par) => par.branches.get(index),
            asl::model::StateKind::Map(map) => Some(&map.processor),
            _ => None,
        };
        let Some(machine) = machine else {
            return failed(format!("state '{}' has no branch {index}", job.state));
        };
        let now = self.clock.instant();
        let origin = job
            .trace_offset_us
            .and_then(|us| now.checked_sub(Duration::from_micros(us)))
            .unwrap_or(now);
        let e = &job.execution;
        let history = context.history.unwrap_or(History {
            events: 1,
            max_events: self.options.limits.history_events,
        });
        let mut exec = Exec {
            engine: self,
            workflow,
            info: Arc::new(ExecutionInfo {
                arn: e.arn.clone(),
                name: e.name.clone(),
                start_time: e.start_time.clone(),
                input: Arc::new(e.input.clone()),
                role_arn: e.role_arn.clone(),
                state_machine_arn: e.state_machine_arn.clone(),
                state_machine_name: e.state_machine_name.clone(),
            }),
            trace: Trace::new(origin, job.trace_offset_us.is_some()),
            deadline: job
                .deadline_ms
                .and_then(|ms| now.checked_add(Duration::from_millis(ms))),
            events: AtomicU64::new(history.events),
            history: None,
            history_lock: Mutex::default(),
            max_events: history.max_events,
            observations: Some(std::sync::Mutex::default()),
            lane_override: Some(Lane::Process),
            payload_warned: Default::default(),
        };
        let frame = Frame {
            cancel,
            prefix: format!("{}{}/{index}/", job.prefix, job.state),
            checkpoints: context.checkpoints,
            lane: Lane::Process,
            last_event: AtomicU64::new(history.events),
        };
        let outer = crate::interpreter::Variables::from_map(job.variables.clone());
        let outcome = match &state.kind {
            // An iteration has its own events around its states, wherever it runs.
            asl::model::StateKind::Map(map) => {
                exec.map_iteration(state, map, index, input, &frame, outer)
            }
            _ => exec.run_machine_in(machine, input, &frame, outer, context.input_checked),
        };
        let events = exec
            .events
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(history.events);
        let durations = exec
            .observations
            .take()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_default();
        let states = exec
            .trace
            .finish()
            .states
            .into_iter()
            .map(|r| RemoteRecord {
                state: r.state,
                kind: r.kind.to_string(),
                start_us: r.start_us,
                end_us: r.end_us,
                attempts: r.attempts,
                error: r.error,
            })
            .collect();
        BranchRun {
            outcome,
            states,
            durations,
            events,
        }
    }
}

/// `States.DataLimitExceeded` when `json` is larger than `max` bytes of compact JSON.
fn over_data_limit(max: Option<usize>, json: &Json, what: &str) -> Option<StatesError> {
    let max = max?;
    // Counted as it is written: a large input is not copied into text to be measured.
    let mut counter = ByteCounter(0);
    let bytes = serde_json::to_writer(&mut counter, json).map_or(usize::MAX, |()| counter.0);
    (bytes > max).then(|| data_limit_error(what, bytes, max))
}

/// The length of a value's compact JSON text; `None` when it has none (the execution then
/// fails on that, not on its size).
fn output_len(output: &Value) -> Option<usize> {
    if let Some(json) = output.as_json() {
        let mut counter = ByteCounter(0);
        return serde_json::to_writer(&mut counter, json)
            .ok()
            .map(|()| counter.0);
    }
    let mut text = Vec::new();
    output.write_json(&mut text).ok().map(|()| text.len())
}

fn data_limit_error(what: &str, bytes: usize, max: usize) -> StatesError {
    StatesError::new(
        names::DATA_LIMIT_EXCEEDED,
        format!("the execution {what} is {bytes} bytes, more than the limit of {max} bytes"),
    )
}

/// Counts the bytes written to it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
