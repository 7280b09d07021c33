//! JSONata states: `$states`, evaluating a state's `{% ... %}` templates, and the
//! `States.QueryEvaluationError` an expression fails with.
//!
//! `$states.input`, `.result` and `.errorOutput` are the engine's values, which may be
//! Python objects held by reference: they become JSON only when an expression mentions them.
//! A template that is one expression reading fields of `$states.input` or `$states.result`
//! (`{% $states.result %}`, `{% $states.result.body %}`) is answered from the value itself,
//! so a Python result passes through such an `Output` by reference.

use ::jsonata::Bindings;
use asl::model::State;
use asl::query::Jsonata;
use asl::{StatesError, Value, names};
use serde_json::{Map, Value as Json};

use super::{Entered, Exec};

/// What `$states` holds for one evaluation.
pub(super) struct States<'a> {
    pub input: &'a Value,
    pub result: Option<&'a Value>,
    pub error_output: Option<&'a Value>,
    pub context: &'a Value,
}

impl<'a> States<'a> {
    pub fn input(input: &'a Value, context: &'a Value) -> States<'a> {
        States {
            input,
            result: None,
            error_output: None,
            context,
        }
    }
}

impl Exec<'_> {
    /// Evaluates `template` to JSON.
    pub(super) fn query(
        &self,
        state: &State,
        entered: &Entered,
        template: &Jsonata,
        field: &str,
        states: &States<'_>,
    ) -> Result<Json, StatesError> {
        let bindings = bindings(entered, template, states)?;
        template
            .evaluate(field, &bindings)
            .map_err(|e| query_error(state, entered, &e.cause))
    }

    /// Evaluates `template` to a value, passing `$states.input`/`.result` (or a field of
    /// them) through without converting it when that is all the template reads.
    pub(super) fn query_value(
        &self,
        state: &State,
        entered: &Entered,
        template: &Jsonata,
        field: &str,
        states: &States<'_>,
    ) -> Result<Value, StatesError> {
        if let Some(v) = by_reference(template, states) {
            return Ok(v);
        }
        self.query(state, entered, template, field, states)
            .map(Value::Json)
    }

    /// A JSONata number field (`TimeoutSeconds`, `Seconds`, `MaxConcurrency`, ...).
    pub(super) fn query_count(
        &self,
        state: &State,
        entered: &Entered,
        template: &Jsonata,
        field: &str,
        states: &States<'_>,
    ) -> Result<u64, StatesError> {
        let read = |v: &Json| {
            v.as_u64().or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
        };
        self.query_as(state, entered, (template, field), states, "integer", read)
    }

    /// A JSONata field that must give what `read` accepts (`expected` names it in the cause).
    pub(super) fn query_as<T>(
        &self,
        state: &State,
        entered: &Entered,
        (template, field): (&Jsonata, &str),
        states: &States<'_>,
        expected: &str,
        read: impl Fn(&Json) -> Option<T>,
    ) -> Result<T, StatesError> {
        let v = self.query(state, entered, template, field, states)?;
        read(&v).ok_or_else(|| unexpected_type(state, entered, template, field, expected, &v))
    }
}

/// A field whose expression returned a value of the wrong type, in the words AWS uses for
/// `Items` ("returned an unexpected result type").
pub(super) fn unexpected_type(
    state: &State,
    entered: &Entered,
    template: &Jsonata,
    field: &str,
    expected: &str,
    value: &Json,
) -> StatesError {
    let found = match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    };
    query_error(
        state,
        entered,
        &format!(
            "The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{found}' for value: {value}",
            template.source().unwrap_or_default()
        ),
    )
}

/// `States.QueryEvaluationError`, with the state prefix AWS puts on every evaluation cause.
pub(super) fn query_error(state: &State, entered: &Entered, cause: &str) -> StatesError {
    StatesError::new(
        names::QUERY_EVALUATION_ERROR,
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {cause}",
            state.name, entered.event_id
        ),
    )
}

fn by_reference(template: &Jsonata, states: &States<'_>) -> Option<Value> {
    let path = template.variable_path()?;
    if path.variable != "states" {
        return None;
    }
    let (first, rest) = path.fields.split_first()?;
    let mut current = match first.as_str() {
        "input" => states.input.clone(),
        "result" => states.result?.clone(),
        "errorOutput" => states.error_output?.clone(),
        _ => return None,
    };
    for field in rest {
        // Only objects answer field by field; anything else (an array maps the step over its
        // elements) goes to the evaluator.
        if current.kind() != asl::Kind::Object {
            return None;
        }
        current = current.get(field)?;
    }
    Some(current)
}

/// `$states` and the variables the template mentions.
fn bindings(
    entered: &Entered,
    template: &Jsonata,
    states: &States<'_>,
) -> Result<Bindings, StatesError> {
    let mut b = Bindings::new();
    if template.mentions("$states") {
        let mut s = Map::new();
        let json = |v: &Value| {
            v.to_json().map_err(|e| {
                StatesError::runtime(format!("cannot read the state's data as JSON: {e}"))
            })
        };
        if template.mentions("input") {
            s.insert("input".into(), json(states.input)?);
        }
        if let Some(r) = states.result
            && template.mentions("result")
        {
            s.insert("result".into(), json(r)?);
        }
        if let Some(e) = states.error_output
            && template.mentions("errorOutput")
        {
            s.insert("errorOutput".into(), json(e)?);
        }
        if template.mentions("context") {
            s.insert("context".into(), json(states.context)?);
        }
        b.insert("states", Json::Object(s));
    }
    for (name, value) in entered.vars.iter() {
        if template.mentions(&format!("${name}")) {
            b.insert(name, value.clone());
        }
    }
    Ok(b)
}
