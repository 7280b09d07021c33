//! `faastlane lambda`: the AWS Lambda custom runtime (what a `bootstrap` file execs). One
//! execution of the workflow per invocation, through the Runtime API:
//!
//! ```text
//! GET  /2018-06-01/runtime/invocation/next          -> event + Lambda-Runtime-* headers
//! POST /2018-06-01/runtime/invocation/{id}/response  <- the workflow's output
//! POST /2018-06-01/runtime/invocation/{id}/error     <- {"errorMessage","errorType","stackTrace"}
//! POST /2018-06-01/runtime/init/error                <- a workflow that cannot start
//! ```
//!
//! The invocation's request id is the execution's name (`$$.Execution.Name`), its
//! `Lambda-Runtime-Deadline-Ms` the execution's deadline (`States.Timeout` past it), and its
//! `Lambda-Runtime-Trace-Id` the functions' `_X_AMZN_TRACE_ID`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use engine::StderrLog;
use serde_json::{Value as Json, json};

use crate::host::{self, Activation, Host, HostError};

const API_VERSION: &str = "2018-06-01";
/// The largest event read (Lambda's synchronous payload limit is 6 MB).
const MAX_EVENT_BYTES: u64 = 64 << 20;
/// The header naming a function error's type.
const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// Where the runtime finds the Runtime API and its workflow.
#[derive(Clone, Debug)]
pub struct LambdaOptions {
    /// The Runtime API's base URL, e.g. `http://127.0.0.1:9001` (from `AWS_LAMBDA_RUNTIME_API`).
    pub api: String,
    /// The workflow directory.
    pub dir: PathBuf,
    /// The workflow's name in its ARNs.
    pub name: String,
}

/// Why the runtime stopped.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error(
        "AWS_LAMBDA_RUNTIME_API is not set: faastlane lambda runs inside Lambda (or an emulator)"
    )]
    NoApi,
    #[error("no workflow directory: set LAMBDA_TASK_ROOT, or _HANDLER to a directory (given: {0})")]
    NoWorkflow(String),
    #[error("the workflow cannot start (reported to the Runtime API): {0}")]
    Init(HostError),
    #[error("the Runtime API at {url}: {reason}")]
    Api { url: String, reason: String },
}

/// The Runtime API's base URL from `AWS_LAMBDA_RUNTIME_API`, which Lambda sets to
/// `host:port`; emulators may add a scheme and a path (`http://127.0.0.1:9000/.rt/NAME`).
pub fn api_base(value: &str) -> String {
    let value = value.trim().trim_end_matches('/');
    if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    }
}

impl LambdaOptions {
    /// From Lambda's environment: `AWS_LAMBDA_RUNTIME_API`; the workflow in `_HANDLER` when it
    /// names a directory (absolute, or under `LAMBDA_TASK_ROOT`), else `LAMBDA_TASK_ROOT`;
    /// named `AWS_LAMBDA_FUNCTION_NAME` (else the directory's name).
    pub fn from_env() -> Result<LambdaOptions, LambdaError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let api = var("AWS_LAMBDA_RUNTIME_API").ok_or(LambdaError::NoApi)?;
        let root = var("LAMBDA_TASK_ROOT").map(PathBuf::from);
        let handler = var("_HANDLER").map(|h| match &root {
            Some(root) => root.join(h),
            None => PathBuf::from(h),
        });
        let dir = handler
            .filter(|h| h.is_dir())
            .or(root)
            .ok_or_else(|| LambdaError::NoWorkflow(var("_HANDLER").unwrap_or_default()))?;
        let name = var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| dir_name(&dir));
        Ok(LambdaOptions {
            api: api_base(&api),
            dir,
            name,
        })
    }
}

fn dir_name(dir: &Path) -> String {
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    crate::definition::arn_name(&name, "workflow")
}

/// What decides a workflow's isolation, called first (while the process has one thread) with
/// its directory, definition and engine options: the wrap of its function runtime, or none.
pub type Isolate<'a> = dyn FnOnce(&Path, &engine::Workflow, &engine::EngineOptions) -> Result<Option<host::Wrap>, String>
    + 'a;

/// Prepares the workflow and serves invocations until the Runtime API goes away. Call it
/// while the process has one thread (it starts the fork server first). A workflow that
/// cannot start is reported to `/runtime/init/error` and returned as the error.
pub fn run(options: &LambdaOptions) -> Result<(), LambdaError> {
    run_isolated(options, Box::new(|_, _, _| Ok(None)))
}

/// [`run`], with the workflow's functions isolated as `isolate` decides; isolated functions
/// stay off process lanes (a lane worker runs several functions in one process).
pub fn run_isolated(options: &LambdaOptions, isolate: Box<Isolate<'_>>) -> Result<(), LambdaError> {
    let client = Client::new(&options.api);
    let engine = host::engine_options(Arc::new(StderrLog));
    let prepared = host::load(&options.dir, &options.name).and_then(|workflow| {
        let remote = host::remote_from_env(|name| std::env::var(name).ok())?;
        let engine = engine::EngineOptions { remote, ..engine };
        let wrap = isolate(&options.dir, &workflow, &engine).map_err(HostError::Isolation)?;
        let processes = match wrap {
            Some(_) => None,
            None => host::start_fork_server(&options.dir, &workflow, &engine),
        };
        let engine = engine::EngineOptions {
            processes: processes.map(|s| s as Arc<dyn engine::lanes::ProcessPool>),
            ..engine
        };
        Host::prepare(&options.dir, workflow, engine, wrap)
    });
    let host = match prepared {
        Ok(host) => host,
        Err(e) => {
            let error_type = match &e {
                HostError::Prepare { .. } => "Runtime.ImportModuleError",
                HostError::Python { .. } | HostError::Remote(_) | HostError::Isolation(_) => {
                    "Runtime.InitError"
                }
                HostError::Definition(_) | HostError::Invalid { .. } => "Runtime.InvalidWorkflow",
            };
            client.init_error(error_type, &e.to_string())?;
            return Err(LambdaError::Init(e));
        }
    };
    loop {
        let Some(invocation) = client.next()? else {
            // An emulator answers 204 when nothing is queued; Lambda itself long-polls.
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        let input: Json = match serde_json::from_slice(&invocation.body) {
            Ok(json) => json,
            Err(e) => {
                client.error(
                    &invocation.request_id,
                    "Runtime.UnmarshalError",
                    &format!("the event is not valid JSON: {e}"),
                )?;
                continue;
            }
        };
        let mut activation = Activation {
            name: Some(invocation.request_id.clone()),
            deadline: invocation.deadline_ms.and_then(deadline),
            env: Vec::new(),
        };
        if let Some(trace) = invocation.trace_id {
            activation.env.push(("_X_AMZN_TRACE_ID".to_owned(), trace));
        }
        if let Some(report) = host.answer_batch(&input, &activation) {
            // A sibling's branches (remote lanes), not an execution.
            match report {
                Ok(body) => client.response(&invocation.request_id, body)?,
                Err((error, cause)) => client.error(&invocation.request_id, &error, &cause)?,
            }
            continue;
        }
        let result = host.execute(input, &activation);
        let answered = match result.outcome.and_then(|v| host::output_bytes(&v)) {
            Ok(output) => client.response(&invocation.request_id, output),
            Err(e) => client.error(&invocation.request_id, &e.error, &e.cause),
        };
        answered?;
    }
}

/// Below this, a `Lambda-Runtime-Deadline-Ms` cannot be milliseconds since the epoch (it
/// would be before September 2001).
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The execution's deadline from `Lambda-Runtime-Deadline-Ms`. Lambda sends milliseconds
/// since the epoch; cargo-lambda's emulator sends the function's timeout (`600000`), which
/// read as a date is 1970 and would time every execution out at once: a value too small to
/// be a date is taken as milliseconds from now.
fn deadline(ms: u64) -> Option<std::time::Instant> {
    if ms < EPOCH_MS_FLOOR {
        std::time::Instant::now().checked_add(Duration::from_millis(ms))
    } else {
        crate::epoch_ms_to_instant(ms)
    }
}

/// One invocation from `next`.
struct Invocation {
    request_id: String,
    deadline_ms: Option<u64>,
    trace_id: Option<String>,
    body: Vec<u8>,
}

/// The Runtime API over HTTP (ureq, blocking: the loop has nothing else to do meanwhile).
struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(base: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            base: format!("{base}/{API_VERSION}/runtime"),
            agent,
        }
    }

    fn failed(url: &str, reason: impl std::fmt::Display) -> LambdaError {
        LambdaError::Api {
            url: url.to_owned(),
            reason: reason.to_string(),
        }
    }

    fn next(&self) -> Result<Option<Invocation>, LambdaError> {
        let url = format!("{}/invocation/next", self.base);
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| Self::failed(&url, e))?;
        let status = response.status();
        if status == 204 {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Self::failed(&url, format!("status {status}")));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("Lambda-Runtime-Aws-Request-Id")
            .ok_or_else(|| Self::failed(&url, "no Lambda-Runtime-Aws-Request-Id header"))?;
        let deadline_ms = header("Lambda-Runtime-Deadline-Ms").and_then(|v| v.parse().ok());
        let trace_id = header("Lambda-Runtime-Trace-Id");
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(MAX_EVENT_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| Self::failed(&url, e))?;
        Ok(Some(Invocation {
            request_id,
            deadline_ms,
            trace_id,
            body,
        }))
    }

    fn response(&self, request_id: &str, output: Vec<u8>) -> Result<(), LambdaError> {
        let url = format!("{}/invocation/{request_id}/response", self.base);
        self.post(&url, None, &output)
    }

    fn error(&self, request_id: &str, error_type: &str, message: &str) -> Result<(), LambdaError> {
        let url = format!("{}/invocation/{request_id}/error", self.base);
        self.post(&url, Some(error_type), &error_body(error_type, message))
    }

    fn init_error(&self, error_type: &str, message: &str) -> Result<(), LambdaError> {
        let url = format!("{}/init/error", self.base);
        self.post(&url, Some(error_type), &error_body(error_type, message))
    }

    fn post(&self, url: &str, error_type: Option<&str>, body: &[u8]) -> Result<(), LambdaError> {
        let mut request = self.agent.post(url).content_type("application/json");
        if let Some(t) = error_type {
            request = request.header(ERROR_TYPE_HEADER, t);
        }
        let response = request.send(body).map_err(|e| Self::failed(url, e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::failed(url, format!("status {}", response.status())))
        }
    }
}

/// Lambda's error document.
fn error_body(error_type: &str, message: &str) -> Vec<u8> {
    json!({ "errorMessage": message, "errorType": error_type, "stackTrace": [] })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::api_base;

    #[test]
    fn the_runtime_api_may_come_with_or_without_scheme_and_path() {
        assert_eq!(api_base("127.0.0.1:9001"), "http://127.0.0.1:9001");
        assert_eq!(
            api_base("http://127.0.0.1:9000/.rt/flow/"),
            "http://127.0.0.1:9000/.rt/flow"
        );
    }
}
