//! Bounds on one evaluation: a server evaluates expressions its users wrote.

use std::time::Duration;

/// How long, how deep and how wide one evaluation may run. Running out of time or depth is
/// error `U1001`, as in the reference implementation's test harness (`timelimit` and
/// `depth`); a sequence too long is `D2015`. Build one with `..Limits::default()`: fields may
/// be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one evaluation; `None` for no limit.
    pub timeout: Option<Duration>,
    /// Maximum nesting of evaluation (each function call and sub-expression is a level);
    /// `None` leaves only the evaluator's own ceiling, which turns runaway recursion into an
    /// error long before memory runs out (deep levels run on heap-allocated stack segments,
    /// never overflowing the thread's stack).
    pub max_depth: Option<usize>,
    /// Most items in one sequence a path, wildcard, range or higher-order function builds,
    /// so that memory runs out no sooner than the time does (`[1..1e6].[1..1e6]` would
    /// build 10^12 items well inside the timeout).
    pub max_sequence_length: Option<usize>,
}

impl Default for Limits {
    /// Ten seconds, the evaluator's own depth ceiling, sequences of ten million items.
    fn default() -> Limits {
        Limits {
            timeout: Some(Duration::from_secs(10)),
            max_depth: None,
            max_sequence_length: Some(10_000_000),
        }
    }
}
