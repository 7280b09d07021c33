//! The engine: runs executions of a validated state machine.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use asl::{StateMachine, StatesError, Value};
use serde_json::Value as Json;

use crate::clock::{Clock, SystemClock};
use crate::context::{ExecutionInfo, Identity, timestamp};
use crate::interpreter::{Exec, Frame};
use crate::lanes::{BranchContext, BranchJob, BranchRun, History, ProcessPool, RemoteRecord};
use crate::planner::Estimates;
use crate::runtime::{CancelToken, LogSink, NoLog, PrepareError, Runtime};
use crate::trace::{Lane, Trace, TraceReport};

/// A state machine ready to run, with the name its ARNs carry.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub name: String,
    pub machine: StateMachine,
}

impl Workflow {
    /// The distinct functions its Tasks call (in nested branches too), sorted.
    pub fn functions(&self) -> Vec<String> {
        let mut names: Vec<String> = crate::interpreter::task_functions(&self.machine)
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Where Parallel branches and Map iterations run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchLanes {
    /// One after the other on the calling thread.
    Inline,
    /// On up to this many threads at once (the calling thread counts as one).
    Threads(usize),
    /// In worker processes of [`EngineOptions::processes`] (one per usable CPU but one, at
    /// least one), whatever they cost (for benchmarks); the calling thread takes a share only
    /// when there are more branches than workers.
    Process,
    /// Chosen per state by the planner (`planner.rs`): inline, or processes when the
    /// branches' estimated work pays for them.
    Auto,
}

/// Engine-wide settings.
#[derive(Clone)]
pub struct EngineOptions {
    pub identity: Identity,
    pub lanes: BranchLanes,
    /// Record a per-state trace.
    pub trace: bool,
    pub log: Arc<dyn LogSink>,
    /// Fail an execution whose history grows past this many events, as Step Functions does
    /// at 25,000 (a state machine that loops forever must end). `None`: no limit.
    pub max_events: Option<u64>,
    /// Starts worker processes for process lanes (a fork server); `None`: branches stay in
    /// this process.
    pub processes: Option<Arc<dyn ProcessPool>>,
    /// The CPUs this process may use (cgroup quota and affinity, not the host's count).
    pub cpus: usize,
}

/// Step Functions' execution history limit.
pub const AWS_MAX_HISTORY_EVENTS: u64 = 25_000;

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            identity: Identity::default(),
            lanes: BranchLanes::Inline,
            trace: false,
            log: Arc::new(NoLog),
            max_events: Some(AWS_MAX_HISTORY_EVENTS),
            processes: None,
            cpus: 1,
        }
    }
}

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

/// Runs executions. Cheap to share between threads.
pub struct Engine {
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: EngineOptions,
    /// What each function has cost so far, for the planner.
    pub(crate) estimates: Estimates,
}

impl Engine {
    pub fn new(runtime: Arc<dyn Runtime>) -> Self {
        Self::with_options(runtime, EngineOptions::default())
    }

    pub fn with_options(runtime: Arc<dyn Runtime>, options: EngineOptions) -> Self {
        Engine {
            runtime,
            clock: Arc::new(SystemClock),
            options,
            estimates: Estimates::default(),
        }
    }

    /// Replaces the clock (tests use [`crate::clock::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The running estimate of what one call of `function` costs.
    pub fn estimate(&self, function: &str) -> Option<Duration> {
        self.estimates.get(function)
    }

    /// Checks that every function the workflow's Tasks name can run, loading them.
    pub fn prepare(&self, workflow: &Workflow) -> Result<(), Vec<PrepareProblem>> {
        let tasks = crate::interpreter::task_functions(&workflow.machine);
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
        let deadline = workflow
            .machine
            .timeout_seconds
            .and_then(|s| started.checked_add(Duration::from_secs(s)));
        let exec = Exec {
            engine: self,
            workflow,
            info: Arc::new(info),
            trace: Trace::new(started, self.options.trace),
            deadline,
            events: AtomicU64::new(1),
            max_events: self.options.max_events,
            observations: None,
            lane_override: None,
        };
        let cancel = CancelToken::new();
        let frame = Frame {
            cancel: &cancel,
            prefix: String::new(),
            checkpoints: None,
        };
        let outcome = exec.run_machine(&workflow.machine, Value::Json(input), &frame);
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
        let Some(state) = crate::interpreter::nth_state(&workflow.machine, job.state_index)
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
            max_events: self.options.max_events,
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
        };
        let outer = crate::interpreter::Variables::from_map(job.variables.clone());
        let outcome = exec.run_machine_in(machine, input, &frame, outer);
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
