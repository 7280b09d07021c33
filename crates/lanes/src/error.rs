//! Why a fork server gives no worker: the cases a caller acts on differently.

/// A worker could not be had from a [`crate::ForkServer`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The fork server will not serve: its setup failed, it exited, or its channel broke.
    /// Every later request fails the same way: run the branches somewhere else.
    #[error("{0}")]
    ServerDown(String),
    /// This worker did not start (it exited at start, timed out, or its channel broke);
    /// the server still serves, so another one may.
    #[error("{0}")]
    WorkerDidNotStart(String),
    /// The inputs could not be put in shared memory for the worker.
    #[error("{0}")]
    Payload(String),
}
