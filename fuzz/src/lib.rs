//! Shared by the fuzz targets: definitions and inputs generated from the ASL model, the
//! functions every generated Task may call, the differential run (inline against threads and
//! process lanes) and the counter of inputs that reached evaluation.

pub mod generate;
pub mod reach;

// The engine tests' in-process double of a process pool: the engine's whole process lane
// (branch jobs, inputs and results through the runtime's codec, a second engine running the
// branches as a worker does) without a fork. A real fork server hosts one workflow fixed
// before any thread starts (see the `lanes` target); this target's workflow changes with
// every input.
#[path = "../../crates/engine/tests/common/in_process_pool.rs"]
mod in_process_pool;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use asl::{StatesError, Value};
use engine::lanes::ProcessPool;
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

/// Whether an execution was ended by [`EXECUTION_TIME`] or [`MAX_EVENTS`]: its lanes may
/// differ there. Both count across branches, so where the limit falls depends on how the
/// branches interleaved; and a branch that loops until the limit ends the execution inline
/// (branches one after another) while on threads, as on AWS, a later branch may fail first
/// and cancel it (found by the definition target: a Catch looping on itself beside a Choice
/// whose Condition is not boolean).
fn ended_by_a_limit(result: &Result<Json, StatesError>) -> bool {
    result.as_ref().is_err_and(|e| {
        e.cause
            .starts_with("the execution ran longer than the limit")
            || e.cause
                .starts_with("The execution reached the maximum number of history events")
    })
}

/// A fuzzed state's input or output over this many bytes fails it (`States.DataLimitExceeded`).
/// A definition whose state doubles on every loop (`wrap`, `{"a.$": "$", "b.$": "$"}`) would
/// otherwise grow it to AWS's 256 KiB and measure it at every step until the history limit:
/// under the sanitizers that made the whole-engine targets run 20-70 inputs/s, spending their
/// time serializing one big state, not exploring the engine.
pub const PAYLOAD_BYTES: usize = 8 * 1024;

/// Map items one fuzzed Map state may iterate over (the generator's inputs have few; a grown
/// state could have thousands).
pub const MAP_ITEMS: usize = 64;

/// The limits every whole-engine target runs with: bounded history, time, state size and Map
/// width, so an input's cost stays in milliseconds and reaching a limit is itself a path that
/// gets exercised.
pub fn limits() -> asl::Limits {
    asl::Limits {
        history_events: Some(MAX_EVENTS),
        execution_time: Some(EXECUTION_TIME),
        payload_bytes: Some(PAYLOAD_BYTES),
        map_items: Some(MAP_ITEMS),
        ..asl::Limits::default()
    }
}

/// An engine with the fuzz functions, [`FuzzClock`] and [`limits`].
pub fn engine(lanes: BranchLanes) -> Engine {
    engine_with(lanes, None)
}

/// [`engine`], with `processes` for its process lanes.
fn engine_with(lanes: BranchLanes, processes: Option<Arc<dyn ProcessPool>>) -> Engine {
    let options = EngineOptions {
        lanes,
        processes,
        cpus: 2,
        limits: limits(),
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
    [
        "States.UUID",
        "States.MathRandom",
        "Time",
        "Wait",
        "$uuid",
        "$random",
        "$now",
        "$millis",
    ]
    .iter()
    .any(|s| definition.contains(s))
}

/// Runs `workflow` inline, on threads and (when it has a Parallel or Map state) with every
/// branch in a process lane, and panics if they disagree: all must succeed or fail, and
/// successes must give the same output. (Which of two failing branches reports first may
/// differ on threads, as on AWS, so failures are compared by kind only.)
pub fn differential(workflow: &Workflow, definition: &str, input: &Json) {
    let inline = execute(&engine(BranchLanes::Inline), workflow, input);
    // Nothing to compare when inline hit a limit: the other lanes would only spend
    // EXECUTION_TIME each (a loop the generator made) for a comparison `assert_agree` skips.
    if nondeterministic(definition) || ended_by_a_limit(&inline) {
        return;
    }
    let what = || format!("{definition} with {input}");
    let threads = execute(&engine(BranchLanes::Threads(3)), workflow, input);
    assert_agree(&inline, &threads, "threads", &what());
    // Without a Parallel or Map state no branch goes to a process.
    if !(definition.contains(r#""Parallel""#) || definition.contains(r#""Map""#)) {
        return;
    }
    let pool = in_process_pool::InProcessPool::new(
        Arc::new(functions()),
        Arc::new(FuzzClock::new()),
        workflow.clone(),
    );
    let processes = engine_with(BranchLanes::Process, Some(Arc::new(pool)));
    let in_processes = execute(&processes, workflow, input);
    assert_agree(&inline, &in_processes, "process", &what());
}

/// Panics unless two runs of the same execution agree: both succeed with the same output, or
/// both fail (which of two failing branches reports first may differ, as on AWS). Outputs
/// are compared [`without_ids`].
pub fn assert_agree(
    inline: &Result<Json, StatesError>,
    other: &Result<Json, StatesError>,
    lanes: &str,
    what: &str,
) {
    if ended_by_a_limit(inline) || ended_by_a_limit(other) {
        return;
    }
    match (inline, other) {
        (Ok(a), Ok(b)) => assert_eq!(
            without_ids(&caught_errors_masked(a)),
            without_ids(&caught_errors_masked(b)),
            "inline and {lanes} lanes disagree on {what}"
        ),
        (Err(_), Err(_)) => {}
        // When two branches fail, which error the Parallel reports depends on which failed
        // first (inline: the first in order; on threads: the first in time, as on AWS); a
        // Catch may match one and not the other. An output that holds a caught error is
        // therefore compared by shape only, and may stand against a failure.
        (Ok(caught), Err(_)) | (Err(_), Ok(caught)) if holds_an_error(caught) => {}
        _ => panic!("inline gave {inline:?} but {lanes} lanes {other:?} for {what}"),
    }
}

/// Whether `json` holds a caught error (an object with `Error` and `Cause`).
fn holds_an_error(json: &Json) -> bool {
    match json {
        Json::Object(map) => {
            (map.contains_key("Error") && map.contains_key("Cause"))
                || map.values().any(holds_an_error)
        }
        Json::Array(items) => items.iter().any(holds_an_error),
        _ => false,
    }
}

/// `json` with every caught error (an object with `Error` and `Cause`) replaced by `"<error>"`
/// (see [`assert_agree`] for why which error was caught may differ between lanes).
fn caught_errors_masked(json: &Json) -> Json {
    match json {
        Json::Object(map) if map.contains_key("Error") && map.contains_key("Cause") => {
            Json::String("<error>".to_string())
        }
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), caught_errors_masked(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(caught_errors_masked).collect()),
        other => other.clone(),
    }
}

/// `json` with the ids every invocation draws at random (a Lambda request id is a v4 UUID,
/// and the X-Ray trace and parent ids in the `lambda:invoke` response derive from it) masked:
/// every run of hex digits and hyphens holding 8 or more hex digits, in keys and strings,
/// becomes `#`; and the history event ids causes quote (`event id #14`) become `#N`. The same
/// mask on both sides keeps every other difference.
pub fn without_ids(json: &Json) -> Json {
    fn mask(text: &str) -> String {
        fn flush(out: &mut String, run: &mut String) {
            if run.chars().filter(char::is_ascii_hexdigit).count() >= 8 {
                out.push('#');
            } else {
                out.push_str(run);
            }
            run.clear();
        }
        let mut out = String::with_capacity(text.len());
        let mut run = String::new();
        for ch in text.chars() {
            if ch.is_ascii_hexdigit() || ch == '-' {
                run.push(ch);
            } else {
                flush(&mut out, &mut run);
                out.push(ch);
            }
        }
        flush(&mut out, &mut run);
        event_ids(&out)
    }
    // A cause names the history event its state entered at; after a Parallel or Map whose
    // branch failed, how many events the other branches made before they were cancelled
    // depends on how they interleaved (on AWS too), so later ids differ between lanes.
    fn event_ids(text: &str) -> String {
        const MARK: &str = "event id #";
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(MARK) {
            out.push_str(&rest[..at + MARK.len()]);
            rest = rest[at + MARK.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
            out.push('N');
        }
        out.push_str(rest);
        out
    }
    match json {
        Json::String(s) => Json::String(mask(s)),
        Json::Array(items) => Json::Array(items.iter().map(without_ids).collect()),
        Json::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (mask(k), without_ids(v))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_masked_and_nothing_else() {
        let a = json!({"id": "efb444ec-4d80-41eb-97b1-1a292bc3f1e5", "t": "root=1-00000000-efb444ec4d8041eb97b11a29;parent=1a292bc3f1e5aaaa", "n": 1, "s": "cafe"});
        let b = json!({"id": "f4315202-0dbc-4ee8-94d7-56837801b444", "t": "root=1-00000000-f43152020dbc4ee894d75683;parent=56837801b444bbbb", "n": 1, "s": "cafe"});
        assert_eq!(without_ids(&a), without_ids(&b));
        assert_eq!(without_ids(&a)["s"], "cafe");
        assert_ne!(
            without_ids(&a),
            without_ids(&json!({"id": "x", "t": "", "n": 1, "s": "cafe"}))
        );
        let caught = |error: &str| json!({"n": 1, "e": {"Error": error, "Cause": "why"}});
        assert_eq!(
            caught_errors_masked(&caught("A")),
            caught_errors_masked(&caught("B"))
        );
        assert!(holds_an_error(&json!([caught("A")])) && !holds_an_error(&json!({"n": 1})));
        assert_ne!(
            caught_errors_masked(&caught("A")),
            caught_errors_masked(&json!({"n": 2, "e": "x"}))
        );
        let cause = |id: u32| {
            json!(format!(
                "the state 'S' (entered at the event id #{id}). The"
            ))
        };
        assert_eq!(without_ids(&cause(14)), without_ids(&cause(16)));
        assert_eq!(
            without_ids(&cause(7)),
            json!("the state 'S' (entered at the event id #N). The")
        );
    }
}
