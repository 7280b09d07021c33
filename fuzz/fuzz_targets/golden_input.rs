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

/// Every golden definition in name order (the seeds' first bytes index it), with its text;
/// `None` for the cases of invalid definitions.
fn cases() -> &'static [Option<(Workflow, String)>] {
    static CASES: OnceLock<Vec<Option<(Workflow, String)>>> = OnceLock::new();
    CASES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/engine/tests/golden");
        let mut dirs: Vec<_> = std::fs::read_dir(dir)
            .expect("the golden cases are beside the fuzz crate")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        dirs.sort();
        dirs.iter()
            .map(|d| {
                let text = std::fs::read_to_string(d.join("definition.json")).ok()?;
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
    let Some((workflow, text)) = &cases[usize::from(pick) % cases.len()] else {
        return;
    };
    let input: Json = match serde_json::from_slice(rest) {
        Ok(json) => json,
        Err(_) => match generate::input(&mut Unstructured::new(rest)) {
            Ok(json) => json,
            Err(_) => return,
        },
    };
    differential(workflow, text, &input);
});
