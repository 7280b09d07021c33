//! Compile and evaluate arbitrary JSONata expressions on arbitrary inputs.
//!
//! The fuzz input is `EXPRESSION` or `EXPRESSION\n---\nINPUT` (JSON). Every outcome is a
//! value or a JSONata error; an internal error (a panic the library contained) is a bug.
//! Evaluations are bounded by a short timeout and sequence limit.
//!
//! Run: `scripts/fuzz.sh SECONDS jsonata_expression`. An input counts as reaching evaluation
//! when its expression compiles in either dialect.
#![no_main]

use std::time::Duration;

use jsonata::{Bindings, Dialect, Expression, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    faastlane_fuzz::reach::init();
    faastlane_fuzz::reach::input();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, input) = match text.split_once("\n---\n") {
        Some((source, input)) => (source, serde_json::from_str(input).ok()),
        None => (text, None),
    };
    let mut bindings = Bindings::new();
    bindings.set_limits(Limits {
        timeout: Some(Duration::from_millis(200)),
        max_sequence_length: Some(100_000),
        ..Limits::default()
    });
    bindings.insert("states", serde_json::json!({"input": input.clone()}));
    for dialect in [Dialect::StepFunctions, Dialect::Standard] {
        let outcome = Expression::compile_with(source, dialect).and_then(|e| {
            faastlane_fuzz::reach::reached();
            e.evaluate(input.as_ref(), &bindings)
        });
        if let Err(e) = outcome {
            assert_ne!(e.code, jsonata::INTERNAL_ERROR, "{source:?}: {e}");
        }
    }
});
