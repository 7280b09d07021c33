//! An execution beyond its `Limits` fails with an error naming the limit; within them it
//! runs as before.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use asl::{Limits, StatesError};
use engine::{Engine, EngineOptions, ExecutionOptions, ManualClock, NativeRuntime, Workflow};
use serde_json::{Value as Json, json};

fn run(definition: Json, input: Json, limits: Limits) -> Result<Json, StatesError> {
    let workflow = Workflow {
        name: "limits".into(),
        machine: asl::load(&definition).expect("valid definition"),
    };
    let options = EngineOptions {
        limits,
        ..EngineOptions::default()
    };
    let runtime = NativeRuntime::new().with("echo", |_, input| Ok(input));
    Engine::with_options(Arc::new(runtime), options)
        .with_clock(Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH)))
        .execute(&workflow, input, &ExecutionOptions::default())
        .into_json()
}

fn pass(result: Json) -> Json {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}})
}

#[test]
fn input_over_the_limit_fails_before_any_state() {
    let limits = Limits {
        input_bytes: Some(10),
        ..Limits::default()
    };
    let input = json!({"x": "0123456789"});
    let e = run(pass(json!(1)), input, limits.clone()).unwrap_err();
    assert_eq!(e.error, "States.DataLimitExceeded");
    assert_eq!(
        e.cause,
        "the execution input is 18 bytes, more than the limit of 10 bytes"
    );
    assert_eq!(run(pass(json!(1)), json!({}), limits), Ok(json!(1)));
}

#[test]
fn output_over_the_limit_fails_the_execution() {
    let limits = Limits {
        output_bytes: Some(5),
        ..Limits::default()
    };
    let e = run(pass(json!("abcdefgh")), json!({}), limits.clone()).unwrap_err();
    assert_eq!(e.error, "States.DataLimitExceeded");
    assert_eq!(
        e.cause,
        "the execution output is 10 bytes, more than the limit of 5 bytes"
    );
    assert_eq!(run(pass(json!("abc")), json!({}), limits), Ok(json!("abc")));
}

#[test]
fn a_map_over_too_many_items_fails_naming_the_state() {
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"StartAt": "E", "States": {"E": {"Type": "Task", "Resource": "echo", "End": true}}}
    }}});
    let limits = Limits {
        map_items: Some(2),
        ..Limits::default()
    };
    let e = run(
        definition.clone(),
        json!({"items": [1, 2, 3]}),
        limits.clone(),
    )
    .unwrap_err();
    assert_eq!(e.error, "States.Runtime");
    assert_eq!(
        e.cause,
        "the Map state 'M' has 3 items, more than the limit of 2"
    );
    assert_eq!(
        run(definition, json!({"items": [1, 2]}), limits),
        Ok(json!([1, 2]))
    );
}

#[test]
fn an_execution_past_its_time_limit_times_out_naming_the_limit() {
    // Waits 100 s of the manual clock, which takes no real time.
    let definition = |timeout: Option<u64>| {
        let mut d =
            json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}});
        if let Some(t) = timeout {
            d["TimeoutSeconds"] = json!(t);
        }
        d
    };
    let limits = Limits {
        execution_time: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let e = run(definition(None), json!({}), limits.clone()).unwrap_err();
    assert_eq!(e.error, "States.Timeout");
    assert_eq!(e.cause, "the execution ran longer than the limit of 10 s");
    // A shorter TimeoutSeconds of the definition keeps its own message.
    let e = run(definition(Some(5)), json!({}), limits.clone()).unwrap_err();
    assert_eq!(
        e.cause,
        "The execution timed out (state machine TimeoutSeconds)"
    );
    let roomy = Limits {
        execution_time: Some(Duration::from_secs(200)),
        ..Limits::default()
    };
    assert_eq!(
        run(definition(None), json!({"a": 1}), roomy),
        Ok(json!({"a": 1}))
    );
}

#[test]
fn history_events_are_one_of_the_limits() {
    // A loop that never ends.
    let definition = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}});
    let limits = Limits {
        history_events: Some(50),
        ..Limits::default()
    };
    let e = run(definition, json!({}), limits).unwrap_err();
    assert_eq!(e.error, "States.Runtime");
    assert!(
        e.cause.contains("maximum number of history events (50)"),
        "{}",
        e.cause
    );
}
