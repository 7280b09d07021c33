//! History events as the interpreter reaches them: every event takes the next id of the
//! execution's counter (the one `max_events` and `States.Runtime` causes use), and, when the
//! execution has a [`HistorySink`](crate::history::HistorySink), is delivered there.
//!
//! Without a sink an event is one atomic add: nothing is converted or formatted.

use std::sync::atomic::Ordering;

use asl::{StatesError, Value};

use super::{Exec, Frame};
use crate::engine::ExecutionStatus;
use crate::history::{
    DataDetails, ErrorCause, EventDetails, EventType, ExecutionStarted, HistoryEvent, Output,
    StateEntered, StateExited, event_data,
};

impl Exec<'_> {
    /// `ExecutionStarted`, event 1.
    pub(crate) fn execution_started(&self, frame: &Frame<'_>) {
        self.emit(frame, EventType::ExecutionStarted, || {
            let (input, input_details) = event_data(self.info.input.to_string());
            Some(EventDetails::ExecutionStarted(ExecutionStarted {
                input,
                input_details,
                role_arn: self.info.role_arn.clone(),
            }))
        });
    }

    /// The last event: how the execution ended.
    pub(crate) fn execution_ended(
        &self,
        frame: &Frame<'_>,
        outcome: &Result<Value, StatesError>,
        status: ExecutionStatus,
    ) {
        self.join(frame);
        let err = match outcome {
            Ok(output) => {
                self.emit(frame, EventType::ExecutionSucceeded, || {
                    let (output, output_details) = data(output);
                    Some(EventDetails::ExecutionSucceeded(Output {
                        output,
                        output_details,
                    }))
                });
                return;
            }
            Err(e) => e,
        };
        let (kind, wrap): (EventType, fn(ErrorCause) -> EventDetails) = match status {
            ExecutionStatus::Aborted => {
                (EventType::ExecutionAborted, EventDetails::ExecutionAborted)
            }
            ExecutionStatus::TimedOut => (
                EventType::ExecutionTimedOut,
                EventDetails::ExecutionTimedOut,
            ),
            _ => (EventType::ExecutionFailed, EventDetails::ExecutionFailed),
        };
        self.emit_error(frame, kind, err, wrap);
    }

    /// Whether events are delivered anywhere (and their details worth building).
    pub(super) fn recording(&self) -> bool {
        self.history.is_some()
    }

    /// Counts one event of `frame`'s branch and delivers it; returns its id. `details` is
    /// built only when there is a sink.
    pub(super) fn emit(
        &self,
        frame: &Frame<'_>,
        kind: EventType,
        details: impl FnOnce() -> Option<EventDetails>,
    ) -> u64 {
        let Some(sink) = &self.history else {
            let id = self.events.fetch_add(1, Ordering::Relaxed) + 1;
            frame.last_event.store(id, Ordering::Relaxed);
            return id;
        };
        // Built before taking the lock: a runtime object may take its own locks to convert.
        let details = details();
        let _in_order = self.history_lock.lock().unwrap_or_else(|p| p.into_inner());
        let id = self.events.fetch_add(1, Ordering::Relaxed) + 1;
        let previous_event_id = frame.last_event.swap(id, Ordering::Relaxed);
        sink.record(HistoryEvent {
            timestamp: self.engine.clock.now(),
            kind,
            id,
            previous_event_id,
            details,
        });
        id
    }

    /// Makes the next event of `frame` follow the latest event of the execution (what joins
    /// branches: `ParallelStateSucceeded`, `MapStateFailed`...).
    pub(super) fn join(&self, frame: &Frame<'_>) {
        frame
            .last_event
            .store(self.events.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub(super) fn emit_entered(
        &self,
        frame: &Frame<'_>,
        type_name: &str,
        name: &str,
        input: &Value,
    ) -> u64 {
        self.emit(frame, EventType::state_entered(type_name), || {
            let (input, input_details) = data(input);
            Some(EventDetails::StateEntered(StateEntered {
                name: name.to_owned(),
                input,
                input_details,
            }))
        })
    }

    pub(super) fn emit_exited(
        &self,
        frame: &Frame<'_>,
        type_name: &str,
        name: &str,
        output: &Value,
    ) {
        self.emit(frame, EventType::state_exited(type_name), || {
            let (output, output_details) = data(output);
            Some(EventDetails::StateExited(StateExited {
                name: name.to_owned(),
                output,
                output_details,
            }))
        });
    }

    /// An event with only `error` and `cause`, built by `wrap`.
    pub(super) fn emit_error(
        &self,
        frame: &Frame<'_>,
        kind: EventType,
        err: &StatesError,
        wrap: fn(ErrorCause) -> EventDetails,
    ) {
        self.emit(frame, kind, || {
            Some(wrap(ErrorCause::new(&err.error, &err.cause)))
        });
    }
}

/// A value as an event keeps it: JSON text, cut at 256 KiB. A runtime object that has no JSON
/// form is kept as the JSON string of why.
pub(super) fn data(value: &Value) -> (String, DataDetails) {
    let text = match value.to_json() {
        Ok(json) => json.to_string(),
        Err(e) => serde_json::Value::String(format!("not JSON: {e}")).to_string(),
    };
    event_data(text)
}

/// Which events a Task's call records: `LambdaFunction*` for a Lambda function named by the
/// Resource, `Task*` with resource type `lambda` for `arn:aws:states:::lambda:invoke`.
pub(super) enum TaskKind {
    /// The function's ARN.
    Lambda(String),
    LambdaInvoke,
}

const INVOKE_TYPE: &str = "lambda";
const INVOKE_RESOURCE: &str = "invoke";

fn invoke_resource() -> (String, String) {
    (INVOKE_TYPE.to_owned(), INVOKE_RESOURCE.to_owned())
}

impl Exec<'_> {
    /// `LambdaFunctionScheduled` / `TaskScheduled` (with the call's input or the effective
    /// Parameters) and then `...Started`.
    pub(super) fn emit_task_started(
        &self,
        frame: &Frame<'_>,
        kind: &TaskKind,
        input: &Value,
        timeout: Option<u64>,
    ) {
        match kind {
            TaskKind::Lambda(arn) => {
                self.emit(frame, EventType::LambdaFunctionScheduled, || {
                    let (input, input_details) = data(input);
                    Some(EventDetails::LambdaFunctionScheduled(
                        crate::history::LambdaFunctionScheduled {
                            resource: arn.clone(),
                            input,
                            input_details,
                            timeout_in_seconds: timeout,
                        },
                    ))
                });
                self.emit(frame, EventType::LambdaFunctionStarted, || None);
            }
            TaskKind::LambdaInvoke => {
                self.emit(frame, EventType::TaskScheduled, || {
                    let (resource_type, resource) = invoke_resource();
                    Some(EventDetails::TaskScheduled(crate::history::TaskScheduled {
                        resource_type,
                        resource,
                        region: self.engine.options.identity.region.clone(),
                        parameters: data(input).0,
                        timeout_in_seconds: timeout,
                    }))
                });
                self.emit(frame, EventType::TaskStarted, || {
                    let (resource_type, resource) = invoke_resource();
                    Some(EventDetails::TaskStarted(crate::history::TaskResource {
                        resource_type,
                        resource,
                    }))
                });
            }
        }
    }

    /// How the call ended: `...Succeeded` with its result, `...TimedOut` for
    /// `States.Timeout`, `...Failed` otherwise.
    pub(super) fn emit_task_ended(
        &self,
        frame: &Frame<'_>,
        kind: &TaskKind,
        result: &Result<Value, StatesError>,
    ) {
        let timed_out = matches!(result, Err(e) if e.error == asl::names::TIMEOUT);
        match (kind, result) {
            (TaskKind::Lambda(_), Ok(out)) => {
                self.emit(frame, EventType::LambdaFunctionSucceeded, || {
                    let (output, output_details) = data(out);
                    Some(EventDetails::LambdaFunctionSucceeded(Output {
                        output,
                        output_details,
                    }))
                });
            }
            (TaskKind::Lambda(_), Err(e)) if timed_out => self.emit_error(
                frame,
                EventType::LambdaFunctionTimedOut,
                e,
                EventDetails::LambdaFunctionTimedOut,
            ),
            (TaskKind::Lambda(_), Err(e)) => self.emit_error(
                frame,
                EventType::LambdaFunctionFailed,
                e,
                EventDetails::LambdaFunctionFailed,
            ),
            (TaskKind::LambdaInvoke, Ok(out)) => {
                self.emit(frame, EventType::TaskSucceeded, || {
                    let (resource_type, resource) = invoke_resource();
                    let (output, output_details) = data(out);
                    Some(EventDetails::TaskSucceeded(crate::history::TaskSucceeded {
                        resource_type,
                        resource,
                        output,
                        output_details,
                    }))
                });
            }
            (TaskKind::LambdaInvoke, Err(e)) => {
                let event = if timed_out {
                    EventType::TaskTimedOut
                } else {
                    EventType::TaskFailed
                };
                self.emit(frame, event, || {
                    let (resource_type, resource) = invoke_resource();
                    let ErrorCause { error, cause } = ErrorCause::new(&e.error, &e.cause);
                    let details = crate::history::TaskError {
                        resource_type,
                        resource,
                        error,
                        cause,
                    };
                    Some(if timed_out {
                        EventDetails::TaskTimedOut(details)
                    } else {
                        EventDetails::TaskFailed(details)
                    })
                });
            }
        }
    }
}
