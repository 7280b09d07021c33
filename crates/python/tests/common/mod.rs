//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use asl::Value;
use engine::{Call, CancelToken, LogSink, Runtime, TaskFailure};
use python_runtime::{PythonOptions, PythonRuntime};
use serde_json::{Value as Json, json};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// A runtime on `tests/fixtures/<name>` that installs nothing.
pub fn runtime(name: &str) -> PythonRuntime {
    PythonRuntime::with_options(
        fixture(name),
        PythonOptions::default().install_requirements(false),
    )
    .expect("fixture runtime")
}

/// Collects what functions print.
#[derive(Default)]
pub struct Lines(Mutex<Vec<(String, String)>>);

impl LogSink for Lines {
    fn line(&self, state: &str, line: &str) {
        self.0
            .lock()
            .expect("log lock")
            .push((state.to_owned(), line.to_owned()));
    }
}

impl Lines {
    pub fn all(&self) -> Vec<(String, String)> {
        self.0.lock().expect("log lock").clone()
    }

    pub fn texts(&self) -> Vec<String> {
        self.all().into_iter().map(|(_, l)| l).collect()
    }
}

/// How to call: everything a Task would pass.
pub struct Invocation<'a> {
    pub function: &'a str,
    pub state: &'a str,
    pub qualifier: Option<&'a str>,
    pub deadline: Option<Instant>,
    pub log: &'a dyn LogSink,
}

impl<'a> Invocation<'a> {
    pub fn new(function: &'a str, log: &'a dyn LogSink) -> Self {
        Invocation {
            function,
            state: "TestState",
            qualifier: None,
            deadline: None,
            log,
        }
    }

    pub fn run(&self, rt: &dyn Runtime, input: Value) -> Result<Value, TaskFailure> {
        let request_id = engine::RequestId::fixed("req-0001");
        let identity = engine::Identity {
            region: "us-east-1".into(),
            account: "123456789012".into(),
        };
        let cancel = CancelToken::new();
        let call = Call {
            function: self.function,
            qualifier: self.qualifier,
            identity: &identity,
            state_name: self.state,
            request_id: &request_id,
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:wf:run-1",
            deadline: self.deadline,
            cancel: &cancel,
            log: self.log,
        };
        rt.invoke(&call, input)
    }
}

/// Calls `function` with JSON input and no log.
pub fn call(rt: &dyn Runtime, function: &str, input: Json) -> Result<Value, TaskFailure> {
    let log = Lines::default();
    Invocation::new(function, &log).run(rt, Value::Json(input))
}

/// Calls and converts the result to JSON, panicking on failure.
pub fn call_json(rt: &dyn Runtime, function: &str, input: Json) -> Json {
    call(rt, function, input)
        .unwrap_or_else(|e| panic!("{function} failed: {e}"))
        .to_json()
        .unwrap_or_else(|e| panic!("{function} output is not JSON: {e}"))
}

pub fn case(name: &str) -> Json {
    json!({ "case": name })
}

pub fn shared(rt: PythonRuntime) -> Arc<PythonRuntime> {
    Arc::new(rt)
}
