//! Paths on their own: parse any text (or a path built from the bytes when the text is no
//! path) as a path and a reference path, then select, test and
//! insert into a fixed document (and an object holding the text).
#![no_main]

use asl::Value;
use asl::path::{Path, Scope};
use faastlane_fuzz::{generate, reach};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    reach::init();
    reach::input();
    // Text that is no path gives way to one built from the bytes.
    let generated;
    let text = match std::str::from_utf8(data) {
        Ok(text) if Path::parse(text).is_ok() => text,
        _ => match generate::path(&mut Unstructured::new(data)) {
            Ok(path) => {
                generated = path;
                generated.as_str()
            }
            Err(_) => return,
        },
    };
    let doc = Value::Json(
        json!({"a": {"b": [1, {"c": "x"}], "b c": null}, "items": [{"v": 1}, {"v": "x"}, 3], "n": 2}),
    );
    let context = Value::Json(
        json!({"Execution": {"Id": "e"}, "State": {"Name": "S"}, "Map": {"Item": {"Index": 0}}}),
    );
    if let Ok(path) = Path::parse(text) {
        reach::reached();
        let _ = path.resolve(Scope {
            input: &doc,
            context: &context,
        });
        let _ = path.exists(&doc);
        let _ = path.select_owned(doc.clone());
        let _ = path.normalized();
    }
    if let Ok(path) = Path::parse_reference(text) {
        reach::reached();
        let _ = path.insert(doc.clone(), Value::Json(json!(text)));
        let _ = path.insert(Value::Json(json!([1])), Value::Json(json!(null)));
    }
});
