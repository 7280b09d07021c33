//! Choice rules on their own: the fuzzed JSON (or a rule generated from the bytes) parsed as
//! a rule and evaluated on a generated input.
#![no_main]

use asl::Value;
use asl::path::Scope;
use faastlane_fuzz::{generate, reach};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};

fuzz_target!(|data: &[u8]| {
    reach::init();
    reach::input();
    let mut u = Unstructured::new(data);
    let rule = match serde_json::from_slice::<Json>(data) {
        Ok(json) => json,
        Err(_) => match generate::rule(&mut u, 0) {
            Ok(json) => json,
            Err(_) => return,
        },
    };
    let Ok(input) = generate::input(&mut u) else {
        return;
    };
    let mut problems = Vec::new();
    let Some(rule) = asl::choice::parse_rule(&rule, "/Choices/0", false, &mut problems) else {
        return;
    };
    reach::reached();
    let input = Value::Json(input);
    let context = Value::Json(json!({"State": {"Name": "C"}}));
    let _ = rule.evaluate(Scope {
        input: &input,
        context: &context,
    });
});
