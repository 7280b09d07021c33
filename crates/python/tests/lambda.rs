//! Lambda semantics: errors as Lambda reports them, exits and interrupts that do not end the
//! process, the context object, logs.

mod common;

use std::time::{Duration, Instant};

use asl::Value;
use common::{Invocation, Lines, call, call_json, runtime};
use engine::TaskFailure;
use serde_json::{Value as Json, json};

fn failure(function: &str, input: Json) -> (String, Json, Vec<String>) {
    let rt = runtime("basic");
    let log = Lines::default();
    match Invocation::new(function, &log).run(&rt, Value::Json(input)) {
        Err(TaskFailure::Function(e)) => {
            let cause = serde_json::from_str(&e.cause)
                .unwrap_or_else(|err| panic!("cause {:?} is not JSON: {err}", e.cause));
            (e.error, cause, log.texts())
        }
        other => panic!("expected a function failure, got {other:?}"),
    }
}

#[test]
fn an_exception_is_reported_like_lambda() {
    let (error, cause, log) = failure("errors", json!({"kind": "value", "detail": "x"}));
    assert_eq!(error, "ValueError");
    let fields: Vec<&str> = cause
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["errorMessage", "errorType", "requestId", "stackTrace"]
    );
    assert_eq!(cause["errorMessage"], "bad value: x");
    assert_eq!(cause["errorType"], "ValueError");
    assert_eq!(cause["requestId"], "req-0001");
    let trace: Vec<&str> = cause["stackTrace"]
        .as_array()
        .expect("stackTrace is an array")
        .iter()
        .map(|l| l.as_str().expect("string"))
        .collect();
    // As the Lambda Python runtime formats it, with the workflow directory as the task root.
    assert_eq!(
        trace,
        [
            "  File \"/var/task/errors.py\", line 15, in handler\n    raise ValueError(\"bad value: %s\" % event.get(\"detail\"))\n"
        ]
    );
    // Lambda also logs the error.
    assert!(
        log.contains(&"[ERROR] ValueError: bad value: x".to_string()),
        "{log:?}"
    );
}

#[test]
fn the_cause_is_the_text_lambdas_python_runtime_sends() {
    let rt = runtime("basic");
    let log = Lines::default();
    let input = Value::Json(json!({"kind": "value", "detail": "é"}));
    let Err(TaskFailure::Function(e)) = Invocation::new("errors", &log).run(&rt, input) else {
        panic!("expected a function failure");
    };
    // json.dumps: ", " and ": " separators, non-ASCII escaped.
    assert_eq!(
        e.cause,
        r#"{"errorMessage": "bad value: \u00e9", "errorType": "ValueError", "requestId": "req-0001", "stackTrace": ["  File \"/var/task/errors.py\", line 15, in handler\n    raise ValueError(\"bad value: %s\" % event.get(\"detail\"))\n"]}"#
    );
}

#[test]
fn a_custom_exception_is_named_by_its_class() {
    let (error, cause, _) = failure("errors", json!({"kind": "custom"}));
    assert_eq!(error, "OrderRejected");
    assert_eq!(cause["errorType"], "OrderRejected");
    assert_eq!(cause["errorMessage"], "order 7 rejected");
}

#[test]
fn system_exit_fails_the_task_not_the_process() {
    let (error, cause, _) = failure("errors", json!({"kind": "exit"}));
    assert_eq!(error, "Runtime.ExitError");
    assert_eq!(
        cause["errorMessage"],
        "RequestId: req-0001 Error: Runtime exited with error: exit status 3"
    );
    let (_, cause, _) = failure("errors", json!({"kind": "exit0"}));
    assert_eq!(
        cause["errorMessage"],
        "RequestId: req-0001 Error: Runtime exited without providing a reason"
    );
    let (_, cause, log) = failure("errors", json!({"kind": "exitmsg"}));
    assert!(
        cause["errorMessage"]
            .as_str()
            .is_some_and(|m| m.ends_with("exit status 1"))
    );
    assert!(log.contains(&"bye now".to_string()), "{log:?}");
    // Still alive, and the next call works.
    assert_eq!(
        call_json(&runtime("basic"), "errors", json!({"kind": "none"})),
        json!("ok")
    );
}

#[test]
fn keyboard_interrupt_and_recursion_error_are_task_errors() {
    let (error, _, _) = failure("errors", json!({"kind": "kbd"}));
    assert_eq!(error, "KeyboardInterrupt");
    let (error, cause, _) = failure("errors", json!({"kind": "recursion"}));
    assert_eq!(error, "RecursionError");
    assert!(
        cause["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("maximum recursion depth"))
    );
    // Repeated frames are collapsed, as Python's traceback module does.
    assert!(
        cause["stackTrace"].as_array().is_some_and(|t| t.len() < 10),
        "{cause}"
    );
    assert_eq!(
        call_json(&runtime("basic"), "errors", json!({"kind": "none"})),
        json!("ok")
    );
}

#[test]
fn none_becomes_null() {
    let rt = runtime("basic");
    let out = call(&rt, "values", json!({"case": "none"})).expect("none");
    assert_eq!(out.as_json(), Some(&Json::Null));
}

#[test]
fn context_has_lambda_fields() {
    let rt = runtime("basic");
    let log = Lines::default();
    let mut invocation = Invocation::new("ctx", &log);
    invocation.qualifier = Some("prod");
    invocation.deadline = Some(Instant::now() + Duration::from_secs(30));
    let out = invocation.run(&rt, Value::Json(json!({}))).expect("ctx");
    let ctx = out.to_json().expect("json");
    assert_eq!(ctx["function_name"], "ctx");
    assert_eq!(ctx["function_version"], "prod");
    assert_eq!(
        ctx["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:ctx:prod"
    );
    assert_eq!(
        ctx["memory_limit_in_mb"],
        python_runtime::DEFAULT_MEMORY_MB.to_string()
    );
    assert_eq!(ctx["aws_request_id"], "req-0001");
    assert_eq!(ctx["log_group_name"], "/aws/lambda/ctx");
    let stream = ctx["log_stream_name"].as_str().expect("stream");
    assert!(stream.contains("/[prod]") && stream.len() > 20, "{stream}");
    let remaining = ctx["remaining"].as_u64().expect("remaining");
    assert!((25_000..=30_000).contains(&remaining), "{remaining}");
    assert_eq!(ctx["identity"], json!([null, null]));
    assert_eq!(ctx["client_context"], Json::Null);
}

#[test]
fn without_a_deadline_the_context_counts_down_from_lambdas_maximum() {
    let rt = runtime("basic");
    let ctx = call_json(&rt, "ctx", json!({}));
    assert_eq!(ctx["function_version"], "$LATEST");
    let remaining = ctx["remaining"].as_u64().expect("remaining");
    assert!((890_000..=900_000).contains(&remaining), "{remaining}");
}

#[test]
fn memory_limit_comes_from_the_options() {
    let rt = python_runtime::PythonRuntime::with_options(
        common::fixture("basic"),
        python_runtime::PythonOptions::default()
            .install_requirements(false)
            .memory_limit_mb(1024),
    )
    .expect("runtime");
    let ctx = call_json(&rt, "ctx", json!({}));
    assert_eq!(ctx["memory_limit_in_mb"], "1024");
}

#[test]
fn prints_and_logging_go_to_the_sink_tagged_with_the_state() {
    let rt = runtime("basic");
    let log = Lines::default();
    let mut invocation = Invocation::new("printer", &log);
    invocation.state = "Print It";
    let out = invocation
        .run(&rt, Value::Json(json!({"tag": "t1"})))
        .expect("printer");
    assert_eq!(out.as_json(), Some(&json!("printed")));
    let lines = log.all();
    assert!(
        lines.iter().all(|(state, _)| state == "Print It"),
        "{lines:?}"
    );
    let texts = log.texts();
    for expected in [
        "hello from stdout t1",
        "to stderr t1",
        "partial t1 bytes too",
    ] {
        assert!(
            texts.contains(&expected.to_string()),
            "{expected:?} not in {texts:?}"
        );
    }
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("[WARNING]\t") && t.ends_with("Z\treq-0001\ta warning t1")),
        "Lambda's log format: {texts:?}"
    );
}

#[test]
fn the_root_logger_has_a_handler_like_lambdas() {
    let rt = runtime("basic");
    let log = Lines::default();
    let mut invocation = Invocation::new("logs", &log);
    invocation.state = "Log It";
    invocation
        .run(&rt, Value::Json(json!({"n": 7})))
        .expect("logs");
    let lines = log.all();
    let info: Vec<_> = lines
        .iter()
        .filter(|(_, l)| l.ends_with("\treq-0001\tinfo line 7"))
        .collect();
    assert_eq!(info.len(), 1, "{lines:?}");
    assert_eq!(info[0].0, "Log It");
    let (level, rest) = info[0].1.split_once('\t').expect("tab separated");
    assert_eq!(level, "[INFO]");
    let stamp = rest.split('\t').next().expect("a timestamp");
    assert!(
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok(),
        "{stamp}"
    );
    let texts = log.texts();
    assert!(
        texts.iter().any(|t| t.ends_with("\tchild warning")),
        "{texts:?}"
    );
    assert!(
        !texts.iter().any(|t| t.contains("below the level")),
        "{texts:?}"
    );
}

#[test]
fn import_time_output_goes_to_the_init_log_or_the_first_call() {
    let init = std::sync::Arc::new(Lines::default());
    let rt = python_runtime::PythonRuntime::with_options(
        common::fixture("basic"),
        python_runtime::PythonOptions::default()
            .install_requirements(false)
            .init_log(init.clone()),
    )
    .expect("runtime");
    assert!(engine::Runtime::prepare(&rt, &["loud_prepare"]).is_empty());
    assert_eq!(
        init.all(),
        [(
            "loud_prepare".to_string(),
            "importing loud_prepare".to_string()
        )]
    );
    let log = Lines::default();
    Invocation::new("loud_invoke", &log)
        .run(&rt, Value::Json(json!({})))
        .expect("loud_invoke");
    assert_eq!(log.texts(), ["importing loud_invoke"]);
}
