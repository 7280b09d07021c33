//! FaaS platform runtimes for faastlane workflows: thin adapters over one engine set-up.
//!
//! - [`host`]: a workflow prepared from a directory (definition, functions, engine options,
//!   fork server), executed once per platform request; what `faastlane run` and every
//!   adapter share.
//! - [`openwhisk`]: OpenWhisk's action proxy (`/init`, `/run`), with [`action`] unpacking
//!   the code `/init` sends.
//! - [`lambda`]: the AWS Lambda custom runtime (the Runtime API loop).
//!
//! Protocol parsing lives in the adapters; nothing of it in the engine.

pub mod action;
pub mod definition;
pub mod host;
pub mod isolate;
pub mod lambda;
pub mod openwhisk;

/// Milliseconds since the Unix epoch (a platform's deadline) as an instant of this process's
/// monotonic clock; a deadline already past is now.
pub(crate) fn epoch_ms_to_instant(ms: u64) -> Option<std::time::Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = std::time::Duration::from_millis(ms.saturating_sub(now_ms));
    std::time::Instant::now().checked_add(left)
}
