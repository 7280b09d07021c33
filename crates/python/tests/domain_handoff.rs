//! The hand-off of a Python function that ran in a domain (`domains::hand_off`): its result
//! copied object by object into the shared domain. Run over `mpk::Domains::unprotected`, so
//! it runs where protection keys are absent: the allocator routing, the domain heap and the
//! copy are the same as under `--isolation mpk`, only no page is tagged. (The guest of
//! `scripts/test-mpk-qemu.sh` runs the same path with keys through the CLI.)
//!
//! The allocator hooks are per process: every test shares one set of domains.

mod common;

use std::sync::{Arc, OnceLock};

use asl::Value;
use engine::{Runtime, TaskFailure};
use isolation::DomainIsolated;
use mpk::Domains;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use python_runtime::{PyHandle, domains};
use serde_json::json;

fn object_of(value: &Value) -> Py<PyAny> {
    let Value::Foreign(f) = value else {
        panic!("expected a python object, got {value:?}")
    };
    let handle = f
        .as_any()
        .downcast_ref::<PyHandle>()
        .expect("a python handle");
    Python::attach(|py| handle.object().clone_ref(py))
}

/// Every object reachable from `object` through dicts, lists and tuples, with `object`.
fn walk<'py>(object: &Bound<'py, PyAny>, out: &mut Vec<Bound<'py, PyAny>>) {
    out.push(object.clone());
    if let Ok(d) = object.cast::<PyDict>() {
        for (k, v) in d.iter() {
            out.push(k);
            walk(&v, out);
        }
    } else if let Ok(l) = object.cast::<PyList>() {
        for v in l.iter() {
            walk(&v, out);
        }
    } else if let Ok(t) = object.cast::<PyTuple>() {
        for v in t.iter() {
            walk(&v, out);
        }
    }
}

fn in_domain_count(object: &Py<PyAny>) -> (usize, usize) {
    Python::attach(|py| {
        let mut all = Vec::new();
        walk(object.bind(py), &mut all);
        let private = all.iter().filter(|o| domains::in_a_domain(o)).count();
        (private, all.len())
    })
}

/// Held by every test here: one counts what a gate did, and a release is whole whenever
/// another thread is inside a domain too.
static GATES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The process's domains (the allocator hooks are per process), with [`GATES`] held.
fn shared_domains() -> (std::sync::MutexGuard<'static, ()>, Arc<Domains>) {
    let alone = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    static DOMAINS: OnceLock<Arc<Domains>> = OnceLock::new();
    let domains = DOMAINS.get_or_init(|| Arc::new(Domains::unprotected(15)));
    domains::install(domains).expect("hooks installed");
    (alone, Arc::clone(domains))
}

#[test]
fn a_result_made_in_a_domain_is_handed_on_as_shared_objects() {
    let log = common::Lines::default();
    let rt = Arc::new(common::runtime("handoff"));
    assert!(rt.prepare(&["churn", "reader", "odd"]).is_empty());
    let (_alone, domains) = shared_domains();

    // The raw result, made in a domain: the copy's input.
    let id = domains.create("churn, by hand");
    let input = || Value::Json(json!({"n": 40}));
    domains::before_gate();
    domains::enter(id);
    let raw = common::Invocation::new("churn", &log).run(rt.as_ref(), input());
    domains::leave();
    let raw = raw.expect("churn runs");
    let (private, all) = in_domain_count(&object_of(&raw));
    // Not all of it: small integers, `None`, literal keys and the module's string are shared.
    assert!(
        private >= 160,
        "the function's result should live in its domain ({private} of {all} objects)"
    );
    let aside = domains::copies_made_again();
    let copy = domains::hand_off(raw.clone()).expect("the copy");
    domains::after_gate();
    let copied = object_of(&copy);
    assert_eq!(
        in_domain_count(&copied).0,
        0,
        "no object of the copy may live in a domain"
    );
    assert!(
        domains::copies_made_again() > aside,
        "the function left its free lists full of its own blocks: some copies were made again"
    );
    assert_eq!(
        copy.to_json().ok(),
        raw.to_json().ok(),
        "the copy equals the result"
    );
    Python::attach(|py| {
        let copied = copied.bind(py).cast::<PyDict>().expect("a dict").clone();
        let module = py.import("churn").expect("churn is imported");
        let shared = module
            .getattr("MADE_AT_IMPORT")
            .expect("the module constant");
        let item = |k: &str| copied.get_item(k).ok().flatten().expect(k);
        assert!(
            item("shared").is(&shared),
            "a string made before the call is shared, not copied"
        );
        let name = item("name");
        assert!(!domains::in_a_domain(&name));
        // Held by the handle only: the engine's own, as `copy::own` makes results.
        assert_eq!(
            // SAFETY: a live object, the GIL held.
            unsafe { pyo3::ffi::Py_REFCNT(copied.as_ptr()) },
            3,
            "the handle's reference, `copied`'s and this binding's: nothing else holds it"
        );
    });

    // Through the runtime: the next function gets the very objects.
    let isolated = DomainIsolated::over(
        rt.clone(),
        &["churn".to_string(), "reader".to_string(), "odd".to_string()],
        Arc::clone(&domains),
    )
    .with_memory(Arc::new(domains::PythonMemory));
    let churned = common::Invocation::new("churn", &log)
        .run(&isolated, input())
        .expect("churn through the gate");
    assert_eq!(in_domain_count(&object_of(&churned)).0, 0);
    let address = object_of(&churned).as_ptr() as usize;
    let read = common::Invocation::new("reader", &log)
        .run(&isolated, churned.clone())
        .expect("reader runs")
        .to_json()
        .expect("json");
    assert_eq!(
        read["id"],
        json!(address),
        "the next function reads the shared copy itself"
    );
    assert_eq!(read["floats"], json!(40.0 * 19.5 + 10.0));

    // What JSON refuses, the copy refuses with the JSON path's words.
    for kind in ["set", "nan", "huge", "key", "cycle", "surrogate"] {
        let plain = common::Invocation::new("odd", &log)
            .run(rt.as_ref(), Value::Json(json!({"kind": kind})))
            .expect("odd runs without isolation");
        let expected = plain.to_json().expect_err("no JSON form").to_string();
        let failure = common::Invocation::new("odd", &log)
            .run(&isolated, Value::Json(json!({"kind": kind})))
            .expect_err("refused at the hand-off");
        let TaskFailure::Runtime(e) = failure else {
            panic!("{kind}: {failure:?}")
        };
        assert_eq!(
            e.cause,
            format!("handing the result of function 'odd' to the shared domain: {expected}"),
            "{kind}"
        );
    }
    // Subclasses become their base types, as through JSON.
    let odd = common::Invocation::new("odd", &log)
        .run(&isolated, Value::Json(json!({"kind": "ok"})))
        .expect("odd's plain result");
    Python::attach(|py| {
        let odd = object_of(&odd);
        let odd = odd.bind(py);
        let types: Vec<String> = ["level", "tag", "rows"]
            .iter()
            .map(|k| {
                odd.get_item(k)
                    .and_then(|v| v.get_type().name().map(|n| n.to_string()))
                    .expect(k)
            })
            .collect();
        assert_eq!(odd.get_type().name().expect("type").to_string(), "dict");
        assert_eq!(types, ["int", "str", "tuple"]);
    });
    assert_eq!(
        odd.to_json().expect("json"),
        json!({"level": 3, "tag": "tok", "rows": [1, [2]]})
    );
}

/// A `global` the module did not define at import grows the module's dict inside the
/// function's domain; after the gate the dict has a table in the shared domain again, with
/// every global intact (else any later lookup in that module, from another function, would
/// be reported as a violation).
#[test]
fn a_module_dict_grown_in_a_domain_is_given_back_a_shared_table() {
    let log = common::Lines::default();
    let rt = common::runtime("handoff");
    assert!(rt.prepare(&["grow"]).is_empty());
    let (_alone, domains) = shared_domains();
    let id = domains.create("grow");
    let module_table_private = || {
        Python::attach(|py| {
            let module = py.import("grow").expect("grow is imported");
            domains::in_a_domain(module.dict().as_any())
        })
    };
    assert!(
        !module_table_private(),
        "made at import, outside any domain"
    );
    domains::before_gate();
    domains::enter(id);
    let result = common::Invocation::new("grow", &log).run(&rt, Value::Json(json!({})));
    domains::leave();
    result.expect("grow runs");
    assert!(
        module_table_private(),
        "twelve new globals: the table grew in the function's domain"
    );
    domains::after_gate();
    assert!(!module_table_private(), "given back a shared table");
    Python::attach(|py| {
        let module = py.import("grow").expect("grow");
        let sum: i64 = (1..=12)
            .map(|i| {
                module
                    .getattr(format!("g{i:02}").as_str())
                    .and_then(|v| v.extract::<i64>())
                    .expect("the global")
            })
            .sum();
        assert_eq!(sum, 78);
        assert!(module.getattr("handler").is_ok());
    });
}

/// After a gate, nothing interpreter-wide may point into the function's domain; the release
/// that ensures it is skipped only when the domain holds no block at all. A function that
/// keeps nothing leaves an empty domain (the collection alone runs); one whose attribute
/// lookup by a name it made left that name in CPython's method cache has a block alive, so
/// the whole release runs, and drops the name: the domain is empty after it too.
#[test]
fn the_release_after_a_gate_leaves_no_block_in_the_domain() {
    let log = common::Lines::default();
    let rt = common::runtime("handoff");
    assert!(rt.prepare(&["sized", "lookup"]).is_empty());
    let (_alone, domains) = shared_domains();
    let call = |function: &'static str, input: serde_json::Value| {
        let id = domains.create(function);
        domains::before_gate();
        domains::enter(id);
        let result = common::Invocation::new(function, &log).run(&rt, Value::Json(input));
        domains::leave();
        let copied = domains::hand_off(result.expect(function)).expect("the copy");
        let full = domains::full_releases();
        domains::after_gate();
        (id, domains::full_releases() > full, copied)
    };
    let (pure, full, _) = call("sized", json!({"kind": "small", "id": 7}));
    assert_eq!(domains::live_blocks_of(pure), 0, "sized keeps nothing");
    assert!(!full, "nothing to release beyond the collection");

    let (looked_up, full, copied) = call("lookup", json!({"n": 12345}));
    assert_eq!(copied.to_json().ok(), Some(json!({"found": false})));
    assert!(full, "the method cache held the function's string");
    assert_eq!(
        domains::live_blocks_of(looked_up),
        0,
        "the cached name was released with the method cache"
    );
}
