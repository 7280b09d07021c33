//! Pass, Choice, Wait, Succeed and Fail in a JSONata state: no paths, `Output` (by default
//! the state's input) and `Assign`, `Condition` per choice rule, and Wait's and Fail's fields
//! as expressions.

use std::time::Duration;

use asl::model::{ChoiceState, FailState, State, StringOrPath, WaitState};
use asl::query::Jsonata;
use asl::{StatesError, Value, names};
use serde_json::Value as Json;

use super::jsonata::{States, unexpected_type};
use super::{Entered, Exec, Frame, Step};

impl Exec<'_> {
    /// Pass and Succeed: Output (default: the input) and Assign.
    pub(super) fn jsonata_pass(
        &self,
        state: &State,
        raw: Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        let ctx = self.context(state, entered, 0, None);
        self.input_output(state, entered, raw, &ctx)
    }

    /// Output and Assign of a state whose default output is its input.
    fn input_output(
        &self,
        state: &State,
        entered: &Entered,
        input: Value,
        ctx: &Value,
    ) -> Result<Value, StatesError> {
        let states = States::input(&input, ctx);
        let output = match state.jsonata.as_ref().and_then(|j| j.output.as_ref()) {
            Some(t) => Some(self.query_value(state, entered, t, "Output", &states)?),
            None => None,
        };
        self.assign(state, entered, ("", state.assign.as_ref()), &states, &input)?;
        Ok(output.unwrap_or(input))
    }

    /// Choice: the first rule whose Condition is true, with its own Output and Assign;
    /// the state's own apply when Default is taken.
    pub(super) fn jsonata_choice<'m>(
        &self,
        state: &'m State,
        choice: &'m ChoiceState,
        raw: Value,
        entered: &Entered,
    ) -> Result<(Step<'m>, Value), StatesError> {
        let ctx = self.context(state, entered, 0, None);
        let states = States::input(&raw, &ctx);
        for (i, branch) in choice.choices.iter().enumerate() {
            let Some(condition) = &branch.condition else {
                continue;
            };
            let field = format!("Choices[{i}]/Condition");
            match self.query(state, entered, condition, &field, &states)? {
                Json::Bool(true) => {
                    let output = match &branch.output {
                        Some(t) => Some(self.query_value(
                            state,
                            entered,
                            t,
                            &format!("Choices[{i}]/Output"),
                            &states,
                        )?),
                        None => None,
                    };
                    self.assign(
                        state,
                        entered,
                        (&format!("Choices[{i}]/"), branch.assign.as_ref()),
                        &states,
                        &raw,
                    )?;
                    return Ok((Step::Next(&branch.next), output.unwrap_or(raw)));
                }
                Json::Bool(false) => {}
                other => {
                    return Err(unexpected_type(
                        state, entered, condition, &field, "boolean", &other,
                    ));
                }
            }
        }
        let Some(default) = &choice.default else {
            return Err(StatesError::new(
                names::NO_CHOICE_MATCHED,
                format!("No Matches! (state '{}' has no Default)", state.name),
            ));
        };
        let out = self.input_output(state, entered, raw, &ctx)?;
        Ok((Step::Next(default), out))
    }

    /// Wait: Seconds or Timestamp, either possibly an expression.
    pub(super) fn jsonata_wait(
        &self,
        state: &State,
        wait: &WaitState,
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        let ctx = self.context(state, entered, 0, None);
        let j = state.jsonata.as_deref();
        let states = States::input(&raw, &ctx);
        let duration = if let Some(t) = j.and_then(|j| j.seconds.as_ref()) {
            Duration::from_secs(self.query_count(state, entered, t, "Seconds", &states)?)
        } else if let Some(t) = j.and_then(|j| j.timestamp.as_ref()) {
            match self.query(state, entered, t, "Timestamp", &states)? {
                Json::String(ts) => self.until_timestamp(state, entered, &ts)?,
                other => {
                    return Err(unexpected_type(
                        state,
                        entered,
                        t,
                        "Timestamp",
                        "string",
                        &other,
                    ));
                }
            }
        } else {
            match wait {
                WaitState::Seconds(s) => Duration::from_secs(*s),
                WaitState::Timestamp(ts) => self.until_timestamp(state, entered, ts)?,
                WaitState::SecondsPath(_) | WaitState::TimestampPath(_) => {
                    return Err(StatesError::runtime(
                        "a JSONata Wait state cannot read a path",
                    ));
                }
            }
        };
        self.wait_for(duration, frame)?;
        self.input_output(state, entered, raw, &ctx)
    }

    /// Fail: Error and Cause, literal or expressions that must return strings.
    pub(super) fn jsonata_fail(
        &self,
        state: &State,
        fail: &FailState,
        raw: &Value,
        entered: &Entered,
    ) -> StatesError {
        let ctx = self.context(state, entered, 0, None);
        let states = States::input(raw, &ctx);
        let j = state.jsonata.as_deref();
        let text = |expr: Option<&Jsonata>, literal: &Option<StringOrPath>, field: &str| match (
            expr, literal,
        ) {
            (Some(t), _) => match self.query(state, entered, t, field, &states)? {
                Json::String(s) => Ok(s),
                other => Err(unexpected_type(state, entered, t, field, "string", &other)),
            },
            (None, Some(StringOrPath::Literal(s))) => Ok(s.clone()),
            (None, _) => Ok(String::new()),
        };
        let error = match text(j.and_then(|j| j.error.as_ref()), &fail.error, "Error") {
            Ok(e) => e,
            Err(e) => return e,
        };
        match text(j.and_then(|j| j.cause.as_ref()), &fail.cause, "Cause") {
            Ok(cause) => StatesError::new(error, cause),
            Err(e) => e,
        }
    }
}
