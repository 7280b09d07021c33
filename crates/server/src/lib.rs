//! `faastlane serve`: the AWS Step Functions API (JSON 1.0 protocol) over faastlane's engine,
//! so the AWS CLI, boto3 and the SDKs drive faastlane with `--endpoint-url`.
//!
//! ```text
//! http (axum: envelope, errors) -> api (actions: parse, call, shape) -> store (SQLite, WAL)
//!                                                                     -> executor::pool
//!   executor processes (`faastlane executor`): engine + embedded Python, one execution each
//! ```
//!
//! The server process runs no user code: workflows that call functions run in executor
//! processes, so a crash there fails one execution, never the API. Protocol parsing lives
//! here, none of it in the engine.

pub mod api;
pub mod arn;
pub mod error;
pub mod executor;
pub mod functions;
mod http;
pub mod metrics;
pub mod mock;
pub mod observe;
pub mod remote;
pub mod store;

mod serve;

pub use serve::{ServeError, ServeOptions, serve};
