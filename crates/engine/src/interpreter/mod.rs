//! The interpreter: one state at a time, input and output processing in AWS's order.
//!
//! For a Task, Step Functions applies InputPath, Parameters, runs the task, then
//! ResultSelector, ResultPath (into the state's *raw* input) and OutputPath. Values move from
//! one step to the next; the raw input is kept (cloned) only when ResultPath, Retry or Catch
//! will need it again, so a plain Task-to-Task hand-off moves a pointer.
//!
//! The module, by concern:
//!
//! - `mod.rs` (here): the running execution ([`Exec`]) and where in it a run is ([`Frame`]);
//!   the per-state loop (`run_from`, entered by `run_machine` or, for a branch a worker
//!   process was killed in, `resume_machine`) and its dispatch on the state's type
//!   (`run_state`); history-event counting and the `max_events` limit; the execution's
//!   TimeoutSeconds.
//! - `input_output.rs`: what every state shares, `begin` (context object, InputPath, the raw
//!   input kept for ResultPath) and `finish` (ResultSelector, ResultPath, OutputPath), with
//!   Parameters and the path helpers.
//! - one file per state type: `task.rs` (Task), `parallel.rs` (Parallel), `map.rs` (Map),
//!   `flow.rs` (Pass, Choice, Wait, Succeed, Fail). Parallel and Map run their branches
//!   through `crate::branches`.
//! - `retry.rs`: Retry and Catch around the attempts of a Task, Parallel or Map, and the
//!   checkpoints a worker process reports before a Task attempt.
//! - `walk.rs`: walks over nested machines (a state's position, every Task's function).
//!
//! A new state type is an `Exec` method in a file of its own, built from `begin` and
//! `finish`, and a match arm in `run_state` (inside `with_retry` if the state has Retry and
//! Catch).

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use asl::model::{State, StateKind, StateMachine, Transition};
use asl::{StatesError, Value, names};

use crate::trace::StateRecord;
use crate::wire::TaskCheckpoint;

pub(crate) use crate::exec::{Exec, Frame};

mod events;
mod flow;
mod input_output;
mod jsonata;
mod jsonata_flow;
mod map;
mod parallel;
mod payload;
mod retry;
mod task;
mod variables;

use payload::Payload;
pub(crate) use variables::{Variables, Vars};

/// Where a state leads.
enum Step<'m> {
    Next(&'m str),
    End,
}

/// A Task attempt that failed in a worker process killed at the Task's deadline, taken up
/// here from its [`TaskCheckpoint`].
struct Interrupted {
    error: StatesError,
    retries: u32,
    used: Vec<u64>,
    event_id: u64,
    wall: std::time::SystemTime,
}

/// History events of a Task attempt (scheduled, started, and how it ended).
const TASK_EVENTS: u64 = 3;

/// Facts about one state's run.
struct Entered {
    at: Instant,
    wall: std::time::SystemTime,
    event_id: u64,
    attempts: Cell<u32>,
    /// The variables the state sees.
    vars: Vars,
    /// What its `Assign` set, applied once the state has succeeded.
    assigned: std::cell::RefCell<Option<serde_json::Map<String, serde_json::Value>>>,
}

/// The error name Step Functions uses for a cancelled branch; never surfaces to users
/// because the sibling's error wins.
const CANCELLED: &str = "States.Cancelled";

impl Exec<'_> {
    pub fn run_machine(
        &self,
        machine: &StateMachine,
        input: Value,
        frame: &Frame<'_>,
    ) -> Result<Value, StatesError> {
        self.run_machine_in(machine, input, frame, Vars::default(), false)
    }

    /// Runs a Parallel branch or a Map iteration that starts with the variables `outer`. With
    /// `input_checked`, `input` is known to be within the payload bounds (a copy of a
    /// Parallel's input measured once for all its branches, [`Exec::payload_within`]) and its
    /// first state does not measure it again.
    pub fn run_machine_in(
        &self,
        machine: &StateMachine,
        input: Value,
        frame: &Frame<'_>,
        outer: Vars,
        input_checked: bool,
    ) -> Result<Value, StatesError> {
        self.run_from(
            machine,
            &machine.start_at,
            input,
            None,
            frame,
            outer,
            input_checked,
        )
    }

    /// Continues a branch a worker process ran until it was killed at the deadline of the
    /// Task `checkpoint` names: the attempt failed with `error`, the Task's Retry and Catch
    /// apply as if it had failed here, and the branch runs on from there. `raw` is the Task's
    /// raw input; `events_before`, the execution's event count when the branch was sent.
    pub fn resume_machine(
        &self,
        machine: &StateMachine,
        checkpoint: &TaskCheckpoint,
        events_before: u64,
        raw: Value,
        error: StatesError,
        frame: &Frame<'_>,
    ) -> Result<Value, StatesError> {
        let retriers = match machine.state(&checkpoint.state).map(|s| &s.kind) {
            Some(StateKind::Task(task)) => task.retry.len(),
            _ => {
                return Err(StatesError::runtime(format!(
                    "a worker process stopped at '{}', which is not a Task of its branch",
                    checkpoint.state
                )));
            }
        };
        if checkpoint.used.len() != retriers {
            return Err(StatesError::runtime(format!(
                "a worker process reported {} retriers for Task '{}', which has {retriers}",
                checkpoint.used.len(),
                checkpoint.state
            )));
        }
        // The branch's events in the worker, up to the attempt that was killed.
        self.events.fetch_add(
            checkpoint.events.saturating_sub(events_before) + TASK_EVENTS,
            Ordering::Relaxed,
        );
        let interrupted = Interrupted {
            error,
            retries: checkpoint.retries,
            used: checkpoint.used.clone(),
            event_id: checkpoint.event_id,
            wall: std::time::UNIX_EPOCH + Duration::from_nanos(checkpoint.entered_unix_ns),
        };
        self.run_from(
            machine,
            &checkpoint.state,
            raw,
            Some(interrupted),
            frame,
            // What the branch saw at the Task in its worker: the outer scope and its own
            // assignments so far.
            Variables::from_map(checkpoint.variables.clone()),
            false,
        )
    }

    /// Runs `machine` from state `start`; with `interrupted`, `start` is a Task whose attempt
    /// failed elsewhere and `input` its raw input. With `input_checked`, `input` is known to
    /// be within the payload bounds and is not measured again.
    #[expect(
        clippy::too_many_arguments,
        reason = "the one loop every entry point shares"
    )]
    fn run_from(
        &self,
        machine: &StateMachine,
        start: &str,
        input: Value,
        mut interrupted: Option<Interrupted>,
        frame: &Frame<'_>,
        mut vars: Vars,
        input_checked: bool,
    ) -> Result<Value, StatesError> {
        let mut name = start;
        let mut data = input;
        loop {
            if frame.cancel.is_cancelled() {
                return Err(StatesError::new(CANCELLED, "a sibling branch failed"));
            }
            self.check_execution_deadline()?;
            self.check_history_limit()?;
            let state = machine
                .state(name)
                .ok_or_else(|| StatesError::runtime(format!("no state named '{name}'")))?;
            if name == start && interrupted.is_none() && !input_checked {
                self.check_payload(&state.name, &data, Payload::Input)?;
            }
            let (entered, result) = match interrupted.take() {
                None => {
                    let entered = self.enter(frame, state, &data, &vars);
                    let result = self.run_state(state, data, frame, &entered);
                    (entered, result)
                }
                Some(interrupted) => {
                    let entered = Entered {
                        at: self.engine.clock.instant(),
                        wall: interrupted.wall,
                        event_id: interrupted.event_id,
                        attempts: Cell::new(0),
                        vars: vars.clone(),
                        assigned: Default::default(),
                    };
                    let result = self.run_interrupted(state, data, interrupted, frame, &entered);
                    (entered, result)
                }
            };
            if self.trace.enabled() {
                let now = self.engine.clock.instant();
                self.trace.record_state(StateRecord {
                    state: format!("{}{}", frame.prefix, state.name),
                    kind: state.kind.type_name(),
                    lane: self.lane_override.unwrap_or(frame.lane),
                    start_us: self.trace.offset_us(entered.at),
                    end_us: self.trace.offset_us(now),
                    attempts: entered.attempts.get().max(1),
                    error: result.as_ref().err().map(|e| e.error.clone()),
                });
            }
            let (step, output) = result?;
            self.check_payload(&state.name, &output, Payload::Output)?;
            if let Some(assigned) = entered.assigned.take() {
                variables::apply(&mut vars, assigned, state)?;
            }
            // A state that outlives the execution's TimeoutSeconds fails the execution, even
            // if it was the last one.
            self.check_execution_deadline()?;
            self.emit_exited(frame, state.kind.type_name(), &state.name, &output);
            match step {
                Step::Next(next) => {
                    name = next;
                    data = output;
                }
                Step::End => return Ok(output),
            }
        }
    }

    fn enter(&self, frame: &Frame<'_>, state: &State, input: &Value, vars: &Vars) -> Entered {
        Entered {
            at: self.engine.clock.instant(),
            wall: self.engine.clock.now(),
            event_id: self.emit_entered(frame, state.kind.type_name(), &state.name, input),
            attempts: Cell::new(0),
            vars: vars.clone(),
            assigned: Default::default(),
        }
    }

    fn check_execution_deadline(&self) -> Result<(), StatesError> {
        match self.deadline {
            Some(d) if self.engine.clock.instant() >= d => Err(execution_timeout()),
            _ => Ok(()),
        }
    }

    fn check_history_limit(&self) -> Result<(), StatesError> {
        match self.max_events {
            Some(max) if self.events.load(Ordering::Relaxed) > max => {
                Err(StatesError::runtime(format!(
                    "The execution reached the maximum number of history events ({max}); a state machine that loops must end"
                )))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn execution_timed_out(&self) -> bool {
        self.deadline
            .is_some_and(|d| self.engine.clock.instant() >= d)
    }

    fn clamp_to_deadline(&self, delay: Duration) -> Duration {
        match self.deadline {
            Some(d) => delay.min(d.saturating_duration_since(self.engine.clock.instant())),
            None => delay,
        }
    }

    fn run_state<'m>(
        &self,
        state: &'m State,
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
    ) -> Result<(Step<'m>, Value), StatesError> {
        match &state.kind {
            StateKind::Pass(pass) => {
                entered.attempts.set(1);
                let out = if state.jsonata.is_some() {
                    self.jsonata_pass(state, raw, entered)?
                } else {
                    self.run_pass(state, pass, raw, entered)?
                };
                Ok((transition(state), out))
            }
            StateKind::Task(task) => self.run_task(state, task, raw, frame, entered, None),
            StateKind::Parallel(par) => self.with_retry(
                state,
                &par.retry,
                &par.catch,
                raw,
                frame,
                entered,
                None,
                |raw, retries| self.parallel_attempt(state, par, raw, frame, entered, retries),
            ),
            StateKind::Map(map) => self.with_retry(
                state,
                &map.retry,
                &map.catch,
                raw,
                frame,
                entered,
                None,
                |raw, retries| self.map_attempt(state, map, raw, frame, entered, retries),
            ),
            StateKind::Choice(choice) => {
                entered.attempts.set(1);
                if state.jsonata.is_some() {
                    self.jsonata_choice(state, choice, raw, entered)
                } else {
                    self.run_choice(state, choice, raw, entered)
                }
            }
            StateKind::Wait(wait) => {
                entered.attempts.set(1);
                let out = if state.jsonata.is_some() {
                    self.jsonata_wait(state, wait, raw, frame, entered)?
                } else {
                    self.run_wait(state, wait, raw, frame, entered)?
                };
                Ok((transition(state), out))
            }
            StateKind::Succeed => {
                entered.attempts.set(1);
                let out = if state.jsonata.is_some() {
                    self.jsonata_pass(state, raw, entered)?
                } else {
                    self.run_succeed(state, raw, entered)?
                };
                Ok((Step::End, out))
            }
            StateKind::Fail(fail) => {
                entered.attempts.set(1);
                Err(if state.jsonata.is_some() {
                    self.jsonata_fail(state, fail, &raw, entered)
                } else {
                    self.fail_error(state, fail, &raw, entered)
                })
            }
        }
    }

    /// A Task whose attempt failed elsewhere: its Retry and Catch, then on as usual.
    fn run_interrupted<'m>(
        &self,
        state: &'m State,
        raw: Value,
        interrupted: Interrupted,
        frame: &Frame<'_>,
        entered: &Entered,
    ) -> Result<(Step<'m>, Value), StatesError> {
        let StateKind::Task(task) = &state.kind else {
            return Err(StatesError::runtime(format!(
                "state '{}' is not a Task: it cannot be taken up again",
                state.name
            )));
        };
        self.run_task(state, task, raw, frame, entered, Some(interrupted))
    }
}

fn transition(state: &State) -> Step<'_> {
    match &state.transition {
        Transition::Next(n) => Step::Next(n),
        Transition::End | Transition::None => Step::End,
    }
}

fn execution_timeout() -> StatesError {
    StatesError::new(
        names::TIMEOUT,
        "The execution timed out (state machine TimeoutSeconds)",
    )
}
