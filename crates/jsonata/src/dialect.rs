//! Which JSONata an expression is written in: Step Functions' (the default) or plain.

/// The language an [`crate::Expression`] is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// What Step Functions runs: JSONata 2.0.6 (so without the `??` and `?:` operators that
    /// JSONata 2.1 added; they are syntax errors there), plus AWS's `$partition`, `$range`,
    /// `$hash`, `$random([seed])`, `$uuid`, `$parse`, and without `$eval`.
    #[default]
    StepFunctions,
    /// JSONata as published (2.2), `$eval` included: what the official test suite checks.
    Standard,
}
