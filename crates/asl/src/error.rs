//! Errors an execution can raise, named as Step Functions names them.

use std::fmt;

/// The error names Step Functions defines (`States.*`).
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const RESULT_SELECTOR_PATH_FAILURE: &str = "States.ResultSelectorPathFailure";
    pub const ITEM_SELECTOR_PATH_FAILURE: &str = "States.ItemSelectorPathFailure";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// An error raised while an execution runs: a name that Retry and Catch match on, and a
/// human-readable cause. This is what a failed execution reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatesError {
    pub error: String,
    pub cause: String,
}

impl StatesError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// Whether a Retrier or Catcher whose `ErrorEquals` lists `pattern` matches this error.
    ///
    /// `States.ALL` matches every error except the terminal ones (`States.Runtime`,
    /// `States.DataLimitExceeded`); `States.TaskFailed` matches every error except
    /// `States.Timeout` (and the terminal ones).
    pub fn matches(&self, pattern: &str) -> bool {
        if self.is_terminal() {
            return false;
        }
        match pattern {
            names::ALL => true,
            names::TASK_FAILED => self.error != names::TIMEOUT,
            other => other == self.error,
        }
    }

    /// Errors no Retry or Catch can handle: they always fail the execution.
    pub fn is_terminal(&self) -> bool {
        self.error == names::RUNTIME || self.error == names::DATA_LIMIT_EXCEEDED
    }
}

impl fmt::Display for StatesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for StatesError {}
