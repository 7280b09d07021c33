//! The seam between the engine and the code a Task runs.
//!
//! A [`Runtime`] owns functions (native closures, embedded Python, ...) and the objects they
//! return. The engine hands it a [`Value`] and gets one back; a runtime that returns its own
//! objects as [`asl::Foreign`] handles gets them back untouched on the next call, so a
//! hand-off between two of its functions never serializes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use asl::{StatesError, Value};

use crate::codec::{JsonCodec, ValueCodec};
use crate::context::Identity;
use crate::lambda::LambdaResponse;

/// What a Task asks for, and everything a function may want to know about its invocation
/// (the fields of Lambda's `context` object).
#[derive(Clone)]
pub struct Call<'a> {
    /// The function name (`resize` for `arn:aws:lambda:...:function:resize:prod`).
    pub function: &'a str,
    /// Version or alias, when the ARN names one.
    pub qualifier: Option<&'a str>,
    /// Region and account of the ARN the function was invoked as
    /// ([`Call::invoked_function_arn`]).
    pub identity: &'a Identity,
    /// The Task state's name.
    pub state_name: &'a str,
    /// A fresh id for this invocation (Lambda's `aws_request_id`), made when first asked.
    pub request_id: &'a RequestId,
    /// The execution's ARN.
    pub execution_arn: &'a str,
    /// When `TimeoutSeconds` runs out. The engine reports `States.Timeout` for a call that
    /// returns after it; a runtime that can interrupt its function should do so.
    pub deadline: Option<Instant>,
    /// Set when the execution no longer needs the result (a sibling branch failed).
    pub cancel: &'a CancelToken,
    /// Where the function's own output (prints, logs) goes.
    pub log: &'a dyn LogSink,
}

impl Call<'_> {
    /// The ARN the function was invoked as (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`,
    /// with `:QUALIFIER`). Made when asked: formatting it on every call cost ~0.3 µs of a
    /// 1.5-2.5 µs hand-off, and most functions never look at it.
    pub fn invoked_function_arn(&self) -> String {
        self.identity.function_arn(self.function, self.qualifier)
    }

    /// Lambda's `Lambda.ResourceNotFoundException` for this call's function: what a runtime
    /// answers for a function it does not have.
    pub fn function_not_found(&self) -> TaskFailure {
        crate::lambda::function_not_found(self)
    }
}

/// Lambda's `aws_request_id` of one invocation: a v4 UUID, made when first asked (for a
/// context object, an error report, a log line) and the same on every later ask. Making it
/// for every call cost ~0.3 µs of a ~1.4 µs state hand-off.
#[derive(Debug, Default)]
pub struct RequestId(OnceLock<String>);

impl RequestId {
    pub fn new() -> Self {
        RequestId::default()
    }

    /// An id decided by the caller (tests, replays).
    pub fn fixed(id: impl Into<String>) -> Self {
        RequestId(OnceLock::from(id.into()))
    }

    pub fn as_str(&self) -> &str {
        // From the thread's fast generator (uuid's own asks the OS each time).
        self.0.get_or_init(|| {
            uuid::Builder::from_random_bytes(rand::random())
                .into_uuid()
                .to_string()
        })
    }
}

/// Why a call produced no result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaskFailure {
    /// The user's function failed (raised, returned an error): its error name and cause, as
    /// Lambda reports them to Step Functions.
    #[error("function failed: {0}")]
    Function(StatesError),
    /// The runtime could not run the function (module missing, worker crashed). Named like
    /// Lambda's own errors (`Runtime.ImportModuleError`, `Runtime.ExitError`, ...).
    #[error("runtime failed: {0}")]
    Runtime(StatesError),
}

impl TaskFailure {
    /// The error Retry and Catch see.
    pub fn into_states_error(self) -> StatesError {
        match self {
            TaskFailure::Function(e) | TaskFailure::Runtime(e) => e,
        }
    }
}

/// A problem found before an execution starts (a function that does not exist, a module
/// that does not import).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PrepareError {
    pub function: String,
    pub message: String,
    pub kind: PrepareErrorKind,
}

/// Whether a function is missing or there but unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrepareErrorKind {
    /// Nothing provides the function. A Task naming it by a Lambda ARN fails when it runs
    /// (`Lambda.ResourceNotFoundException`), as on AWS; a plain name is refused up front.
    NotFound,
    /// The function exists but cannot run (syntax error, failing import, no handler).
    Unloadable,
}

impl PrepareError {
    pub fn not_found(function: impl Into<String>, message: impl Into<String>) -> Self {
        PrepareError {
            function: function.into(),
            message: message.into(),
            kind: PrepareErrorKind::NotFound,
        }
    }

    pub fn unloadable(function: impl Into<String>, message: impl Into<String>) -> Self {
        PrepareError {
            function: function.into(),
            message: message.into(),
            kind: PrepareErrorKind::Unloadable,
        }
    }
}

/// Something that runs Task functions.
pub trait Runtime: Send + Sync {
    /// Checks that every named function exists and can run, loading what it needs (imports
    /// modules, ...). Called once per workflow before anything runs; a later call with the
    /// same names is cheap.
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError>;

    /// Runs one function on the calling thread.
    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure>;

    /// What `result`, returned by a function invoked as a Lambda function (a Lambda ARN or
    /// `lambda:invoke`), is once it has been Lambda's response body: a runtime whose
    /// functions can return a raw body (Python `bytes`) parses it here. With `measure`, also
    /// the body's length (`lambda:invoke` reports it as `Content-Length`). A runtime that
    /// wraps another passes this on. The default: `result` is a JSON document.
    fn lambda_response(
        &self,
        call: &Call<'_>,
        result: Value,
        measure: bool,
    ) -> Result<LambdaResponse, TaskFailure> {
        LambdaResponse::json(call, result, measure)
    }

    /// How this runtime's values cross to another process (a process lane). The default
    /// converts them to JSON, which suits runtimes whose values are JSON.
    fn codec(&self) -> &dyn ValueCodec {
        &JsonCodec
    }
}

/// Receives what functions print, tagged with the state that printed it.
pub trait LogSink: Send + Sync {
    /// A line the function wrote to its standard output (or a line of unknown stream).
    fn line(&self, state: &str, line: &str);

    /// A line the function wrote to its standard error. Sinks that keep the two streams apart
    /// (OpenWhisk's action logs do) override it; the rest see it as any other line.
    fn error_line(&self, state: &str, line: &str) {
        self.line(state, line);
    }
}

/// Discards function output.
#[derive(Debug, Default)]
pub struct NoLog;

impl LogSink for NoLog {
    fn line(&self, _state: &str, _line: &str) {}
}

/// Writes each line to stderr as `[state] line` (the CLI's log, and a runtime's default for
/// output while it imports a function).
#[derive(Debug, Default)]
pub struct StderrLog;

impl LogSink for StderrLog {
    fn line(&self, state: &str, line: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "[{state}] {line}");
    }
}

/// A flag the engine raises when a running branch's result is no longer wanted. A child
/// token is cancelled with its parent (a failed Parallel stops its nested Maps too).
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    parent: Option<Arc<CancelToken>>,
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that is cancelled when this one is, and can also be cancelled alone.
    pub fn child(&self) -> CancelToken {
        CancelToken {
            flag: Arc::default(),
            parent: Some(Arc::new(self.clone())),
        }
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire) || self.parent.as_ref().is_some_and(|p| p.is_cancelled())
    }
}
