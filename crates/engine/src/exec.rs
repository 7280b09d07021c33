//! One running execution ([`Exec`]) and where in it a state machine runs ([`Frame`]): the
//! data the interpreter (`interpreter/`, which runs states) and the branch runner
//! (`branches.rs`, which runs a Parallel's or Map's branches on lanes) share, below both.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::context::ExecutionInfo;
use crate::history::HistorySink;
use crate::lanes::Checkpoints;
use crate::runtime::CancelToken;
use crate::setup::{Engine, Workflow};
use crate::trace::{Lane, Trace};

/// One running execution.
pub(crate) struct Exec<'e> {
    pub engine: &'e Engine,
    pub workflow: &'e Workflow,
    pub info: Arc<ExecutionInfo>,
    pub trace: Trace,
    /// The state machine's own `TimeoutSeconds`.
    pub deadline: Option<Instant>,
    /// The execution history's event ids so far (`interpreter/events.rs`), for the history,
    /// error causes and the history limit. Branches in worker processes add theirs when they
    /// end.
    pub events: AtomicU64,
    /// Where the events go, if anywhere.
    pub history: Option<Arc<dyn HistorySink>>,
    /// Held while an event takes its id and is delivered, so events arrive in id order.
    pub history_lock: Mutex<()>,
    /// Fail the execution once `events` passes this (the parent's limit, in a worker too).
    pub max_events: Option<u64>,
    /// Function durations observed by this execution, kept when a worker process must report
    /// them to its parent.
    pub observations: Option<std::sync::Mutex<Vec<(String, u64)>>>,
    /// The lane every state of this execution runs on (a worker process), instead of the
    /// thread's.
    pub lane_override: Option<Lane>,
    /// Whether the warning for a payload over Step Functions' limit was given.
    pub payload_warned: AtomicBool,
}

/// Where in the workflow the interpreter is: nested machines get their own frame.
pub(crate) struct Frame<'a> {
    pub cancel: &'a CancelToken,
    /// State path prefix for the trace (`Fan out/0/`).
    pub prefix: String,
    /// In a worker process, the frame of the branch it runs: where to say that the branch
    /// can be taken up again at a Task (nested machines have none).
    pub checkpoints: Option<&'a dyn Checkpoints>,
    /// The lane the frame's states run on, for the trace: set by whoever runs the branch.
    pub lane: Lane,
    /// The id of this frame's latest history event (the next one's `previousEventId`).
    pub last_event: AtomicU64,
}

impl Exec<'_> {
    /// Records what a call of `function` cost, for the planner.
    pub fn observe(&self, function: &str, took: Duration) {
        self.engine.estimates.record(function, took);
        if let Some(o) = &self.observations {
            o.lock().unwrap_or_else(|p| p.into_inner()).push((
                function.to_owned(),
                u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            ));
        }
    }
}
