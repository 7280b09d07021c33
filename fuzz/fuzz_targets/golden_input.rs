//! Inputs fuzzed against the fixed, valid definitions of the golden cases
//! (`crates/engine/tests/golden/*/definition.json`): the first byte picks the case, the rest
//! is the input, as JSON text or (when it is not JSON) generated from the bytes.
#![no_main]

use std::sync::OnceLock;

use engine::Workflow;
use faastlane_fuzz::{differential, generate, reach};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

/// Every golden definition that loads, with its text.
fn cases() -> &'static [(Workflow, String)] {
    static CASES: OnceLock<Vec<(Workflow, String)>> = OnceLock::new();
    CASES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/engine/tests/golden");
        let mut dirs: Vec<_> = std::fs::read_dir(dir)
            .expect("the golden cases are beside the fuzz crate")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        dirs.sort();
        dirs.iter()
            .filter_map(|d| std::fs::read_to_string(d.join("definition.json")).ok())
            .filter_map(|text| {
                let machine = asl::load_str(&text).ok()?;
                Some((
                    Workflow {
                        name: "golden".to_string(),
                        machine,
                    },
                    text,
                ))
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    reach::init();
    reach::input();
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cases = cases();
    let (workflow, text) = &cases[usize::from(pick) % cases.len()];
    let input: Json = match serde_json::from_slice(rest) {
        Ok(json) => json,
        Err(_) => match generate::input(&mut Unstructured::new(rest)) {
            Ok(json) => json,
            Err(_) => return,
        },
    };
    differential(workflow, text, &input);
});
