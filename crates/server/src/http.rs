//! HTTP: the AWS JSON 1.0 envelope (`POST /`, `X-Amz-Target: AWSStepFunctions.<Action>`,
//! `application/x-amz-json-1.0`), `GET /metrics` and `GET /healthz`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use tracing::Instrument;

use crate::api::App;
use crate::error::ApiError;

const TARGET_PREFIX: &str = "AWSStepFunctions.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

pub fn router(app: Arc<App>, max_body: usize) -> Router {
    Router::new()
        .route("/", post(api))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app)
}

async fn api(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut response = match target.strip_prefix(TARGET_PREFIX) {
        None => ApiError::unknown_operation(target).into_response(),
        Some(action) => match decode(&body) {
            Err(e) => e.into_response(),
            Ok(request) => match app
                .dispatch(action, request)
                .instrument(tracing::info_span!("request", action))
                .await
            {
                Ok(out) => (
                    StatusCode::OK,
                    [("content-type", CONTENT_TYPE)],
                    out.to_string(),
                )
                    .into_response(),
                Err(e) => e.into_response(),
            },
        },
    };
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

/// The request document: a JSON object (an empty body is `{}`).
fn decode(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::json!({}));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("the request is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::serialization("the request must be a JSON object"));
    }
    Ok(value)
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "executionsRunning": app.background.running(),
        "executorRestarts": app.pool.restarts(),
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
