//! Definitions generated from the ASL model (states, paths, templates, intrinsics, Choice
//! rules, Retry and Catch, nested Parallel and Map), run on generated inputs inline, on
//! threads and in process lanes (an in-process double of the pool): nothing may panic or hang,
//! and the lanes must agree (see `faastlane_fuzz::differential`).
//!
//! Run: `scripts/fuzz.sh SECONDS` or `cargo fuzz run definition` in `fuzz/`.
#![no_main]

use engine::Workflow;
use faastlane_fuzz::{differential, generate, reach};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::init();
    reach::input();
    let mut u = Unstructured::new(data);
    let (Ok(definition), Ok(input)) = (generate::machine(&mut u, 0), generate::input(&mut u))
    else {
        return;
    };
    let Ok(machine) = asl::load(&definition) else {
        return;
    };
    let workflow = Workflow {
        name: "fuzz".to_string(),
        machine,
    };
    differential(&workflow, &definition.to_string(), &input);
});
