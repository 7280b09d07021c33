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

use super::events::TaskKind;
use super::input_output::detach;
use super::{Entered, Exec, Frame, Interrupted, Step};
use crate::lambda::{self, function_identity};
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
                Some(t) => Some(self.read_seconds(
                    t,
                    &effective,
                    &ctx,
                    "TimeoutSecondsPath",
                    state,
                    entered,
                )?),
            },
        };
        // HeartbeatSeconds is read as AWS reads it (an expression or path that gives no
        // non-negative integer fails the state) and then has no effect: a local function has no
        // way to send heartbeats (activities and `.waitForTaskToken` callbacks, which do, are
        // not supported), so only TimeoutSeconds bounds it.
        match state
            .jsonata
            .as_ref()
            .and_then(|j| j.heartbeat_seconds.as_ref())
        {
            Some(t) => {
                let states = super::jsonata::States::input(&effective, &ctx);
                self.query_count(state, entered, t, "HeartbeatSeconds", &states)?;
            }
            None => {
                if let Some(h) = &task.heartbeat {
                    self.read_seconds(h, &effective, &ctx, "HeartbeatSecondsPath", state, entered)?;
                }
            }
        }
        let effective = self.apply_parameters(state, effective, &ctx, entered)?;
        let identity = &self.engine.options.identity;
        // What TaskScheduled records of a lambda:invoke: the effective Parameters.
        let parameters = match (&task.resource.invocation, self.recording()) {
            (Invocation::LambdaInvoke, true) => Some(effective.clone()),
            _ => None,
        };
        let request_id = RequestId::new();
        let (function, qualifier, event, lambda_invoke, reference) = match &task.resource.invocation
        {
            Invocation::Direct {
                function,
                qualifier,
            } => (
                Cow::Borrowed(function.as_str()),
                qualifier.as_deref().map(Cow::Borrowed),
                effective,
                false,
                Cow::Borrowed(task.resource.arn.as_str()),
            ),
            Invocation::LambdaInvoke => {
                let text = |field: &str| {
                    effective
                        .get(field)
                        .and_then(|v| v.scalar())
                        .and_then(|j| j.as_str().map(str::to_string))
                };
                let Some(name) = text("FunctionName") else {
                    return Err(StatesError::runtime(format!(
                        "state '{}': arn:aws:states:::lambda:invoke needs a string FunctionName in its Parameters",
                        state.name
                    )));
                };
                let (function, qualifier) = parse_function_name(&name);
                let qualifier = qualifier.or_else(|| text("Qualifier"));
                let payload = effective.get("Payload");
                // A body Lambda refuses is the Task's error, after its events like any other.
                let event = match lambda::request_event(payload, request_id.as_str()) {
                    Ok(event) => event,
                    Err(e) => {
                        let kind = TaskKind::LambdaInvoke;
                        if let Some(p) = &parameters {
                            self.emit_task_started(frame, &kind, p, timeout);
                        }
                        let failed = Err(e);
                        self.emit_task_ended(frame, &kind, &failed);
                        return failed;
                    }
                };
                (
                    Cow::Owned(function),
                    qualifier.map(Cow::Owned),
                    event,
                    true,
                    Cow::Owned(name),
                )
            }
        };
        let call_identity = function_identity(&reference, identity);
        let identity = call_identity.as_ref().unwrap_or(identity);
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
        // What Lambda's response body makes of the result, for a function invoked as a
        // Lambda function; a plain name keeps the runtime's object as it is.
        let result = match result {
            Ok(r) if lambda_invoke || task.resource.arn.starts_with("arn:") => self
                .engine
                .runtime
                .lambda_response(&call, r, lambda_invoke)
                .map(|response| {
                    if lambda_invoke {
                        lambda::invoke_response(
                            response,
                            qualifier.as_deref(),
                            request_id.as_str(),
                            self.engine.clock.now(),
                        )
                    } else {
                        response.payload
                    }
                }),
            other => other,
        };
        let result = match task_deadline {
            Some(d) if self.engine.clock.instant() >= d => {
                Err(StatesError::new(names::TIMEOUT, ""))
            }
            _ => result.map_err(|f| f.into_states_error()),
        };
        self.emit_task_ended(frame, &kind, &result);
        let result = result?;
        self.finish(state, raw_copy, result, &ctx, entered)
    }
}
