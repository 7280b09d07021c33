//! A validated state machine: the typed form of an ASL definition.
//!
//! Built only by [`crate::load()`], which checks every rule first, so the engine can trust that
//! every `Next` names a state, every path parses and every field fits its state type.

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::choice::ChoiceRule;
use crate::path::Path;
use crate::query::{Assign, Jsonata, QueryLanguage};
use crate::template::Template;

/// A state machine, or one branch of a Parallel state, or a Map state's item processor.
#[derive(Clone, Debug)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub start_at: String,
    pub states: IndexMap<String, State>,
    /// Top-level `TimeoutSeconds` (only on the outermost machine).
    pub timeout_seconds: Option<u64>,
}

impl StateMachine {
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }
}

/// One state.
#[derive(Clone, Debug)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    pub kind: StateKind,
    /// `InputPath`; `None` means the JSON `null` (the state sees `{}`).
    pub input_path: Option<Path>,
    /// `OutputPath`; `None` means the JSON `null` (the state outputs `{}`).
    pub output_path: Option<Path>,
    /// `ResultPath`; `None` means the JSON `null` (the result is discarded).
    pub result_path: Option<Path>,
    /// `Parameters` (for Map, the legacy spelling of `ItemSelector` is in [`MapState`]).
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub transition: Transition,
    /// The state's own `QueryLanguage`, or its state machine's.
    pub query_language: QueryLanguage,
    /// `Assign`: variables set once the state's output is computed.
    pub assign: Option<Assign>,
    /// The fields of a JSONata state (`None` in a JSONPath state).
    pub jsonata: Option<Box<JsonataFields>>,
}

/// What a JSONata state has instead of the JSONPath fields: each a `{% ... %}` template.
#[derive(Clone, Debug, Default)]
pub struct JsonataFields {
    /// `Arguments` (Task, Parallel): the input of the function or the branches.
    pub arguments: Option<Jsonata>,
    /// `Output`: the state's output (default: the result, or the input for Pass, Choice,
    /// Wait and Succeed).
    pub output: Option<Jsonata>,
    /// Map `Items` (default: the state's input, which must be an array).
    pub items: Option<Jsonata>,
    /// Map `ItemSelector`, with `$states.context.Map.Item` set.
    pub item_selector: Option<Jsonata>,
    /// Task `TimeoutSeconds`/`HeartbeatSeconds`, Map `MaxConcurrency`, Wait `Seconds`
    /// and `Timestamp` and Fail `Error`/`Cause` written as expressions.
    pub timeout_seconds: Option<Jsonata>,
    pub heartbeat_seconds: Option<Jsonata>,
    pub max_concurrency: Option<Jsonata>,
    /// Map `ToleratedFailureCount` and `ToleratedFailurePercentage` written as expressions.
    pub tolerated_failure_count: Option<Jsonata>,
    pub tolerated_failure_percentage: Option<Jsonata>,
    pub seconds: Option<Jsonata>,
    pub timestamp: Option<Jsonata>,
    pub error: Option<Jsonata>,
    pub cause: Option<Jsonata>,
}

/// Where a state goes when it completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
    /// Choice, Succeed and Fail choose (or end) themselves.
    None,
}

#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per definition and never moved on a hot path; boxing would only add indirection"
)]
pub enum StateKind {
    Task(TaskState),
    Pass(PassState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed,
    Fail(FailState),
    Parallel(ParallelState),
    Map(MapState),
}

impl StateKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Task(_) => "Task",
            StateKind::Pass(_) => "Pass",
            StateKind::Choice(_) => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel(_) => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// What a Task invokes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The `Resource` string as written.
    pub arn: String,
    /// How the function is called.
    pub invocation: Invocation,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// A plain name or a Lambda function ARN: the effective input is the event, the
    /// function's return value is the result.
    Direct {
        function: String,
        /// Version or alias from `...:function:NAME:QUALIFIER`.
        qualifier: Option<String>,
    },
    /// `arn:aws:states:::lambda:invoke`: `Parameters` carry `FunctionName` and `Payload`;
    /// the result is shaped like Lambda's Invoke response (`{"Payload": ..., "StatusCode": 200}`).
    LambdaInvoke,
}

/// A number given literally or read from the input with a path (`TimeoutSecondsPath`, ...).
#[derive(Clone, Debug, PartialEq)]
pub enum NumberOrPath {
    Literal(u64),
    Path(Path),
}

#[derive(Clone, Debug)]
pub struct TaskState {
    pub resource: Resource,
    pub timeout: Option<NumberOrPath>,
    pub heartbeat: Option<NumberOrPath>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Clone, Debug)]
pub struct PassState {
    /// `Result`: replaces the effective input as the state's result.
    pub result: Option<Json>,
}

#[derive(Clone, Debug)]
pub struct ChoiceState {
    pub choices: Vec<ChoiceBranch>,
    pub default: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ChoiceBranch {
    /// The JSONPath rule (`None` in a JSONata state, which has `condition`).
    pub rule: Option<ChoiceRule>,
    /// A JSONata state's `Condition`.
    pub condition: Option<Jsonata>,
    pub next: String,
    /// Variables the rule sets when it matches.
    pub assign: Option<Assign>,
    /// A JSONata rule's `Output`, the state's output when it matches.
    pub output: Option<Jsonata>,
}

#[derive(Clone, Debug)]
pub enum WaitState {
    Seconds(u64),
    SecondsPath(Path),
    /// An RFC 3339 timestamp, as written.
    Timestamp(String),
    TimestampPath(Path),
}

/// `Error`/`ErrorPath` or `Cause`/`CausePath` of a Fail state.
#[derive(Clone, Debug)]
pub enum StringOrPath {
    Literal(String),
    Path(Path),
    Intrinsic(crate::intrinsic::IntrinsicCall),
}

#[derive(Clone, Debug)]
pub struct FailState {
    pub error: Option<StringOrPath>,
    pub cause: Option<StringOrPath>,
}

#[derive(Clone, Debug)]
pub struct ParallelState {
    pub branches: Vec<StateMachine>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessorMode {
    Inline,
    /// Run locally over the items, like INLINE, with the distributed-only fields honoured
    /// where they make sense (tolerated failures).
    Distributed,
}

#[derive(Clone, Debug)]
pub struct MapState {
    pub items_path: Path,
    /// `ItemSelector` (or the legacy `Parameters`), evaluated once per item with
    /// `$$.Map.Item.Index` and `$$.Map.Item.Value` in the context.
    pub item_selector: Option<Template>,
    pub processor: StateMachine,
    pub mode: ProcessorMode,
    /// 0 means no limit.
    pub max_concurrency: NumberOrPath,
    pub tolerated_failure_percentage: Option<f64>,
    /// `ToleratedFailurePercentagePath`: the percentage read from the input.
    pub tolerated_failure_percentage_path: Option<Path>,
    pub tolerated_failure_count: Option<u64>,
    /// `ToleratedFailureCountPath`: the count read from the input.
    pub tolerated_failure_count_path: Option<Path>,
    pub label: Option<String>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    Full,
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    /// Seconds before the first retry (default 1).
    pub interval_seconds: u64,
    /// Retries after the first attempt (default 3; 0 never retries).
    pub max_attempts: u64,
    /// Multiplier of the interval on each retry (default 2.0, at least 1.0).
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

#[derive(Clone, Debug)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    /// Where `{"Error", "Cause"}` goes in the state's raw input (`None`: the JSON `null`,
    /// which discards it).
    pub result_path: Option<Path>,
    /// Variables the catcher sets when it catches.
    pub assign: Option<Assign>,
    /// A JSONata catcher's `Output` (default: the error output).
    pub output: Option<Jsonata>,
}
