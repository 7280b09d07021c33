//! Shared by the fuzz targets: definitions and inputs generated from the ASL model, the
//! functions every generated Task may call, the differential run (inline against threads) and
//! the counter of inputs that reached evaluation.

pub mod generate;
pub mod reach;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use asl::{StatesError, Value};
use engine::{
    BranchLanes, CancelToken, Clock, Engine, EngineOptions, ExecutionOptions, ManualClock,
    NativeRuntime, Workflow,
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

/// Manual time (Wait states and back-off take none) that also moves 1,000 times faster than
/// real time: a definition whose state doubles on every loop (`{"a.$": "$", "b.$": "$"}`)
/// does exponential work within its history limit, and only a time limit stops it. With
/// [`EXECUTION_TIME`] that is about 2 real seconds.
pub struct FuzzClock {
    manual: ManualClock,
    real_start: Instant,
}

/// How real time counts on [`FuzzClock`].
const REAL_TIME_SCALE: u32 = 1_000;

/// The fuzzed executions' time limit, on [`FuzzClock`].
pub const EXECUTION_TIME: Duration = Duration::from_secs(2_000);

impl FuzzClock {
    pub fn new() -> Self {
        FuzzClock {
            manual: ManualClock::new(SystemTime::UNIX_EPOCH),
            real_start: Instant::now(),
        }
    }
}

impl Default for FuzzClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FuzzClock {
    fn now(&self) -> SystemTime {
        self.manual.now()
    }

    fn instant(&self) -> Instant {
        let real = self.real_start.elapsed().saturating_mul(REAL_TIME_SCALE);
        let manual = self.manual.instant();
        manual.checked_add(real).unwrap_or(manual)
    }

    fn sleep(&self, duration: Duration, cancel: &CancelToken) {
        self.manual.sleep(duration, cancel);
    }
}

/// Whether an execution was ended by [`EXECUTION_TIME`] (its lanes may differ there).
fn out_of_time(result: &Result<Json, StatesError>) -> bool {
    result.as_ref().is_err_and(|e| {
        e.cause
            .starts_with("the execution ran longer than the limit")
    })
}

/// An engine with the fuzz functions, [`FuzzClock`], bounded history and time.
pub fn engine(lanes: BranchLanes) -> Engine {
    let options = EngineOptions {
        lanes,
        cpus: 2,
        limits: asl::Limits {
            history_events: Some(MAX_EVENTS),
            execution_time: Some(EXECUTION_TIME),
            ..asl::Limits::default()
        },
        ..EngineOptions::default()
    };
    Engine::with_options(Arc::new(functions()), options).with_clock(Arc::new(FuzzClock::new()))
}

/// Runs one execution; `Err` is the execution's error (not a fuzzing failure).
pub fn execute(engine: &Engine, workflow: &Workflow, input: &Json) -> Result<Json, StatesError> {
    reach::reached();
    let options = ExecutionOptions {
        name: Some("fuzz".to_string()),
        ..ExecutionOptions::default()
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
    if out_of_time(inline) || out_of_time(other) {
        return;
    }
    match (inline, other) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "inline and {lanes} lanes disagree on {what}"),
        (Err(_), Err(_)) => {}
        _ => panic!("inline gave {inline:?} but {lanes} lanes {other:?} for {what}"),
    }
}
