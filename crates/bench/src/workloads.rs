//! The workflows the suite runs: small synthetic ones written to a directory, and the
//! example applications.
//!
//! - Interaction: `Produce -> Consume`. `produce` returns a state of N bytes (a string under
//!   `payload`) and stamps `returned_ns` with `CLOCK_MONOTONIC` as it returns; `consume`
//!   reads the same clock first thing and returns the difference. The clock is system-wide,
//!   so the number is comparable when the two functions run in different processes. The
//!   payload is one string, the cheapest state to serialize: that favours the baseline.
//!   `consume` also says whether it ran in another process than `produce`, which the case
//!   checks against its mode. The process-lane mode runs `Consume` as the one branch of a
//!   Parallel state.
//! - Fan-out: a Parallel state of N branches, or a Map state over N items, whose branches
//!   call `noop` (returns a constant). The end-to-end time is the fan-out's overhead.

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::error::BenchError;

const PRODUCE_PY: &str = r#"import os
import time

_payloads = {}


def main(args):
    n = args["bytes"]
    payload = _payloads.get(n)
    if payload is None:
        payload = _payloads[n] = "x" * n
    return {
        "payload": payload,
        "pid": os.getpid(),
        "returned_ns": time.clock_gettime_ns(time.CLOCK_MONOTONIC),
    }
"#;

const CONSUME_PY: &str = r#"import os
import time


def main(args):
    entered = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    return {
        "interaction_ns": entered - args["returned_ns"],
        "bytes": len(args["payload"]),
        "crossed_processes": os.getpid() != args["pid"],
    }
"#;

const NOOP_PY: &str = r#"def main(args):
    return {"done": 1}
"#;

/// The output field the interaction workflow reports its measurement in.
pub const INTERACTION_FIELD: &str = "interaction_ns";

/// The output field that says whether `consume` ran in another process than `produce`.
pub const CROSSED_FIELD: &str = "crossed_processes";

/// Which fan-out state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fanout {
    Parallel,
    Map,
}

impl Fanout {
    pub fn name(self) -> &'static str {
        match self {
            Fanout::Parallel => "parallel",
            Fanout::Map => "map",
        }
    }
}

/// Writes the interaction workflow into `dir` (created if missing).
pub fn write_interaction(dir: &Path) -> Result<(), BenchError> {
    write_interaction_functions(dir)?;
    let definition = json!({
        "Comment": "faastlane bench: one hand-off of a state of N bytes",
        "StartAt": "Produce",
        "States": {
            "Produce": {"Type": "Task", "Resource": "produce", "Next": "Consume"},
            "Consume": {"Type": "Task", "Resource": "consume", "End": true}
        }
    });
    write_json(&dir.join("workflow.json"), &definition)
}

/// Writes the interaction workflow of the process-lane mode into `dir`: `Consume` is the one
/// branch of a Parallel state, so with `--lanes process` it runs in a worker process and the
/// hand-off crosses the process boundary (the state encoded into shared memory, a worker
/// handed the job, the state decoded there). Its output is the same as [`write_interaction`]'s.
pub fn write_interaction_process(dir: &Path) -> Result<(), BenchError> {
    write_interaction_functions(dir)?;
    let definition = json!({
        "Comment": "faastlane bench: one hand-off of a state of N bytes into a process lane",
        "StartAt": "Produce",
        "States": {
            "Produce": {"Type": "Task", "Resource": "produce", "Next": "Hand over"},
            "Hand over": {
                "Type": "Parallel",
                "Branches": [{
                    "StartAt": "Consume",
                    "States": {"Consume": {"Type": "Task", "Resource": "consume", "End": true}}
                }],
                "OutputPath": "$[0]",
                "End": true
            }
        }
    });
    write_json(&dir.join("workflow.json"), &definition)
}

fn write_interaction_functions(dir: &Path) -> Result<(), BenchError> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("produce.py"), PRODUCE_PY)?;
    std::fs::write(dir.join("consume.py"), CONSUME_PY)?;
    Ok(())
}

/// The input that makes `produce` return `bytes` bytes.
pub fn interaction_input(bytes: u64) -> Json {
    json!({ "bytes": bytes })
}

/// Writes a fan-out workflow of `branches` branches into `dir`; returns its input.
pub fn write_fanout(dir: &Path, kind: Fanout, branches: usize) -> Result<Json, BenchError> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("noop.py"), NOOP_PY)?;
    let body = |name: &str| json!({"StartAt": name, "States": {name: {"Type": "Task", "Resource": "noop", "End": true}}});
    let (state, input) = match kind {
        Fanout::Parallel => (
            json!({
                "Type": "Parallel",
                "Branches": (0..branches).map(|i| body(&format!("Branch {i}"))).collect::<Vec<_>>(),
                "End": true
            }),
            json!({"n": branches}),
        ),
        Fanout::Map => (
            json!({
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": body("Item"),
                "End": true
            }),
            json!({"items": (0..branches).collect::<Vec<_>>()}),
        ),
    };
    let definition = json!({
        "Comment": format!("faastlane bench: {} of {branches} trivial branches", kind.name()),
        "StartAt": "Fan out",
        "States": {"Fan out": state}
    });
    write_json(&dir.join("workflow.json"), &definition)?;
    Ok(input)
}

/// An example application: its directory, input and expected output.
#[derive(Clone, Debug)]
pub struct App {
    pub name: String,
    pub dir: PathBuf,
    pub input: Json,
    pub expected: Option<Json>,
}

impl App {
    /// Reads `examples/NAME/{input,expected}.json`.
    pub fn load(examples: &Path, name: &str) -> Result<App, BenchError> {
        let dir = examples.join(name);
        let read = |file: &str| -> Result<Json, BenchError> {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| BenchError::Workflow {
                path: path.clone(),
                message: e.to_string(),
            })?;
            serde_json::from_str(&text).map_err(|e| BenchError::Workflow {
                path,
                message: e.to_string(),
            })
        };
        let input = read("input.json")?;
        let expected = dir
            .join("expected.json")
            .is_file()
            .then(|| read("expected.json"))
            .transpose()?;
        Ok(App {
            name: name.to_owned(),
            dir,
            input,
            expected,
        })
    }
}

/// Counts the branches of the first Parallel state of a definition (the FINRA variants).
pub fn parallel_branches(definition: &Json) -> Option<usize> {
    definition["States"]
        .as_object()?
        .values()
        .find(|s| s["Type"] == "Parallel")
        .and_then(|s| s["Branches"].as_array())
        .map(Vec::len)
}

fn write_json(path: &Path, value: &Json) -> Result<(), BenchError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| BenchError::Workflow {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_workflows_are_valid_asl() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_interaction(dir.path()).expect("written");
        let text = std::fs::read_to_string(dir.path().join("workflow.json")).expect("read");
        asl::load_str(&text).expect("valid interaction workflow");
        for kind in [Fanout::Parallel, Fanout::Map] {
            let sub = dir.path().join(kind.name());
            write_fanout(&sub, kind, 10).expect("written");
            let text = std::fs::read_to_string(sub.join("workflow.json")).expect("read");
            asl::load_str(&text).expect("valid fan-out workflow");
            let definition: Json = serde_json::from_str(&text).expect("json");
            if kind == Fanout::Parallel {
                assert_eq!(parallel_branches(&definition), Some(10));
            }
        }
    }
}
