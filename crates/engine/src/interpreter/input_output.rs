//! Input and output processing, the steps every state shares: the context object,
//! InputPath, Parameters, ResultSelector, ResultPath and OutputPath, and reading a number from
//! a path.
//!
//! A state's file calls [`Exec::begin`] (context object, raw input kept only when needed,
//! InputPath), builds its result, then [`Exec::finish`] (ResultSelector, ResultPath into the
//! kept raw input, OutputPath). The Retry and Catch handling in `retry.rs` places a caught
//! error with [`place_result`].

use asl::model::{Catcher, NumberOrPath, Retrier, State, StateKind};
use asl::path::{InsertError, Root};
use asl::template::TemplateError;
use asl::{Path, Scope, StatesError, Template, Value, names};

use super::jsonata::States;
use super::{Entered, Exec};
use crate::context::{MapItem, context_object};

impl Exec<'_> {
    pub(super) fn context(
        &self,
        state: &State,
        entered: &Entered,
        retries: u32,
        item: Option<MapItem<'_>>,
    ) -> Value {
        // Only the states that take a Retry field count retries in `$$.State`.
        let retry_count = matches!(
            state.kind,
            StateKind::Task(_) | StateKind::Parallel(_) | StateKind::Map(_)
        )
        .then_some(retries);
        context_object(&self.info, &state.name, entered.wall, retry_count, item)
    }

    pub(super) fn apply_input_path(
        &self,
        state: &State,
        raw: Value,
        ctx: &Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        select_path(state.input_path.as_ref(), raw, ctx)
            .map_err(|e| state_failure(state, entered, e))
    }

    pub(super) fn apply_output_path(
        &self,
        state: &State,
        out: Value,
        ctx: &Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        select_path(state.output_path.as_ref(), out, ctx)
            .map_err(|e| state_failure(state, entered, e))
    }

    pub(super) fn apply_result_path(
        &self,
        state: &State,
        raw: Option<Value>,
        result: Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        place_result(state.result_path.as_ref(), raw, result, state, entered)
    }

    /// Evaluates Parameters, ResultSelector or ItemSelector.
    pub(super) fn eval_template(
        &self,
        state: &State,
        template: &Template,
        input: &Value,
        ctx: &Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        // Step Functions reports both a `.$` path that names nothing and a failing intrinsic
        // as `States.Runtime`, naming the state and its history event.
        template
            .evaluate_with(
                Scope {
                    input,
                    context: ctx,
                },
                &entered.vars,
            )
            .map_err(|e| {
                let detail = match e {
                    TemplateError::Path(p) => p.to_string(),
                    TemplateError::Intrinsic(err) => err.cause,
                    other => other.to_string(),
                };
                state_failure(state, entered, detail)
            })
    }

    /// What every state that produces a result does first: its context object, the raw
    /// input kept for ResultPath (only when ResultPath needs it), and InputPath applied.
    pub(super) fn begin(
        &self,
        state: &State,
        raw: Value,
        entered: &Entered,
        retries: u32,
    ) -> Result<(Value, Option<Value>, Value), StatesError> {
        let ctx = self.context(state, entered, retries, None);
        if state.jsonata.is_some() {
            // No InputPath; the raw input is kept only when Output or Assign read it.
            let raw_copy = Self::reads_input_after(state).then(|| raw.clone());
            return Ok((ctx, raw_copy, raw));
        }
        let raw_copy = Self::needs_raw_after(state).then(|| raw.clone());
        let effective = self.apply_input_path(state, raw, &ctx, entered)?;
        Ok((ctx, raw_copy, effective))
    }

    /// Parameters, when the state has them, build the effective input.
    pub(super) fn apply_parameters(
        &self,
        state: &State,
        effective: Value,
        ctx: &Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        if let Some(args) = state.jsonata.as_ref().and_then(|j| j.arguments.as_ref()) {
            let states = States::input(&effective, ctx);
            return self.query_value(state, entered, args, "Arguments", &states);
        }
        match &state.parameters {
            Some(t) => self.eval_template(state, t, &effective, ctx, entered),
            None => Ok(effective),
        }
    }

    /// ResultSelector, ResultPath (into the kept raw input) and OutputPath: what every state
    /// that produces a result does with it.
    pub(super) fn finish(
        &self,
        state: &State,
        raw: Option<Value>,
        result: Value,
        ctx: &Value,
        entered: &Entered,
    ) -> Result<Value, StatesError> {
        if let Some(j) = &state.jsonata {
            let input = raw.unwrap_or_default();
            let states = States {
                input: &input,
                result: Some(&result),
                error_output: None,
                context: ctx,
            };
            let output = match &j.output {
                Some(t) => Some(self.query_value(state, entered, t, "Output", &states)?),
                None => None,
            };
            self.assign(
                state,
                entered,
                ("", state.assign.as_ref()),
                &states,
                &result,
            )?;
            return Ok(output.unwrap_or(result));
        }
        let result = match &state.result_selector {
            Some(t) => self.eval_template(state, t, &result, ctx, entered)?,
            None => result,
        };
        let null = Value::null();
        let states = States::input(&null, ctx);
        self.assign(
            state,
            entered,
            ("", state.assign.as_ref()),
            &states,
            &result,
        )?;
        let out = self.apply_result_path(state, raw, result, entered)?;
        self.apply_output_path(state, out, ctx, entered)
    }

    /// Whether a JSONata state's Output, Assign or catchers read `$states.input`.
    pub(super) fn reads_input_after(state: &State) -> bool {
        let j = state.jsonata.as_deref();
        j.and_then(|j| j.output.as_ref())
            .is_some_and(|t| t.mentions("input"))
            || state.assign.as_ref().is_some_and(|a| a.mentions("input"))
    }

    /// Whether the engine keeps the raw input while the state's work runs (for ResultPath,
    /// a retry or a catcher): then what a function receives must be a detached copy.
    pub(super) fn retains_raw(state: &State, retriers: &[Retrier], catchers: &[Catcher]) -> bool {
        Self::needs_raw_after(state) || !retriers.is_empty() || !catchers.is_empty()
    }

    /// Whether ResultPath will need the raw input after the task ran.
    fn needs_raw_after(state: &State) -> bool {
        !matches!(&state.result_path, Some(p) if p.is_root())
    }

    /// Reads a whole number (`SecondsPath`, `TimeoutSecondsPath`, `MaxConcurrencyPath`,
    /// `ToleratedFailureCountPath`), literal or from a path; a value that is not one fails
    /// as Step Functions words it for that field.
    pub(super) fn read_seconds(
        &self,
        v: &NumberOrPath,
        effective: &Value,
        ctx: &Value,
        field: &str,
        state: &State,
        entered: &Entered,
    ) -> Result<u64, StatesError> {
        let p = match v {
            NumberOrPath::Literal(n) => return Ok(*n),
            NumberOrPath::Path(p) => p,
        };
        let got = resolve(p, effective, ctx).map_err(|e| state_failure(state, entered, e))?;
        let json = got.scalar();
        if let Some(n) = json.as_ref().and_then(|j| j.as_u64()) {
            return Ok(n);
        }
        let text = json
            .as_ref()
            .map_or_else(|| asl::path::describe(&got), plain_text);
        let negative = json.as_ref().and_then(|j| j.as_i64()).filter(|n| *n < 0);
        let detail = match (field, negative) {
            ("SecondsPath", None) => {
                format!("The SecondsPath parameter cannot be parsed as a long value: {p} == {text}")
            }
            ("SecondsPath", Some(_)) => {
                format!("The SecondsPath parameter references a negative value: {p} == {text}")
            }
            ("MaxConcurrencyPath", Some(n)) => {
                format!("Expected non-negative integer for MaxConcurrency, got '{n}' instead.")
            }
            ("ToleratedFailureCountPath", Some(_)) => {
                "ToleratedFailureCount cannot be negative.".to_string()
            }
            ("MaxConcurrencyPath" | "ToleratedFailureCountPath", None) => format!(
                "The {field} field refers to value \"{text}\" which is not a valid integer: {p}"
            ),
            _ => {
                format!("The {field} '{p}' must reference a non-negative integer, but found {text}")
            }
        };
        Err(state_failure(state, entered, detail))
    }

    /// Reads `ToleratedFailurePercentagePath`: a number from 0 to 100.
    pub(super) fn read_percentage(
        &self,
        p: &Path,
        effective: &Value,
        ctx: &Value,
        state: &State,
        entered: &Entered,
    ) -> Result<f64, StatesError> {
        let got = resolve(p, effective, ctx).map_err(|e| state_failure(state, entered, e))?;
        let json = got.scalar();
        let detail = match json.as_ref().and_then(|j| j.as_f64()) {
            Some(n) if (0.0..=100.0).contains(&n) => return Ok(n),
            Some(_) => "ToleratedFailurePercentage must be between 0 and 100.".to_string(),
            None => format!(
                "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                json.as_ref()
                    .map_or_else(|| asl::path::describe(&got), plain_text)
            ),
        };
        Err(state_failure(state, entered, detail))
    }
}

/// A state's runtime failure as Step Functions words it: AWS's prefix naming the state and
/// the history event it was entered at, then `detail`.
pub(super) fn state_failure(
    state: &State,
    entered: &Entered,
    detail: impl std::fmt::Display,
) -> StatesError {
    StatesError::runtime(format!(
        "An error occurred while executing the state '{}' (entered at the event id #{}). {detail}",
        state.name, entered.event_id
    ))
}

/// A scalar as AWS quotes it in a cause: a string as is, anything else as JSON.
pub(super) fn plain_text(json: &serde_json::Value) -> String {
    match json {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn resolve(
    path: &Path,
    input: &Value,
    ctx: &Value,
) -> Result<Value, asl::path::PathError> {
    path.resolve(Scope {
        input,
        context: ctx,
    })
}

/// An independent copy of a value about to be handed to a function or branch.
pub(super) fn detach(value: Value) -> Result<Value, StatesError> {
    value.detach().map_err(|e| {
        StatesError::runtime(format!(
            "could not copy the state's data for the next function: {e}"
        ))
    })
}

fn select_path(
    path: Option<&Path>,
    value: Value,
    ctx: &Value,
) -> Result<Value, asl::path::PathError> {
    match path {
        None => Ok(Value::empty_object()),
        Some(p) if p.is_root() && p.root() == Root::Input => Ok(value),
        Some(p) if p.root() == Root::Context => p.select(ctx),
        Some(p) => p.select_owned(value),
    }
}

/// Places a state's result (or a catcher's error output) at its ResultPath in the raw input.
pub(super) fn place_result(
    path: Option<&Path>,
    raw: Option<Value>,
    result: Value,
    state: &State,
    entered: &Entered,
) -> Result<Value, StatesError> {
    match path {
        None => Ok(raw.unwrap_or_default()),
        Some(p) if p.is_root() => Ok(result),
        Some(p) => p
            .insert(raw.unwrap_or_default(), result)
            .map_err(|e| match e {
                InsertError::MissingProperty { .. } => state_failure(state, entered, e),
                InsertError::Unapplicable { .. } => {
                    StatesError::new(names::RESULT_PATH_MATCH_FAILURE, e.to_string())
                }
            }),
    }
}
