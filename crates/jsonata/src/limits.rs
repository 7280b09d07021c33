//! Bounds on one evaluation: a server evaluates expressions its users wrote.

use std::time::Duration;

/// How long and how deep one evaluation may run. Running out is error `U1001`, as in the
/// reference implementation's test harness (`timelimit` and `depth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one evaluation; `None` for no limit.
    pub timeout: Option<Duration>,
    /// Maximum nesting of evaluation (each function call and sub-expression is a level);
    /// `None` leaves only the evaluator's own ceiling, which turns runaway recursion into an
    /// error long before memory runs out (deep levels run on heap-allocated stack segments,
    /// never overflowing the thread's stack).
    pub max_depth: Option<usize>,
}

impl Default for Limits {
    /// Ten seconds and the evaluator's own depth ceiling.
    fn default() -> Limits {
        Limits {
            timeout: Some(Duration::from_secs(10)),
            max_depth: None,
        }
    }
}
