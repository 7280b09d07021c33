//! Retry and Catch, for the states that have them (Task, Parallel, Map): attempts with
//! back-off on the engine's clock, catchers that place `{Error, Cause}` and go on, and the
//! checkpoints a worker process reports before a Task attempt that the parent may have to take
//! up ([`Exec::resume_machine`] in `mod.rs` comes back here with the failed attempt).
//!
//! A state's file provides one attempt as a closure; [`Exec::with_retry`] decides whether
//! another follows.

use std::sync::atomic::Ordering;
use std::time::Duration;

use asl::model::{Catcher, Jitter, Retrier, State, StateKind};
use asl::{StatesError, Value, names};
use serde_json::json;

use super::input_output::place_result;
use super::jsonata::States;
use super::{CANCELLED, Entered, Exec, Frame, Interrupted, Step, execution_timeout, transition};
use crate::wire::TaskCheckpoint;

impl Exec<'_> {
    #[allow(
        clippy::too_many_arguments,
        reason = "internal plumbing of one state's run: grouping these into a struct would only rename them"
    )]
    pub(super) fn with_retry<'m>(
        &self,
        state: &'m State,
        retriers: &[Retrier],
        catchers: &'m [Catcher],
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
        interrupted: Option<Interrupted>,
        mut attempt: impl FnMut(Value, u32) -> Result<Value, StatesError>,
    ) -> Result<(Step<'m>, Value), StatesError> {
        // Keep the raw input only when a retry or a catcher may need it again.
        let keep = !retriers.is_empty() || !catchers.is_empty();
        let mut raw = Some(raw);
        let (mut used, mut retries, mut failed) = match interrupted {
            Some(i) => (i.used, i.retries, Some(i.error)),
            None => (vec![0u64; retriers.len()], 0u32, None),
        };
        let checkpoints = frame
            .checkpoints
            .filter(|_| Self::resumable(state, retriers, catchers));
        loop {
            entered.attempts.set(retries + 1);
            let err = match failed.take() {
                Some(err) => err,
                None => {
                    let input = if keep {
                        raw.clone().unwrap_or_default()
                    } else {
                        raw.take().unwrap_or_default()
                    };
                    // In a worker: where the parent takes the branch up if this is killed.
                    let checkpoint = checkpoints.zip(raw.as_ref());
                    if let Some((c, raw)) = checkpoint {
                        c.task_starts(&self.checkpoint(state, entered, retries, &used), raw);
                    }
                    let outcome = attempt(input, retries);
                    if let Some((c, _)) = checkpoint {
                        c.task_ended();
                    }
                    match outcome {
                        Ok(out) => return Ok((transition(state), out)),
                        Err(err) => err,
                    }
                }
            };
            if err.is_terminal()
                || err.error == CANCELLED
                || frame.cancel.is_cancelled()
                || self.execution_timed_out()
            {
                return Err(if self.execution_timed_out() {
                    execution_timeout()
                } else {
                    err
                });
            }
            if let Some(i) = retriers
                .iter()
                .position(|r| matches_any(&err, &r.error_equals))
            {
                let retrier = &retriers[i];
                if used[i] < retrier.max_attempts {
                    let delay = backoff(retrier, used[i]);
                    used[i] += 1;
                    retries += 1;
                    let clamped = self.clamp_to_deadline(delay);
                    self.engine.clock.sleep(clamped, frame.cancel);
                    if clamped < delay {
                        // The execution's TimeoutSeconds ran out during the back-off.
                        return Err(execution_timeout());
                    }
                    continue;
                }
            }
            if let Some((at, catcher)) = catchers
                .iter()
                .enumerate()
                .find(|(_, c)| matches_any(&err, &c.error_equals))
            {
                let error_output = Value::Json(json!({"Error": err.error, "Cause": err.cause}));
                let out = self.caught(
                    state,
                    (at, catcher),
                    entered,
                    retries,
                    raw.take(),
                    error_output,
                )?;
                return Ok((Step::Next(&catcher.next), out));
            }
            return Err(err);
        }
    }

    /// Whether a worker process killed at this Task's deadline can leave its Retry and Catch
    /// to the parent: a Task with `TimeoutSeconds` whose Retry or Catch handles the timeout.
    fn resumable(state: &State, retriers: &[Retrier], catchers: &[Catcher]) -> bool {
        let timeout = StatesError::new(names::TIMEOUT, "");
        let expression = state
            .jsonata
            .as_ref()
            .is_some_and(|j| j.timeout_seconds.is_some());
        matches!(&state.kind, StateKind::Task(task) if task.timeout.is_some() || expression)
            && (retriers
                .iter()
                .any(|r| matches_any(&timeout, &r.error_equals))
                || catchers
                    .iter()
                    .any(|c| matches_any(&timeout, &c.error_equals)))
    }

    /// Where a worker's branch stands as an attempt of `state` starts.
    fn checkpoint(
        &self,
        state: &State,
        entered: &Entered,
        retries: u32,
        used: &[u64],
    ) -> TaskCheckpoint {
        let since_epoch = entered
            .wall
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        TaskCheckpoint {
            state: state.name.clone(),
            retries,
            used: used.to_vec(),
            event_id: entered.event_id,
            entered_unix_ns: u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX),
            events: self.events.load(Ordering::Relaxed),
            variables: (**entered.vars).clone(),
        }
    }
}

fn matches_any(err: &StatesError, patterns: &[String]) -> bool {
    patterns.iter().any(|p| err.matches(p))
}

/// The wait before retry number `n` (0-based) of a retrier.
fn backoff(retrier: &Retrier, n: u64) -> Duration {
    let exp = i32::try_from(n).unwrap_or(i32::MAX);
    let mut secs = retrier.interval_seconds as f64 * retrier.backoff_rate.powi(exp);
    if let Some(max) = retrier.max_delay_seconds {
        secs = secs.min(max as f64);
    }
    if retrier.jitter == Jitter::Full {
        secs *= rand::random::<f64>();
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

impl Exec<'_> {
    /// A catcher's output and `Assign`: in JSONata, its `Output` (default: the error output)
    /// with `$states.errorOutput`; in JSONPath, the error output placed at its ResultPath,
    /// and `$` in its `Assign` is the error output.
    fn caught(
        &self,
        state: &State,
        (at, catcher): (usize, &Catcher),
        entered: &Entered,
        retries: u32,
        raw: Option<Value>,
        error_output: Value,
    ) -> Result<Value, StatesError> {
        let ctx = self.context(state, entered, retries, None);
        let input = raw.unwrap_or_default();
        // What the failed attempt assigned does not count: only the catcher's Assign does.
        entered.assigned.take();
        if state.jsonata.is_some() {
            let states = States {
                input: &input,
                result: None,
                error_output: Some(&error_output),
                context: &ctx,
            };
            // AWS names a catcher's fields under it: `Catch[1]/Output/v`.
            let field = format!("Catch[{at}]/Output");
            let output = match &catcher.output {
                Some(t) => Some(self.query_value(state, entered, t, &field, &states)?),
                None => None,
            };
            self.assign(
                state,
                entered,
                (&format!("Catch[{at}]/"), catcher.assign.as_ref()),
                &states,
                &error_output,
            )?;
            return Ok(output.unwrap_or(error_output));
        }
        let null = Value::null();
        let states = States::input(&null, &ctx);
        self.assign(
            state,
            entered,
            (&format!("Catch[{at}]/"), catcher.assign.as_ref()),
            &states,
            &error_output,
        )?;
        place_result(
            catcher.result_path.as_ref(),
            Some(input),
            error_output,
            state,
            entered,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::context::ExecutionInfo;
    use crate::interpreter::TASK_EVENTS;
    use crate::runtime::CancelToken;
    use crate::setup::{Engine, Workflow};
    use crate::trace::Trace;

    /// Takes up, in this process, a branch whose worker was killed in Task `T` (attempt
    /// `retries`, retriers used `used`), the branch having had 9 events before the attempt.
    fn resume(retries: u32, used: Vec<u64>) -> (Result<Value, StatesError>, u64) {
        let definition = r#"{"StartAt": "T", "States": {
          "T": {"Type": "Task", "Resource": "echo", "TimeoutSeconds": 1, "Next": "After",
            "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "After"}]},
          "After": {"Type": "Pass", "End": true}}}"#;
        let workflow = Workflow {
            name: "w".into(),
            machine: asl::load_str(definition).expect("valid"),
        };
        let runtime = crate::NativeRuntime::new().with("echo", |call, input: Value| {
            let mut out = input.to_json().unwrap_or_default();
            out["ran"] = json!(call.state_name);
            Ok(Value::Json(out))
        });
        let engine = Engine::new(Arc::new(runtime))
            .with_clock(Arc::new(crate::ManualClock::new(std::time::UNIX_EPOCH)));
        let exec = Exec {
            engine: &engine,
            workflow: &workflow,
            info: Arc::new(ExecutionInfo {
                arn: "arn".into(),
                name: "x".into(),
                start_time: "2026-01-01T00:00:00.000Z".into(),
                input: Arc::new(json!({})),
                role_arn: "role".into(),
                state_machine_arn: "sm".into(),
                state_machine_name: "w".into(),
            }),
            trace: Trace::new(engine.clock.instant(), false),
            deadline: None,
            events: std::sync::atomic::AtomicU64::new(1),
            history: None,
            history_lock: std::sync::Mutex::default(),
            max_events: None,
            observations: None,
            lane_override: None,
            payload_warned: Default::default(),
        };
        let checkpoint = TaskCheckpoint {
            state: "T".into(),
            retries,
            used,
            event_id: 8,
            entered_unix_ns: 0,
            events: 10,
            variables: serde_json::Map::new(),
        };
        let cancel = CancelToken::new();
        let frame = Frame {
            cancel: &cancel,
            prefix: String::new(),
            checkpoints: None,
            lane: crate::trace::Lane::Inline,
            last_event: std::sync::atomic::AtomicU64::new(0),
        };
        let killed = StatesError::new(names::TIMEOUT, "killed");
        let out = exec.resume_machine(
            &workflow.machine,
            &checkpoint,
            1,
            Value::Json(json!({"n": 1})),
            killed,
            &frame,
        );
        (out, exec.events.load(Ordering::Relaxed))
    }

    #[test]
    fn a_task_killed_in_a_worker_is_retried_here() {
        let (out, events) = resume(0, vec![0]);
        let out = out.expect("the retry succeeds").to_json().expect("json");
        assert_eq!(out, json!({"n": 1, "ran": "T"}));
        // 1 + the worker's 9 + the killed attempt's 3, then the retry (3), T's end (1) and
        // After (2).
        assert_eq!(events, 1 + 9 + TASK_EVENTS + TASK_EVENTS + 1 + 2);
    }

    #[test]
    fn a_task_killed_with_its_retries_used_up_is_caught_here() {
        let (out, _) = resume(1, vec![1]);
        let out = out.expect("the Catch handles it").to_json().expect("json");
        assert_eq!(
            out,
            json!({"n": 1, "error": {"Error": "States.Timeout", "Cause": "killed"}})
        );
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_the_task_is_refused() {
        let (out, _) = resume(0, vec![0, 0]);
        let e = out.expect_err("refused");
        assert_eq!(e.error, names::RUNTIME);
        assert!(e.cause.contains("Task 'T'"), "{}", e.cause);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = Retrier {
            error_equals: vec![],
            interval_seconds: 2,
            max_attempts: 5,
            backoff_rate: 3.0,
            max_delay_seconds: Some(10),
            jitter: Jitter::None,
        };
        assert_eq!(backoff(&r, 0), Duration::from_secs(2));
        assert_eq!(backoff(&r, 1), Duration::from_secs(6));
        assert_eq!(backoff(&r, 2), Duration::from_secs(10));
    }
}
