//! Payload templates on their own: a state whose `Parameters` is the fuzzed JSON (or one
//! generated from the bytes), evaluated on a generated input by a one-state execution.
#![no_main]

use engine::{BranchLanes, Workflow};
use faastlane_fuzz::{engine, execute, generate, reach};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value as Json, json};

fuzz_target!(|data: &[u8]| {
    reach::init();
    reach::input();
    let mut u = Unstructured::new(data);
    let template = match serde_json::from_slice::<Json>(data) {
        Ok(json) => json,
        Err(_) => match generate::template(&mut u, 3) {
            Ok(json) => json,
            Err(_) => return,
        },
    };
    let Ok(input) = generate::input(&mut u) else {
        return;
    };
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Pass", "Parameters": template, "End": true}}});
    let Ok(machine) = asl::load(&definition) else {
        return;
    };
    let workflow = Workflow {
        name: "fuzz".to_string(),
        machine,
    };
    let _ = execute(&engine(BranchLanes::Inline), &workflow, &input);
});
