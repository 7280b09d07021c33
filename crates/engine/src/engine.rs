//! The engine: runs executions of a validated state machine.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use asl::{StatesError, Value, names};
use serde_json::Value as Json;

use crate::context::{ExecutionInfo, timestamp};
use crate::interpreter::{Exec, Frame};
use crate::lanes::BranchContext;
use crate::runtime::{CancelToken, PrepareError};
use crate::setup::{Engine, Workflow};
use crate::trace::{Lane, Trace, TraceReport};
use crate::wire::{BranchJob, BranchRun, History, RemoteRecord};

/// Per-execution settings.
#[derive(Clone, Debug, Default)]
pub struct ExecutionOptions {
    /// The execution's name (a UUID when absent).
    pub name: Option<String>,
}

/// What an execution produced.
#[derive(Debug)]
pub struct ExecutionResult {
    pub arn: String,
    pub name: String,
    /// The final output, or the error that failed the execution.
    pub outcome: Result<Value, StatesError>,
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
        let errors = self.runtime.prepare(&names);
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
            input: Arc::new(input.clone()),
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
        let deadline = match (machine_deadline, limit_deadline) {
            (Some(m), Some(l)) => Some(m.min(l)),
            (m, l) => m.or(l),
        };
        let exec = Exec {
            engine: self,
            workflow,
            info: Arc::new(info),
            trace: Trace::new(started, self.options.trace),
            deadline,
            events: AtomicU64::new(1),
            max_events: self.options.limits.history_events,
            observations: None,
            lane_override: None,
        };
        let cancel = CancelToken::new();
        let frame = Frame {
            cancel: &cancel,
            prefix: String::new(),
            checkpoints: None,
            lane: Lane::Inline,
        };
        let outcome = match over_data_limit(limits.input_bytes, &input, "input") {
            Some(error) => Err(error),
            None => exec.run_machine(&workflow.machine, Value::Json(input), &frame),
        };
        let outcome = match outcome {
            Ok(output) => match limits.output_bytes.and(output.to_json().ok()) {
                Some(json) => match over_data_limit(limits.output_bytes, &json, "output") {
                    Some(error) => Err(error),
                    None => Ok(output),
                },
                None => Ok(output),
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
            Err(e) => Err(e),
        };
        let duration = exec
            .engine
            .clock
            .instant()
            .saturating_duration_since(started);
        ExecutionResult {
            arn,
            name,
            outcome,
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
            max_events: history.max_events,
            observations: Some(std::sync::Mutex::default()),
            lane_override: Some(Lane::Process),
        };
        let frame = Frame {
            cancel,
            prefix: format!("{}{}/{index}/", job.prefix, job.state),
            checkpoints: context.checkpoints,
            lane: Lane::Process,
        };
        let outcome = exec.run_machine(machine, input, &frame);
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
    let bytes = serde_json::to_vec(json).map_or(usize::MAX, |v| v.len());
    (bytes > max).then(|| {
        StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!("the execution {what} is {bytes} bytes, more than the limit of {max} bytes"),
        )
    })
}
