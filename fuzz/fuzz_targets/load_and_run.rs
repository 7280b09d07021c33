//! Parse, validate and run arbitrary definitions on arbitrary inputs.
//!
//! The fuzz input is `DEFINITION` or `DEFINITION\n---\nINPUT`. Nothing may panic, hang or
//! grow without bound: every Task echoes its input, time is `FuzzClock` (Wait states and
//! retries take no real time; an execution ends after about 2 real seconds) and executions
//! stop after 2,000 history events.
//!
//! Run: `scripts/fuzz.sh SECONDS load_and_run`.
#![no_main]

use std::sync::Arc;

use asl::{StatesError, Value};
use engine::{
    Call, Engine, EngineOptions, ExecutionOptions, PrepareError, Runtime, TaskFailure, Workflow,
};
use libfuzzer_sys::fuzz_target;

/// Every function exists and returns its input.
struct Echo;

impl Runtime for Echo {
    fn prepare(&self, _functions: &[&str]) -> Vec<PrepareError> {
        Vec::new()
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        if call.function == "fail" {
            return Err(TaskFailure::Function(StatesError::new(
                "Fuzz.Failure",
                "asked to fail",
            )));
        }
        Ok(input)
    }
}

fuzz_target!(|data: &[u8]| {
    faastlane_fuzz::reach::init();
    faastlane_fuzz::reach::input();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (definition, input) = text.split_once("\n---\n").unwrap_or((text, "{}"));
    let Ok(machine) = asl::load_str(definition) else {
        return;
    };
    let Ok(input) = serde_json::from_str(input) else {
        return;
    };
    let options = EngineOptions {
        limits: faastlane_fuzz::limits(),
        ..EngineOptions::default()
    };
    let engine = Engine::with_options(Arc::new(Echo), options)
        .with_clock(Arc::new(faastlane_fuzz::FuzzClock::new()));
    let workflow = Workflow {
        name: "fuzz".to_string(),
        machine,
    };
    faastlane_fuzz::reach::reached();
    let result = engine.execute(
        &workflow,
        input,
        &ExecutionOptions {
            name: Some("fuzz".to_string()),
            ..ExecutionOptions::default()
        },
    );
    let _ = result.into_json();
});
