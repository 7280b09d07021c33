//! An in-process test double of [`ProcessPool`]: each "worker" runs its branches on the
//! dispatcher's thread through [`Engine::run_branch_in`], with inputs and results crossing
//! through the runtime's codec exactly as they cross to a forked worker. The engine's process
//! lane (dispatch, payload encoding, result decoding, taking a branch up again after its
//! worker was killed at a Task's deadline) runs unchanged, without any fork.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::{StatesError, Value};
use engine::codec::{Payload, PayloadSink};
use engine::lanes::{
    BranchContext, Checkpoints, LaneError, NotReady, PayloadBuffer, ProcessPool, ProcessWorker,
    WorkerRun,
};
use engine::wire::{BranchJob, BranchReport, Resume, RunRequest, TaskCheckpoint};
use engine::{BranchLanes, CancelToken, Clock, Engine, EngineOptions, LogSink, Runtime, Workflow};

/// A payload in this process's memory.
struct Buffer(Vec<u8>);

impl PayloadSink for Buffer {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn position(&self) -> u64 {
        self.0.len() as u64
    }
}

impl PayloadBuffer for Buffer {
    fn finish(self: Box<Self>) -> Result<Payload, LaneError> {
        Ok(Arc::new(self.0))
    }
}

/// Runs the branches of `workflow` on `engine` (the "warm worker" side).
pub struct InProcessPool {
    pub engine: Arc<Engine>,
    pub runtime: Arc<dyn Runtime>,
    pub workflow: Workflow,
    /// Workers started so far.
    pub spawned: AtomicUsize,
    /// The worker of a branch that starts an attempt of this Task (by name) is "killed" at
    /// the attempt's deadline: the branch is reported interrupted there, as a forked worker
    /// blocked in the Task would be.
    pub kill_in: Option<String>,
}

impl InProcessPool {
    /// Workers that run `workflow`'s branches with `runtime`'s functions on `clock`.
    pub fn new(runtime: Arc<dyn Runtime>, clock: Arc<dyn Clock>, workflow: Workflow) -> Self {
        let options = EngineOptions {
            lanes: BranchLanes::Inline,
            ..EngineOptions::default()
        };
        let engine = Engine::with_options(Arc::clone(&runtime), options).with_clock(clock);
        InProcessPool {
            engine: Arc::new(engine),
            runtime,
            workflow,
            spawned: AtomicUsize::new(0),
            kill_in: None,
        }
    }
}

impl ProcessPool for InProcessPool {
    fn ready(&self, _wait: Option<Duration>) -> Result<(), NotReady> {
        Ok(())
    }

    fn spawn_cost(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn payload(&self) -> Result<Box<dyn PayloadBuffer>, LaneError> {
        Ok(Box::new(Buffer(Vec::new())))
    }

    fn spawn(
        &self,
        job: &BranchJob,
        inputs: &Payload,
    ) -> Result<Box<dyn ProcessWorker>, LaneError> {
        let inputs = self
            .runtime
            .codec()
            .decode(inputs)
            .map_err(|e| LaneError::WorkerDidNotStart(e.to_string()))?;
        self.spawned.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(Worker {
            engine: Arc::clone(&self.engine),
            runtime: Arc::clone(&self.runtime),
            workflow: self.workflow.clone(),
            job: job.clone(),
            inputs,
            kill_in: self.kill_in.clone(),
        }))
    }
}

struct Worker {
    engine: Arc<Engine>,
    runtime: Arc<dyn Runtime>,
    workflow: Workflow,
    job: BranchJob,
    inputs: Vec<Value>,
    kill_in: Option<String>,
}

/// Remembers the open checkpoint, and "kills" the branch when it is the Task to kill in.
struct Watch<'a> {
    kill_in: Option<&'a str>,
    killed: &'a CancelToken,
    open: Mutex<Option<(TaskCheckpoint, Value)>>,
}

impl Checkpoints for Watch<'_> {
    fn task_starts(&self, checkpoint: &TaskCheckpoint, raw: &Value) {
        *self.open.lock().expect("checkpoint lock") = Some((checkpoint.clone(), raw.clone()));
        if self.kill_in == Some(checkpoint.state.as_str()) {
            self.killed.cancel();
        }
    }

    fn task_ended(&self) {
        if !self.killed.is_cancelled() {
            *self.open.lock().expect("checkpoint lock") = None;
        }
    }
}

impl ProcessWorker for Worker {
    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn run_with(
        &mut self,
        request: &RunRequest,
        cancel: &CancelToken,
        _log: &dyn LogSink,
    ) -> WorkerRun {
        let input = if self.job.shared_input {
            self.inputs.first().cloned()
        } else {
            request
                .index
                .checked_sub(self.job.first_index)
                .and_then(|i| self.inputs.get(i).cloned())
        };
        let Some(input) = input else {
            return WorkerRun::Lost(StatesError::runtime("no input for the branch"));
        };
        let killed = cancel.child();
        let watch = Watch {
            kill_in: self.kill_in.as_deref(),
            killed: &killed,
            open: Mutex::new(None),
        };
        let run = self.engine.run_branch_in(
            &self.workflow,
            &self.job,
            request.index,
            input,
            BranchContext {
                history: request.history,
                checkpoints: Some(&watch),
                input_checked: false,
            },
            &killed,
        );
        let codec = self.runtime.codec();
        if killed.is_cancelled() && !cancel.is_cancelled() {
            let Some((checkpoint, raw)) = watch.open.lock().expect("checkpoint lock").take() else {
                return WorkerRun::Lost(StatesError::runtime("killed outside a checkpoint"));
            };
            let mut buffer = Vec::new();
            if let Err(e) = codec.encode(&[&raw], &mut buffer) {
                return WorkerRun::Lost(StatesError::runtime(e.to_string()));
            }
            return WorkerRun::Interrupted {
                error: StatesError::new("States.Timeout", "the worker was killed at the deadline"),
                resume: Resume {
                    checkpoint,
                    input: Arc::new(buffer),
                },
            };
        }
        let outcome = run.outcome.and_then(|value| {
            let mut buffer = Vec::new();
            codec
                .encode(&[&value], &mut buffer)
                .map_err(|e| StatesError::new("Runtime.MarshalError", e.to_string()))?;
            Ok(Arc::new(buffer) as Payload)
        });
        WorkerRun::Finished(BranchReport {
            outcome,
            states: run.states,
            durations: run.durations,
            events: run.events,
        })
    }
}
