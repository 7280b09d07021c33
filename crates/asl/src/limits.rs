//! Bounds on what one definition or execution may ask of a shared server: each is checked
//! where it applies (the loader, the engine, a worker process) and refused with an error that
//! names the limit.
//!
//! The defaults are what `faastlane run` has always done: Step Functions' definition size and
//! history limits, generous state bounds, and no payload, Map or time bound (large states are
//! the point of running functions in one process). A server sets its own.

use std::time::Duration;

use serde_json::Value as Json;

use crate::load::Diagnostic;

/// Step Functions' maximum definition size: 1 MB of UTF-8.
pub const AWS_MAX_DEFINITION_BYTES: usize = 1 << 20;

/// Step Functions' execution history limit.
pub const AWS_MAX_HISTORY_EVENTS: u64 = 25_000;

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
            map_items: None,
            history_events: None,
            execution_time: None,
            executor_memory_bytes: None,
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
