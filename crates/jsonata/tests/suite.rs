//! The official JSONata test suite (jsonata-js v2.2.2's `test/test-suite`), read from
//! `../shared/data/jsonata-test-suite/` beside the clone and never copied into the project.
//!
//! Each case is an expression, an input, bindings and the expected result, `undefined`, or
//! error code. The test prints every failing case and fails if fewer cases pass than the
//! floors below, which are the counts measured when they were set: raise them, never lower.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonata::{Bindings, Dialect, Expression, Limits};
use serde_json::Value;

/// Cases passing in plain JSONata, measured 2026-12-04 (out of 1686).
const STANDARD_FLOOR: usize = 1684;
/// Cases passing in the Step Functions dialect (JSONata 2.0.6 plus AWS's functions), which
/// fails by design the 12 `$eval` cases and the 34 of the `??` and `?:` operators (2.1).
const STEP_FUNCTIONS_FLOOR: usize = 1638;

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/jsonata-test-suite")
}

struct Case {
    name: String,
    /// `None` when the case file is not JSON that Rust strings can hold (a lone surrogate).
    body: Option<Value>,
    group_dir: PathBuf,
}

fn load_cases(root: &Path) -> Vec<Case> {
    let groups_dir = root.join("groups");
    let mut groups: Vec<PathBuf> = std::fs::read_dir(&groups_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", groups_dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .collect();
    groups.sort();
    let mut cases = Vec::new();
    for group in groups {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&group)
            .expect("readable group directory")
            .map(|entry| entry.expect("readable directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .strip_prefix(&groups_dir)
                .expect("file under groups/")
                .display()
                .to_string();
            let text = std::fs::read_to_string(&file).expect("readable case file");
            let bodies = match serde_json::from_str::<Value>(&text) {
                Ok(Value::Array(cases)) => cases.into_iter().map(Some).collect(),
                Ok(case) => vec![Some(case)],
                Err(_) => vec![None],
            };
            let count = bodies.len();
            for (i, body) in bodies.into_iter().enumerate() {
                let name = if count > 1 {
                    format!("{name}[{i}]")
                } else {
                    name.clone()
                };
                cases.push(Case {
                    name,
                    body,
                    group_dir: group.clone(),
                });
            }
        }
    }
    cases
}

/// Numbers compared as doubles, so `1` from a case file equals `1.0` from an evaluation.
fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `Ok(())` when the case passes, else what went wrong.
fn run_case(root: &Path, case: &Case, dialect: Dialect) -> Result<(), String> {
    let body = case
        .body
        .as_ref()
        .ok_or("case file is not representable as Rust JSON (lone surrogate)")?;
    let source = match body.get("expr-file").and_then(Value::as_str) {
        Some(file) => std::fs::read_to_string(case.group_dir.join(file))
            .map_err(|e| format!("cannot read {file}: {e}"))?,
        None => body["expr"].as_str().ok_or("case has no expr")?.to_owned(),
    };
    let input = if let Some(data) = body.get("data") {
        Some(data.clone())
    } else {
        match body.get("dataset").and_then(Value::as_str) {
            Some(name) => {
                let path = root.join("datasets").join(format!("{name}.json"));
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Some(serde_json::from_str(&text).map_err(|e| format!("dataset {name}: {e}"))?)
            }
            None => None,
        }
    };
    let mut bindings = Bindings::new();
    if let Some(Value::Object(vars)) = body.get("bindings") {
        for (name, value) in vars {
            bindings.insert(name, value.clone());
        }
    }
    let mut limits = Limits::default();
    if let Some(ms) = body.get("timelimit").and_then(Value::as_u64) {
        limits.timeout = Some(Duration::from_millis(ms));
    }
    if let Some(depth) = body.get("depth").and_then(Value::as_u64) {
        limits.max_depth = usize::try_from(depth).ok();
    }
    bindings.set_limits(limits);

    let expected_code = body
        .get("code")
        .or_else(|| body.get("error").and_then(|e| e.get("code")))
        .and_then(Value::as_str);
    let outcome = Expression::compile_with(&source, dialect)
        .and_then(|e| e.evaluate(input.as_ref(), &bindings));
    match (outcome, expected_code) {
        (Err(e), Some(code)) if e.code == code => Ok(()),
        (Err(e), _) => Err(format!(
            "error {e}, expected {:?}",
            expected_code.unwrap_or("a result")
        )),
        (Ok(result), Some(code)) => Err(format!("got {result:?}, expected error {code}")),
        (Ok(result), None) => {
            if body.get("undefinedResult").is_some() {
                match result {
                    None => Ok(()),
                    Some(v) => Err(format!("got {v}, expected undefined")),
                }
            } else if let Some(expected) = body.get("result") {
                match result {
                    Some(v) if normalize(&v) == normalize(expected) => Ok(()),
                    Some(v) => Err(format!("got {v}, expected {expected}")),
                    None => Err(format!("got undefined, expected {expected}")),
                }
            } else {
                Err("case states no expected outcome".to_owned())
            }
        }
    }
}

fn run_suite(dialect: Dialect, floor: usize) {
    let root = suite_dir();
    assert!(
        root.join("groups").is_dir(),
        "the official JSONata test suite is missing: expected it at {} (shared/data beside the \
         clone)",
        root.display()
    );
    let cases = load_cases(&root);
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = std::panic::catch_unwind(|| run_case(&root, case, dialect))
            .unwrap_or_else(|_| Err("panicked".to_owned()));
        if let Err(why) = outcome {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    let passed = cases.len() - failures.len();
    println!("{dialect:?}: {passed}/{} cases pass; failing:", cases.len());
    for failure in &failures {
        println!("  {failure}");
    }
    assert!(
        passed >= floor,
        "{dialect:?}: {passed}/{} pass, below the floor of {floor} (failures above)",
        cases.len()
    );
}

#[test]
fn official_suite_in_plain_jsonata() {
    run_suite(Dialect::Standard, STANDARD_FLOOR);
}

#[test]
fn official_suite_in_the_step_functions_dialect() {
    run_suite(Dialect::StepFunctions, STEP_FUNCTIONS_FLOOR);
}
