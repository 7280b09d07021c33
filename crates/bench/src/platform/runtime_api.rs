//! A Lambda Runtime API served by the bench (axum on loopback): it hands out events and
//! records when each answer arrived, so that a warm invocation is timed from the event's
//! arrival to its response with no emulator's polling in between.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::PlatformBenchError;

/// The Runtime API's side: events waiting to be handed out, and when each answer arrived.
#[derive(Default)]
pub(super) struct RuntimeApi {
    pending: Mutex<Vec<(String, Json)>>,
    answered: Mutex<HashMap<String, Instant>>,
    /// Wakes a `next` waiting for an event.
    ready: tokio::sync::Notify,
}

/// A running Runtime API; it stops with its Tokio runtime when dropped.
pub(super) struct Served {
    pub api: Arc<RuntimeApi>,
    pub addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

/// Serves the Runtime API on a free loopback port (one Tokio worker thread).
pub(super) fn serve() -> Result<Served, PlatformBenchError> {
    let api = Arc::new(RuntimeApi::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            axum::routing::get(next),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            axum::routing::post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            axum::routing::post(response),
        )
        .with_state(Arc::clone(&api));
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Served {
        api,
        addr,
        _runtime: runtime,
    })
}

async fn next(
    axum::extract::State(api): axum::extract::State<Arc<RuntimeApi>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    loop {
        let notified = api.ready.notified();
        let event = api
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some((id, event)) = event {
            let deadline = (std::time::SystemTime::now() + Duration::from_secs(600))
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            return (
                [
                    ("Lambda-Runtime-Aws-Request-Id", id),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                ],
                event.to_string(),
            )
                .into_response();
        }
        notified.await;
    }
}

async fn response(
    axum::extract::State(api): axum::extract::State<Arc<RuntimeApi>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    // Read to its end so that the connection stays reusable (hyper closes one whose request
    // body is left unread, and the runtime's next `next` on it would fail).
    _answer: axum::body::Bytes,
) -> &'static str {
    api.answered
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, Instant::now());
    ""
}

impl RuntimeApi {
    /// Queues the event every case sends, `{"n": 1}`, as invocation `id`.
    pub fn push(&self, id: String) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, json!({"n": 1})));
        self.ready.notify_one();
    }

    /// Waits (at most a minute) for the answer to `id`.
    pub fn wait(&self, id: &str) -> Result<Instant, PlatformBenchError> {
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            let answered = self.answered.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = answered.get(id) {
                return Ok(*at);
            }
            drop(answered);
            std::thread::yield_now();
        }
        Err(PlatformBenchError::Protocol(format!(
            "no answer to invocation {id} within a minute"
        )))
    }

    /// One invocation's round trip, in microseconds: from queueing the event to receiving
    /// its response.
    pub fn round_trip(&self, id: String) -> Result<f64, PlatformBenchError> {
        let started = Instant::now();
        self.push(id.clone());
        let at = self.wait(&id)?;
        Ok(at.duration_since(started).as_secs_f64() * 1e6)
    }
}
