//! Which callable a function name runs, and what `prepare` says when it cannot be loaded.

mod common;

use common::{call, call_json, fixture, runtime};
use engine::{Runtime, TaskFailure};
use serde_json::json;

#[test]
fn handler_gets_event_and_context() {
    let rt = runtime("basic");
    assert_eq!(
        call_json(&rt, "echo", json!({"a": [1, 2]})),
        json!({"a": [1, 2]})
    );
}

#[test]
fn main_gets_args_openwhisk_style() {
    let rt = runtime("basic");
    assert_eq!(
        call_json(&rt, "ow_main", json!({"name": "ann"})),
        json!({"greeting": "hello ann"})
    );
}

#[test]
fn handler_wins_over_main() {
    let rt = runtime("basic");
    assert_eq!(call_json(&rt, "both", json!({})), json!("handler"));
}

#[test]
fn a_one_parameter_handler_gets_only_the_event() {
    let rt = runtime("basic");
    assert_eq!(
        call_json(&rt, "one_arg_handler", json!(5)),
        json!({"seen": 5})
    );
}

#[test]
fn packages_and_hyphenated_names_load() {
    let rt = runtime("basic");
    assert_eq!(call_json(&rt, "pkgfunc", json!({"x": 21})), json!(42));
    assert_eq!(call_json(&rt, "my-func", json!({})), json!("hyphenated"));
}

#[test]
fn manifest_maps_names_to_callables() {
    let rt = runtime("basic");
    assert_eq!(
        call_json(&rt, "resize", json!({"size": 64})),
        json!({"resized": 32})
    );
    assert_eq!(call_json(&rt, "colon", json!({})), json!("other"));
    assert_eq!(
        call_json(&rt, "nested", json!({})),
        json!("pkgmod.inner.fn")
    );
}

#[test]
fn prepare_accepts_loadable_functions() {
    let rt = runtime("basic");
    assert!(
        rt.prepare(&["echo", "ow_main", "resize", "nested", "pkgfunc", "echo"])
            .is_empty()
    );
}

fn prepare_one(function: &str) -> String {
    let rt = runtime("broken");
    let errors = rt.prepare(&[function]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].function, function);
    errors[0].message.clone()
}

#[test]
fn prepare_reports_a_missing_module_with_the_expected_files() {
    let message = prepare_one("nowhere");
    let expected = fixture("broken")
        .canonicalize()
        .expect("fixture")
        .join("nowhere.py");
    assert!(
        message.contains(&expected.display().to_string()),
        "{message}"
    );
    assert!(message.contains("__init__.py"), "{message}");
}

#[test]
fn prepare_reports_a_missing_function() {
    let message = prepare_one("no_entry");
    assert!(message.contains("no_entry.py"), "{message}");
    assert!(message.contains("neither handler"), "{message}");

    let rt = runtime("basic");
    let errors = rt.prepare(&["missing_attr"]);
    assert!(
        errors[0].message.contains("ops.py") && errors[0].message.contains("'nope'"),
        "{errors:?}"
    );
}

#[test]
fn prepare_reports_a_syntax_error_with_file_and_line() {
    let message = prepare_one("syntax_bad");
    assert!(message.contains("syntax_bad.py line 2"), "{message}");
}

#[test]
fn prepare_reports_a_syntax_error_in_an_imported_helper() {
    let message = prepare_one("uses_bad_helper");
    assert!(message.contains("bad_helper.py line 1"), "{message}");
}

#[test]
fn prepare_reports_an_import_error_with_file_and_line() {
    let message = prepare_one("import_bad");
    assert!(message.contains("import_bad.py line 2"), "{message}");
    assert!(message.contains("does_not_exist_xyz"), "{message}");
}

#[test]
fn prepare_reports_exceptions_raised_at_import() {
    let message = prepare_one("raises_at_import");
    assert!(message.contains("ZeroDivisionError"), "{message}");
    assert!(message.contains("raises_at_import.py line 2"), "{message}");
    let message = prepare_one("exits_at_import");
    assert!(message.contains("SystemExit"), "{message}");
}

#[test]
fn prepare_reports_bad_callables() {
    assert!(prepare_one("not_callable").contains("not callable"));
    assert!(prepare_one("three_args").contains("(event, context) or (args)"));
    assert!(prepare_one("../etc/passwd").contains("not a Lambda function name ('.' is not"));
    let e = prepare_one("grüßen");
    assert!(
        e.contains("'ü' is not an ASCII letter, digit, '-' or '_'") && e.contains("functions.json"),
        "{e}"
    );
}

#[test]
fn invoking_an_unloadable_function_fails_like_lambda_init() {
    let rt = runtime("broken");
    match call(&rt, "import_bad", json!({})) {
        Err(TaskFailure::Runtime(e)) => {
            assert_eq!(e.error, "Runtime.ImportModuleError");
            let cause: serde_json::Value = serde_json::from_str(&e.cause).expect("cause is JSON");
            assert_eq!(cause["errorType"], "Runtime.ImportModuleError");
        }
        other => panic!("{other:?}"),
    }
    match call(&rt, "syntax_bad", json!({})) {
        Err(TaskFailure::Runtime(e)) => assert_eq!(e.error, "Runtime.UserCodeSyntaxError"),
        other => panic!("{other:?}"),
    }
    match call(&rt, "no_entry", json!({})) {
        Err(TaskFailure::Runtime(e)) => assert_eq!(e.error, "Runtime.HandlerNotFound"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn modules_of_the_same_name_in_two_directories_stay_apart() {
    let a = runtime("clash_a");
    let b = runtime("clash_b");
    assert_eq!(call_json(&a, "common_name", json!({})), json!("a"));
    assert_eq!(call_json(&b, "common_name", json!({})), json!("b"));
    // A new runtime on the same directory reuses the warm module.
    let a2 = runtime("clash_a");
    assert_eq!(call_json(&a2, "common_name", json!({})), json!("a"));
}

#[test]
fn a_bad_manifest_fails_construction() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("functions.json"), r#"{"f": "nodot"}"#).expect("write");
    let err = python_runtime::PythonRuntime::new(dir.path()).expect_err("bad manifest");
    let text = err.to_string();
    assert!(
        text.contains("functions.json") && text.contains("\"f\""),
        "{text}"
    );
}
