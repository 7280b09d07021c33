//! faastlane's process lanes: where Parallel branches and Map iterations run when Python's
//! global lock would serialize them on threads.
//!
//! - [`ForkServer`]: a single-threaded process started before any thread, which loads the
//!   workflow's functions once and forks a warm worker per request (`server.rs`); it is the
//!   engine's [`engine::lanes::ProcessPool`] (`pool.rs`).
//! - Workers (`worker.rs`) run branches with the engine's interpreter and send results back
//!   through shared memory (`shm.rs`), with typed, length-prefixed messages and owned file
//!   descriptors (`protocol.rs`); an output that cannot be encoded fails its branch with
//!   `Runtime.MarshalError` naming the part at fault (`marshal.rs`).
//! - [`cpus`]: how many CPUs this process may use (cgroup v1/v2 quota, affinity).
//!
//! Every `unsafe` block is in `sys.rs`.

pub mod cpus;
mod error;
mod host;
mod marshal;
mod pool;
pub mod protocol;
mod server;
pub mod shm;
mod sys;
mod worker;

pub use error::{ServerDown, SpawnError};
pub use host::{ForkHooks, Host, IDLE_NAME, SPARE_NAME, WORKER_NAME};
pub use pool::{Worker, exit_error};
pub use server::{ForkServer, ServerOptions};
pub use sys::{Forked, fork_exit_wait, limit_memory, thread_count};
