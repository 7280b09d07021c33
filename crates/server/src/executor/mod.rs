//! Running executions: the job an executor receives, what it sends back, and the code that
//! runs a job (in an executor process, or in the server for workflows with no Task: those
//! run no user code and cannot crash the server).
//!
//! ```text
//! server (Tokio, SQLite, no user code) --Job (a JSON line on stdin)--> executor process
//!        <--JobResult (a JSON line on the executor's protocol fd)--
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub mod child;
pub mod pool;
mod run;

pub use run::{Runner, Wrap, execute, execute_with, machine_timeout};

/// One execution to run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// The state machine's name (its ARNs carry it).
    pub machine: String,
    pub definition: String,
    /// Where each function the definition calls lives.
    pub functions: BTreeMap<String, PathBuf>,
    /// The `--functions` directories, searched in order for a function named only at run
    /// time (`"FunctionName.$"`).
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// The execution's name.
    pub execution: String,
    /// The input, JSON text.
    pub input: String,
    /// Mocked responses by state name (Step Functions Local's MockConfigFile), when the
    /// execution was started on `<stateMachineArn>#<TestCase>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mocks: Option<BTreeMap<String, crate::mock::MockedResponse>>,
    /// The server's limits (`faastlane serve --max-...`); the executor applies
    /// `executor_memory_bytes` to itself before its first job.
    #[serde(default)]
    pub limits: asl::Limits,
    /// Record the execution's history events (StartExecution). Without them (`POST
    /// /invoke`), branches may leave the executor: process and remote lanes.
    #[serde(default = "record_by_default")]
    pub history: bool,
    /// Where the execution's surplus branches go (`--remote`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::remote::RemoteConfig>,
    /// Instead of an execution: branches a sibling sent (`POST /lanes/branches`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lanes: Option<engine::wire::RemoteRequest>,
}

fn record_by_default() -> bool {
    true
}

/// How the execution ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// `SUCCEEDED`, `FAILED` or `TIMED_OUT`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// AWS-shaped history events.
    #[serde(default)]
    pub events: Vec<Json>,
    /// Per-state durations and hand-offs, for the metrics.
    #[serde(default)]
    pub timings: crate::observe::Timings,
    /// The report of a [`Job::lanes`] batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lanes: Option<engine::wire::RemoteResponse>,
}

impl JobResult {
    /// The report of a batch of branches a sibling sent.
    pub fn lanes(report: engine::wire::RemoteResponse) -> Self {
        JobResult {
            status: "SUCCEEDED".to_string(),
            output: None,
            error: None,
            cause: None,
            events: Vec::new(),
            timings: Default::default(),
            lanes: Some(report),
        }
    }

    pub fn failed(error: &str, cause: impl Into<String>) -> Self {
        JobResult {
            status: "FAILED".to_string(),
            output: None,
            error: Some(error.to_string()),
            cause: Some(cause.into()),
            events: Vec::new(),
            timings: Default::default(),
            lanes: None,
        }
    }
}
