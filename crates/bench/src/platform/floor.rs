//! The floor under a warm activation: the same client sending the same bytes to a peer that
//! does no work. A runtime's overhead is its warm round trip minus this floor, so loopback
//! HTTP and the bench's own client are not counted against the runtime.
//!
//! - OpenWhisk: [`NullServer`] answers every `POST` with a fixed body (the bytes the runtime
//!   answered), from a current-thread Tokio runtime on one thread, as `faastlane openwhisk`
//!   serves.
//! - Lambda: [`NullRuntime`] polls the Runtime API as `faastlane lambda` does (ureq, `next`
//!   then `response`) and answers each event with the event itself.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::body::Bytes;

use super::PlatformBenchError;

/// An HTTP server on loopback answering every `POST` with the same body; stops when dropped.
pub(super) struct NullServer {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl NullServer {
    /// Serves `answer` (as `application/json`) on a free loopback port.
    pub fn start(answer: Vec<u8>) -> Result<NullServer, PlatformBenchError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr: SocketAddr = listener.local_addr()?;
        let answer = Bytes::from(answer);
        let app = axum::Router::new().fallback(axum::routing::post(move |_body: Bytes| {
            let answer = answer.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    answer,
                )
            }
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = runtime.block_on(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
            });
        });
        Ok(NullServer {
            url: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for NullServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The invocation id that makes a [`NullRuntime`] stop after answering it.
pub(super) const STOP_ID: &str = "null-runtime-stop";

/// A Lambda runtime that does nothing: each event is answered with its own bytes.
pub(super) struct NullRuntime {
    thread: Option<JoinHandle<Result<(), String>>>,
    api: Arc<super::runtime_api::RuntimeApi>,
}

impl NullRuntime {
    /// Polls the Runtime API at `addr` until it hands out [`STOP_ID`].
    pub fn start(addr: SocketAddr, api: Arc<super::runtime_api::RuntimeApi>) -> NullRuntime {
        let base = format!("http://{addr}/2018-06-01/runtime");
        let thread = std::thread::spawn(move || poll(&base));
        NullRuntime {
            thread: Some(thread),
            api,
        }
    }

    /// Stops the loop; its first error, if it failed.
    pub fn stop(mut self) -> Result<(), PlatformBenchError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), PlatformBenchError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.api.push(STOP_ID.to_owned());
        thread
            .join()
            .map_err(|_| PlatformBenchError::Protocol("the null runtime panicked".into()))?
            .map_err(PlatformBenchError::Protocol)
    }
}

impl Drop for NullRuntime {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The loop of `faastlane lambda` without the workflow: same client, same requests.
fn poll(base: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let next = format!("{base}/invocation/next");
    loop {
        let mut response = agent
            .get(&next)
            .call()
            .map_err(|e| format!("{next}: {e}"))?;
        let id = response
            .headers()
            .get("Lambda-Runtime-Aws-Request-Id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| format!("{next}: no request id"))?;
        let mut event = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut event)
            .map_err(|e| format!("{next}: {e}"))?;
        let url = format!("{base}/invocation/{id}/response");
        agent
            .post(&url)
            .content_type("application/json")
            .send(&event[..])
            .map_err(|e| format!("{url}: {e}"))?;
        if id == STOP_ID {
            return Ok(());
        }
    }
}
