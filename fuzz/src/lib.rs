//! Shared by the fuzz targets: definitions and inputs generated from the ASL model, the
//! functions every generated Task may call, the differential run (inline against threads) and
//! the counter of inputs that reached evaluation.

pub mod generate;
pub mod reach;

use std::sync::Arc;
use std::time::SystemTime;

use asl::{StatesError, Value};
use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, ManualClock, NativeRuntime, Workflow,
};
use serde_json::{Value as Json, json};

/// History events after which a fuzzed execution stops (generated machines may loop).
pub const MAX_EVENTS: u64 = 2_000;

/// Deterministic functions: the same input gives the same output on every lane.
pub fn functions() -> NativeRuntime {
    NativeRuntime::new()
        .with("echo", |_, input| Ok(input))
        .with("fail", |_, _| {
            Err(StatesError::new("Fuzz.Failure", "asked to fail"))
        })
        .with("wrap", |_, input: Value| {
            let j = input
                .to_json()
                .map_err(|e| StatesError::new("Fuzz.NotJson", e.to_string()))?;
            Ok(Value::Json(json!({"wrapped": j, "n": 2})))
        })
}

/// An engine with the fuzz functions, a manual clock and bounded history.
pub fn engine(lanes: BranchLanes) -> Engine {
    let options = EngineOptions {
        lanes,
        cpus: 2,
        limits: asl::Limits {
            history_events: Some(MAX_EVENTS),
            ..asl::Limits::default()
        },
        ..EngineOptions::default()
    };
    Engine::with_options(Arc::new(functions()), options)
        .with_clock(Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH)))
}

/// Runs one execution; `Err` is the execution's error (not a fuzzing failure).
pub fn execute(engine: &Engine, workflow: &Workflow, input: &Json) -> Result<Json, StatesError> {
    reach::reached();
    let options = ExecutionOptions {
        name: Some("fuzz".to_string()),
    };
    engine
        .execute(workflow, input.clone(), &options)
        .into_json()
}

/// Whether lanes may legitimately disagree on `definition`: random intrinsics, and times
/// (with branches on threads, the shared manual clock moves in a different order).
fn nondeterministic(definition: &str) -> bool {
    ["States.UUID", "States.MathRandom", "Time", "Wait"]
        .iter()
        .any(|s| definition.contains(s))
}

/// Runs `workflow` inline and on threads and panics if they disagree: both must succeed or
/// fail, and successes must give the same output. (Which of two failing branches reports
/// first may differ on threads, as on AWS, so failures are compared by kind only.)
pub fn differential(workflow: &Workflow, definition: &str, input: &Json) {
    let inline = execute(&engine(BranchLanes::Inline), workflow, input);
    if nondeterministic(definition) {
        return;
    }
    let threads = execute(&engine(BranchLanes::Threads(3)), workflow, input);
    assert_agree(
        &inline,
        &threads,
        "threads",
        &format!("{definition} with {input}"),
    );
}

/// Panics unless two runs of the same execution agree: both succeed with the same output, or
/// both fail (which of two failing branches reports first may differ, as on AWS).
pub fn assert_agree(
    inline: &Result<Json, StatesError>,
    other: &Result<Json, StatesError>,
    lanes: &str,
    what: &str,
) {
    match (inline, other) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "inline and {lanes} lanes disagree on {what}"),
        (Err(_), Err(_)) => {}
        _ => panic!("inline gave {inline:?} but {lanes} lanes {other:?} for {what}"),
    }
}
