//! Which JSONata an expression is written in: Step Functions' (the default) or plain.

/// The language an [`crate::Expression`] is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// What Step Functions runs. The developer guide: "Step Functions implements JSONata
    /// based on the 2.0.6 specification. All built-in JSONata functions and operators in the
    /// 2.0.6 specification are supported, with one exception: `$eval` is not available". So
    /// the `??` and `?:` operators of JSONata 2.1 are syntax errors, as users report them on
    /// AWS; AWS's `$partition`, `$range`, `$hash`, `$random([seed])`, `$uuid`, `$parse` are
    /// added.
    #[default]
    StepFunctions,
    /// JSONata as published (2.2), `$eval` included: what the official test suite checks.
    Standard,
}
