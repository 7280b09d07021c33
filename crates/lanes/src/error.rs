//! Why a fork server gives no worker: the cases a caller acts on differently.

use std::sync::Arc;

/// A worker could not be had from a [`crate::ForkServer`].
#[derive(Clone, Debug, thiserror::Error)]
pub enum SpawnError {
    /// The fork server will not serve. Every later request fails the same way: run the
    /// branches somewhere else.
    #[error(transparent)]
    ServerDown(#[from] ServerDown),
    /// This worker did not start (it exited at start, timed out, or its channel broke);
    /// the server still serves, so another one may.
    #[error("{0}")]
    WorkerDidNotStart(String),
    /// The inputs could not be put in shared memory for the worker.
    #[error("{0}")]
    Payload(String),
}

/// Why a [`crate::ForkServer`] will not serve (it is written off: asking again gives the same).
#[derive(Clone, Debug, thiserror::Error)]
pub enum ServerDown {
    /// Its setup (loading the workflow's functions) failed; the setup's error crosses from
    /// the server process as text.
    #[error("fork server setup failed: {0}")]
    SetupFailed(String),
    /// It exited (or closed a worker's channel) before serving the request.
    #[error("the fork server exited")]
    Exited,
    /// Its control channel could not be written to.
    #[error("cannot reach the fork server: {0}")]
    Unreachable(#[source] Arc<std::io::Error>),
    /// It said nothing within [`crate::ServerOptions::ready_timeout`], or its channel broke.
    #[error("no word from the fork server: {0}")]
    Silent(#[source] Arc<std::io::Error>),
}
