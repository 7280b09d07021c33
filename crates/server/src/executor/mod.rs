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

pub use run::{Runner, execute, machine_timeout};

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
}

impl JobResult {
    pub fn failed(error: &str, cause: impl Into<String>) -> Self {
        JobResult {
            status: "FAILED".to_string(),
            output: None,
            error: Some(error.to_string()),
            cause: Some(cause.into()),
            events: Vec::new(),
            timings: Default::default(),
        }
    }
}
