//! Execution actions: start (standard, in the background; express, synchronously), describe,
//! list, stop.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::{App, Machine, decode_token, encode_token, page_size, required, timestamp};
use crate::error::ApiError;
use crate::executor::pool::RunError;
use crate::executor::{Job, JobResult, execute_with};
use crate::store::{Finished, NewExecution, now};

/// The cause of executions the server could not finish (it was killed or shut down).
pub const SERVER_STOPPED: &str = "the faastlane server stopped during the execution";

const STATUSES: [&str; 6] = [
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartInput {
    state_machine_arn: Option<String>,
    name: Option<String>,
    input: Option<String>,
    trace_header: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExecutionArnInput {
    execution_arn: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListInput {
    state_machine_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The input, `{}` when absent; InvalidExecutionInput when it is not JSON.
pub(super) fn check_input(input: Option<String>) -> Result<String, ApiError> {
    let input = input.unwrap_or_else(|| "{}".to_string());
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&input) {
        return Err(ApiError::invalid_input(e));
    }
    Ok(input)
}

/// Mocked responses by state name, when the execution runs a test case.
type Mocks = Option<std::collections::BTreeMap<String, crate::mock::MockedResponse>>;

/// The output (with its details), error and cause members of an execution's description.
fn set_outcome(
    out: &mut Json,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
) {
    if let Some(output) = output {
        out["output"] = json!(output);
        out["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = error {
        out["error"] = json!(error);
    }
    if let Some(cause) = cause {
        out["cause"] = json!(cause);
    }
}

impl App {
    fn mocks_for(
        &self,
        machine: &Machine,
        case: Option<&str>,
    ) -> Result<Option<std::collections::BTreeMap<String, crate::mock::MockedResponse>>, ApiError>
    {
        let Some(case) = case else { return Ok(None) };
        let name = &machine.record.name;
        let Some(config) = &self.mocks else {
            return Err(ApiError::validation(format!(
                "test case '{case}' given, but the server has no mock config (--mock-config or SFN_MOCK_CONFIG)"
            )));
        };
        config.test_case(name, case).map(Some).ok_or_else(|| {
            ApiError::validation(format!(
                "the mock config has no test case '{case}' for state machine '{name}'"
            ))
        })
    }

    /// The checked name (a UUID when absent), input and mocked responses of a start request.
    fn start_request(
        &self,
        machine: &Machine,
        case: Option<&str>,
        name: Option<String>,
        input: Option<String>,
    ) -> Result<(String, String, Mocks), ApiError> {
        let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        crate::arn::check_name(&name)?;
        let payload = check_input(input)?;
        let mocks = self.mocks_for(machine, case)?;
        Ok((name, payload, mocks))
    }

    pub(super) fn start_execution(self: &Arc<Self>, input: StartInput) -> Result<Json, ApiError> {
        let sm_arn = required(input.state_machine_arn, "stateMachineArn")?;
        let (machine, case) = self.machine(&sm_arn)?;
        let (name, payload, mocks) =
            self.start_request(&machine, case.as_deref(), input.name, input.input)?;
        let arn = self.identity.execution_arn(&machine.record.name, &name);
        let start = now();
        let record = NewExecution {
            arn: &arn,
            name: &name,
            state_machine_arn: &machine.record.arn,
            definition: &machine.record.definition,
            role_arn: &machine.record.role_arn,
            machine_updated: machine.record.updated.unwrap_or(machine.record.created),
            start,
            input: &payload,
            trace_header: input.trace_header.as_deref(),
        };
        if !self.store.insert_execution(&record)? {
            // Same name and input while it runs: AWS answers with the running execution.
            let existing = self
                .store
                .execution(&arn)?
                .ok_or_else(|| ApiError::execution_already_exists(&arn))?;
            if existing.status == "RUNNING" && existing.input == payload {
                return Ok(json!({"executionArn": arn, "startDate": timestamp(existing.start)}));
            }
            return Err(ApiError::execution_already_exists(&arn));
        }
        self.metrics.started(&machine.record.name, "STANDARD");
        tracing::info!(execution = %arn, "started");
        let app = Arc::clone(self);
        let key = arn.clone();
        self.background.spawn(async move {
            app.metrics.running.inc();
            let result = app.run(&machine, &key, &name, payload, mocks, true).await;
            app.metrics.running.dec();
            if let Some(result) = result {
                app.record(&machine, &key, start, result);
            }
        });
        Ok(json!({"executionArn": arn, "startDate": timestamp(start)}))
    }

    /// Stores how an execution ended (unless it was stopped meanwhile).
    fn record(&self, machine: &Machine, arn: &str, start: f64, result: JobResult) {
        let stop = now();
        self.metrics.finished(
            &machine.record.name,
            &result.status,
            stop - start,
            &result.timings,
        );
        let status = match result.status.as_str() {
            "SUCCEEDED" => "SUCCEEDED",
            "TIMED_OUT" => "TIMED_OUT",
            _ => "FAILED",
        };
        let finished = Finished {
            status,
            stop,
            output: result.output,
            error: result.error,
            cause: result.cause,
            events: result.events,
        };
        match self.store.finish_execution(arn, &finished) {
            Ok(true) => tracing::info!(execution = %arn, status, "ended"),
            Ok(false) => tracing::debug!(execution = %arn, "ended after it was stopped"),
            Err(e) => tracing::error!(execution = %arn, "recording the end: {e}"),
        }
    }

    /// Runs an execution: in this process when the workflow calls no function, else on an
    /// executor; `history`: record its events. `None`: it was stopped.
    pub(super) async fn run(
        &self,
        machine: &Arc<Machine>,
        key: &str,
        name: &str,
        input: String,
        mocks: Option<std::collections::BTreeMap<String, crate::mock::MockedResponse>>,
        history: bool,
    ) -> Option<JobResult> {
        if let Some(engine) = &machine.local {
            if machine.inline {
                return Some(execute_with(
                    engine,
                    &machine.workflow,
                    name,
                    &input,
                    history,
                ));
            }
            let engine = Arc::clone(engine);
            let workflow = Arc::clone(&machine.workflow);
            let name = name.to_string();
            return Some(
                tokio::task::spawn_blocking(move || {
                    execute_with(&engine, &workflow, &name, &input, history)
                })
                .await
                .unwrap_or_else(|e| {
                    JobResult::failed("States.Runtime", format!("the execution panicked: {e}"))
                }),
            );
        }
        let job = Job {
            machine: machine.record.name.clone(),
            definition: machine.record.definition.clone(),
            functions: machine.functions.clone(),
            dirs: self.functions.dirs().to_vec(),
            execution: name.to_string(),
            input,
            mocks,
            limits: self.limits.clone(),
            history,
            remote: self.remote.clone(),
            lanes: None,
        };
        match self.pool.run(key, &job).await {
            Ok(result) => Some(result),
            Err(RunError::Stopped) => None,
            Err(RunError::Crashed(how)) => {
                self.metrics.executor_restarts.inc();
                let request = uuid::Uuid::new_v4();
                let mut message =
                    format!("RequestId: {request} Error: Runtime exited with error: {how}");
                if let Some(bytes) = self.limits.executor_memory_bytes {
                    message.push_str(&format!(
                        " (executors may use {} MiB: --executor-memory-mb)",
                        bytes >> 20
                    ));
                }
                let cause = json!({
                    "errorType": "Runtime.ExitError",
                    "errorMessage": message,
                });
                Some(JobResult::failed("Runtime.ExitError", cause.to_string()))
            }
            Err(RunError::Unavailable(why)) => Some(JobResult::failed("States.Runtime", why)),
        }
    }

    /// [`App::run`] on a task of its own: a client that hangs up must not cancel the exchange
    /// with the executor halfway (which would kill a healthy executor).
    pub(super) async fn run_detached(
        self: &Arc<Self>,
        machine: &Arc<Machine>,
        key: &str,
        name: &str,
        input: String,
        mocks: Mocks,
        history: bool,
    ) -> Option<JobResult> {
        let (app, machine, key, name) = (
            Arc::clone(self),
            Arc::clone(machine),
            key.to_string(),
            name.to_string(),
        );
        tokio::spawn(async move { app.run(&machine, &key, &name, input, mocks, history).await })
            .await
            .unwrap_or_else(|e| {
                Some(JobResult::failed(
                    "States.Runtime",
                    format!("the execution's task failed: {e}"),
                ))
            })
    }

    pub(super) async fn start_sync_execution(
        self: &Arc<Self>,
        input: StartInput,
    ) -> Result<Json, ApiError> {
        let sm_arn = required(input.state_machine_arn, "stateMachineArn")?;
        let (machine, case) = self.machine(&sm_arn)?;
        if machine.record.kind != "EXPRESS" {
            return Err(ApiError::type_not_supported(
                "This operation is not supported by this type of state machine",
            ));
        }
        let (name, payload, mocks) =
            self.start_request(&machine, case.as_deref(), input.name, input.input)?;
        // Express executions are named `express:<machine>:<name>:<id>` and keep no record.
        let arn = format!(
            "arn:aws:states:{}:{}:express:{}:{name}:{}",
            self.identity.region,
            self.identity.account,
            machine.record.name,
            uuid::Uuid::new_v4()
        );
        self.metrics.started(&machine.record.name, "EXPRESS");
        let start = now();
        let result = if machine.local.is_some() {
            self.run(&machine, &arn, &name, payload.clone(), mocks, true)
                .await
        } else {
            self.run_detached(&machine, &arn, &name, payload.clone(), mocks, true)
                .await
        }
        .unwrap_or_else(|| JobResult::failed("States.Runtime", "the execution was stopped"));
        let stop = now();
        self.metrics.finished(
            &machine.record.name,
            &result.status,
            stop - start,
            &result.timings,
        );
        let mut out = json!({
            "executionArn": arn,
            "stateMachineArn": machine.record.arn,
            "name": name,
            "startDate": timestamp(start),
            "stopDate": timestamp(stop),
            "status": result.status,
            "input": payload,
            "inputDetails": {"included": true},
        });
        set_outcome(&mut out, result.output, result.error, result.cause);
        Ok(out)
    }

    fn execution(&self, arn: &str) -> Result<crate::store::ExecutionRecord, ApiError> {
        crate::arn::execution(arn)?;
        self.store
            .execution(arn)?
            .ok_or_else(|| ApiError::execution_does_not_exist(arn))
    }

    pub(super) fn describe_execution(&self, input: ExecutionArnInput) -> Result<Json, ApiError> {
        let arn = required(input.execution_arn, "executionArn")?;
        let e = self.execution(&arn)?;
        let mut out = json!({
            "executionArn": e.arn,
            "stateMachineArn": e.state_machine_arn,
            "name": e.name,
            "status": e.status,
            "startDate": timestamp(e.start),
            "input": e.input,
            "inputDetails": {"included": true},
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE",
        });
        if let Some(stop) = e.stop {
            out["stopDate"] = timestamp(stop);
        }
        set_outcome(&mut out, e.output, e.error, e.cause);
        if let Some(header) = e.trace_header {
            out["traceHeader"] = json!(header);
        }
        Ok(out)
    }

    pub(super) fn describe_state_machine_for_execution(
        &self,
        input: ExecutionArnInput,
    ) -> Result<Json, ApiError> {
        let arn = required(input.execution_arn, "executionArn")?;
        let e = self.execution(&arn)?;
        let (machine_name, _) = crate::arn::execution(&arn)?;
        Ok(json!({
            "stateMachineArn": e.state_machine_arn,
            "name": machine_name,
            "definition": e.definition,
            "roleArn": e.role_arn,
            "updateDate": timestamp(e.machine_updated),
        }))
    }

    pub(super) fn list_executions(&self, input: ListInput) -> Result<Json, ApiError> {
        let sm_arn = input
            .state_machine_arn
            .ok_or_else(|| ApiError::validation("Must provide a StateMachine ARN or MapRun ARN"))?;
        let (machine, _) = self.machine(&sm_arn)?;
        if let Some(status) = &input.status_filter
            && !STATUSES.contains(&status.as_str())
        {
            return Err(ApiError::constraint(
                "statusFilter",
                status,
                "Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]",
            ));
        }
        let limit = page_size(input.max_results)?;
        let before = match &input.next_token {
            Some(t) => decode_token(t, "executions", &machine.record.arn)?,
            None => i64::MAX,
        };
        let mut rows = self.store.list_executions(
            &machine.record.arn,
            input.status_filter.as_deref(),
            before,
            limit + 1,
        )?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let items: Vec<Json> = rows
            .iter()
            .map(|e| {
                let mut item = json!({
                    "executionArn": e.arn,
                    "stateMachineArn": e.state_machine_arn,
                    "name": e.name,
                    "status": e.status,
                    "startDate": timestamp(e.start),
                });
                if let Some(stop) = e.stop {
                    item["stopDate"] = timestamp(stop);
                }
                item
            })
            .collect();
        let mut out = json!({"executions": items});
        if more && let Some(last) = rows.last() {
            out["nextToken"] = json!(encode_token("executions", &machine.record.arn, last.seq));
        }
        Ok(out)
    }

    pub(super) fn stop_execution(&self, input: ExecutionArnInput) -> Result<Json, ApiError> {
        let arn = required(input.execution_arn, "executionArn")?;
        let e = self.execution(&arn)?;
        if e.status != "RUNNING" {
            return Ok(json!({"stopDate": timestamp(e.stop.unwrap_or(e.start))}));
        }
        let stop = now();
        let finished = Finished {
            status: "ABORTED",
            stop,
            output: None,
            error: input.error,
            cause: input.cause,
            events: Vec::new(),
        };
        // Recorded first: whatever the executor sends afterwards is discarded.
        self.store.finish_execution(&arn, &finished)?;
        self.pool.stop(&arn);
        tracing::info!(execution = %arn, "stopped");
        Ok(json!({"stopDate": timestamp(stop)}))
    }

    /// Marks every execution still RUNNING in the store as FAILED (after a crash, or past
    /// the shutdown grace period).
    pub fn fail_unfinished(&self) -> Result<usize, crate::store::StoreError> {
        let arns = self.store.running()?;
        for arn in &arns {
            let finished = Finished {
                status: "FAILED",
                stop: now(),
                output: None,
                error: Some("States.Runtime".to_string()),
                cause: Some(SERVER_STOPPED.to_string()),
                events: Vec::new(),
            };
            self.store.finish_execution(arn, &finished)?;
        }
        Ok(arns.len())
    }
}
