//! Errors as the Step Functions API reports them: HTTP 400 with `{"__type", "message"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error a client of the API receives. `kind` is the AWS error code (botocore raises
/// `client.exceptions.<kind>`), `message` the text AWS sends for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    pub kind: &'static str,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// One constraint a parameter failed, in AWS's words.
    pub fn constraint(member: &str, value: impl std::fmt::Display, constraint: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }

    pub fn missing(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self::new(
            "UnknownOperationException",
            format!("unknown operation '{target}'"),
        )
    }

    pub fn invalid_arn(message: impl std::fmt::Display) -> Self {
        Self::new("InvalidArn", format!("Invalid Arn: '{message}'"))
    }

    pub fn invalid_name(name: &str) -> Self {
        Self::new("InvalidName", format!("Invalid Name: '{name}'"))
    }

    pub fn invalid_token(token: &str) -> Self {
        Self::new("InvalidToken", format!("Invalid Token: '{token}'"))
    }

    pub fn invalid_definition(message: impl std::fmt::Display) -> Self {
        Self::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{message}'"),
        )
    }

    pub fn invalid_input(message: impl std::fmt::Display) -> Self {
        Self::new(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{message}'"),
        )
    }

    pub fn state_machine_does_not_exist(arn: &str) -> Self {
        Self::new(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{arn}'"),
        )
    }

    pub fn state_machine_already_exists(arn: &str) -> Self {
        Self::new(
            "StateMachineAlreadyExists",
            format!("State Machine Already Exists: '{arn}'"),
        )
    }

    pub fn execution_does_not_exist(arn: &str) -> Self {
        Self::new(
            "ExecutionDoesNotExist",
            format!("Execution Does Not Exist: '{arn}'"),
        )
    }

    pub fn execution_already_exists(arn: &str) -> Self {
        Self::new(
            "ExecutionAlreadyExists",
            format!("Execution Already Exists: '{arn}'"),
        )
    }

    pub fn resource_not_found(arn: &str) -> Self {
        Self::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
    }

    pub fn type_not_supported(message: impl Into<String>) -> Self {
        Self::new("StateMachineTypeNotSupported", message)
    }

    pub fn too_many_tags(arn: &str) -> Self {
        Self::new(
            "TooManyTags",
            format!("Too many tags: the limit is 50 per resource: '{arn}'"),
        )
    }

    /// The server itself failed (its database); not the client's fault.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            kind: "InternalFailure",
            message: message.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            kind: "ServiceUnavailable",
            message: message.into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!("database: {e}");
        ApiError::internal(format!("the faastlane server's database failed: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"__type": self.kind, "message": self.message});
        (
            self.status,
            [("content-type", "application/x-amz-json-1.0")],
            body.to_string(),
        )
            .into_response()
    }
}
