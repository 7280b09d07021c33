//! An [`Engine`] and what it is set up with: the workflow it runs and its options. Below the
//! interpreter, which reads them; running executions is `engine.rs`.

use std::sync::Arc;
use std::time::Duration;

use asl::{Limits, StateMachine};

use crate::clock::{Clock, SystemClock};
use crate::context::Identity;
use crate::lanes::{ProcessPool, RemoteLanes};
use crate::planner::{BranchLanes, Estimates, RemoteCosts};
use crate::runtime::{LogSink, NoLog, Runtime};

/// A state machine ready to run, with the name its ARNs carry.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub name: String,
    pub machine: StateMachine,
}

impl Workflow {
    /// The distinct functions its Tasks call (in nested branches too), sorted.
    pub fn functions(&self) -> Vec<String> {
        let mut names: Vec<String> = asl::walk::task_functions(&self.machine)
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Engine-wide settings.
#[derive(Clone)]
pub struct EngineOptions {
    pub identity: Identity,
    pub lanes: BranchLanes,
    /// Record a per-state trace.
    pub trace: bool,
    pub log: Arc<dyn LogSink>,
    /// What one execution may use: history events (25,000 by default, as Step Functions:
    /// a state machine that loops forever must end), input and output size, Map items, time,
    /// worker memory. The loader takes the same type for the definition's own limits.
    pub limits: Limits,
    /// Starts worker processes for process lanes (a fork server); `None`: branches stay in
    /// this process.
    pub processes: Option<Arc<dyn ProcessPool>>,
    /// The CPUs this process may use (cgroup quota and affinity, not the host's count).
    pub cpus: usize,
    /// Sibling instances that take the branches a Parallel or Map state wants to run at once
    /// beyond `cpus`; `None`: every branch runs in this instance.
    pub remote: Option<RemoteLanes>,
}

pub use asl::limits::AWS_MAX_HISTORY_EVENTS;

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            identity: Identity::default(),
            lanes: BranchLanes::Inline,
            trace: false,
            log: Arc::new(NoLog),
            limits: Limits::default(),
            processes: None,
            cpus: 1,
            remote: None,
        }
    }
}

/// Runs executions. Cheap to share between threads.
pub struct Engine {
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) options: EngineOptions,
    /// What each function has cost so far, for the planner.
    pub(crate) estimates: Estimates,
    /// What requests to siblings have cost so far, for the planner.
    pub(crate) remote_costs: RemoteCosts,
}

impl Engine {
    pub fn new(runtime: Arc<dyn Runtime>) -> Self {
        Self::with_options(runtime, EngineOptions::default())
    }

    pub fn with_options(runtime: Arc<dyn Runtime>, options: EngineOptions) -> Self {
        Engine {
            runtime,
            clock: Arc::new(SystemClock),
            options,
            estimates: Estimates::default(),
            remote_costs: RemoteCosts::default(),
        }
    }

    /// Replaces the clock (tests use [`crate::clock::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The running estimate of what one call of `function` costs.
    pub fn estimate(&self, function: &str) -> Option<Duration> {
        self.estimates.get(function)
    }
}
