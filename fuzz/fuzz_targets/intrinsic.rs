//! Intrinsic functions on their own: any text (or a call built from the bytes when the text
//! is no call) parsed as an intrinsic call and evaluated on a
//! fixed input.
#![no_main]

use asl::Value;
use asl::path::Scope;
use faastlane_fuzz::{generate, reach};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    reach::init();
    reach::input();
    // Text that is no call gives way to one built from the bytes.
    let call = match std::str::from_utf8(data).map(asl::intrinsic::parse) {
        Ok(Ok(call)) => call,
        _ => {
            let Ok(text) = generate::intrinsic(&mut Unstructured::new(data), 0) else {
                return;
            };
            let Ok(call) = asl::intrinsic::parse(&text) else {
                return;
            };
            call
        }
    };
    reach::reached();
    let input = Value::Json(
        json!({"a": {"b": 1}, "s": "a,b,c", "n": 3, "items": [1, 2, 2, "x", {"v": 1}], "b64": "aGk=", "json": "{\"k\":[1,2]}"}),
    );
    let context = Value::Json(json!({"Execution": {"Id": "e"}}));
    let _ = call.evaluate(Scope {
        input: &input,
        context: &context,
    });
});
