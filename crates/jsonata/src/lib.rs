//! JSONata for faastlane: the query language of Step Functions' JSONata states.
//!
//! An [`Expression`] is compiled once (from the text between `{%` and `%}`) and evaluated
//! many times against `serde_json` values, with variables (`$states`, `Assign`ed names) and
//! extra native functions supplied per evaluation in [`Bindings`]. By default an expression
//! is Step Functions' JSONata ([`Dialect::StepFunctions`]): version 2.0.6 with AWS's added
//! functions (`$partition`, `$range`, `$hash`, `$random([seed])`, `$uuid`, `$parse`; see
//! [`aws`]) and without `$eval`.
//!
//! ```
//! use jsonata::{Bindings, Expression};
//! use serde_json::json;
//!
//! let expression = Expression::compile("$states.input.title & ' ' & $name")?;
//! let mut bindings = Bindings::new();
//! bindings.insert("states", json!({"input": {"title": "Doctor"}}));
//! bindings.insert("name", json!("María"));
//! assert_eq!(expression.evaluate(None, &bindings)?, Some(json!("Doctor María")));
//!
//! let error = Expression::compile("$states.input.a ?? 0").unwrap_err();
//! assert_eq!((error.code.as_str(), error.position), ("S0211", Some(18)));
//! # Ok::<(), jsonata::Error>(())
//! ```
//!
//! The evaluator itself sits behind the private `backend` module's trait, so the engine
//! never names the crate that implements JSONata and the choice can be swapped.

pub mod aws;
mod backend;
mod bindings;
mod dialect;
mod error;
mod limits;
mod messages;
mod number;
mod variable_path;

use serde_json::Value;

pub use bindings::{Bindings, NativeFunction};
pub use dialect::Dialect;
pub use error::Error;
pub use limits::Limits;
pub use variable_path::{Resolved, VariablePath};

use backend::{Active, Backend};

/// A compiled JSONata expression: parse once, evaluate against many inputs.
///
/// `Send + Sync`, so one compiled definition can serve every execution and lane thread.
#[derive(Clone)]
pub struct Expression {
    source: String,
    program: <Active as Backend>::Program,
    variable_path: Option<VariablePath>,
}

impl Expression {
    /// Parses `source` as Step Functions' JSONata; a syntax error carries JSONata's code
    /// (`S0201`, `S0202`, ...) and position.
    pub fn compile(source: &str) -> Result<Expression, Error> {
        Expression::compile_with(source, Dialect::StepFunctions)
    }

    /// Parses `source` as `dialect`'s JSONata.
    pub fn compile_with(source: &str, dialect: Dialect) -> Result<Expression, Error> {
        let program = contain_panics(|| Active::compile(source, dialect))?;
        Ok(Expression {
            source: source.to_owned(),
            variable_path: Active::variable_path(&program),
            program,
        })
    }

    /// Evaluates against `input` (`None` is JSONata's `undefined` input) with the variables
    /// and functions of `bindings`; `Ok(None)` is an undefined result.
    pub fn evaluate(
        &self,
        input: Option<&Value>,
        bindings: &Bindings,
    ) -> Result<Option<Value>, Error> {
        contain_panics(|| Active::evaluate(&self.program, input, bindings))
    }

    /// Set when the expression only reads fields of a variable (`$states.result.a`), so the
    /// caller can answer it from its own data without converting it to JSON.
    pub fn variable_path(&self) -> Option<&VariablePath> {
        self.variable_path.as_ref()
    }

    /// The text this expression was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expression")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Error code of a fault inside the evaluator (a panic), which no expression should reach.
pub const INTERNAL_ERROR: &str = "U1000";

/// Runs `f`, turning a panic of the evaluator into [`INTERNAL_ERROR`]: a user's expression
/// must never take the server down. Sound because every value `f` touches is created inside
/// it or only read, so nothing half-updated outlives the panic.
fn contain_panics<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(
            INTERNAL_ERROR,
            "the JSONata evaluator failed internally on this expression",
        ))
    })
}

/// Compiles and evaluates `source` in one go, for callers that use an expression once.
pub fn evaluate(
    source: &str,
    input: Option<&Value>,
    bindings: &Bindings,
) -> Result<Option<Value>, Error> {
    Expression::compile(source)?.evaluate(input, bindings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn compiled_expressions_and_bindings_cross_threads() {
        assert_send_sync::<Expression>();
        assert_send_sync::<Bindings>();
        assert_send_sync::<Error>();
    }
}
