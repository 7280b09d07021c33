//! The `context` argument of `handler(event, context)`, shaped like AWS Lambda's Python
//! `LambdaContext`.
//!
//! Differences from Lambda, on purpose:
//! - `memory_limit_in_mb` is a string, as on Lambda (it comes from an environment variable
//!   there); its value is [`crate::PythonOptions::memory_limit_mb`].
//! - `get_remaining_time_in_millis()` counts down to the Task's deadline (`TimeoutSeconds`).
//!   A Task with no timeout has no deadline here, while every Lambda function has one (at
//!   most 900 s): the count then starts at 900 000 ms, Lambda's maximum, when the call starts,
//!   so code written for Lambda sees numbers it can meet there; nothing is enforced.
//! - `log_stream_name` names one stream per process, like one per Lambda execution
//!   environment.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Lambda's maximum function timeout, the budget of a call with no deadline.
pub const NO_DEADLINE_BUDGET: Duration = Duration::from_secs(900);

/// What is the same for every call of one function.
#[derive(Debug)]
pub(crate) struct FunctionInfo {
    pub(crate) function_name: Arc<str>,
    pub(crate) log_group_name: Arc<str>,
    pub(crate) memory_limit_in_mb: Arc<str>,
}

#[pyclass(frozen, name = "LambdaContext", module = "faastlane")]
pub(crate) struct LambdaContext {
    function: Arc<FunctionInfo>,
    function_version: String,
    invoked_function_arn: String,
    aws_request_id: String,
    deadline: Instant,
}

impl LambdaContext {
    pub(crate) fn new(
        function: Arc<FunctionInfo>,
        qualifier: Option<&str>,
        invoked_function_arn: String,
        aws_request_id: &str,
        deadline: Option<Instant>,
        started: Instant,
    ) -> Self {
        LambdaContext {
            function,
            function_version: qualifier.unwrap_or("$LATEST").to_owned(),
            invoked_function_arn,
            aws_request_id: aws_request_id.to_owned(),
            deadline: deadline.unwrap_or(started + NO_DEADLINE_BUDGET),
        }
    }
}

#[pymethods]
impl LambdaContext {
    #[getter]
    fn function_name(&self) -> &str {
        &self.function.function_name
    }

    #[getter]
    fn function_version(&self) -> &str {
        &self.function_version
    }

    #[getter]
    fn invoked_function_arn(&self) -> &str {
        &self.invoked_function_arn
    }

    #[getter]
    fn memory_limit_in_mb(&self) -> &str {
        &self.function.memory_limit_in_mb
    }

    #[getter]
    fn aws_request_id(&self) -> &str {
        &self.aws_request_id
    }

    #[getter]
    fn log_group_name(&self) -> &str {
        &self.function.log_group_name
    }

    #[getter]
    fn log_stream_name(&self) -> String {
        let (date, instance) = stream_parts();
        format!("{date}/[{}]{instance}", self.function_version)
    }

    /// Set for mobile SDK invocations only, never here.
    #[getter]
    fn client_context(&self, py: Python<'_>) -> Py<PyAny> {
        py.None()
    }

    /// Like Lambda's: an object whose Cognito fields are `None` outside mobile invocations.
    #[getter]
    fn identity(&self) -> CognitoIdentity {
        CognitoIdentity
    }

    #[getter]
    fn tenant_id(&self, py: Python<'_>) -> Py<PyAny> {
        py.None()
    }

    fn get_remaining_time_in_millis(&self) -> u64 {
        let left = self.deadline.saturating_duration_since(Instant::now());
        u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
    }

    /// Like Lambda's `context.log`: writes to the function's log.
    fn log(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let text = message.str()?;
        py.import("sys")?
            .getattr("stdout")?
            .call_method1("write", (text,))?;
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},function_name={},memory_limit_in_mb={},function_version={},invoked_function_arn={},client_context=None,identity={}])",
            self.aws_request_id,
            self.function.log_group_name,
            self.log_stream_name(),
            self.function.function_name,
            self.function.memory_limit_in_mb,
            self.function_version,
            self.invoked_function_arn,
            CognitoIdentity.__repr__(),
        )
    }
}

#[pyclass(frozen, name = "CognitoIdentity", module = "faastlane")]
pub(crate) struct CognitoIdentity;

#[pymethods]
impl CognitoIdentity {
    #[getter]
    fn cognito_identity_id(&self, py: Python<'_>) -> Py<PyAny> {
        py.None()
    }

    #[getter]
    fn cognito_identity_pool_id(&self, py: Python<'_>) -> Py<PyAny> {
        py.None()
    }

    fn __repr__(&self) -> &'static str {
        "CognitoIdentity([cognito_identity_id=None,cognito_identity_pool_id=None])"
    }
}

/// The date this process started and a random id: one log stream per process.
fn stream_parts() -> &'static (String, String) {
    static PARTS: OnceLock<(String, String)> = OnceLock::new();
    PARTS.get_or_init(|| {
        (
            chrono::Utc::now().format("%Y/%m/%d").to_string(),
            uuid::Uuid::new_v4().simple().to_string(),
        )
    })
}

/// Creates the Python types of this module now (PyO3 makes a class's type object on first
/// use): with protection domains, a type made during a function's call would be in that
/// function's domain, and every later function would fault on it.
pub(crate) fn make_types(py: Python<'_>) {
    let _ = py.get_type::<LambdaContext>();
    let _ = py.get_type::<CognitoIdentity>();
}
