//! A worker process: forked from the fork server, it decodes its inputs once, then runs the
//! branches its parent sends, one at a time, with the engine's interpreter.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use asl::{StatesError, Value};
use engine::codec::{CodecError, Payload, ValueCodec};
use engine::lanes::{BranchContext, Checkpoints};
use engine::wire::{BranchJob, TaskCheckpoint};
use engine::{BranchLanes, Call, CancelToken, Engine, LogSink, PrepareError, Runtime, TaskFailure};

use crate::host::{Host, IDLE_NAME, WORKER_NAME};
use crate::protocol::{Channel, FromWorker, Outcome, Received, ToWorker};
use crate::shm::{SharedPayload, SpillBuffer, Spilled};
use crate::sys;

/// Log lines longer than this are cut (a message must fit in a packet).
const LINE_MAX: usize = 16 * 1024;

/// Sends what functions print to the parent, which passes it to the execution's log sink.
struct ForwardLog(Arc<Channel>);

impl LogSink for ForwardLog {
    fn line(&self, state: &str, line: &str) {
        let mut end = line.len().min(LINE_MAX);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let _ = self.0.send(
            &FromWorker::Log {
                state: state.to_string(),
                line: line[..end].to_string(),
            },
            &[],
            &[],
        );
    }
}

/// Tells the parent when a Task must end, so it can kill this process if the runtime cannot
/// interrupt the function (a Python function blocked in C).
struct ReportDeadlines {
    inner: Arc<dyn Runtime>,
    channel: Arc<Channel>,
}

impl Runtime for ReportDeadlines {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        self.inner.prepare(functions)
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        let Some(deadline) = call.deadline else {
            return self.inner.invoke(call, input);
        };
        let in_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis();
        let _ = self.channel.send(
            &FromWorker::Deadline {
                state: call.state_name.to_string(),
                in_ms: Some(u64::try_from(in_ms).unwrap_or(u64::MAX)),
            },
            &[],
            &[],
        );
        let result = self.inner.invoke(call, input);
        let _ = self.channel.send(
            &FromWorker::Deadline {
                state: call.state_name.to_string(),
                in_ms: None,
            },
            &[],
            &[],
        );
        result
    }

    fn lambda_response(
        &self,
        call: &Call<'_>,
        result: Value,
        measure: bool,
    ) -> Result<engine::LambdaResponse, TaskFailure> {
        self.inner.lambda_response(call, result, measure)
    }

    fn codec(&self) -> &dyn ValueCodec {
        self.inner.codec()
    }
}

/// Sends the parent where the branch can be taken up again (a Task's raw input and retry
/// counts), so that a Task killed at its deadline still gets its Retry and Catch.
struct SendCheckpoints {
    runtime: Arc<dyn Runtime>,
    channel: Arc<Channel>,
}

impl Checkpoints for SendCheckpoints {
    fn task_starts(&self, checkpoint: &TaskCheckpoint, raw: &Value) {
        // An input that cannot be encoded sends nothing: a kill then fails the branch whole.
        let mut buffer = SpillBuffer::new();
        if self.runtime.codec().encode(&[raw], &mut buffer).is_err() {
            return;
        }
        let (memfd, tail, fd) = match buffer.finish() {
            Ok(Spilled::Inline(bytes)) => (false, bytes, None),
            Ok(Spilled::Memfd(fd)) => (true, Vec::new(), Some(fd)),
            Err(_) => return,
        };
        let fds: Vec<_> = fd.iter().map(|f| f.as_fd()).collect();
        let _ = self.channel.send(
            &FromWorker::Checkpoint {
                checkpoint: checkpoint.clone(),
                memfd,
            },
            &tail,
            &fds,
        );
    }

    fn task_ended(&self) {
        let _ = self.channel.send(&FromWorker::CheckpointEnd, &[], &[]);
    }
}

/// The worker's life; never returns. It starts with `first` (a job and its inputs), or
/// without one: then it says hello and waits, idle, for a job.
pub(crate) fn run(
    host: &Host,
    first: Option<(Box<BranchJob>, OwnedFd)>,
    channel: Channel,
    memory_limit: Option<u64>,
) -> ! {
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let _ = rustix::thread::set_name(WORKER_NAME);
    if let Some(bytes) = memory_limit {
        // A worker that cannot be limited still runs: the limit is a guard, not a contract.
        let _ = crate::sys::limit_memory(bytes);
    }
    let channel = Arc::new(channel);
    let first = match first {
        Some((job, inputs)) => Ok(Next::Job(job, inputs)),
        None => hello(&channel).and_then(|()| idle(&channel)),
    };
    let mut state = String::new();
    let code = match first.and_then(|next| serve(host, next, &channel, &mut state)) {
        Ok(()) => 0,
        Err(message) => {
            let _ = channel.send(
                &FromWorker::Log {
                    state,
                    line: format!("faastlane worker: {message}"),
                },
                &[],
                &[],
            );
            70
        }
    };
    sys::exit_now(code)
}

/// Why a worker stops serving (it logs this as its last word to the parent and exits 70).
#[derive(Debug, thiserror::Error)]
enum WorkerError {
    /// Its channel to the parent broke: nobody is left to serve.
    #[error("the channel to the parent broke: {0}")]
    Channel(#[source] std::io::Error),
    #[error("a job came without its inputs")]
    NoInputs,
    #[error("cannot map the inputs: {0}")]
    MapInputs(#[source] std::io::Error),
    #[error("cannot decode the inputs: {0}")]
    DecodeInputs(#[source] CodecError),
}

/// Tells the parent this worker is ready (its inputs decoded, if it has a job).
fn hello(channel: &Channel) -> Result<(), WorkerError> {
    channel
        .send(
            &FromWorker::Hello {
                pid: std::process::id(),
            },
            &[],
            &[],
        )
        .map_err(WorkerError::Channel)
}

/// What a worker does when its job ends.
enum Next {
    Exit,
    /// Another job, after a spell idle: its description and inputs.
    Job(Box<BranchJob>, OwnedFd),
}

/// Serves jobs, starting with `next`: each until `Release`, then the next job the parent
/// hands this idle worker, until it is told to exit or its parent goes away. `state` names
/// the state of the job being served, for a last word if serving fails.
fn serve(
    host: &Host,
    mut next: Next,
    channel: &Arc<Channel>,
    state: &mut String,
) -> Result<(), WorkerError> {
    let runtime: Arc<dyn Runtime> = Arc::new(ReportDeadlines {
        inner: Arc::clone(&host.runtime),
        channel: Arc::clone(channel),
    });
    let checkpoints = SendCheckpoints {
        runtime: Arc::clone(&runtime),
        channel: Arc::clone(channel),
    };
    loop {
        match next {
            Next::Exit => return Ok(()),
            Next::Job(mut job, inputs) => {
                let _ = rustix::thread::set_name(WORKER_NAME);
                state.clone_from(&job.state);
                next = serve_job(host, &runtime, &checkpoints, &mut job, channel, inputs)?;
            }
        }
    }
}

/// Waits, idle, for the next job.
fn idle(channel: &Channel) -> Result<Next, WorkerError> {
    let _ = rustix::thread::set_name(IDLE_NAME);
    loop {
        match channel
            .recv::<ToWorker>(None)
            .map_err(WorkerError::Channel)?
        {
            Some(Received {
                message: ToWorker::Job { job },
                fds,
                ..
            }) => return next_job(job, fds),
            Some(Received {
                message: ToWorker::Exit,
                ..
            })
            | None => return Ok(Next::Exit),
            // Nothing to run or release while idle.
            Some(_) => {}
        }
    }
}

fn next_job(job: Box<BranchJob>, fds: Vec<OwnedFd>) -> Result<Next, WorkerError> {
    let inputs = fds.into_iter().next().ok_or(WorkerError::NoInputs)?;
    Ok(Next::Job(job, inputs))
}

fn serve_job(
    host: &Host,
    runtime: &Arc<dyn Runtime>,
    checkpoints: &SendCheckpoints,
    job: &mut BranchJob,
    channel: &Arc<Channel>,
    inputs: OwnedFd,
) -> Result<Next, WorkerError> {
    let mut options = host.options.clone();
    options.lanes = BranchLanes::Inline;
    options.processes = None;
    options.log = Arc::new(ForwardLog(Arc::clone(channel)));
    options.trace = job.trace_offset_us.is_some();
    let engine = Engine::with_options(Arc::clone(runtime), options);

    let payload: Payload = Arc::new(SharedPayload::open(inputs).map_err(WorkerError::MapInputs)?);
    let mut values: Vec<Option<Value>> = runtime
        .codec()
        .decode(&payload)
        .map_err(WorkerError::DecodeInputs)?
        .into_iter()
        .map(Some)
        .collect();
    drop(payload);
    hello(channel)?;
    let cancel = CancelToken::new();
    loop {
        let message = channel
            .recv::<ToWorker>(None)
            .map_err(WorkerError::Channel)?;
        let (index, history) = match message {
            Some(Received {
                message:
                    ToWorker::Run {
                        index,
                        trace_offset_us,
                        history,
                    },
                ..
            }) => {
                job.trace_offset_us = trace_offset_us;
                (index, history)
            }
            Some(Received {
                message: ToWorker::Release,
                ..
            }) => {
                // This job's inputs go before the wait: an idle worker holds no state.
                drop(values);
                return idle(channel);
            }
            // A job without a release first: this one's inputs go all the same.
            Some(Received {
                message: ToWorker::Job { job },
                fds,
                ..
            }) => return next_job(job, fds),
            Some(Received {
                message: ToWorker::Exit,
                ..
            })
            | None => return Ok(Next::Exit),
        };
        let input = if job.shared_input {
            values
                .first()
                .and_then(|v| v.clone())
                .ok_or_else(|| "no input".to_string())
                .and_then(|v| v.detach().map_err(|e| e.to_string()))
        } else {
            index
                .checked_sub(job.first_index)
                .and_then(|i| values.get_mut(i))
                .and_then(Option::take)
                .ok_or_else(|| format!("no input for branch {index}"))
        };
        let run = match input {
            Ok(input) => engine.run_branch_in(
                &host.workflow,
                job,
                index,
                input,
                BranchContext {
                    history,
                    checkpoints: Some(checkpoints),
                    input_checked: false,
                },
                &cancel,
            ),
            Err(e) => engine::wire::BranchRun {
                outcome: Err(StatesError::runtime(e)),
                states: Vec::new(),
                durations: Vec::new(),
                events: 0,
            },
        };
        let (outcome, tail, fd) = match run.outcome {
            Ok(value) => {
                let mut buffer = SpillBuffer::new();
                match runtime.codec().encode(&[&value], &mut buffer) {
                    Ok(()) => match buffer.finish() {
                        Ok(Spilled::Inline(bytes)) => (Outcome::Inline, bytes, None),
                        Ok(Spilled::Memfd(fd)) => (Outcome::Memfd, Vec::new(), Some(fd)),
                        Err(e) => failure(StatesError::runtime(format!(
                            "cannot share the result of branch {index}: {e}"
                        ))),
                    },
                    // The payload's memory failed, not the value: no MarshalError.
                    Err(e @ CodecError::Write(_)) => failure(StatesError::runtime(format!(
                        "cannot share the result of branch {index}: {e}"
                    ))),
                    Err(e) => failure(crate::marshal::error(
                        job,
                        index,
                        runtime.codec(),
                        &value,
                        e,
                    )),
                }
            }
            Err(e) => failure(e),
        };
        let fds: Vec<_> = fd.iter().map(|f| f.as_fd()).collect();
        channel
            .send(
                &FromWorker::Result {
                    index,
                    outcome,
                    states: run.states,
                    durations: run.durations,
                    events: run.events,
                },
                &tail,
                &fds,
            )
            .map_err(WorkerError::Channel)?;
    }
}

/// A branch that failed, as its result message says it.
fn failure(e: StatesError) -> (Outcome, Vec<u8>, Option<OwnedFd>) {
    (
        Outcome::Failed {
            error: e.error,
            cause: e.cause,
        },
        Vec::new(),
        None,
    )
}
