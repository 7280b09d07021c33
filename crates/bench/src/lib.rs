//! faastlane's benchmark suite and the container-per-function baseline it measures against.
//!
//! ```text
//! suite::plan(options)          -> the cases: (suite, workflow, mode, runs)
//!   case::run_case(spec)        -> one Record, in a process of its own
//!     faastlane:      engine + PythonRuntime (functions as calls in this process)
//!     baseline-warm:  engine + ContainerRuntime (a long-lived worker process per function)
//!     baseline-cold:  engine + ContainerRuntime (a fresh worker process per invocation)
//!                     state through a private redis-server (redis_server)
//! report: markdown table, SVG charts (svg), JSON records (record)
//! ```
//!
//! The same ASL engine orchestrates every mode; only how functions interact differs.

pub mod case;
pub mod clients;
pub mod container;
pub mod error;
pub mod large_state;
pub mod markdown;
pub mod memory;
pub mod platform;
pub mod record;
pub mod redis_server;
pub mod remote;
pub mod report;
pub mod runner;
pub mod serve;
pub mod siblings;
pub mod stats;
pub mod suite;
pub mod svg;
pub mod workloads;

pub use case::{CaseSpec, Measure, run_case};
pub use container::{ContainerOptions, ContainerRuntime, Start};
pub use error::BenchError;
pub use record::{Mode, Record, Status, Suite};
pub use redis_server::RedisServer;
