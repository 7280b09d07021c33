//! Intrinsic functions (`States.Format`, `States.Array`, ...): parsing and evaluation.

use serde_json::Value as Json;

use crate::error::StatesError;
use crate::path::{Path, Scope};
use crate::value::Value;

/// A parsed intrinsic call such as `States.Format('{} {}', $.a, States.UUID())`.
#[derive(Clone, Debug)]
pub struct IntrinsicCall {
    /// The function's full name, e.g. `States.Format`.
    pub name: String,
    pub args: Vec<Arg>,
    /// The expression as written.
    pub raw: String,
}

#[derive(Clone, Debug)]
pub enum Arg {
    /// A string, number, boolean or null literal.
    Literal(Json),
    /// `$...` or `$$...`.
    Path(Path),
    Call(IntrinsicCall),
}

/// An intrinsic expression that does not parse, or names an unknown function, or has the
/// wrong number of arguments.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid intrinsic function call '{expression}': {reason}")]
pub struct IntrinsicSyntaxError {
    pub expression: String,
    /// Character offset of the problem in `expression`.
    pub offset: usize,
    pub reason: String,
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn looks_like_intrinsic(src: &str) -> bool {
    src.trim_start().starts_with("States.")
}

/// Parses an intrinsic call.
pub fn parse(src: &str) -> Result<IntrinsicCall, IntrinsicSyntaxError> {
    Err(IntrinsicSyntaxError {
        expression: src.to_string(),
        offset: 0,
        reason: "intrinsic functions are not available yet".into(),
    })
}

impl IntrinsicCall {
    /// Evaluates the call; failures are `States.IntrinsicFailure`.
    pub fn evaluate(&self, _scope: Scope<'_>) -> Result<Value, StatesError> {
        Err(StatesError::intrinsic(format!(
            "{} is not available yet",
            self.name
        )))
    }
}
