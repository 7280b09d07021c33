//! The Task state: Parameters, the function call through [`Runtime::invoke`] (directly, or
//! as `arn:aws:states:::lambda:invoke` with its Invoke response), TimeoutSeconds and the
//! result's ResultSelector/ResultPath/OutputPath.
//!
//! [`Exec::run_task`] runs [`Exec::task_attempt`], one attempt, under the Task's Retry and
//! Catch (`retry.rs`), both for a Task entered as usual and for one whose worker process was
//! killed. [`task_function`] tells the planner and `Engine::prepare` which function a Task
//! calls before it runs.
//!
//! [`Runtime::invoke`]: crate::Runtime::invoke

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use asl::model::{Invocation, State, StateKind, TaskState};
use asl::{StatesError, Template, Value, names};
use indexmap::IndexMap;
use serde_json::{Value as Json, json};

use super::input_output::detach;
use super::{Entered, Exec, Frame, Interrupted, Step, TASK_EVENTS};
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
        let identity = &self.engine.options.identity;
        let (function, qualifier, event, lambda_invoke) = match &task.resource.invocation {
            Invocation::Direct {
                function,
                qualifier,
            } => (
                Cow::Borrowed(function.as_str()),
                qualifier.as_deref().map(Cow::Borrowed),
                effective,
                false,
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
        self.events.fetch_add(TASK_EVENTS, Ordering::Relaxed);
        let timer = Instant::now();
        let result = self.engine.runtime.invoke(&call, event);
        self.observe(&function, timer.elapsed());
        if let Some(d) = task_deadline
            && self.engine.clock.instant() >= d
        {
            return Err(StatesError::new(names::TIMEOUT, ""));
        }
        let result = result.map_err(|f| f.into_states_error())?;
        let result = if lambda_invoke {
            lambda_invoke_response(
                result,
                qualifier.as_deref(),
                request_id.as_str(),
                self.engine.clock.now(),
            )
        } else {
            result
        };
        self.finish(state, raw_copy, result, &ctx, entered)
    }
}

/// The function a Task state calls, when it is known before the state runs (a
/// `lambda:invoke` with a `FunctionName` path is not).
pub(crate) fn task_function(state: &State) -> Option<String> {
    let StateKind::Task(task) = &state.kind else {
        return None;
    };
    match &task.resource.invocation {
        Invocation::Direct { function, .. } => Some(function.clone()),
        Invocation::LambdaInvoke => {
            if let Some(Template::Object(fields)) = &state.parameters
                && let Some((_, Template::Literal(Json::String(name)))) =
                    fields.iter().find(|(k, _)| k == "FunctionName")
            {
                Some(parse_function_name(name).0)
            } else {
                None
            }
        }
    }
}

/// Splits a Lambda FunctionName (`name`, `name:alias`, `ACCOUNT:function:name[:q]`, a full
/// ARN) into the function and its qualifier.
pub(crate) fn parse_function_name(raw: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = raw.split(':').collect();
    let after_function = parts
        .iter()
        .position(|p| *p == "function")
        .map(|i| &parts[i + 1..]);
    let rest: &[&str] = match after_function {
        Some(rest) => rest,
        None => &parts,
    };
    match rest {
        [name] => (name.to_string(), None),
        [name, qualifier, ..] => (name.to_string(), Some(qualifier.to_string())),
        [] => (raw.to_string(), None),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_spelling() {
        assert_eq!(parse_function_name("resize"), ("resize".into(), None));
        assert_eq!(
            parse_function_name("resize:prod"),
            ("resize".into(), Some("prod".into()))
        );
        assert_eq!(
            parse_function_name("123456789012:function:resize"),
            ("resize".into(), None)
        );
        assert_eq!(
            parse_function_name("arn:aws:lambda:us-east-1:123456789012:function:resize:7"),
            ("resize".into(), Some("7".into()))
        );
    }
}
