//! Step Functions Local's mocked service integrations (the MockConfigFile):
//!
//! ```json
//! {"StateMachines": {"<name>": {"TestCases": {"<case>": {"<state>": "<response>"}}}},
//!  "MockedResponses": {"<response>": {"0": {"Return": ...}, "1-2": {"Throw": {"Error": "..", "Cause": ".."}}}}}
//! ```
//!
//! An execution started on `<stateMachineArn>#<case>` (or `faastlane run --test-case`)
//! answers the listed states' Tasks from the file: invocation `n` of a state (from 0,
//! retries count) takes the response whose key is `n` or a range `a-b` holding it; past the
//! last key the last response repeats. A `Return` of a `lambda:invoke` state is Lambda's
//! Invoke response: its `Payload` is what the function returned.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use asl::model::{Invocation, StateKind};
use asl::{StateMachine, StatesError, Value};
use engine::{Call, PrepareError, Runtime, TaskFailure};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("cannot read the mock config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("mock config: {0}")]
    Invalid(String),
}

/// One response: what invocations `from..=to` of a state get.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MockStep {
    pub from: u64,
    pub to: u64,
    pub outcome: MockOutcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MockOutcome {
    Return(Json),
    Throw { error: String, cause: String },
}

/// A named entry of `MockedResponses`, its steps sorted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MockedResponse {
    pub steps: Vec<MockStep>,
}

/// A parsed MockConfigFile.
#[derive(Clone, Debug, Default)]
pub struct MockConfig {
    /// machine -> case -> state -> response name
    cases: HashMap<String, HashMap<String, BTreeMap<String, String>>>,
    responses: HashMap<String, MockedResponse>,
}

impl MockConfig {
    pub fn load(path: &Path) -> Result<Self, MockError> {
        let text = std::fs::read_to_string(path).map_err(|source| MockError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, MockError> {
        let bad = |m: String| MockError::Invalid(m);
        let root: Json =
            serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let mut config = MockConfig::default();
        let responses = root
            .get("MockedResponses")
            .map(|r| r.as_object().ok_or("/MockedResponses: expected an object"))
            .transpose()
            .map_err(|m| bad(m.to_string()))?;
        for (name, steps) in responses.into_iter().flatten() {
            config
                .responses
                .insert(name.clone(), parse_response(name, steps).map_err(bad)?);
        }
        let machines = root
            .get("StateMachines")
            .map(|r| r.as_object().ok_or("/StateMachines: expected an object"))
            .transpose()
            .map_err(|m| bad(m.to_string()))?;
        for (machine, body) in machines.into_iter().flatten() {
            let at = format!("/StateMachines/{machine}/TestCases");
            let cases = body
                .get("TestCases")
                .and_then(Json::as_object)
                .ok_or_else(|| bad(format!("{at}: expected an object of test cases")))?;
            let mut parsed = HashMap::new();
            for (case, states) in cases {
                let states = states
                    .as_object()
                    .ok_or_else(|| bad(format!("{at}/{case}: expected an object")))?;
                let mut map = BTreeMap::new();
                for (state, response) in states {
                    let response = response.as_str().ok_or_else(|| {
                        bad(format!(
                            "{at}/{case}/{state}: expected the name of a mocked response"
                        ))
                    })?;
                    if !config.responses.contains_key(response) {
                        return Err(bad(format!(
                            "{at}/{case}/{state}: no mocked response '{response}' in /MockedResponses"
                        )));
                    }
                    map.insert(state.clone(), response.to_string());
                }
                parsed.insert(case.clone(), map);
            }
            config.cases.insert(machine.clone(), parsed);
        }
        Ok(config)
    }

    /// Whether the file has test cases for state machine `machine`.
    pub fn covers(&self, machine: &str) -> bool {
        self.cases.contains_key(machine)
    }

    /// The responses of `machine`'s test case `case`, by state name.
    pub fn test_case(&self, machine: &str, case: &str) -> Option<BTreeMap<String, MockedResponse>> {
        let states = self.cases.get(machine)?.get(case)?;
        Some(
            states
                .iter()
                .filter_map(|(s, r)| Some((s.clone(), self.responses.get(r)?.clone())))
                .collect(),
        )
    }
}

fn parse_response(name: &str, steps: &Json) -> Result<MockedResponse, String> {
    let at = format!("/MockedResponses/{name}");
    let steps = steps
        .as_object()
        .ok_or_else(|| format!("{at}: expected an object keyed by invocation (\"0\", \"1-2\")"))?;
    let mut parsed = Vec::new();
    for (key, body) in steps {
        let number = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| {
                format!("{at}/{key}: expected an invocation number or a range \"a-b\"")
            })
        };
        let (from, to) = match key.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(key)?, number(key)?),
        };
        if to < from {
            return Err(format!("{at}/{key}: the range ends before it starts"));
        }
        let outcome = match (body.get("Return"), body.get("Throw")) {
            (Some(value), None) => MockOutcome::Return(value.clone()),
            (None, Some(throw)) => {
                let field = |f: &str| {
                    throw
                        .get(f)
                        .and_then(Json::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| format!("{at}/{key}/Throw/{f}: expected a string"))
                };
                MockOutcome::Throw {
                    error: field("Error")?,
                    cause: field("Cause")?,
                }
            }
            _ => {
                return Err(format!(
                    "{at}/{key}: expected exactly one of Return and Throw"
                ));
            }
        };
        parsed.push(MockStep { from, to, outcome });
    }
    parsed.sort_by_key(|s| s.from);
    if parsed.is_empty() {
        return Err(format!("{at}: no responses"));
    }
    Ok(MockedResponse { steps: parsed })
}

/// A runtime answering mocked states from the test case, and the rest with `inner`.
pub struct Mocked {
    inner: Arc<dyn Runtime>,
    mocks: BTreeMap<String, MockedResponse>,
    lambda_invoke: HashSet<String>,
    calls: Mutex<HashMap<String, u64>>,
}

impl Mocked {
    pub fn new(
        inner: Arc<dyn Runtime>,
        mocks: BTreeMap<String, MockedResponse>,
        machine: &StateMachine,
    ) -> Self {
        let mut lambda_invoke = HashSet::new();
        collect_lambda_invoke(machine, &mut lambda_invoke);
        Mocked {
            inner,
            mocks,
            lambda_invoke,
            calls: Mutex::default(),
        }
    }
}

fn collect_lambda_invoke(machine: &StateMachine, out: &mut HashSet<String>) {
    for (name, state) in &machine.states {
        match &state.kind {
            StateKind::Task(t) if t.resource.invocation == Invocation::LambdaInvoke => {
                out.insert(name.clone());
            }
            StateKind::Parallel(p) => p
                .branches
                .iter()
                .for_each(|b| collect_lambda_invoke(b, out)),
            StateKind::Map(m) => collect_lambda_invoke(&m.processor, out),
            _ => {}
        }
    }
}

impl Runtime for Mocked {
    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        self.inner.prepare(functions)
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        let Some(response) = self.mocks.get(call.state_name) else {
            return self.inner.invoke(call, input);
        };
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            let n = calls.entry(call.state_name.to_string()).or_insert(0);
            *n += 1;
            *n - 1
        };
        let step = response
            .steps
            .iter()
            .find(|s| s.from <= n && n <= s.to)
            .or_else(|| response.steps.last());
        match step.map(|s| &s.outcome) {
            Some(MockOutcome::Return(value)) => {
                let value = match value.get("Payload") {
                    Some(payload) if self.lambda_invoke.contains(call.state_name) => payload,
                    _ => value,
                };
                Ok(Value::Json(value.clone()))
            }
            Some(MockOutcome::Throw { error, cause }) => {
                Err(TaskFailure::Function(StatesError::new(error, cause)))
            }
            None => Err(TaskFailure::Runtime(StatesError::runtime(format!(
                "no mocked response for state '{}'",
                call.state_name
            )))),
        }
    }

    fn lambda_response(
        &self,
        call: &Call<'_>,
        result: Value,
        measure: bool,
    ) -> Result<engine::LambdaResponse, TaskFailure> {
        self.inner.lambda_response(call, result, measure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
      "StateMachines": {"m": {"TestCases": {"Happy": {"A": "Ok"}, "Retry": {"A": "FailThenOk"}}}},
      "MockedResponses": {
        "Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"x": 1}}}},
        "FailThenOk": {"0-1": {"Throw": {"Error": "Boom", "Cause": "c"}}, "2": {"Return": 7}}
      }}"#;

    #[test]
    fn parses_cases_and_ranges() {
        let config = MockConfig::parse(CONFIG).expect("valid config");
        assert!(config.covers("m"));
        let case = config.test_case("m", "Retry").expect("case");
        let steps = &case["A"].steps;
        assert_eq!((steps[0].from, steps[0].to), (0, 1));
        assert_eq!(steps[1].outcome, MockOutcome::Return(serde_json::json!(7)));
        assert!(config.test_case("m", "Nope").is_none());
    }

    #[test]
    fn rejects_unknown_response_and_bad_ranges() {
        let missing = r#"{"StateMachines": {"m": {"TestCases": {"c": {"A": "Nope"}}}}, "MockedResponses": {}}"#;
        let err = MockConfig::parse(missing).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("no mocked response 'Nope'")));
        let range = r#"{"MockedResponses": {"r": {"3-1": {"Return": 1}}}}"#;
        assert!(MockConfig::parse(range).is_err());
        let both = r#"{"MockedResponses": {"r": {"0": {"Return": 1, "Throw": {"Error": "e", "Cause": "c"}}}}}"#;
        assert!(MockConfig::parse(both).is_err());
    }
}
