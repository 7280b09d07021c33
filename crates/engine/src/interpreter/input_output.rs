//! Input and output processing, the steps every state shares: the context object,
//! InputPath, Parameters, ResultSelector, ResultPath and OutputPath, and reading a number from
//! a path.
//!
//! A state's file calls [`Exec::begin`] (context object, raw input kept only when needed,
//! InputPath), builds its result, then [`Exec::finish`] (ResultSelector, ResultPath into the
//! kept raw input, OutputPath). The Retry and Catch handling in `retry.rs` places a caught
//! error with [`place_result`].

use asl::model::{Catcher, NumberOrPath, Retrier, State, StateKind};
use asl::path::Root;
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
    ) -> Result<Value, StatesError> {
        select_path(state.input_path.as_ref(), raw, ctx)
    }

    pub(super) fn apply_output_path(
        &self,
        state: &State,
        out: Value,
        ctx: &Value,
    ) -> Result<Value, StatesError> {
        select_path(state.output_path.as_ref(), out, ctx)
    }

    pub(super) fn apply_result_path(
        &self,
        state: &State,
        raw: Option<Value>,
        result: Value,
    ) -> Result<Value, StatesError> {
        place_result(state.result_path.as_ref(), raw, result)
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
        template.evaluate_with(Scope { input, context: ctx }, &entered.vars).map_err(|e| {
            let detail = match e {
                TemplateError::Path(p) => p.to_string(),
                TemplateError::Intrinsic(err) => err.cause,
                other => other.to_string(),
            };
            StatesError::runtime(format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                state.name, entered.event_id, detail
            ))
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
        let effective = self.apply_input_path(state, raw, &ctx)?;
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
            self.assign(state, entered, state.assign.as_ref(), &states, &result)?;
            return Ok(output.unwrap_or(result));
        }
        let result = match &state.result_selector {
            Some(t) => self.eval_template(state, t, &result, ctx, entered)?,
            None => result,
        };
        let null = Value::null();
        let states = States::input(&null, ctx);
        self.assign(state, entered, state.assign.as_ref(), &states, &result)?;
        let out = self.apply_result_path(state, raw, result)?;
        self.apply_output_path(state, out, ctx)
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

    /// Reads a `...Seconds`/`MaxConcurrency` value, literal or from a path.
    pub(super) fn read_seconds(
        &self,
        v: &NumberOrPath,
        effective: &Value,
        ctx: &Value,
        field: &str,
    ) -> Result<u64, StatesError> {
        match v {
            NumberOrPath::Literal(n) => Ok(*n),
            NumberOrPath::Path(p) => {
                let got =
                    resolve(p, effective, ctx).map_err(|e| StatesError::runtime(e.to_string()))?;
                got.scalar().and_then(|j| j.as_u64()).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The {field} '{p}' must reference a non-negative integer, but found {}",
                        asl::path::describe(&got)
                    ))
                })
            }
        }
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

fn select_path(path: Option<&Path>, value: Value, ctx: &Value) -> Result<Value, StatesError> {
    let result = match path {
        None => return Ok(Value::empty_object()),
        Some(p) if p.is_root() && p.root() == Root::Input => return Ok(value),
        Some(p) if p.root() == Root::Context => p.select(ctx),
        Some(p) => p.select_owned(value),
    };
    result.map_err(|e| StatesError::runtime(e.to_string()))
}

pub(super) fn place_result(
    path: Option<&Path>,
    raw: Option<Value>,
    result: Value,
) -> Result<Value, StatesError> {
    match path {
        None => Ok(raw.unwrap_or_default()),
        Some(p) if p.is_root() => Ok(result),
        Some(p) => p
            .insert(raw.unwrap_or_default(), result)
            .map_err(|e| StatesError::new(names::RESULT_PATH_MATCH_FAILURE, e.to_string())),
    }
}
