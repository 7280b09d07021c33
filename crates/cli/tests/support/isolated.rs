//! What the `isolation` fixture's output must show when its sensitive function (`secret`)
//! runs process-isolated, whichever front end ran it (`run`, `faastlane lambda`,
//! `faastlane openwhisk`).

use serde_json::{Value as Json, json};

/// Each call of `secret` in a fresh worker (neither the other functions' process nor the
/// previous call's), its module global counted once per process, and nothing it kept
/// visible to `snoop`.
pub fn assert_process_isolated(got: &Json) {
    let public = &got["public"]["pid"];
    assert_ne!(got["first"]["pid"], *public, "{got}");
    assert_ne!(got["second"]["pid"], *public, "{got}");
    assert_ne!(
        got["first"]["pid"], got["second"]["pid"],
        "a fresh worker per call: {got}"
    );
    assert_eq!(
        (&got["first"]["calls"], &got["second"]["calls"]),
        (&json!(1), &json!(1)),
        "{got}"
    );
    assert_eq!(got["snooped"]["found"], Json::Null, "{got}");
}
