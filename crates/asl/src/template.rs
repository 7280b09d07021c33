//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector`.
//!
//! A template is JSON in which a field whose name ends in `.$` is replaced by the value of a
//! path (`"x.$": "$.a"`), a context path (`"$$.Execution.Id"`) or an intrinsic function call
//! (`"States.Format('{}', $.a)"`); the `.$` is dropped from the name. Parts without such
//! fields are kept as literal JSON and cloned as a whole.

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::error::StatesError;
use crate::intrinsic::IntrinsicCall;
use crate::path::{Path, PathError, Scope};
use crate::value::Value;

#[derive(Clone, Debug)]
pub enum Template {
    /// A part with no dynamic field.
    Literal(Json),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Path(Path),
    Intrinsic(IntrinsicCall),
    /// A workflow variable, or a path into one (`$order`, `$order.items[0]`).
    Variable(crate::query::VariableRef),
}

/// Why a template could not be evaluated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// A `.$` path named nothing. The caller picks the error name (Step Functions reports
    /// `States.Runtime` for Parameters).
    #[error(transparent)]
    Path(Box<TemplatePathError>),
    /// An intrinsic function failed (`States.IntrinsicFailure`).
    #[error(transparent)]
    Intrinsic(StatesError),
    /// A `.$` field read a variable no state has assigned.
    #[error(
        "The JSONPath '{path}' specified for the field '{field}.$' could not be found: no state has assigned the variable '{name}'"
    )]
    Unassigned {
        field: String,
        path: String,
        name: String,
    },
}

/// A `.$` field whose path named nothing.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "The JSONPath '{path}' specified for the field '{field}.$' could not be found in the input '{input}'"
)]
pub struct TemplatePathError {
    pub field: String,
    pub path: String,
    pub input: String,
    pub source: PathError,
}

impl Template {
    /// Whether the template has no dynamic part.
    pub fn is_literal(&self) -> bool {
        matches!(self, Template::Literal(_))
    }

    /// Builds the payload (with no workflow variables).
    pub fn evaluate(&self, scope: Scope<'_>) -> Result<Value, TemplateError> {
        self.eval_field(scope, &serde_json::Map::new(), "")
    }

    /// Builds the payload; `$name` fields read `variables`.
    pub fn evaluate_with(
        &self,
        scope: Scope<'_>,
        variables: &serde_json::Map<String, Json>,
    ) -> Result<Value, TemplateError> {
        self.eval_field(scope, variables, "")
    }

    fn eval_field(
        &self,
        scope: Scope<'_>,
        vars: &serde_json::Map<String, Json>,
        field: &str,
    ) -> Result<Value, TemplateError> {
        match self {
            Template::Literal(j) => Ok(Value::Json(j.clone())),
            Template::Object(fields) => {
                let mut out = IndexMap::with_capacity(fields.len());
                for (name, t) in fields {
                    out.insert(name.clone(), t.eval_field(scope, vars, name)?);
                }
                Ok(Value::from_fields(out))
            }
            Template::Array(items) => {
                let out = items
                    .iter()
                    .map(|t| t.eval_field(scope, vars, field))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::from_elements(out))
            }
            Template::Path(path) => path.resolve(scope).map_err(|source| {
                let doc = match path.root() {
                    crate::path::Root::Input => scope.input,
                    crate::path::Root::Context => scope.context,
                };
                TemplateError::Path(Box::new(TemplatePathError {
                    field: field.to_string(),
                    path: path.as_str().to_string(),
                    input: crate::path::describe(doc),
                    source,
                }))
            }),
            Template::Intrinsic(call) => call.evaluate(scope).map_err(TemplateError::Intrinsic),
            Template::Variable(v) => {
                let Some(value) = vars.get(&v.name) else {
                    return Err(TemplateError::Unassigned {
                        field: field.to_string(),
                        path: v.source.clone(),
                        name: v.name.clone(),
                    });
                };
                let value = Value::Json(value.clone());
                v.path
                    .resolve(Scope {
                        input: &value,
                        context: scope.context,
                    })
                    .map_err(|source| {
                        TemplateError::Path(Box::new(TemplatePathError {
                            field: field.to_string(),
                            path: v.source.clone(),
                            input: crate::path::describe(&value),
                            source,
                        }))
                    })
            }
        }
    }
}
