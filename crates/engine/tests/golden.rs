//! Golden tests: one folder per case under `tests/golden/`, each with `definition.json`,
//! an optional `input.json`, and the expectation:
//! - `expected.json`: the execution succeeds with exactly this output;
//! - `error.json`: the execution fails with `{"error": ..., "cause": ...}`; `cause` may be
//!   left out (not compared) or given as `{"contains": "..."}`;
//! - `diagnostics.json`: the definition is invalid; a list of `{"pointer": ..., "contains": ...}`
//!   that must all be among the reported problems (other problems fail the test too).
//!
//! - `limits.json` (optional): `{"payload_bytes": N}` runs the case with that payload limit
//!   (`asl::Limits::payload_bytes`);
//! - `history.json` (optional): the execution's history events, exactly (branches inline);
//!   every case's history, on every lane, must be numbered 1..=n from `ExecutionStarted` to
//!   how the execution ended.
//!
//! Tasks call the native functions in `functions()` below. Time is a manual clock starting
//! at 2024-01-01T00:00:00Z, so Wait and Retry back-off take no real time, and the execution
//! is named `golden`. `FAASTLANE_BLESS=1 cargo test --test golden` rewrites the expected
//! files from what the engine does now: review the diff before committing it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use asl::{StatesError, Value};
use engine::history::EventType;
use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, HistoryEvent, HistoryLog, ManualClock,
    NativeRuntime, Workflow,
};
use serde_json::{Value as Json, json};

#[path = "common/in_process_pool.rs"]
mod in_process_pool;

fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

fn as_json(v: &Value) -> Result<Json, StatesError> {
    v.to_json()
        .map_err(|e| StatesError::new("Test.NotJson", e.to_string()))
}

/// The functions golden definitions may call (plain names or Lambda ARNs).
fn functions(clock: Arc<ManualClock>) -> NativeRuntime {
    let attempts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    NativeRuntime::new()
        // Returns its input.
        .with("echo", |_, input| Ok(input))
        // {"a": 1, "b": 2} -> 3
        .with("add", |_, input| {
            let j = as_json(&input)?;
            let a = j["a"]
                .as_f64()
                .ok_or_else(|| StatesError::new("TypeError", "a is not a number"))?;
            let b = j["b"]
                .as_f64()
                .ok_or_else(|| StatesError::new("TypeError", "b is not a number"))?;
            let sum = a + b;
            Ok(Value::Json(if sum.fract() == 0.0 {
                json!(sum as i64)
            } else {
                json!(sum)
            }))
        })
        // A number -> twice the number.
        .with("double", |_, input| {
            let n = as_json(&input)?
                .as_f64()
                .ok_or_else(|| StatesError::new("TypeError", "not a number"))?;
            Ok(Value::Json(if n.fract() == 0.0 {
                json!((n * 2.0) as i64)
            } else {
                json!(n * 2.0)
            }))
        })
        // A string -> upper case.
        .with("upper", |_, input| {
            let j = as_json(&input)?;
            let s = j
                .as_str()
                .ok_or_else(|| StatesError::new("TypeError", "not a string"))?;
            Ok(Value::Json(json!(s.to_uppercase())))
        })
        // {"who": W} -> "Hello, W!": the HelloFunction of the Step Functions developer guide's
        // Lambda tutorial, so the guide's InputPath/ResultPath/OutputPath examples run verbatim.
        .with("hello", |_, input| {
            let j = as_json(&input)?;
            let who = j["who"]
                .as_str()
                .ok_or_else(|| StatesError::new("TypeError", "who is not a string"))?;
            Ok(Value::Json(json!(format!("Hello, {who}!"))))
        })
        // {"error": E, "cause": C} -> fails with E and C.
        .with("fail", |_, input| {
            let j = as_json(&input)?;
            Err(StatesError::new(
                j["error"].as_str().unwrap_or("CustomError"),
                j["cause"].as_str().unwrap_or("failed on purpose"),
            ))
        })
        // {"failures": N, "key": K}: fails with "Flaky" the first N calls for key K, then
        // returns {"attempts": calls}.
        .with("flaky", move |_, input| {
            let j = as_json(&input)?;
            let key = j["key"].as_str().unwrap_or("default").to_string();
            let failures = j["failures"].as_u64().unwrap_or(1);
            let mut map = attempts.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(key).or_insert(0);
            *n += 1;
            if *n <= failures {
                Err(StatesError::new("Flaky", format!("attempt {n} failed")))
            } else {
                Ok(Value::Json(json!({"attempts": *n})))
            }
        })
        // {"seconds": S}: takes S seconds of (manual) time, then returns {"slept": S}.
        .with("slow", move |_, input| {
            let j = as_json(&input)?;
            let s = j["seconds"].as_u64().unwrap_or(1);
            clock.advance(Duration::from_secs(s));
            Ok(Value::Json(json!({"slept": s})))
        })
        // Returns what the function sees of its invocation.
        .with("whoami", |call, _| {
            Ok(Value::Json(json!({
                "function": call.function,
                "qualifier": call.qualifier,
                "arn": call.invoked_function_arn(),
                "state": call.state_name,
            })))
        })
}

struct Case {
    dir: PathBuf,
}

impl Case {
    fn read(&self, name: &str) -> Option<Json> {
        let path = self.dir.join(name);
        let text = std::fs::read_to_string(&path).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    fn write(&self, name: &str, value: &Json) {
        let text = serde_json::to_string_pretty(value).expect("serializable") + "\n";
        std::fs::write(self.dir.join(name), text).expect("writable case dir");
    }

    fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/golden exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("definition.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|dir| Case { dir }).collect()
}

/// Runs one case; returns a description of the mismatch, if any.
fn check(case: &Case, lanes: BranchLanes, bless: bool) -> Option<String> {
    let text = std::fs::read_to_string(case.dir.join("definition.json")).expect("definition.json");
    let input = case.read("input.json").unwrap_or(json!({}));
    let machine = match asl::load_str(&text) {
        Ok(m) => m,
        Err(diags) => {
            let got: Vec<Json> = diags
                .iter()
                .map(|d| json!({"pointer": d.pointer, "message": d.message}))
                .collect();
            if bless {
                let blessed: Vec<Json> = diags
                    .iter()
                    .map(|d| json!({"pointer": d.pointer, "contains": d.message}))
                    .collect();
                case.write("diagnostics.json", &Json::Array(blessed));
                return None;
            }
            let Some(Json::Array(want)) = case.read("diagnostics.json") else {
                return Some(format!("definition rejected: {}", Json::Array(got)));
            };
            let mut problems = Vec::new();
            for w in &want {
                let found = diags.iter().any(|d| {
                    Some(d.pointer.as_str()) == w["pointer"].as_str()
                        && w["contains"].as_str().is_none_or(|c| d.message.contains(c))
                });
                if !found {
                    problems.push(format!("missing diagnostic {w}"));
                }
            }
            if diags.len() != want.len() {
                problems.push(format!(
                    "expected {} diagnostics, got {}: {}",
                    want.len(),
                    diags.len(),
                    Json::Array(got)
                ));
            }
            return (!problems.is_empty()).then(|| problems.join("; "));
        }
    };
    if case.read("diagnostics.json").is_some() {
        return Some("definition was expected to be invalid but loaded".to_string());
    }
    let clock = Arc::new(ManualClock::new(start_time()));
    let runtime = Arc::new(functions(clock.clone()));
    let workflow = Workflow {
        name: "golden".to_string(),
        machine,
    };
    // Process lanes: branches go through the engine's process lane to in-process workers
    // (see `in_process_pool`), their values through the runtime's codec.
    let processes = (lanes == BranchLanes::Process).then(|| {
        Arc::new(in_process_pool::InProcessPool::new(
            runtime.clone(),
            clock.clone(),
            workflow.clone(),
        )) as Arc<dyn engine::lanes::ProcessPool>
    });
    let mut options = EngineOptions {
        lanes,
        processes,
        ..EngineOptions::default()
    };
    if let Some(limits) = case.read("limits.json") {
        options.limits.payload_bytes = limits["payload_bytes"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok());
    }
    let engine = Engine::with_options(runtime, options).with_clock(clock);
    // A recorded history keeps branches in this process, so process lanes run unrecorded:
    // their branches then really go through the process lane.
    let log = (lanes != BranchLanes::Process).then(|| Arc::new(HistoryLog::default()));
    let result = engine.execute(
        &workflow,
        input,
        &ExecutionOptions {
            name: Some("golden".to_string()),
            history: log.clone().map(|l| l as Arc<dyn engine::HistorySink>),
            ..ExecutionOptions::default()
        },
    );
    if let Some(log) = log
        && let Some(problem) = check_history(case, &log.events(), lanes, bless)
    {
        return Some(problem);
    }
    match result.into_json() {
        Ok(output) => {
            let output = mask_json(&output);
            if bless {
                case.write("expected.json", &output);
                let _ = std::fs::remove_file(case.dir.join("error.json"));
                return None;
            }
            match case.read("expected.json") {
                Some(want) if want == output => None,
                Some(want) => Some(format!("output {output}\n   expected {want}")),
                None => Some(format!("succeeded with {output} but an error was expected")),
            }
        }
        Err(err) => {
            if bless {
                case.write(
                    "error.json",
                    &json!({"error": err.error, "cause": err.cause}),
                );
                let _ = std::fs::remove_file(case.dir.join("expected.json"));
                return None;
            }
            let Some(want) = case.read("error.json") else {
                return Some(format!("failed with {err} but output was expected"));
            };
            if want["error"].as_str() != Some(err.error.as_str()) {
                return Some(format!(
                    "error {} (cause: {}), expected {}",
                    err.error, err.cause, want["error"]
                ));
            }
            match &want["cause"] {
                Json::Null => None,
                Json::String(c) if *c == err.cause => None,
                Json::Object(o)
                    if o.get("contains")
                        .and_then(Json::as_str)
                        .is_some_and(|c| err.cause.contains(c)) =>
                {
                    None
                }
                other => Some(format!("cause '{}', expected {other}", err.cause)),
            }
        }
    }
}

/// Every history is numbered 1..=n, each event following an earlier one, and starts and ends
/// with the execution's events; inline, a case's `history.json` (when present) is compared
/// event by event.
fn check_history(
    case: &Case,
    events: &[HistoryEvent],
    lanes: BranchLanes,
    bless: bool,
) -> Option<String> {
    for (i, e) in events.iter().enumerate() {
        if e.id != i as u64 + 1 || e.previous_event_id >= e.id {
            return Some(format!(
                "history event {i} is numbered {} after {}",
                e.id, e.previous_event_id
            ));
        }
    }
    let first = events.first().map(|e| e.kind);
    if first != Some(EventType::ExecutionStarted) {
        return Some(format!("history starts with {first:?}"));
    }
    let last = events.last().map(|e| e.kind);
    let ends = [
        EventType::ExecutionSucceeded,
        EventType::ExecutionFailed,
        EventType::ExecutionTimedOut,
    ];
    if !last.is_some_and(|k| ends.contains(&k)) {
        return Some(format!("history ends with {last:?}"));
    }
    if lanes != BranchLanes::Inline {
        return None;
    }
    let text = serde_json::to_string(events).expect("events serialize");
    let got: Json =
        serde_json::from_str(&mask_trace_ids(&mask_uuids(&text))).expect("masked events parse");
    let want = case.read("history.json")?;
    if bless {
        case.write("history.json", &got);
        return None;
    }
    (want != got).then(|| {
        format!(
            "history {}\n   expected {}",
            serde_json::to_string_pretty(&got).unwrap_or_default(),
            serde_json::to_string_pretty(&want).unwrap_or_default()
        )
    })
}

/// `json` with its request ids and trace ids masked (see [`mask_uuids`], [`mask_trace_ids`]).
fn mask_json(json: &Json) -> Json {
    let text = json.to_string();
    serde_json::from_str(&mask_trace_ids(&mask_uuids(&text))).expect("masked output parses")
}

/// `text` with the random ids of every X-Ray trace header Lambda returns
/// (`root=1-<time>-<24 hex>;parent=<16 hex>`) replaced by `<trace>` and `<parent>`.
fn mask_trace_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("root=1-") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let hex =
            |s: &str, n: usize| s.len() >= n && s.as_bytes()[..n].iter().all(u8::is_ascii_hexdigit);
        let ids = tail
            .get(16..)
            .filter(|t| hex(t, 24) && t[24..].starts_with(";parent=") && hex(&t[32..], 16));
        match ids {
            Some(t) => {
                out.push_str(&tail[..16]);
                out.push_str("<trace>;parent=<parent>");
                rest = &t[48..];
            }
            None => {
                out.push_str("root=1-");
                rest = &tail[7..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` with every UUID (a Lambda request id) replaced by `<uuid>`.
fn mask_uuids(text: &str) -> String {
    let shape = |s: &[u8]| {
        s.len() == 36
            && s.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if i + 36 <= bytes.len() && shape(&bytes[i..i + 36]) {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let ch = text[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

#[test]
fn golden_cases_inline() {
    run_all(BranchLanes::Inline);
}

#[test]
fn golden_cases_on_threads() {
    // Same expectations when branches run on threads: order and semantics must not change.
    run_all(BranchLanes::Threads(4));
}

#[test]
fn golden_cases_in_process_lanes() {
    // Every branch through the process lane's dispatch, encoding and decoding.
    run_all(BranchLanes::Process);
}

fn run_all(lanes: BranchLanes) {
    let bless = std::env::var_os("FAASTLANE_BLESS").is_some() && lanes == BranchLanes::Inline;
    let cases = cases();
    assert!(!cases.is_empty(), "no golden cases found");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c, lanes, bless).map(|m| format!("{}: {m}", c.name())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
