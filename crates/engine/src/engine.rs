//! The engine: runs executions of a validated state machine.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use asl::{StateMachine, StatesError, Value};
use serde_json::Value as Json;

use crate::clock::{Clock, SystemClock};
use crate::context::{ExecutionInfo, Identity, timestamp};
use crate::interpreter::{Exec, Frame};
use crate::runtime::{CancelToken, LogSink, NoLog, PrepareError, Runtime};
use crate::trace::{Trace, TraceReport};

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

/// How Parallel branches and Map iterations are spread over threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchLanes {
    /// One after the other on the calling thread.
    Inline,
    /// On up to this many threads at once (the calling thread counts as one).
    Threads(usize),
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
            info: Arc::new(info),
            trace: Trace::new(started, self.options.trace),
            deadline,
            events: AtomicU64::new(1),
        };
        let cancel = CancelToken::new();
        let frame = Frame {
            cancel: &cancel,
            prefix: String::new(),
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
