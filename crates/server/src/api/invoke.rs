//! Plain-HTTP entry points for container platforms (Knative, Cloud Run) and sibling
//! instances: `POST /invoke/<state machine>` runs one execution (body: input, answer:
//! output), `POST /lanes/branches` runs a batch of branches a sibling sent (remote lanes).

use std::sync::Arc;

use axum::http::StatusCode;
use engine::wire::{RemoteRequest, RemoteResponse};

use super::App;
use super::executions::check_input;
use crate::error::ApiError;
use crate::executor::pool::RunError;
use crate::executor::{Job, JobResult};

/// How an invoked execution ended.
pub enum Invoked {
    /// Its output, JSON text.
    Output(String),
    /// `FAILED` or `TIMED_OUT`, with its error and cause.
    Failed {
        status: String,
        error: String,
        cause: String,
    },
}

/// An error of these endpoints, as `{"error", "cause"}` with an HTTP status: the shape of a
/// failed execution's outcome, which is what a platform or a sibling reads.
#[derive(Debug)]
pub struct PlainError {
    pub status: StatusCode,
    pub error: String,
    pub cause: String,
}

impl PlainError {
    /// A request this instance cannot serve, for `/invoke`: the API error's name and text,
    /// 404 for a state machine that is not here.
    pub fn invoke(e: ApiError) -> Self {
        PlainError {
            status: if e.kind == "StateMachineDoesNotExist" {
                StatusCode::NOT_FOUND
            } else {
                e.status
            },
            error: e.kind.to_string(),
            cause: e.message,
        }
    }

    /// The same for `/lanes/branches`: the sibling's branches fail with `States.Runtime`
    /// naming the problem.
    pub fn lanes(e: ApiError) -> Self {
        PlainError {
            status: if e.kind == "StateMachineDoesNotExist" {
                StatusCode::NOT_FOUND
            } else {
                e.status
            },
            error: asl::names::RUNTIME.to_string(),
            cause: format!("{}: {}", e.kind, e.message),
        }
    }
}

impl App {
    /// Runs an execution of the state machine `name` on `input` (JSON text) and waits for
    /// it. It keeps no record (like an Express execution), so its branches may go to
    /// process lanes and, with `--remote`, to sibling instances.
    pub async fn invoke(
        self: &Arc<Self>,
        name: &str,
        input: String,
    ) -> Result<Invoked, PlainError> {
        let checked = || -> Result<_, ApiError> {
            crate::arn::check_name(name)?;
            let (machine, _) = self.machine(&self.identity.state_machine_arn(name))?;
            Ok((machine, check_input(Some(input))?))
        };
        let (machine, input) = checked().map_err(PlainError::invoke)?;
        let execution = uuid::Uuid::new_v4().to_string();
        let key = self.identity.execution_arn(name, &execution);
        self.metrics.started(name, "INVOKE");
        let start = crate::store::now();
        let result = self
            .run_detached(&machine, &key, &execution, input, None, false)
            .await
            .unwrap_or_else(|| JobResult::failed("States.Runtime", "the execution was stopped"));
        self.metrics.finished(
            name,
            &result.status,
            crate::store::now() - start,
            &result.timings,
        );
        Ok(match (result.status.as_str(), result.output) {
            ("SUCCEEDED", Some(output)) => Invoked::Output(output),
            (status, _) => Invoked::Failed {
                status: status.to_string(),
                error: result.error.unwrap_or_default(),
                cause: result.cause.unwrap_or_default(),
            },
        })
    }

    /// Runs the branches a sibling sent, on an executor of the lanes pool (or here, for a
    /// workflow that calls no function), and names this instance in the report.
    pub async fn run_lanes(
        self: &Arc<Self>,
        request: RemoteRequest,
    ) -> Result<RemoteResponse, PlainError> {
        let name = request.job.workflow.clone();
        let found = || -> Result<_, ApiError> {
            crate::arn::check_name(&name)?;
            Ok(self.machine(&self.identity.state_machine_arn(&name))?.0)
        };
        let machine = found().map_err(PlainError::lanes)?;
        let internal = |cause: String| PlainError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: asl::names::RUNTIME.to_string(),
            cause,
        };
        let mut report = if let Some(engine) = &machine.local {
            let (engine, workflow) = (Arc::clone(engine), Arc::clone(&machine.workflow));
            tokio::task::spawn_blocking(move || engine.run_remote_batch(&workflow, request, ""))
                .await
                .map_err(|e| internal(format!("the batch panicked: {e}")))?
        } else {
            let job = Job {
                machine: machine.record.name.clone(),
                definition: machine.record.definition.clone(),
                functions: machine.functions.clone(),
                execution: String::new(),
                input: String::new(),
                mocks: None,
                history: false,
                remote: None,
                lanes: Some(request),
                dirs: self.functions.dirs().to_vec(),
                limits: self.limits.clone(),
            };
            let key = format!("lanes:{}", uuid::Uuid::new_v4());
            let app = Arc::clone(self);
            let ran = tokio::spawn(async move { app.lanes_pool.run(&key, &job).await })
                .await
                .map_err(|e| internal(format!("the batch's task failed: {e}")))?;
            match ran {
                Ok(JobResult {
                    lanes: Some(report),
                    ..
                }) => report,
                Ok(other) => {
                    return Err(internal(format!(
                        "the executor ran no batch: {}: {}",
                        other.error.unwrap_or_default(),
                        other.cause.unwrap_or_default()
                    )));
                }
                // The executor died in the batch: its branches fail as a lost process lane's.
                Err(RunError::Crashed(how)) => {
                    return Err(PlainError {
                        status: StatusCode::BAD_GATEWAY,
                        error: "Runtime.ExitError".to_string(),
                        cause: format!(
                            "RequestId: {} Error: Runtime exited with error: {how}",
                            uuid::Uuid::new_v4()
                        ),
                    });
                }
                Err(e) => {
                    return Err(PlainError {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        ..internal(e.to_string())
                    });
                }
            }
        };
        self.lanes_batches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        report.instance = self
            .instance
            .get()
            .cloned()
            .unwrap_or_else(|| format!("pid {}", std::process::id()));
        Ok(report)
    }
}
