//! What a fork server hosts and how its processes are named: shared by the server, which
//! builds the [`Host`] before any fork, and the workers it forks, which run it.

use std::io;
use std::sync::Arc;

use engine::{EngineOptions, Runtime, Workflow};

use crate::sys::Forked;

/// Wraps the `fork()` call in a runtime's fork hooks (CPython: `PyOS_BeforeFork`,
/// `PyOS_AfterFork_Child`/`_Parent`, with the GIL held).
pub type ForkHooks = Box<dyn Fn(&mut dyn FnMut() -> io::Result<Forked>) -> io::Result<Forked>>;

/// What the fork server hosts: built by the setup closure, in the server, before any fork.
pub struct Host {
    pub workflow: Workflow,
    pub runtime: Arc<dyn Runtime>,
    /// Identity, trace and history limit for the workers' engines (their lanes are inline,
    /// their log goes to the parent).
    pub options: EngineOptions,
    pub fork_hooks: Option<ForkHooks>,
}

/// What a spare calls itself (`/proc/PID/comm`) until it gets a job.
pub const SPARE_NAME: &std::ffi::CStr = c"faastlane-spare";

/// What a worker calls itself.
pub const WORKER_NAME: &std::ffi::CStr = c"faastlane-work";

/// What a worker calls itself while it waits, idle, for another job.
pub const IDLE_NAME: &std::ffi::CStr = c"faastlane-idle";
