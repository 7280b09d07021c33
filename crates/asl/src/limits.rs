//! Bounds on what one definition or execution may ask of a shared server: each is checked
//! where it applies (the loader, the engine, a worker process) and refused with an error that
//! names the limit.
//!
//! The defaults are what `faastlane run` has always done: Step Functions' definition size and
//! history limits, generous state bounds, and no payload, Map or time bound (large states are
//! the point of running functions in one process), only a warning for a state that would
//! break Step Functions' payload limit. A server sets its own; [`Limits::aws`] is Step
//! Functions' own.

use std::io;
use std::time::Duration;

use serde_json::Value as Json;

use crate::load::Diagnostic;
use crate::value::{Kind, Value};

/// Step Functions' maximum definition size: 1 MB of UTF-8.
pub const AWS_MAX_DEFINITION_BYTES: usize = 1 << 20;

/// Step Functions' execution history limit.
pub const AWS_MAX_HISTORY_EVENTS: u64 = 25_000;

/// Step Functions' limit on a state's input or output: 256 KiB of UTF-8 JSON.
pub const AWS_MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// What a definition and an execution may use. `None` means unbounded. Serializable: a
/// server hands its limits to the executor processes that run its executions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Bytes of definition text (or of the compact JSON of a parsed definition).
    pub definition_bytes: Option<usize>,
    /// States in the definition, counting those inside Parallel branches and Map processors.
    pub states: Option<usize>,
    /// How deeply Parallel and Map states nest (a top-level Parallel is 1).
    pub state_nesting: Option<usize>,
    /// Bytes of an execution's input, as compact JSON.
    pub input_bytes: Option<usize>,
    /// Bytes of an execution's output, as compact JSON.
    pub output_bytes: Option<usize>,
    /// Bytes of one state's input or output, as compact JSON: over it the state fails with
    /// `States.DataLimitExceeded` (Step Functions: [`AWS_MAX_PAYLOAD_BYTES`]).
    pub payload_bytes: Option<usize>,
    /// When `payload_bytes` is unset: a state input or output over this many bytes is
    /// reported once per execution (a `tracing` warning) as one that would fail on AWS.
    pub payload_warning_bytes: Option<usize>,
    /// Items one Map state may iterate over.
    pub map_items: Option<usize>,
    /// History events after which an execution fails (a state machine that loops must end).
    pub history_events: Option<u64>,
    /// Time one execution may take, on the engine's clock, whatever its `TimeoutSeconds`.
    pub execution_time: Option<Duration>,
    /// Address space (`RLIMIT_AS`) of each process that runs functions for an execution (a
    /// process-lane worker); an allocation beyond it fails in that process only.
    pub executor_memory_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            definition_bytes: Some(AWS_MAX_DEFINITION_BYTES),
            states: Some(10_000),
            state_nesting: Some(64),
            input_bytes: None,
            output_bytes: None,
            payload_bytes: None,
            payload_warning_bytes: Some(AWS_MAX_PAYLOAD_BYTES),
            map_items: None,
            history_events: Some(AWS_MAX_HISTORY_EVENTS),
            execution_time: None,
            executor_memory_bytes: None,
        }
    }
}

impl Limits {
    /// No bound at all (tests, trusted library use).
    pub fn unbounded() -> Self {
        Limits {
            definition_bytes: None,
            states: None,
            state_nesting: None,
            input_bytes: None,
            output_bytes: None,
            payload_bytes: None,
            payload_warning_bytes: None,
            map_items: None,
            history_events: None,
            execution_time: None,
            executor_memory_bytes: None,
        }
    }

    /// Step Functions' limits: the defaults with its 256 KiB payload limit enforced.
    pub fn aws() -> Self {
        Limits {
            payload_bytes: Some(AWS_MAX_PAYLOAD_BYTES),
            history_events: Some(AWS_MAX_HISTORY_EVENTS),
            ..Limits::default()
        }
    }

    /// Refuses a definition text longer than [`Limits::definition_bytes`].
    pub fn check_definition_size(&self, bytes: usize) -> Result<(), Diagnostic> {
        match self.definition_bytes {
            Some(max) if bytes > max => Err(Diagnostic {
                pointer: String::new(),
                state: None,
                message: format!(
                    "the definition is {bytes} bytes, more than the limit of {max} bytes"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Counts states and Parallel/Map nesting in a parsed definition, before validation.
    pub fn check_states(&self, definition: &Json) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut count = 0usize;
        // (machine, its JSON pointer, how many Parallel/Map states enclose it)
        let mut stack = vec![(definition, String::new(), 0usize)];
        while let Some((machine, pointer, nesting)) = stack.pop() {
            let Some(states) = machine.get("States").and_then(Json::as_object) else {
                continue;
            };
            for (name, state) in states {
                count += 1;
                let state_pointer = format!("{pointer}/States/{}", escape(name));
                let mut children = Vec::new();
                if let Some(branches) = state.get("Branches").and_then(Json::as_array) {
                    children.extend(
                        branches
                            .iter()
                            .enumerate()
                            .map(|(i, b)| (b, format!("{state_pointer}/Branches/{i}"))),
                    );
                }
                for field in ["ItemProcessor", "Iterator"] {
                    if let Some(processor) = state.get(field) {
                        children.push((processor, format!("{state_pointer}/{field}")));
                    }
                }
                if children.is_empty() {
                    continue;
                }
                if let Some(max) = self.state_nesting
                    && nesting + 1 > max
                {
                    problems.push(Diagnostic {
                        pointer: state_pointer,
                        state: Some(name.clone()),
                        message: format!(
                            "Parallel and Map states nest more than {max} deep (the limit)"
                        ),
                    });
                    continue;
                }
                stack.extend(children.into_iter().map(|(m, p)| (m, p, nesting + 1)));
            }
        }
        if let Some(max) = self.states
            && count > max
        {
            problems.push(Diagnostic {
                pointer: String::new(),
                state: None,
                message: format!("the definition has {count} states, more than the limit of {max}"),
            });
        }
        problems
    }
}

/// Escapes a JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Whether `value`, as compact JSON, is longer than `max` bytes. Counts without building the
/// text and stops at `max`: the cost is bounded by `max` bytes of serialization whatever the
/// value's size. A runtime object is walked field by field (each field converted on its
/// own); a part with no JSON form counts as nothing (converting it fails elsewhere).
pub fn payload_exceeds(value: &Value, max: usize) -> bool {
    let mut budget = Budget { left: max };
    measure(value, &mut budget, 0).is_err()
}

/// Runtime objects nested deeper than this count as nothing (they have no JSON form: a
/// runtime refuses to convert them), so a self-referencing object ends the walk.
const MAX_MEASURE_DEPTH: usize = 1_000;

/// What is left of the byte budget; writing past it fails.
struct Budget {
    left: usize,
}

impl io::Write for Budget {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.left = self
            .left
            .checked_sub(buf.len())
            .ok_or_else(|| io::Error::other("over the payload limit"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn measure(value: &Value, budget: &mut Budget, depth: usize) -> io::Result<()> {
    use io::Write;
    let json = |j: &Json, budget: &mut Budget| {
        serde_json::to_writer(&mut *budget, j).map_err(io::Error::other)
    };
    let key = |k: &str, budget: &mut Budget| {
        serde_json::to_writer(&mut *budget, k).map_err(io::Error::other)?;
        budget.write_all(b":")
    };
    match value {
        Value::Json(j) => json(j, budget),
        Value::Object(fields) => {
            budget.write_all(b"{")?;
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    budget.write_all(b",")?;
                }
                key(k, budget)?;
                measure(v, budget, depth + 1)?;
            }
            budget.write_all(b"}")
        }
        Value::Array(items) => {
            budget.write_all(b"[")?;
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    budget.write_all(b",")?;
                }
                measure(v, budget, depth + 1)?;
            }
            budget.write_all(b"]")
        }
        Value::Foreign(f) => match f.json_len_within(budget.left) {
            Some(Some(len)) => {
                budget.left -= len;
                Ok(())
            }
            Some(None) => Err(io::Error::other("over the payload limit")),
            None if depth >= MAX_MEASURE_DEPTH => Ok(()),
            None => measure_foreign(f.as_ref(), budget, depth),
        },
    }
}

/// A runtime object measured part by part (no single pass from its runtime).
fn measure_foreign(
    f: &dyn crate::value::Foreign,
    budget: &mut Budget,
    depth: usize,
) -> io::Result<()> {
    use io::Write;
    let json = |j: &Json, budget: &mut Budget| {
        serde_json::to_writer(&mut *budget, j).map_err(io::Error::other)
    };
    let key = |k: &str, budget: &mut Budget| {
        serde_json::to_writer(&mut *budget, k).map_err(io::Error::other)?;
        budget.write_all(b":")
    };
    match f.kind() {
        Kind::Object => {
            budget.write_all(b"{")?;
            for (i, k) in f.keys().iter().enumerate() {
                if i > 0 {
                    budget.write_all(b",")?;
                }
                key(k, budget)?;
                if let Some(v) = f.get(k) {
                    measure(&v, budget, depth + 1)?;
                }
            }
            budget.write_all(b"}")
        }
        Kind::Array => {
            budget.write_all(b"[")?;
            for i in 0..f.len().unwrap_or(0) {
                if i > 0 {
                    budget.write_all(b",")?;
                }
                if let Some(v) = f.index(i) {
                    measure(&v, budget, depth + 1)?;
                }
            }
            budget.write_all(b"]")
        }
        _ => match f.to_json() {
            Ok(j) => json(&j, budget),
            Err(_) => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn payload_size_is_the_compact_json_length() {
        let v = Value::Json(json!({"a": [1, "x\"y"], "b": null}));
        let exact = serde_json::to_vec(&json!({"a": [1, "x\"y"], "b": null}))
            .unwrap()
            .len();
        assert!(!payload_exceeds(&v, exact));
        assert!(payload_exceeds(&v, exact - 1));
        let mixed = Value::Object(
            [
                ("k".to_string(), Value::Json(json!("vv"))),
                ("l".to_string(), Value::Array(vec![Value::Json(json!(1))])),
            ]
            .into_iter()
            .collect(),
        );
        // {"k":"vv","l":[1]} is 18 bytes
        assert!(!payload_exceeds(&mixed, 18));
        assert!(payload_exceeds(&mixed, 17));
    }
}
