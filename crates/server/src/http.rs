//! HTTP: the AWS JSON 1.0 envelope (`POST /`, `X-Amz-Target: AWSStepFunctions.<Action>`,
//! `application/x-amz-json-1.0`), `GET /metrics` and `GET /healthz`; for container
//! platforms `POST /invoke/<state machine>` (plain JSON, or a CloudEvent in binary mode) and
//! for sibling instances `POST /lanes/branches` (remote lanes).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
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
        .route("/invoke/{name}", post(invoke))
        .route(crate::remote::LANES_PATH, post(lanes))
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
        "remoteBatchesServed": app.lanes_batches.load(std::sync::atomic::Ordering::Relaxed),
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

/// `POST /invoke/<name>`: the body is the execution's input, the answer its output (200) or
/// `{"error", "cause"}` with 500 (`x-faastlane-status` says FAILED or TIMED_OUT); 404 for a
/// state machine that is not registered, 400 for an input that is not JSON. A request in
/// CloudEvents binary mode (`ce-specversion`, `ce-id`, ... headers; the body is the event's
/// data) is answered with an event in the same mode.
async fn invoke(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let cloud_event = headers.contains_key("ce-specversion");
    let input = match String::from_utf8(body.to_vec()) {
        Ok(text) if text.trim().is_empty() => "{}".to_string(),
        Ok(text) => text,
        Err(e) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                "InvalidExecutionInput",
                &format!("the input is not UTF-8: {e}"),
            );
        }
    };
    let outcome = app
        .invoke(&name, input)
        .instrument(tracing::info_span!("invoke", machine = %name))
        .await;
    let (mut response, kind) = match outcome {
        Ok(crate::api::Invoked::Output(output)) => (
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                output,
            )
                .into_response(),
            "succeeded",
        ),
        Ok(crate::api::Invoked::Failed {
            status,
            error,
            cause,
        }) => {
            let mut r = plain_error(StatusCode::INTERNAL_SERVER_ERROR, &error, &cause);
            if let Ok(v) = HeaderValue::from_str(&status) {
                r.headers_mut().insert("x-faastlane-status", v);
            }
            (r, "failed")
        }
        Err(e) => return plain_error(e.status, &e.error, &e.cause),
    };
    if cloud_event {
        let h = response.headers_mut();
        let source = format!("/faastlane/{name}");
        for (key, value) in [
            ("ce-specversion", "1.0".to_string()),
            ("ce-id", uuid::Uuid::new_v4().to_string()),
            ("ce-source", source),
            ("ce-type", format!("faastlane.execution.{kind}")),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(key, v);
            }
        }
    }
    response
}

/// `POST /lanes/branches`: a batch of branches a sibling sent; the answer is their report,
/// or `{"error", "cause"}` that fails every branch of the batch.
async fn lanes(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let request: engine::wire::RemoteRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                "States.Runtime",
                &format!("the remote-lane request is malformed: {e}"),
            );
        }
    };
    let span = tracing::info_span!("lanes", workflow = %request.job.workflow, state = %request.job.state, branches = request.indices.len());
    match app.run_lanes(request).instrument(span).await {
        Ok(report) => match serde_json::to_string(&report) {
            Ok(text) => {
                (StatusCode::OK, [("content-type", "application/json")], text).into_response()
            }
            Err(e) => plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "States.Runtime",
                &format!("the report does not serialize: {e}"),
            ),
        },
        Err(e) => plain_error(e.status, &e.error, &e.cause),
    }
}

fn plain_error(status: StatusCode, error: &str, cause: &str) -> Response {
    let body = serde_json::json!({"error": error, "cause": cause});
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}
