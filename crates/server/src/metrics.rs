//! Prometheus metrics (`GET /metrics`, text format).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::observe::Timings;

type Labels = Vec<(&'static str, String)>;

fn duration_histogram() -> Histogram {
    // 50 µs .. ~13 s
    Histogram::new(exponential_buckets(0.000_05, 4.0, 10))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<Labels, Counter>,
    pub started: Family<Labels, Counter>,
    pub finished: Family<Labels, Counter>,
    pub duration: Family<Labels, Histogram, fn() -> Histogram>,
    pub state_duration: Family<Labels, Histogram, fn() -> Histogram>,
    pub handoff: Histogram,
    pub lanes: Family<Labels, Counter>,
    pub executor_restarts: Counter,
    pub running: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("faastlane");
        let requests = Family::<Labels, Counter>::default();
        let started = Family::<Labels, Counter>::default();
        let finished = Family::<Labels, Counter>::default();
        let duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let state_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let handoff = Histogram::new(exponential_buckets(0.000_000_5, 4.0, 12));
        let lanes = Family::<Labels, Counter>::default();
        let executor_restarts = Counter::default();
        let running = Gauge::default();
        registry.register(
            "api_requests",
            "Step Functions API requests by action and outcome",
            requests.clone(),
        );
        registry.register(
            "executions_started",
            "Executions started, by state machine and type",
            started.clone(),
        );
        registry.register(
            "executions_finished",
            "Executions ended, by state machine and status",
            finished.clone(),
        );
        registry.register(
            "execution_duration_seconds",
            "Wall time of executions, by state machine",
            duration.clone(),
        );
        registry.register(
            "state_duration_seconds",
            "Wall time of state runs, by state type",
            state_duration.clone(),
        );
        registry.register(
            "handoff_seconds",
            "From one top-level state's end to the next one's start",
            handoff.clone(),
        );
        registry.register(
            "lanes_chosen",
            "Lanes the planner chose for Parallel and Map states",
            lanes.clone(),
        );
        registry.register(
            "executor_restarts",
            "Executor processes that died during an execution and were replaced",
            executor_restarts.clone(),
        );
        registry.register(
            "executions_running",
            "Standard executions running or waiting for an executor",
            running.clone(),
        );
        Metrics {
            registry,
            requests,
            started,
            finished,
            duration,
            state_duration,
            handoff,
            lanes,
            executor_restarts,
            running,
        }
    }
}

impl Metrics {
    pub fn request(&self, action: &str, outcome: &str) {
        self.requests
            .get_or_create(&vec![
                ("action", action.to_string()),
                ("outcome", outcome.to_string()),
            ])
            .inc();
    }

    pub fn started(&self, machine: &str, kind: &str) {
        self.started
            .get_or_create(&vec![
                ("state_machine", machine.to_string()),
                ("type", kind.to_string()),
            ])
            .inc();
    }

    pub fn finished(&self, machine: &str, status: &str, seconds: f64, timings: &Timings) {
        for (kind, us) in &timings.states {
            self.state_duration
                .get_or_create(&vec![("type", kind.clone())])
                .observe(*us as f64 / 1e6);
        }
        for us in &timings.handoffs {
            self.handoff.observe(*us as f64 / 1e6);
        }
        for lane in &timings.lanes {
            self.lanes
                .get_or_create(&vec![("lane", lane.clone())])
                .inc();
        }
        self.finished
            .get_or_create(&vec![
                ("state_machine", machine.to_string()),
                ("status", status.to_string()),
            ])
            .inc();
        self.duration
            .get_or_create(&vec![("state_machine", machine.to_string())])
            .observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!("encoding metrics: {e}");
        }
        out
    }
}
