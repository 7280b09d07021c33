//! What an execution's trace tells the logs and the metrics: per state its type, lane and
//! duration, and the hand-off between consecutive top-level states.

use engine::TraceReport;
use serde::{Deserialize, Serialize};

/// The summary an executor sends back with a result (the trace itself stays there).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// (state type, microseconds) per state run.
    pub states: Vec<(String, u64)>,
    /// Microseconds from one top-level state's end to the next one's start.
    pub handoffs: Vec<u64>,
    /// The lane chosen per Parallel/Map state.
    pub lanes: Vec<String>,
}

impl Timings {
    pub fn of(report: &TraceReport) -> Self {
        let states = report
            .states
            .iter()
            .map(|r| (r.kind.to_string(), r.end_us.saturating_sub(r.start_us)))
            .collect();
        // Top-level states are the ones whose path has no branch separator.
        let mut top: Vec<_> = report
            .states
            .iter()
            .filter(|r| !r.state.contains('/'))
            .collect();
        top.sort_by_key(|r| r.start_us);
        let handoffs = top
            .windows(2)
            .map(|w| w[1].start_us.saturating_sub(w[0].end_us))
            .collect();
        // A state that sent branches to siblings counts for `remote` too.
        let lanes = report
            .lanes
            .iter()
            .flat_map(|d| {
                let here = format!("{:?}", d.lane).to_lowercase();
                std::iter::once(here).chain((!d.remote.is_empty()).then(|| "remote".to_string()))
            })
            .collect();
        Timings {
            states,
            handoffs,
            lanes,
        }
    }
}

/// Logs every state of a trace at debug level (`-vv`), inside the current execution span.
pub fn log_trace(report: &TraceReport) {
    for r in &report.states {
        tracing::debug!(
            state = %r.state,
            kind = r.kind,
            lane = ?r.lane,
            start_us = r.start_us,
            end_us = r.end_us,
            attempts = r.attempts,
            error = r.error.as_deref().unwrap_or(""),
            "state"
        );
    }
    for d in &report.lanes {
        tracing::debug!(state = %d.state, branches = d.branches, lane = ?d.lane, reason = %d.reason, "lanes");
    }
}
