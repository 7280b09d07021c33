//! Process isolation: each call of a sensitive function runs in a fresh worker process forked
//! from a fork server, with its input and result marshalled by the runtime's codec.
//!
//! The fork server's workers run branches of Parallel and Map states (`engine::lanes`), so
//! the calls are put in that shape: [`isolation_workflow`] makes a workflow with one
//! single-branch Parallel state per sensitive function, whose branch is one Task calling it.
//! The server hosts that workflow, a call is a one-branch job of its function's Parallel
//! state, and the worker runs the function exactly as a process lane runs a branch's Task
//! (the runtime's own timeout, its error names, what it prints sent to the parent's log,
//! tagged with the calling state's name).
//! Input processing, Retry and Catch stay in the parent's interpreter, around the call.
//!
//! The server must keep no idle workers (`idle_workers: 0`): a worker that ran one function
//! must never run another, or module state one function left behind would reach the next.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use asl::{StatesError, Value};
use engine::codec::ValueCodec;
use engine::lanes::{ProcessPool, WorkerRun};
use engine::wire::{BranchJob, ExecutionWire};
use engine::{Call, LogSink, PrepareError, Runtime, TaskFailure, Workflow};
use serde_json::{Value as Json, json};

/// The workflow a process-isolation fork server hosts: state `isolate-{i}` (at position `2i`
/// of the engine's pre-order walk) is a Parallel state whose one branch calls `functions[i]`.
pub fn isolation_workflow(
    name: &str,
    functions: &[String],
) -> Result<Workflow, IsolationWorkflowError> {
    let mut states = serde_json::Map::new();
    for (i, function) in functions.iter().enumerate() {
        let mut state = json!({
            "Type": "Parallel",
            "Branches": [{
                "StartAt": function,
                "States": {function.as_str(): {"Type": "Task", "Resource": function, "End": true}}
            }]
        });
        if i + 1 < functions.len() {
            state["Next"] = json!(format!("isolate-{}", i + 1));
        } else {
            state["End"] = json!(true);
        }
        states.insert(format!("isolate-{i}"), state);
    }
    let definition = json!({"StartAt": "isolate-0", "States": states});
    let machine = asl::load(&definition).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        IsolationWorkflowError(list.join("; "))
    })?;
    Ok(Workflow {
        name: name.to_string(),
        machine,
    })
}

/// The workflow of [`isolation_workflow`] does not load (a function name ASL rejects as a
/// state name, e.g. longer than 80 characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the isolation workflow does not load: {0}")]
pub struct IsolationWorkflowError(pub String);

/// A runtime that runs the sensitive functions of `inner` in worker processes of `pool` (a
/// fork server hosting [`isolation_workflow`] of them, with no idle workers), and the others
/// on the calling thread.
pub struct ProcessIsolated {
    inner: Arc<dyn Runtime>,
    pool: Arc<dyn ProcessPool>,
    workflow: String,
    /// Function name -> its Parallel state's name and position in the isolation workflow.
    states: HashMap<String, (String, usize)>,
}

impl ProcessIsolated {
    /// `functions` in the order given to [`isolation_workflow`], whose name is `workflow`.
    pub fn new(
        inner: Arc<dyn Runtime>,
        pool: Arc<dyn ProcessPool>,
        workflow: &str,
        functions: &[String],
    ) -> Self {
        let states = functions
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), (format!("isolate-{i}"), 2 * i)))
            .collect();
        ProcessIsolated {
            inner,
            pool,
            workflow: workflow.to_string(),
            states,
        }
    }

    fn isolated(
        &self,
        call: &Call<'_>,
        input: Value,
        state: &str,
        index: usize,
    ) -> Result<Value, TaskFailure> {
        let lane = |what: &str, e: &dyn std::fmt::Display| {
            TaskFailure::Runtime(StatesError::runtime(format!(
                "process isolation of function '{}' ({what}): {e}",
                call.function
            )))
        };
        self.pool.ready(None).map_err(|e| lane("fork server", &e))?;
        let codec = self.inner.codec();
        let mut buffer = self.pool.payload().map_err(|e| lane("payload", &e))?;
        codec
            .encode(&[&input], buffer.as_mut())
            .map_err(|e| lane("encoding its input", &e))?;
        let payload = buffer.finish().map_err(|e| lane("payload", &e))?;
        let job = BranchJob {
            workflow: self.workflow.clone(),
            state_index: index,
            state: state.to_string(),
            prefix: String::new(),
            execution: ExecutionWire {
                arn: call.execution_arn.to_string(),
                name: String::new(),
                start_time: String::new(),
                input: Json::Null,
                role_arn: String::new(),
                state_machine_arn: String::new(),
                state_machine_name: String::new(),
            },
            deadline_ms: call.deadline.map(|d| {
                let left = d.saturating_duration_since(Instant::now());
                u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
            }),
            trace_offset_us: None,
            shared_input: true,
            first_index: 0,
            variables: Default::default(),
        };
        let mut worker = self
            .pool
            .spawn(&job, &payload)
            .map_err(|e| lane("starting a worker", &e))?;
        let log = AsState {
            log: call.log,
            state: call.state_name,
        };
        let run = worker.run(0, None, call.cancel, &log);
        drop(worker);
        match run {
            WorkerRun::Finished(report) => {
                let encoded = report.outcome.map_err(TaskFailure::Function)?;
                let mut values = codec
                    .decode(&encoded)
                    .map_err(|e| lane("decoding its result", &e))?;
                values
                    .pop()
                    .ok_or_else(|| lane("decoding its result", &"no value"))
            }
            WorkerRun::Lost(e) => Err(TaskFailure::Runtime(e)),
            WorkerRun::Interrupted { error, .. } => Err(TaskFailure::Function(error)),
        }
    }
}

/// Tags what a worker's function prints with the calling Task's state name (in the worker the
/// Task is named after the function).
struct AsState<'a> {
    log: &'a dyn LogSink,
    state: &'a str,
}

impl LogSink for AsState<'_> {
    fn line(&self, _state: &str, line: &str) {
        self.log.line(self.state, line);
    }
}

impl Runtime for ProcessIsolated {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        self.inner.prepare(functions)
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        match self.states.get(call.function) {
            Some((state, index)) => self.isolated(call, input, state, *index),
            None => self.inner.invoke(call, input),
        }
    }

    fn codec(&self) -> &dyn ValueCodec {
        self.inner.codec()
    }
}
