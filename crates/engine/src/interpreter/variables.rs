//! Workflow variables (`Assign`), in both query languages.
//!
//! From "Passing data between states with variables": a state's `Assign` is evaluated with
//! the variables as they were when the state was entered (all its assignments see the old
//! values), and takes effect only once the state has produced its output, for the states after
//! it. A Parallel branch or a Map iteration starts with the variables of the scope around it
//! and its own assignments stay inside it.
//!
//! The visible variables are an immutable map behind an `Arc`: a state, a branch or an
//! iteration holds the map it started with without copying it, and an assignment copies the
//! map only when someone else still holds it.

use std::collections::HashMap;
use std::sync::Arc;

use asl::query::{Assign, limits};
use asl::{Scope, StatesError, Value, names};
use serde_json::{Map, Value as Json};

use super::jsonata::States;
use super::{Entered, Exec};
use asl::model::State;

/// The variables visible to a state.
pub(crate) type Vars = Arc<Variables>;

/// Variables and their serialized sizes, for the per-execution quota.
#[derive(Clone, Debug, Default)]
pub(crate) struct Variables {
    values: Map<String, Json>,
    sizes: HashMap<String, usize>,
    total: usize,
}

impl std::ops::Deref for Variables {
    type Target = Map<String, Json>;

    fn deref(&self) -> &Map<String, Json> {
        &self.values
    }
}

impl Variables {
    /// Variables received from a parent process.
    pub(crate) fn from_map(values: Map<String, Json>) -> Vars {
        let mut scope = Variables::default();
        for (name, value) in values {
            scope.set(name, value);
        }
        Arc::new(scope)
    }

    fn set(&mut self, name: String, value: Json) {
        let size = value.to_string().len();
        let old = self.sizes.insert(name.clone(), size).unwrap_or(0);
        self.total = self.total - old + size;
        self.values.insert(name, value);
    }
}

/// Applies what a state assigned to the variables of its scope; more than AWS's 10 MiB of
/// variables in one scope fails the state.
pub(super) fn apply(
    vars: &mut Vars,
    assigned: Map<String, Json>,
    state: &State,
) -> Result<(), StatesError> {
    if assigned.is_empty() {
        return Ok(());
    }
    let scope = Arc::make_mut(vars);
    for (name, value) in assigned {
        scope.set(name, value);
    }
    if scope.total > limits::TOTAL_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The variables stored after state '{}' are {} bytes together, more than the limit of {} bytes",
                state.name,
                scope.total,
                limits::TOTAL_BYTES
            ),
        ));
    }
    Ok(())
}

impl Exec<'_> {
    /// Evaluates `assign` and records the values on `entered`, where the driver picks them up
    /// once the state succeeded. `jsonpath_input` is what `$` reads in a JSONPath `Assign`
    /// (the state's result, its input in Choice and Wait, the error output in a catcher).
    /// `under` is where the `Assign` sits in the state, as AWS names its fields in a cause:
    /// empty for the state's own, `Choices[0]/` for a choice rule's, `Catch[1]/` for a
    /// catcher's.
    pub(super) fn assign(
        &self,
        state: &State,
        entered: &Entered,
        (under, assign): (&str, Option<&Assign>),
        states: &States<'_>,
        jsonpath_input: &Value,
    ) -> Result<(), StatesError> {
        let Some(assign) = assign else {
            return Ok(());
        };
        let mut values = Map::new();
        match assign {
            Assign::JsonPath(fields) => {
                for (name, template) in fields {
                    let v = template
                        .evaluate_with(
                            Scope {
                                input: jsonpath_input,
                                context: states.context,
                            },
                            &entered.vars,
                        )
                        .map_err(|e| {
                            StatesError::runtime(format!(
                                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                                state.name,
                                entered.event_id,
                                match e {
                                    asl::template::TemplateError::Path(p) => p.to_string(),
                                    asl::template::TemplateError::Intrinsic(err) => err.cause,
                                    other => other.to_string(),
                                }
                            ))
                        })?;
                    let v = v
                        .into_json()
                        .map_err(|e| StatesError::runtime(e.to_string()))?;
                    values.insert(name.clone(), v);
                }
            }
            Assign::Jsonata(fields) => {
                for (name, template) in fields {
                    let v = self.query(
                        state,
                        entered,
                        template,
                        &format!("{under}Assign/{name}"),
                        states,
                    )?;
                    values.insert(name.clone(), v);
                }
            }
        }
        check_sizes(state, &values)?;
        let mut slot = entered.assigned.borrow_mut();
        slot.get_or_insert_with(Map::new).extend(values);
        Ok(())
    }
}

/// AWS's quotas: one variable's value and the values of one `Assign`.
fn check_sizes(state: &State, values: &Map<String, Json>) -> Result<(), StatesError> {
    let mut total = 0;
    for (name, v) in values {
        let size = v.to_string().len();
        if size > limits::VALUE_BYTES {
            return Err(StatesError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The value assigned to variable '{name}' in state '{}' is {size} bytes, more than the limit of {} bytes",
                    state.name,
                    limits::VALUE_BYTES
                ),
            ));
        }
        total += size;
    }
    if total > limits::ASSIGN_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The variables assigned in state '{}' are {total} bytes together, more than the limit of {} bytes",
                state.name,
                limits::ASSIGN_BYTES
            ),
        ));
    }
    Ok(())
}
