//! The execution trace: what ran where and when.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Where a piece of the workflow ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    /// On the thread that reached it.
    Inline,
    /// On another thread of this process.
    Thread,
    /// In a worker process (forked from a warm fork server).
    Process,
    /// In a sibling instance of the same deployment, through the platform's invoke path
    /// (`--remote`).
    Remote,
}

/// One state's run.
#[derive(Clone, Debug, Serialize)]
pub struct StateRecord {
    /// The state's path through nested machines (`Fan out/1/Audit`, `Each/7/Score`).
    pub state: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub lane: Lane,
    /// Microseconds since the execution started.
    pub start_us: u64,
    pub end_us: u64,
    /// Attempts made (1 unless Retry fired).
    pub attempts: u32,
    /// The error name when the state failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A lane decision for a Parallel or Map state.
#[derive(Clone, Debug, Serialize)]
pub struct LaneDecision {
    pub state: String,
    pub branches: usize,
    pub lane: Lane,
    /// Branches running at once (the calling thread included).
    pub concurrency: usize,
    /// Worker processes started (process lane).
    #[serde(skip_serializing_if = "is_zero")]
    pub processes: usize,
    /// The CPUs the planner counted as usable.
    pub cpus: usize,
    /// The estimated work of all branches together, in microseconds, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_us: Option<u64>,
    pub reason: String,
    /// The branches sent to sibling instances (remote lanes), one entry per request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote: Vec<RemoteAssignment>,
}

/// Branches of a Parallel or Map state sent to a sibling instance in one request, and where
/// they ran.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteAssignment {
    /// Where the request went (`http://lanes.internal`, `lambda:finra`).
    pub target: String,
    /// The instance that answered, as it names itself (host, address, process), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The branch (Map: item) indices, in order.
    pub branches: Vec<usize>,
    /// Why the request failed, when it did (its branches failed with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the batch's time went, once answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<RemoteTiming>,
}

/// One answered remote batch's time: what this instance spent writing the request, the
/// whole exchange as this instance waited for it, and what of it the sibling spent in the
/// branches' functions; the rest of the round trip is the platform's invoke path, the
/// sibling's parsing and reporting.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RemoteTiming {
    /// Writing the request's JSON (the batch's inputs; a Parallel's shared input is counted
    /// in the first batch, the only one that converts it).
    pub serialize_us: u64,
    /// From sending the request to holding the sibling's parsed answer.
    pub round_trip_us: u64,
    /// The sibling's function time over all the batch's branches, as it reported it.
    pub sibling_functions_us: u64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Collected across the threads of one execution.
#[derive(Debug)]
pub struct Trace {
    origin: Instant,
    enabled: bool,
    states: Mutex<Vec<StateRecord>>,
    lanes: Mutex<Vec<LaneDecision>>,
}

/// The finished trace.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TraceReport {
    pub states: Vec<StateRecord>,
    pub lanes: Vec<LaneDecision>,
}

impl Trace {
    pub fn new(origin: Instant, enabled: bool) -> Self {
        Trace {
            origin,
            enabled,
            states: Mutex::default(),
            lanes: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn offset_us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_micros()).unwrap_or(u64::MAX)
    }

    pub fn record_state(&self, record: StateRecord) {
        if self.enabled {
            self.states
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(record);
        }
    }

    pub fn record_lane(&self, decision: LaneDecision) {
        if self.enabled {
            self.lanes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(decision);
        }
    }

    pub fn finish(self) -> TraceReport {
        let mut states = self.states.into_inner().unwrap_or_else(|p| p.into_inner());
        states.sort_by_key(|r| (r.start_us, r.end_us));
        TraceReport {
            states,
            lanes: self.lanes.into_inner().unwrap_or_else(|p| p.into_inner()),
        }
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.origin)
    }
}
