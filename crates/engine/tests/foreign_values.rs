#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a poisoned lock should fail the test loudly"
)]

//! State data that a runtime owns: hand-offs move the object itself, and the engine detaches
//! (copies) it only where Step Functions' copy semantics would otherwise be broken.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use asl::{Foreign, ForeignError, Kind, StatesError, Value};
use engine::{Call, Engine, ExecutionOptions, PrepareError, Runtime, TaskFailure, Workflow};
use serde_json::{Value as Json, json};

/// A mutable object living in the "runtime", like a Python dict.
#[derive(Debug)]
struct Obj {
    data: Mutex<Json>,
    detaches: Arc<AtomicUsize>,
    /// How often the engine measured an object of this family (its payload size).
    measures: Arc<AtomicUsize>,
}

impl Obj {
    fn new(data: Json, detaches: Arc<AtomicUsize>, measures: Arc<AtomicUsize>) -> Arc<Obj> {
        Arc::new(Obj {
            data: Mutex::new(data),
            detaches,
            measures,
        })
    }
}

impl Foreign for Obj {
    fn kind(&self) -> Kind {
        asl::value::json_kind(&self.data.lock().unwrap())
    }
    fn get(&self, key: &str) -> Option<Value> {
        self.data.lock().unwrap().get(key).cloned().map(Value::Json)
    }
    fn index(&self, index: usize) -> Option<Value> {
        self.data
            .lock()
            .unwrap()
            .get(index)
            .cloned()
            .map(Value::Json)
    }
    fn len(&self) -> Option<usize> {
        self.data.lock().unwrap().as_object().map(|m| m.len())
    }
    fn keys(&self) -> Vec<String> {
        self.data
            .lock()
            .unwrap()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
    fn to_json(&self) -> Result<Json, ForeignError> {
        Ok(self.data.lock().unwrap().clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn detach(&self) -> Result<Value, ForeignError> {
        self.detaches.fetch_add(1, Ordering::SeqCst);
        Ok(Value::Foreign(Obj::new(
            self.data.lock().unwrap().clone(),
            self.detaches.clone(),
            self.measures.clone(),
        )))
    }
    fn json_len_within(&self, max: usize) -> Option<Option<usize>> {
        self.measures.fetch_add(1, Ordering::SeqCst);
        let len = serde_json::to_vec(&*self.data.lock().unwrap()).ok()?.len();
        Some((len <= max).then_some(len))
    }
}

/// `make` returns a runtime object; `mark` sets `marked: true` on its input IN PLACE and
/// returns the same object (the common Lambda habit `event["x"] = ...; return event`);
/// `same` records the identity of what it received.
struct Rt {
    detaches: Arc<AtomicUsize>,
    measures: Arc<AtomicUsize>,
    seen: Mutex<Vec<usize>>,
}

impl Runtime for Rt {
    fn prepare(&self, _: &[&str]) -> Vec<PrepareError> {
        Vec::new()
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        match call.function {
            "make" => Ok(Value::Foreign(Obj::new(
                json!({"n": 1, "blob": "x".repeat(16)}),
                self.detaches.clone(),
                self.measures.clone(),
            ))),
            "mark" => match input {
                Value::Foreign(f) => {
                    let obj = f.as_any().downcast_ref::<Obj>().expect("our own object");
                    obj.data.lock().unwrap()["marked"] = json!(true);
                    Ok(Value::Foreign(f))
                }
                other => Ok(other),
            },
            "same" => {
                if let Value::Foreign(f) = &input {
                    self.seen
                        .lock()
                        .unwrap()
                        .push(Arc::as_ptr(f) as *const () as usize);
                }
                Ok(input)
            }
            other => Err(TaskFailure::Function(StatesError::new(
                "NoSuchFunction",
                other,
            ))),
        }
    }
}

fn run(definition: Json) -> (Json, usize, Vec<usize>) {
    let (out, rt) = run_with(definition);
    let seen = rt.seen.lock().unwrap().clone();
    (out, rt.detaches.load(Ordering::SeqCst), seen)
}

fn run_with(definition: Json) -> (Json, Arc<Rt>) {
    let machine = asl::load(&definition).expect("valid definition");
    let rt = Arc::new(Rt {
        detaches: Arc::default(),
        measures: Arc::default(),
        seen: Mutex::default(),
    });
    let engine = Engine::new(rt.clone());
    let result = engine.execute(
        &Workflow {
            name: "t".into(),
            machine,
        },
        json!({}),
        &ExecutionOptions::default(),
    );
    let out = result.into_json().expect("execution succeeds");
    (out, rt)
}

/// How often a runtime object was measured against the payload bounds when a Parallel of
/// `n` branches (each one Pass state) ran on it.
fn measures_with_branches(n: usize) -> usize {
    let branch = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let mut definition = json!({
        "StartAt": "Make",
        "States": {
            "Make": {"Type": "Task", "Resource": "make", "Next": "Fan"},
            "Fan": {"Type": "Parallel", "End": true, "Branches": []}
        }
    });
    // State names are unique in a whole definition.
    definition["States"]["Fan"]["Branches"] = (0..n)
        .map(|i| {
            let mut b = branch.clone();
            b["StartAt"] = json!(format!("P{i}"));
            b["States"] = json!({format!("P{i}"): branch["States"]["P"].clone()});
            b
        })
        .collect();
    let (out, rt) = run_with(definition);
    assert_eq!(out.as_array().map(Vec::len), Some(n), "{out}");
    rt.measures.load(Ordering::SeqCst)
}

#[test]
fn a_parallel_measures_its_shared_input_once_not_once_per_branch() {
    // Each extra branch adds two measures: its Pass state's output and that output as an
    // element of the Parallel's result. Its input, a copy of the Parallel's, is not measured
    // again (that was a third measure per branch).
    let (two, eight) = (measures_with_branches(2), measures_with_branches(8));
    assert_eq!(
        eight - two,
        6 * 2,
        "2 branches: {two} measures, 8 branches: {eight}"
    );
}

#[test]
fn a_plain_hand_off_passes_the_same_object_and_copies_nothing() {
    let (out, detaches, seen) = run(json!({
        "StartAt": "Make",
        "States": {
            "Make": {"Type": "Task", "Resource": "make", "Next": "A"},
            "A": {"Type": "Task", "Resource": "same", "Next": "B"},
            "B": {"Type": "Task", "Resource": "same", "End": true}
        }
    }));
    assert_eq!(out["n"], json!(1));
    assert_eq!(detaches, 0, "no copy on a plain chain");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1], "B received the very object A returned");
}

#[test]
fn result_path_keeps_the_input_as_it_was_even_if_the_function_mutates_it() {
    let (out, detaches, _) = run(json!({
        "StartAt": "Make",
        "States": {
            "Make": {"Type": "Task", "Resource": "make", "Next": "Mark"},
            "Mark": {"Type": "Task", "Resource": "mark", "ResultPath": "$.result", "End": true}
        }
    }));
    // Step Functions passes the function a copy: the raw input is unchanged.
    assert_eq!(out.get("marked"), None, "{out}");
    assert_eq!(out["result"]["marked"], json!(true));
    assert_eq!(detaches, 1);
}

#[test]
fn parallel_branches_do_not_see_each_others_mutations() {
    let (out, _, _) = run(json!({
        "StartAt": "Make",
        "States": {
            "Make": {"Type": "Task", "Resource": "make", "Next": "Fan"},
            "Fan": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "M", "States": {"M": {"Type": "Task", "Resource": "mark", "End": true}}},
                {"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}}
            ]}
        }
    }));
    assert_eq!(out[0]["marked"], json!(true));
    assert_eq!(out[1].get("marked"), None, "{out}");
}

#[test]
fn a_catcher_sees_the_input_as_it_was() {
    let (out, _, _) = run(json!({
        "StartAt": "Make",
        "States": {
            "Make": {"Type": "Task", "Resource": "make", "Next": "Mark"},
            "Mark": {"Type": "Task", "Resource": "mark", "Next": "Boom"},
            "Boom": {"Type": "Task", "Resource": "missing", "End": true,
                     "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    }));
    assert_eq!(out["marked"], json!(true));
    assert_eq!(out["error"]["Error"], json!("NoSuchFunction"));
}
