//! A function's failure, named and described the way AWS Lambda's Python runtime reports it
//! to Step Functions: the error is the exception's class name, the cause the JSON document
//! `{"errorMessage", "errorType", "requestId", "stackTrace"}` Lambda returns.
//!
//! `SystemExit` would end a Lambda runtime process, which Lambda reports as
//! `Runtime.ExitError`; here the process survives and the task fails with that error.

use std::time::Duration;

use asl::StatesError;
use engine::{LogSink, TaskFailure};
use pyo3::exceptions::PySystemExit;
use pyo3::prelude::*;
use serde_json::json;

use crate::interpreter;

/// What the runtime reports for a Python exception raised by a function.
pub(crate) struct Described {
    pub(crate) error_type: String,
    pub(crate) message: String,
    pub(crate) stack_trace: Vec<String>,
}

/// `directory`: the workflow directory, whose files the stack trace shows under Lambda's
/// task root (`/var/task/handler.py`).
pub(crate) fn describe(py: Python<'_>, err: &PyErr, directory: &str) -> Described {
    let described = interpreter::bootstrap(py).ok().and_then(|b| {
        b.call_method1(
            "describe_exception",
            (err.value(py), err.traceback(py), directory),
        )
        .and_then(|d| d.extract::<(String, String, Vec<String>)>())
        .ok()
    });
    match described {
        Some((error_type, message, stack_trace)) => Described {
            error_type,
            message,
            stack_trace,
        },
        None => Described {
            error_type: err
                .get_type(py)
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "Exception".into()),
            message: err.value(py).to_string(),
            stack_trace: Vec::new(),
        },
    }
}

/// Lambda's error document, as the cause string Step Functions shows: the JSON text the
/// Lambda Python runtime writes (`json.dumps`, so `", "` and `": "` separators and non-ASCII
/// escaped).
pub(crate) fn cause(
    message: &str,
    error_type: &str,
    request_id: &str,
    stack_trace: &[String],
) -> String {
    engine::lambda::python_json(&json!({
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack_trace,
    }))
}

/// The task failure for an exception a function raised, also written to the function's log
/// the way Lambda logs it (`[ERROR] Type: message` and the traceback).
pub(crate) fn from_exception(
    py: Python<'_>,
    err: &PyErr,
    directory: &str,
    request_id: &str,
    log: &dyn LogSink,
    state: &str,
) -> TaskFailure {
    let described = describe(py, err, directory);
    if err.is_instance_of::<PySystemExit>(py) {
        return exit_error(py, err, request_id, described, log, state);
    }
    log.line(
        state,
        &format!("[ERROR] {}: {}", described.error_type, described.message),
    );
    log.line(state, "Traceback (most recent call last):");
    for frame in &described.stack_trace {
        for line in frame.lines() {
            log.line(state, line);
        }
    }
    TaskFailure::Function(StatesError::new(
        described.error_type.clone(),
        cause(
            &described.message,
            &described.error_type,
            request_id,
            &described.stack_trace,
        ),
    ))
}

fn exit_error(
    py: Python<'_>,
    err: &PyErr,
    request_id: &str,
    described: Described,
    log: &dyn LogSink,
    state: &str,
) -> TaskFailure {
    let (status, printed) = interpreter::bootstrap(py)
        .ok()
        .and_then(|b| {
            b.call_method1("exit_code", (err.value(py),))
                .and_then(|c| c.extract::<(i64, Option<String>)>())
                .ok()
        })
        .unwrap_or((1, None));
    if let Some(text) = printed {
        // What Python prints to stderr when `sys.exit("message")` ends a process.
        log.line(state, &text);
    }
    let message = if status == 0 {
        format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
    } else {
        format!("RequestId: {request_id} Error: Runtime exited with error: exit status {status}")
    };
    log.line(state, &message);
    TaskFailure::Function(StatesError::new(
        EXIT_ERROR,
        cause(&message, EXIT_ERROR, request_id, &described.stack_trace),
    ))
}

const EXIT_ERROR: &str = "Runtime.ExitError";

/// `States.Timeout` for a call interrupted at its deadline.
pub(crate) fn timeout(ran_for: Duration) -> TaskFailure {
    TaskFailure::Function(StatesError::new(
        asl::names::TIMEOUT,
        format!("Task timed out after {:.2} seconds", ran_for.as_secs_f64()),
    ))
}
