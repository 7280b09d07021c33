//! Execution history events shaped exactly like the Step Functions API's `HistoryEvent`
//! (`GetExecutionHistory`, botocore's `stepfunctions/2016-11-23/service-2.json`).
//!
//! An execution started with [`ExecutionOptions::history`](crate::ExecutionOptions::history)
//! delivers every event to that [`HistorySink`] as it happens, in id order (ids are handed out
//! and delivered under one lock, so branches on other threads never deliver out of order).
//! The ids come from the same counter as `max_events` and the `(entered at the event id #N)`
//! of `States.Runtime` causes, so a cause names the id its history shows.
//!
//! Serialized with serde, an event is exactly the API's JSON (AWS JSON 1.0 protocol):
//!
//! ```json
//! {"timestamp": 1704067200.0, "type": "TaskStateEntered", "id": 2, "previousEventId": 1,
//!  "stateEnteredEventDetails": {"name": "Hello", "input": "{}", "inputDetails": {"truncated": false}}}
//! ```
//!
//! `timestamp` is epoch seconds (a number, as the wire protocol sends `Timestamp`s); inputs and
//! outputs are JSON texts, cut at Step Functions' 256 KiB with `truncated: true`.
//! `previousEventId` is the event this one follows in its own branch: the first event of a
//! Parallel branch follows `ParallelStateStarted`, a Map iteration's `MapIterationStarted`
//! follows `MapStateStarted`.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where an execution's events go, as they happen (a file, a database, a `Vec`).
pub trait HistorySink: Send + Sync {
    /// One event; called in id order, never concurrently for one execution.
    fn record(&self, event: HistoryEvent);
}

/// A sink that keeps the events in memory.
#[derive(Debug, Default)]
pub struct HistoryLog(Mutex<Vec<HistoryEvent>>);

impl HistoryLog {
    /// The events so far, in order.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl HistorySink for HistoryLog {
    fn record(&self, event: HistoryEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

/// One event of an execution's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    #[serde(with = "epoch_seconds")]
    pub timestamp: SystemTime,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub id: u64,
    pub previous_event_id: u64,
    /// The `<camelCaseType>EventDetails` member, for the types that have one.
    #[serde(flatten)]
    pub details: Option<EventDetails>,
}

/// `HistoryEventType`: the types faastlane records (and `ExecutionAborted`, which a server
/// records when it stops an execution).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    ExecutionAborted,
    TaskStateEntered,
    TaskStateExited,
    PassStateEntered,
    PassStateExited,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    ParallelStateExited,
    MapStateEntered,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapStateExited,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    TaskScheduled,
    TaskStarted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
}

impl EventType {
    /// `<Type>StateEntered` for a state of ASL type `type_name` (`"Task"`, `"Map"`...).
    pub fn state_entered(type_name: &str) -> EventType {
        match type_name {
            "Pass" => EventType::PassStateEntered,
            "Choice" => EventType::ChoiceStateEntered,
            "Wait" => EventType::WaitStateEntered,
            "Succeed" => EventType::SucceedStateEntered,
            "Fail" => EventType::FailStateEntered,
            "Parallel" => EventType::ParallelStateEntered,
            "Map" => EventType::MapStateEntered,
            _ => EventType::TaskStateEntered,
        }
    }

    /// `<Type>StateExited` (a Fail state has none; it gets `FailStateEntered`'s type).
    pub fn state_exited(type_name: &str) -> EventType {
        match type_name {
            "Pass" => EventType::PassStateExited,
            "Choice" => EventType::ChoiceStateExited,
            "Wait" => EventType::WaitStateExited,
            "Succeed" => EventType::SucceedStateExited,
            "Fail" => EventType::FailStateEntered,
            "Parallel" => EventType::ParallelStateExited,
            "Map" => EventType::MapStateExited,
            _ => EventType::TaskStateExited,
        }
    }
}

/// The details member of an event, named as the API names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EventDetails {
    #[serde(rename = "executionStartedEventDetails")]
    ExecutionStarted(ExecutionStarted),
    #[serde(rename = "executionSucceededEventDetails")]
    ExecutionSucceeded(Output),
    #[serde(rename = "executionFailedEventDetails")]
    ExecutionFailed(ErrorCause),
    #[serde(rename = "executionTimedOutEventDetails")]
    ExecutionTimedOut(ErrorCause),
    #[serde(rename = "executionAbortedEventDetails")]
    ExecutionAborted(ErrorCause),
    #[serde(rename = "stateEnteredEventDetails")]
    StateEntered(StateEntered),
    #[serde(rename = "stateExitedEventDetails")]
    StateExited(StateExited),
    #[serde(rename = "mapStateStartedEventDetails")]
    MapStateStarted(MapStateStarted),
    #[serde(rename = "mapIterationStartedEventDetails")]
    MapIterationStarted(MapIteration),
    #[serde(rename = "mapIterationSucceededEventDetails")]
    MapIterationSucceeded(MapIteration),
    #[serde(rename = "mapIterationFailedEventDetails")]
    MapIterationFailed(MapIteration),
    #[serde(rename = "mapIterationAbortedEventDetails")]
    MapIterationAborted(MapIteration),
    #[serde(rename = "lambdaFunctionScheduledEventDetails")]
    LambdaFunctionScheduled(LambdaFunctionScheduled),
    #[serde(rename = "lambdaFunctionSucceededEventDetails")]
    LambdaFunctionSucceeded(Output),
    #[serde(rename = "lambdaFunctionFailedEventDetails")]
    LambdaFunctionFailed(ErrorCause),
    #[serde(rename = "lambdaFunctionTimedOutEventDetails")]
    LambdaFunctionTimedOut(ErrorCause),
    #[serde(rename = "taskScheduledEventDetails")]
    TaskScheduled(TaskScheduled),
    #[serde(rename = "taskStartedEventDetails")]
    TaskStarted(TaskResource),
    #[serde(rename = "taskSucceededEventDetails")]
    TaskSucceeded(TaskSucceeded),
    #[serde(rename = "taskFailedEventDetails")]
    TaskFailed(TaskError),
    #[serde(rename = "taskTimedOutEventDetails")]
    TaskTimedOut(TaskError),
}

/// `HistoryEventExecutionDataDetails`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataDetails {
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStarted {
    pub input: String,
    pub input_details: DataDetails,
    pub role_arn: String,
}

/// An output and whether it was cut (`ExecutionSucceeded`, `LambdaFunctionSucceeded`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub output: String,
    pub output_details: DataDetails,
}

/// `error` and `cause`, each left out when empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorCause {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl ErrorCause {
    pub fn new(error: &str, cause: &str) -> Self {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        ErrorCause {
            error: some(error),
            cause: some(cause),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateEntered {
    pub name: String,
    pub input: String,
    pub input_details: DataDetails,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateExited {
    pub name: String,
    pub output: String,
    pub output_details: DataDetails,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapStateStarted {
    pub length: u64,
}

/// A Map iteration: the Map state's name and the item's index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapIteration {
    pub name: String,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaFunctionScheduled {
    /// The function's ARN.
    pub resource: String,
    pub input: String,
    pub input_details: DataDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_seconds: Option<u64>,
}

/// A service integration's resource (`lambda` / `invoke` for `arn:aws:states:::lambda:invoke`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResource {
    pub resource_type: String,
    pub resource: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskScheduled {
    pub resource_type: String,
    pub resource: String,
    pub region: String,
    /// The effective Parameters, as JSON text.
    pub parameters: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_in_seconds: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSucceeded {
    pub resource_type: String,
    pub resource: String,
    pub output: String,
    pub output_details: DataDetails,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskError {
    pub resource_type: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Step Functions' limit on an input or output kept in an event (256 KiB).
pub const MAX_EVENT_DATA: usize = 256 * 1024;

/// A JSON text as an event keeps it: cut at [`MAX_EVENT_DATA`] bytes (on a character
/// boundary), with whether it was cut.
pub fn event_data(mut text: String) -> (String, DataDetails) {
    if text.len() <= MAX_EVENT_DATA {
        return (text, DataDetails { truncated: false });
    }
    let mut end = MAX_EVENT_DATA;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, DataDetails { truncated: true })
}

mod epoch_seconds {
    use super::*;

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        // Milliseconds, as Step Functions records them.
        s.serialize_f64(d.as_millis() as f64 / 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let secs = f64::deserialize(d)?;
        // Back to the milliseconds it was written with.
        let d = Duration::try_from_secs_f64((secs * 1000.0).round())
            .map_err(serde::de::Error::custom)?;
        Ok(SystemTime::UNIX_EPOCH + Duration::from_millis(d.as_secs()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn events_serialize_as_the_api_sends_them() {
        let event = HistoryEvent {
            timestamp: at(1_704_067_200_123),
            kind: EventType::LambdaFunctionScheduled,
            id: 3,
            previous_event_id: 2,
            details: Some(EventDetails::LambdaFunctionScheduled(
                LambdaFunctionScheduled {
                    resource: "arn:aws:lambda:us-east-1:111111111111:function:f".into(),
                    input: "{}".into(),
                    input_details: DataDetails::default(),
                    timeout_in_seconds: None,
                },
            )),
        };
        let got = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            got,
            json!({"timestamp": 1_704_067_200.123, "type": "LambdaFunctionScheduled", "id": 3,
                "previousEventId": 2, "lambdaFunctionScheduledEventDetails": {
                    "resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
                    "input": "{}", "inputDetails": {"truncated": false}}})
        );
        let back: HistoryEvent = serde_json::from_value(got).expect("deserializes");
        assert_eq!(back, event);
    }

    #[test]
    fn an_event_without_details_has_no_details_member() {
        let event = HistoryEvent {
            timestamp: at(0),
            kind: EventType::LambdaFunctionStarted,
            id: 4,
            previous_event_id: 3,
            details: None,
        };
        let got = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            got,
            json!({"timestamp": 0.0, "type": "LambdaFunctionStarted", "id": 4, "previousEventId": 3})
        );
        let back: HistoryEvent = serde_json::from_value(got).expect("deserializes");
        assert_eq!(back, event);
    }

    #[test]
    fn large_data_is_cut_on_a_character_boundary() {
        let (text, details) = event_data("é".repeat(MAX_EVENT_DATA));
        assert!(details.truncated);
        assert!(text.len() <= MAX_EVENT_DATA && text.len() >= MAX_EVENT_DATA - 1);
        let (text, details) = event_data("{}".into());
        assert_eq!((text.as_str(), details.truncated), ("{}", false));
    }
}
