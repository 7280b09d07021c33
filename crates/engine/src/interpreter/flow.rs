//! The states that call nothing and only steer the run: Pass, Choice, Wait, Succeed and Fail.
//!
//! None of them has Retry or Catch, so `mod.rs` calls these directly (one attempt each);
//! Pass uses the shared prologue and ResultPath of `input_output.rs`, the others only
//! InputPath and OutputPath.

use std::time::Duration;

use asl::choice::parse_timestamp;
use asl::model::{ChoiceState, FailState, NumberOrPath, PassState, State, StringOrPath, WaitState};
use asl::path::Root;
use asl::{Scope, StatesError, Value, names};

use super::input_output::{plain_text, resolve, state_failure};
use super::jsonata::States;
use super::{Entered, Exec, Frame, Step, execution_timeout};

impl Exec<'_> {
    pub(super) fn run_pass(
        &self,
        state: &State,
        pass: &PassState,
        raw: Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        let (ctx, raw_copy, effective) = self.begin(state, raw, entered, 0)?;
        let effective = self.apply_parameters(state, effective, &ctx, entered)?;
        let result = match &pass.result {
            Some(r) => Value::Json(r.clone()),
            None => effective,
        };
        self.assign_jsonpath(state, entered, state.assign.as_ref(), &result, &ctx)?;
        let out = self.apply_result_path(state, raw_copy, result, entered)?;
        self.apply_output_path(state, out, &ctx, entered)
    }

    pub(super) fn run_choice<'m>(
        &self,
        state: &'m State,
        choice: &'m ChoiceState,
        raw: Value,
        entered: &Entered,
    ) -> Result<(Step<'m>, Value), StatesError> {
        let ctx = self.context(state, entered, 0, None);
        let effective = self.apply_input_path(state, raw, &ctx, entered)?;
        let mut next = None;
        for branch in &choice.choices {
            let Some(rule) = &branch.rule else { continue };
            let scope = Scope {
                input: &effective,
                context: &ctx,
            };
            let matched = rule
                .evaluate_with(scope, &entered.vars)
                .map_err(|e| state_failure(state, entered, e.cause))?;
            if matched {
                next = Some(branch);
                break;
            }
        }
        let next = match (next, &choice.default) {
            (Some(b), _) => {
                self.assign_jsonpath(state, entered, b.assign.as_ref(), &effective, &ctx)?;
                b.next.as_str()
            }
            (None, Some(d)) => {
                self.assign_jsonpath(state, entered, state.assign.as_ref(), &effective, &ctx)?;
                d.as_str()
            }
            (None, None) => {
                return Err(StatesError::new(
                    names::NO_CHOICE_MATCHED,
                    format!("No Matches! (state '{}' has no Default)", state.name),
                ));
            }
        };
        let out = self.apply_output_path(state, effective, &ctx, entered)?;
        Ok((Step::Next(next), out))
    }

    pub(super) fn run_wait(
        &self,
        state: &State,
        wait: &WaitState,
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        let ctx = self.context(state, entered, 0, None);
        let effective = self.apply_input_path(state, raw, &ctx, entered)?;
        let duration = match wait {
            WaitState::Seconds(s) => Duration::from_secs(*s),
            WaitState::SecondsPath(p) => Duration::from_secs(self.read_seconds(
                &NumberOrPath::Path(p.clone()),
                &effective,
                &ctx,
                "SecondsPath",
                state,
                entered,
            )?),
            WaitState::Timestamp(ts) => self.until_timestamp(state, entered, ts)?,
            WaitState::TimestampPath(p) => {
                let v =
                    resolve(p, &effective, &ctx).map_err(|e| state_failure(state, entered, e))?;
                let json = v.scalar();
                let at = json
                    .as_ref()
                    .and_then(|j| j.as_str())
                    .and_then(parse_timestamp);
                let Some(at) = at else {
                    let text = json
                        .as_ref()
                        .map_or_else(|| asl::path::describe(&v), plain_text);
                    return Err(state_failure(
                        state,
                        entered,
                        format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {text}"
                        ),
                    ));
                };
                self.until(at)
            }
        };
        self.wait_for(duration, frame)?;
        self.assign_jsonpath(state, entered, state.assign.as_ref(), &effective, &ctx)?;
        self.apply_output_path(state, effective, &ctx, entered)
    }

    /// Sleeps `duration` on the engine's clock, cut short (failing the execution) by its
    /// TimeoutSeconds.
    pub(super) fn wait_for(
        &self,
        duration: Duration,
        frame: &Frame<'_>,
    ) -> Result<(), StatesError> {
        let clamped = self.clamp_to_deadline(duration);
        self.engine.clock.sleep(clamped, frame.cancel);
        if clamped < duration {
            return Err(execution_timeout());
        }
        Ok(())
    }

    /// How long from now until the timestamp `ts` (a literal or a JSONata result).
    pub(super) fn until_timestamp(
        &self,
        state: &State,
        entered: &Entered,
        ts: &str,
    ) -> Result<Duration, StatesError> {
        let at = parse_timestamp(ts).ok_or_else(|| {
            state_failure(
                state,
                entered,
                format!("'{ts}' is not a valid ISO-8601 extended offset date-time"),
            )
        })?;
        Ok(self.until(at))
    }

    /// How long from now until `at` (zero when it has passed).
    fn until(&self, at: chrono::DateTime<chrono::FixedOffset>) -> Duration {
        let now = chrono::DateTime::<chrono::Utc>::from(self.engine.clock.now());
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    }

    /// Succeed: InputPath, then OutputPath; the machine it is in ends with that output.
    pub(super) fn run_succeed(
        &self,
        state: &State,
        raw: Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        let ctx = self.context(state, entered, 0, None);
        let effective = self.apply_input_path(state, raw, &ctx, entered)?;
        self.apply_output_path(state, effective, &ctx, entered)
    }

    pub(super) fn fail_error(
        &self,
        state: &State,
        fail: &FailState,
        raw: &Value,
        entered: &Entered,
    ) -> StatesError {
        let ctx = self.context(state, entered, 0, None);
        let text = |field: &Option<StringOrPath>, name: &str| -> Result<String, StatesError> {
            let v = match field {
                None => return Ok(String::new()),
                Some(StringOrPath::Literal(s)) => return Ok(s.clone()),
                Some(StringOrPath::Path(p)) => resolve(p, raw, &ctx).map_err(|_| {
                    let doc = if p.root() == Root::Context { &ctx } else { raw };
                    state_failure(
                        state,
                        entered,
                        format!(
                            "The JSONPath '{p}' specified for the field '{name}' could not be found in the input '{}'",
                            asl::path::describe(doc)
                        ),
                    )
                })?,
                Some(StringOrPath::Intrinsic(call)) => {
                    // As in Parameters, a failing intrinsic is reported as States.Runtime.
                    call.evaluate(Scope {
                        input: raw,
                        context: &ctx,
                    })
                    .map_err(|e| state_failure(state, entered, e.cause))?
                }
            };
            v.scalar()
                .and_then(|j| j.as_str().map(str::to_string))
                .ok_or_else(|| {
                    state_failure(
                        state,
                        entered,
                        format!("The {name} field must resolve to a string"),
                    )
                })
        };
        let error = match text(&fail.error, "ErrorPath") {
            Ok(e) => e,
            Err(e) => return e,
        };
        match text(&fail.cause, "CausePath") {
            Ok(cause) => StatesError::new(error, cause),
            Err(e) => e,
        }
    }
}

impl Exec<'_> {
    /// A JSONPath `Assign`, whose `$` is `input` (the result of a Pass, the input of a
    /// Choice or Wait).
    fn assign_jsonpath(
        &self,
        state: &State,
        entered: &Entered,
        assign: Option<&asl::query::Assign>,
        input: &Value,
        ctx: &Value,
    ) -> Result<(), StatesError> {
        let null = Value::null();
        self.assign(
            state,
            entered,
            ("", assign),
            &States::input(&null, ctx),
            input,
        )
    }
}
