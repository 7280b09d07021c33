//! Prometheus metrics (`GET /metrics`, text format).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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

    pub fn finished(&self, machine: &str, status: &str, seconds: f64) {
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
