//! The Task state: Parameters, the function call through [`Runtime::invoke`] (directly, or
//! as `arn:aws:states:::lambda:invoke` with its Invoke response), TimeoutSeconds and the
//! result's ResultSelector/ResultPath/OutputPath.
//!
//! [`Exec::run_task`] runs [`Exec::task_attempt`], one attempt, under the Task's Retry and
//! Catch (`retry.rs`), both for a Task entered as usual and for one whose worker process was
//! killed. Which function a Task calls before it runs is `asl::walk::task_function`.
//!
//! [`Runtime::invoke`]: crate::Runtime::invoke

use std::borrow::Cow;
use std::time::{Duration, Instant};

use asl::model::{Invocation, State, TaskState};
use asl::walk::parse_function_name;
use asl::{StatesError, Value, names};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

use super::events::TaskKind;
use super::input_output::detach;
use super::{Entered, Exec, Frame, Interrupted, Step};
use crate::runtime::{Call, RequestId};

impl Exec<'_> {
    /// A Task: its attempts under its Retry and Catch. With `interrupted`, the first attempt
    /// already failed in a worker process and the Task's Retry and Catch take it from there.
    pub(super) fn run_task<'m>(
        &self,
        state: &'m State,
        task: &'m TaskState,
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
        interrupted: Option<Interrupted>,
    ) -> Result<(Step<'m>, Value), StatesError> {
        self.with_retry(
            state,
            &task.retry,
            &task.catch,
            raw,
            frame,
            entered,
            interrupted,
            |raw, retries| self.task_attempt(state, task, raw, frame, entered, retries),
        )
    }

    fn task_attempt(
        &self,
        state: &State,
        task: &TaskState,
        raw: Value,
        frame: &Frame<'_>,
        entered: &Entered,
        retries: u32,
    ) -> Result<Value, StatesError> {
        let (ctx, raw_copy, effective) = self.begin(state, raw, entered, retries)?;
        let timeout = match state
            .jsonata
            .as_ref()
            .and_then(|j| j.timeout_seconds.as_ref())
        {
            Some(t) => {
                let states = super::jsonata::States::input(&effective, &ctx);
                Some(self.query_count(state, entered, t, "TimeoutSeconds", &states)?)
            }
            None => match &task.timeout {
                None => None,
                Some(t) => Some(self.read_seconds(t, &effective, &ctx, "TimeoutSecondsPath")?),
            },
        };
        let effective = self.apply_parameters(state, effective, &ctx, entered)?;
        let engine_identity = &self.engine.options.identity;
        // What TaskScheduled records of a lambda:invoke: the effective Parameters.
        let parameters = match (&task.resource.invocation, self.recording()) {
            (Invocation::LambdaInvoke, true) => Some(effective.clone()),
            _ => None,
        };
        let (function, qualifier, event, lambda_invoke, written) = match &task.resource.invocation {
            Invocation::Direct {
                function,
                qualifier,
            } => (
                Cow::Borrowed(function.as_str()),
                qualifier.as_deref().map(Cow::Borrowed),
                effective,
                false,
                engine_identity.of_function(&task.resource.arn),
            ),
            Invocation::LambdaInvoke => {
                let name = effective
                    .get("FunctionName")
                    .and_then(|v| v.scalar())
                    .and_then(|j| j.as_str().map(str::to_string));
                let Some(name) = name else {
                    return Err(StatesError::runtime(format!(
                        "state '{}': arn:aws:states:::lambda:invoke needs a string FunctionName in its Parameters",
                        state.name
                    )));
                };
                let (function, qualifier) = parse_function_name(&name);
                let payload = effective.get("Payload").unwrap_or_else(Value::empty_object);
                (
                    Cow::Owned(function),
                    qualifier.map(Cow::Owned),
                    payload,
                    true,
                    engine_identity.of_function(&name),
                )
            }
        };
        let event = if Self::retains_raw(state, &task.retry, &task.catch) {
            detach(event)?
        } else {
            event
        };
        let started = self.engine.clock.instant();
        let task_deadline = timeout.and_then(|s| started.checked_add(Duration::from_secs(s)));
        let deadline = match (task_deadline, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // The region and account of the ARN the definition wrote, else the engine's.
        let identity = written.as_ref().unwrap_or(engine_identity);
        let request_id = RequestId::new();
        let call = Call {
            function: &function,
            qualifier: qualifier.as_deref(),
            identity,
            state_name: &state.name,
            request_id: &request_id,
            execution_arn: &self.info.arn,
            deadline,
            cancel: frame.cancel,
            log: self.engine.options.log.as_ref(),
        };
        let kind = if lambda_invoke {
            TaskKind::LambdaInvoke
        } else if task.resource.arn.starts_with("arn:") {
            TaskKind::Lambda(task.resource.arn.clone())
        } else {
            TaskKind::Lambda(identity.function_arn(&function, qualifier.as_deref()))
        };
        match &parameters {
            Some(p) => self.emit_task_started(frame, &kind, p, timeout),
            None => self.emit_task_started(frame, &kind, &event, timeout),
        }
        let timer = Instant::now();
        let result = self.engine.runtime.invoke(&call, event);
        self.observe(&function, timer.elapsed());
        let result = match task_deadline {
            Some(d) if self.engine.clock.instant() >= d => {
                Err(StatesError::new(names::TIMEOUT, ""))
            }
            _ => result.map_err(|f| f.into_states_error()),
        };
        let result = result.map(|result| {
            if lambda_invoke {
                lambda_invoke_response(
                    result,
                    qualifier.as_deref(),
                    request_id.as_str(),
                    self.engine.clock.now(),
                )
            } else {
                result
            }
        });
        self.emit_task_ended(frame, &kind, &result);
        let result = result?;
        self.finish(state, raw_copy, result, &ctx, entered)
    }
}

/// The result `arn:aws:states:::lambda:invoke` gives: Lambda's Invoke response.
fn lambda_invoke_response(
    payload: Value,
    qualifier: Option<&str>,
    request_id: &str,
    now: std::time::SystemTime,
) -> Value {
    let version = qualifier.unwrap_or("$LATEST");
    let date = chrono::DateTime::<chrono::Utc>::from(now)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let headers = json!({
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "Date": date,
        "X-Amz-Executed-Version": version,
        "x-amzn-RequestId": request_id,
    });
    let all_headers: serde_json::Map<String, Json> = headers
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
        .unwrap_or_default();
    let mut out = IndexMap::new();
    out.insert("ExecutedVersion".to_string(), Value::Json(json!(version)));
    out.insert("Payload".to_string(), payload);
    out.insert(
        "SdkHttpMetadata".to_string(),
        Value::Json(
            json!({"AllHttpHeaders": all_headers, "HttpHeaders": headers, "HttpStatusCode": 200}),
        ),
    );
    out.insert(
        "SdkResponseMetadata".to_string(),
        Value::Json(json!({"RequestId": request_id})),
    );
    out.insert("StatusCode".to_string(), Value::Json(json!(200)));
    Value::from_fields(out)
}
