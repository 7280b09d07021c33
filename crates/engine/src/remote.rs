//! Remote lanes: the branches of a Parallel or Map state that want to run at once beyond this
//! instance's usable CPUs go to sibling instances of the same deployment through a
//! [`RemoteTransport`] (the platform's invoke path), while this instance runs its own share.
//!
//! ```text
//! this instance                                     sibling (same workflow)
//!   planner::plan_remote: local share + batches
//!   per batch: RemoteRequest as JSON, the inputs
//!   written once ─── transport.send ─────────────>  Engine::run_remote_batch: each branch
//!   (a scoped thread per batch, waiting)            with run_branch_in, one after another
//!                <──────────────────────────────    RemoteResponse: outcome, state records,
//!   results into the state's slots, records with    durations, history events per branch
//!   lane `remote`, events into the execution
//! ```
//!
//! A batch whose sibling times out or is lost fails its branches (`States.Timeout`,
//! `Runtime.ExitError`); nothing is sent twice.

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use asl::{StatesError, Value};
use serde_json::Value as Json;

use crate::branches::{Shared, Slot, StateBranches, absorb, branch_job};
use crate::lanes::{BranchContext, RemoteError, RemoteLanes};
use crate::runtime::CancelToken;
use crate::setup::{Engine, Workflow};
use crate::trace::{Lane, RemoteAssignment, RemoteTiming};
use crate::wire::{BranchJob, History, RemoteBranch, RemoteOutcome, RemoteRequest, RemoteResponse};

/// Names the threads that wait for a sibling's answer.
const REMOTE_THREAD_NAME: &str = "faastlane-remote";

/// How often a thread waiting for a sibling checks whether the state was cancelled.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// How long past the execution's deadline a sibling may take to report it (its own engine
/// fails the branch at the deadline).
const DEADLINE_GRACE: Duration = Duration::from_secs(2);

/// One request to a sibling, ready to send.
pub(crate) struct Batch {
    indices: Vec<usize>,
    body: Vec<u8>,
    /// The time spent writing `body` (and, for a Parallel's first batch, its shared input).
    serialize: Duration,
}

/// Takes branches `ranges` out of the state's queue and writes their requests; the inputs are
/// converted to JSON once (a Parallel's shared input once for every batch).
pub(crate) fn take_batches(
    branches: StateBranches<'_, '_, '_>,
    shared: &Shared,
    ranges: &[Range<usize>],
) -> Result<Vec<Batch>, String> {
    let Some(first) = ranges.first().map(|r| r.start) else {
        return Ok(Vec::new());
    };
    let shared_input = matches!(branches.machines, crate::branches::Machines::Parallel(_));
    let taken: Vec<(usize, Value)> = {
        let mut queue = crate::branches::lock(&shared.queue);
        let keep = queue.iter().take_while(|(i, _)| *i < first).count();
        queue.split_off(keep).into_iter().collect()
    };
    let give_back = |taken: Vec<(usize, Value)>| {
        crate::branches::lock(&shared.queue).extend(taken);
    };
    let json = |v: &Value| v.to_json().map_err(|e| e.to_string());
    let job = match branch_job(branches, shared_input, first) {
        Ok(job) => job,
        Err(e) => {
            give_back(taken);
            return Err(e.to_string());
        }
    };
    let mut shared_bytes: Option<Vec<u8>> = None;
    let mut batches = Vec::with_capacity(ranges.len());
    for range in ranges {
        let started = std::time::Instant::now();
        let members: Vec<&(usize, Value)> =
            taken.iter().filter(|(i, _)| range.contains(i)).collect();
        let inputs = if shared_input {
            if shared_bytes.is_none() {
                let value = match taken.first().map(|(_, v)| json(v)) {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => {
                        give_back(taken);
                        return Err(format!("the branch input has no JSON form: {e}"));
                    }
                    None => Json::Null,
                };
                shared_bytes = Some(serde_json::to_vec(&[value]).map_err(|e| e.to_string())?);
            }
            shared_bytes.clone().unwrap_or_default()
        } else {
            let values: Result<Vec<Json>, String> = members.iter().map(|(_, v)| json(v)).collect();
            match values {
                Ok(values) => serde_json::to_vec(&values).map_err(|e| e.to_string())?,
                Err(e) => {
                    give_back(taken);
                    return Err(format!("a Map item has no JSON form: {e}"));
                }
            }
        };
        let indices: Vec<usize> = members.iter().map(|(i, _)| *i).collect();
        batches.push(Batch {
            body: request_body(&job, &indices, &inputs)?,
            indices,
            serialize: started.elapsed(),
        });
    }
    Ok(batches)
}

/// A [`RemoteRequest`] as JSON, its `inputs` spliced in already encoded; `history` is filled
/// in when the batch leaves ([`with_history`]).
fn request_body(job: &BranchJob, indices: &[usize], inputs: &[u8]) -> Result<Vec<u8>, String> {
    #[derive(serde::Serialize)]
    struct Head<'a> {
        job: &'a BranchJob,
        indices: &'a [usize],
    }
    let mut body = serde_json::to_vec(&Head { job, indices }).map_err(|e| e.to_string())?;
    body.pop(); // the closing brace
    body.extend_from_slice(b",\"inputs\":");
    body.extend_from_slice(inputs);
    body.push(b'}');
    Ok(body)
}

/// The body with the execution's history counter as of now.
fn with_history(mut body: Vec<u8>, history: History) -> Vec<u8> {
    if let Ok(text) = serde_json::to_vec(&history) {
        body.pop();
        body.extend_from_slice(b",\"history\":");
        body.extend_from_slice(&text);
        body.push(b'}');
    }
    body
}

/// Sends `batches` on threads of their own while `here` runs this instance's share; returns
/// what `here` returned and where each batch went.
pub(crate) fn alongside<T>(
    branches: StateBranches<'_, '_, '_>,
    remote: &RemoteLanes,
    batches: Vec<Batch>,
    shared: &Shared,
    here: impl FnOnce() -> T,
) -> (T, Vec<RemoteAssignment>) {
    if batches.is_empty() {
        return (here(), Vec::new());
    }
    std::thread::scope(|scope| {
        let waiting: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                let indices = batch.indices.clone();
                let spawned = std::thread::Builder::new()
                    .name(REMOTE_THREAD_NAME.to_string())
                    .spawn_scoped(scope, move || send(branches, remote, batch, shared));
                (indices, spawned)
            })
            .collect();
        let result = here();
        let assignments = waiting
            .into_iter()
            .map(|(indices, spawned)| {
                let joined = spawned
                    .map_err(|e| format!("no thread for the request: {e}"))
                    .and_then(|h| h.join().map_err(|_| "its thread panicked".to_string()));
                joined.unwrap_or_else(|why| {
                    let error = StatesError::runtime(format!("remote lane: {why}"));
                    for &i in &indices {
                        shared.finish(i, Slot::Done(Err(error.clone())));
                    }
                    RemoteAssignment {
                        target: remote.transport.target().to_string(),
                        instance: None,
                        branches: indices,
                        error: Some(why),
                        timing: None,
                    }
                })
            })
            .collect();
        (result, assignments)
    })
}

/// Sends one batch and waits for it; its branches' outcomes go into the state's slots.
fn send(
    branches: StateBranches<'_, '_, '_>,
    remote: &RemoteLanes,
    batch: Batch,
    shared: &Shared,
) -> RemoteAssignment {
    let exec = branches.exec;
    let target = remote.transport.target().to_string();
    let mut assignment = RemoteAssignment {
        target: target.clone(),
        instance: None,
        branches: batch.indices.clone(),
        error: None,
        timing: None,
    };
    let now = exec.engine.clock.instant();
    let timeout = exec
        .deadline
        .map(|d| d.saturating_duration_since(now) + DEADLINE_GRACE)
        .map_or(remote.timeout, |d| d.min(remote.timeout));
    let body = with_history(
        batch.body,
        History {
            events: exec.events.load(Ordering::Relaxed),
            max_events: exec.max_events,
        },
    );
    // The exchange runs on a thread of its own, so that a cancelled state stops waiting for
    // it (the sibling's answer is then dropped).
    let (tx, rx) = mpsc::channel();
    let transport = std::sync::Arc::clone(&remote.transport);
    let sent = std::time::Instant::now();
    let spawned = std::thread::Builder::new()
        .name(REMOTE_THREAD_NAME.to_string())
        .spawn(move || {
            let _ = tx.send(transport.send(body, timeout));
        });
    let answer = match spawned {
        Ok(_) => wait(&rx, &shared.cancel, &target),
        Err(e) => Some(Err(RemoteError::Refused {
            target: target.clone(),
            reason: format!("no thread for the request: {e}"),
        })),
    };
    let fail_all = |error: StatesError| {
        for &i in &batch.indices {
            shared.finish(i, Slot::Done(Err(error.clone())));
        }
    };
    match answer {
        None => assignment.error = Some("cancelled: a sibling branch failed".to_string()),
        Some(Err(e)) => {
            tracing::warn!(%target, "remote lane failed: {e}");
            assignment.error = Some(e.to_string());
            fail_all(e.states_error());
        }
        Some(Ok(response)) => {
            // What the exchange cost beyond the functions the sibling ran teaches the
            // planner's remote cost model.
            let functions: u64 = response
                .branches
                .iter()
                .flat_map(|b| b.durations.iter().map(|(_, ns)| *ns))
                .sum();
            let round_trip = sent.elapsed();
            exec.engine.remote_costs.record(
                batch.indices.len(),
                round_trip,
                Duration::from_nanos(functions),
            );
            let timing = RemoteTiming {
                serialize_us: batch.serialize.as_micros() as u64,
                round_trip_us: round_trip.as_micros() as u64,
                sibling_functions_us: functions / 1000,
            };
            tracing::info!(
                %target,
                instance = %response.instance,
                state = %branches.state.name,
                branches = ?batch.indices,
                serialize_us = timing.serialize_us,
                round_trip_us = timing.round_trip_us,
                sibling_functions_us = timing.sibling_functions_us,
                "remote batch answered"
            );
            assignment.timing = Some(timing);
            assignment.instance = Some(response.instance.clone());
            take_reports(branches, &batch.indices, response, shared);
        }
    }
    assignment
}

/// The sibling's answer, or `None` once the state is cancelled.
fn wait(
    rx: &mpsc::Receiver<Result<RemoteResponse, RemoteError>>,
    cancel: &CancelToken,
    target: &str,
) -> Option<Result<RemoteResponse, RemoteError>> {
    loop {
        match rx.recv_timeout(CANCEL_POLL) {
            Ok(answer) => return Some(answer),
            Err(mpsc::RecvTimeoutError::Timeout) if cancel.is_cancelled() => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Some(Err(RemoteError::Lost {
                    target: target.to_string(),
                    reason: "the request's thread ended without an answer".to_string(),
                }));
            }
        }
    }
}

/// Puts each reported branch's outcome in its slot, its records in the trace, its events in
/// the execution; a branch the sibling did not report fails.
fn take_reports(
    branches: StateBranches<'_, '_, '_>,
    indices: &[usize],
    response: RemoteResponse,
    shared: &Shared,
) {
    let exec = branches.exec;
    let mut reports: std::collections::HashMap<usize, RemoteBranch> = response
        .branches
        .into_iter()
        .filter(|b| indices.contains(&b.index))
        .map(|b| (b.index, b))
        .collect();
    for &index in indices {
        let Some(report) = reports.remove(&index) else {
            shared.finish(
                index,
                Slot::Done(Err(StatesError::runtime(format!(
                    "remote lane: {} did not report branch {index} of state '{}'",
                    response.instance, branches.state.name
                )))),
            );
            continue;
        };
        absorb(
            exec,
            report.events,
            &report.durations,
            report.states,
            Lane::Remote,
        );
        let outcome = match report.outcome {
            RemoteOutcome::Output(json) => Ok(Value::Json(json)),
            RemoteOutcome::Error { error, cause } => Err(StatesError::new(error, cause)),
        };
        shared.finish(index, Slot::Done(outcome));
    }
}

impl Engine {
    /// Runs the branches a sibling sent (the other half of a remote lane), one after the
    /// other on this thread, each as [`Engine::run_branch_in`] runs a process lane's branch;
    /// `instance` names this instance in the answer.
    pub fn run_remote_batch(
        &self,
        workflow: &Workflow,
        request: RemoteRequest,
        instance: &str,
    ) -> RemoteResponse {
        let RemoteRequest {
            job,
            indices,
            history,
            inputs,
        } = request;
        let mut added = 0u64;
        let cancel = CancelToken::new();
        let mut reports = Vec::with_capacity(indices.len());
        // The inputs become the runtime's own values once for the batch (Python objects
        // through its codec), as a process lane's worker decodes its payload once; each
        // branch then gets a copy (a Parallel) or its item (a Map), not a conversion of JSON.
        // A Parallel's last branch here takes the decoded input itself: nothing needs it
        // after, so a batch of n branches makes n - 1 copies (none for one branch).
        let mut values: Vec<Option<Value>> = self.runtime_values(inputs);
        let last = indices.len().saturating_sub(1);
        // A Parallel's shared input is measured once for the batch, not by every branch.
        let input_checked = job.shared_input
            && values
                .first()
                .and_then(Option::as_ref)
                .is_some_and(|v| self.payload_within(v, false));
        for (k, &index) in indices.iter().enumerate() {
            let input = if job.shared_input && k == last {
                values.first_mut().and_then(Option::take).map(Ok)
            } else if job.shared_input {
                values
                    .first()
                    .and_then(|v| v.clone())
                    .map(|v| v.detach().map_err(|e| e.to_string()))
            } else {
                values.get_mut(k).and_then(Option::take).map(Ok)
            };
            let input = match input {
                Some(Ok(input)) => input,
                Some(Err(e)) => {
                    reports.push(failed(index, &format!("cannot copy the branch input: {e}")));
                    continue;
                }
                None => {
                    reports.push(failed(index, "the request has no input for this branch"));
                    continue;
                }
            };
            let context = BranchContext {
                history: history.map(|h| History {
                    events: h.events + added,
                    max_events: h.max_events,
                }),
                checkpoints: None,
                input_checked,
            };
            let run = self.run_branch_in(workflow, &job, index, input, context, &cancel);
            added += run.events;
            let outcome = match run.outcome.and_then(|v| {
                v.into_json().map_err(|e| {
                    StatesError::new(
                        "Runtime.MarshalError",
                        format!(
                            "Unable to marshal response: the output of branch {index} of state '{}' cannot leave this instance: {e}",
                            job.state
                        ),
                    )
                })
            }) {
                Ok(json) => RemoteOutcome::Output(json),
                Err(e) => RemoteOutcome::Error {
                    error: e.error,
                    cause: e.cause,
                },
            };
            reports.push(RemoteBranch {
                index,
                outcome,
                states: run.states,
                durations: run.durations,
                events: run.events,
            });
        }
        RemoteResponse {
            instance: instance.to_string(),
            branches: reports,
        }
    }
}

impl Engine {
    /// `inputs` as the runtime's values, through one encode and decode of its codec; as JSON
    /// values when the codec cannot (the branches then convert them as they use them).
    fn runtime_values(&self, inputs: Vec<Json>) -> Vec<Option<Value>> {
        let json: Vec<Value> = inputs.into_iter().map(Value::Json).collect();
        let codec = self.runtime.codec();
        let mut bytes = Vec::new();
        let refs: Vec<&Value> = json.iter().collect();
        let decoded = codec.encode(&refs, &mut bytes).ok().and_then(|()| {
            let payload: crate::codec::Payload = std::sync::Arc::new(bytes);
            codec.decode(&payload).ok()
        });
        match decoded {
            Some(values) if values.len() == json.len() => values.into_iter().map(Some).collect(),
            _ => json.into_iter().map(Some).collect(),
        }
    }
}

fn failed(index: usize, cause: &str) -> RemoteBranch {
    RemoteBranch {
        index,
        outcome: RemoteOutcome::Error {
            error: asl::names::RUNTIME.to_string(),
            cause: cause.to_string(),
        },
        states: Vec::new(),
        durations: Vec::new(),
        events: 0,
    }
}
