//! State data between the engine and Python: round trips, identity hand-off, handle access
//! and JSON conversion errors.

mod common;

use std::sync::Arc;

use asl::{Foreign, Kind, Value};
use common::{Invocation, Lines, call, call_json, case, runtime};
use indexmap::IndexMap;
use pyo3::prelude::*;
use python_runtime::PyHandle;
use serde_json::{Value as Json, json};

fn handle_of(value: &Value) -> &PyHandle {
    match value {
        Value::Foreign(f) => f
            .as_any()
            .downcast_ref::<PyHandle>()
            .expect("a python handle"),
        other => panic!("expected a handle, got {other:?}"),
    }
}

#[test]
fn json_round_trips_unchanged() {
    let rt = runtime("basic");
    let inputs = [
        json!(null),
        json!(true),
        json!(-12),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(2.5),
        json!("text with ünïcödé and \"quotes\""),
        json!([]),
        json!({}),
        json!({"z": 1, "a": [1, 2.5, "x", null, {"deep": [true, false]}], "m": {"k": "v"}}),
    ];
    for input in inputs {
        assert_eq!(call_json(&rt, "echo", input.clone()), input);
    }
}

#[test]
fn json_becomes_native_python_types() {
    let rt = runtime("basic");
    let described = call_json(
        &rt,
        "types_of",
        json!({"n": null, "b": true, "i": 3, "f": 1.5, "s": "x", "l": [1], "d": {"k": {}}}),
    );
    assert_eq!(
        described,
        json!({"n": "NoneType", "b": "bool", "i": "int", "f": "float", "s": "str",
               "l": ["int"], "d": {"k": {}}})
    );
}

#[test]
fn scalars_come_back_as_json_and_containers_as_handles() {
    let rt = runtime("basic");
    let scalar = |c: &str| match call(&rt, "values", case(c)).expect(c) {
        Value::Json(j) => j,
        other => panic!("{c}: expected JSON, got {other:?}"),
    };
    assert_eq!(scalar("none"), json!(null));
    assert_eq!(scalar("true"), json!(true));
    assert_eq!(scalar("int"), json!(42));
    assert_eq!(scalar("negative"), json!(-7));
    assert_eq!(scalar("u64"), json!(u64::MAX));
    assert_eq!(scalar("float"), json!(1.5));
    assert_eq!(scalar("str"), json!("hello"));

    let dict = call(&rt, "values", case("dict")).expect("dict");
    assert_eq!(dict.kind(), Kind::Object);
    assert_eq!(handle_of(&dict).path(), "$");
    let tuple = call(&rt, "values", case("tuple")).expect("tuple");
    assert_eq!(tuple.kind(), Kind::Array);
    assert_eq!(tuple.to_json().expect("tuple is JSON"), json!([1, 2, [3]]));
    // A long string stays in Python: handing it on costs no copy.
    let long = call(&rt, "values", case("longstr")).expect("longstr");
    assert_eq!(long.kind(), Kind::String);
    assert_eq!(
        long.scalar().and_then(|j| j.as_str().map(str::len)),
        Some(100_000)
    );
    let ordered = call(&rt, "values", case("ordered")).expect("ordered");
    assert_eq!(
        ordered.to_json().expect("json").to_string(),
        r#"{"z":1,"a":2}"#
    );
}

#[test]
fn handles_answer_get_index_len_and_keys_without_converting() {
    let rt = runtime("basic");
    let out = call(&rt, "values", case("dict")).expect("dict");
    let Value::Foreign(f) = &out else {
        panic!("not a handle")
    };
    assert_eq!(f.len(), Some(4));
    assert_eq!(f.keys(), ["a", "b", "s", "big"]);
    assert_eq!(
        f.get("a").and_then(|v| v.as_json().cloned()),
        Some(json!(1))
    );
    assert_eq!(
        f.get("s").and_then(|v| v.as_json().cloned()),
        Some(json!("t"))
    );
    assert!(f.get("missing").is_none());
    assert!(f.index(0).is_none(), "a dict has no index");

    let b = f.get("b").expect("b");
    assert_eq!(b.kind(), Kind::Array);
    assert_eq!(handle_of(&b).path(), "$.b");
    assert_eq!(b.len(), Some(3));
    assert_eq!(
        b.index(1).and_then(|v| v.as_json().cloned()),
        Some(json!(2))
    );
    assert!(b.index(3).is_none());
    let c = b.index(2).expect("b[2]");
    assert_eq!(handle_of(&c).path(), "$.b[2]");
    assert_eq!(
        c.get("c").and_then(|v| v.as_json().cloned()),
        Some(json!(null))
    );
    assert!(b.get("x").is_none(), "a list has no fields");
    let Value::Foreign(bf) = &b else {
        panic!("not a handle")
    };
    assert!(bf.keys().is_empty());

    // The engine's generic helpers work through the same calls.
    let fields = out.clone().into_fields().expect("fields");
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["a", "b", "s", "big"]);
    let elements = b.into_elements().expect("elements");
    assert_eq!(elements.len(), 3);
}

#[test]
fn identity_hand_off_passes_the_very_same_object() {
    let rt = runtime("basic");
    let log = Lines::default();
    let size = 8 * 1024 * 1024;
    let out = Invocation::new("make_blob", &log)
        .run(&rt, Value::Json(json!({"size": size})))
        .expect("make_blob");
    let blob = out
        .get("result")
        .and_then(|r| r.get("blob"))
        .expect("$.result.blob");
    assert_eq!(blob.kind(), Kind::Opaque);
    let blob_address = Python::attach(|py| handle_of(&blob).object().bind(py).as_ptr() as usize);

    let seen = call_json(&rt, "same", json!({"result": {"blob": "x"}}));
    assert_eq!(seen["is_same"], json!(false));
    let seen = Invocation::new("same", &log).run(&rt, out).expect("same");
    let seen = seen.to_json().expect("json");
    assert_eq!(seen["is_same"], json!(true));
    assert_eq!(seen["type"], json!("dict"));
    assert_eq!(seen["blob_id"], json!(blob_address));
}

#[test]
fn mixed_objects_keep_their_handles() {
    let rt = runtime("basic");
    let out = call(&rt, "make_blob", json!({"size": 16})).expect("make_blob");
    let result = out.get("result").expect("result");
    // What Parameters would build: plain JSON fields next to a runtime object.
    let mut fields = IndexMap::new();
    fields.insert("result".to_owned(), result);
    fields.insert("note".to_owned(), Value::Json(json!("plain")));
    let mixed = Value::Object(fields);
    let described = call_json(&rt, "types_of", Json::Null);
    assert_eq!(described, json!("NoneType"));
    let log = Lines::default();
    let echoed = Invocation::new("echo", &log).run(&rt, mixed).expect("echo");
    let blob = echoed
        .get("result")
        .and_then(|r| r.get("blob"))
        .expect("blob");
    let original = out.get("result").and_then(|r| r.get("blob")).expect("blob");
    Python::attach(|py| {
        assert!(
            handle_of(&blob)
                .object()
                .bind(py)
                .is(handle_of(&original).object().bind(py))
        );
    });
    assert_eq!(
        echoed.get("note").and_then(|n| n.as_json().cloned()),
        Some(json!("plain"))
    );
    let arr = Value::Array(vec![Value::Json(json!(1)), out.clone()]);
    let echoed = Invocation::new("echo", &log).run(&rt, arr).expect("echo");
    assert_eq!(echoed.len(), Some(2));
}

#[test]
fn foreign_values_of_other_runtimes_arrive_as_json() {
    #[derive(Debug)]
    struct Other;
    impl Foreign for Other {
        fn kind(&self) -> Kind {
            Kind::Object
        }
        fn get(&self, _: &str) -> Option<Value> {
            None
        }
        fn index(&self, _: usize) -> Option<Value> {
            None
        }
        fn len(&self) -> Option<usize> {
            Some(1)
        }
        fn keys(&self) -> Vec<String> {
            vec!["k".into()]
        }
        fn to_json(&self) -> Result<Json, asl::ForeignError> {
            Ok(json!({"k": "from elsewhere"}))
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    let rt = runtime("basic");
    let log = Lines::default();
    let out = Invocation::new("echo", &log)
        .run(&rt, Value::Foreign(Arc::new(Other)))
        .expect("echo");
    assert_eq!(out.to_json().expect("json"), json!({"k": "from elsewhere"}));
}

fn json_error(c: &str) -> String {
    let rt = runtime("basic");
    let out = call(&rt, "values", case(c)).expect(c);
    out.to_json().expect_err("not JSON").to_string()
}

#[test]
fn to_json_names_the_python_type_and_where_it_is() {
    let e = json_error("bytes");
    assert!(e.contains("'values'"), "{e}");
    assert!(e.contains("$.result.blob is a Python bytes object"), "{e}");
    let e = json_error("set");
    assert!(e.contains("$.wrap.items is a Python set object"), "{e}");
    let e = json_error("bytes_in_list");
    assert!(e.contains("$.list[2] is a Python bytearray object"), "{e}");
    let e = json_error("custom");
    assert!(e.contains("$.obj is a Python values.Custom object"), "{e}");
    let e = json_error("odd_key");
    assert!(e.contains(r"$['a b']['it\'s'] is a Python bytes"), "{e}");
}

#[test]
fn to_json_rejects_what_json_cannot_say() {
    let e = json_error("nan");
    assert!(e.contains("$ is the float nan"), "{e}");
    let e = json_error("inf");
    assert!(e.contains("$.x[1] is the float inf"), "{e}");
    let e = json_error("intkey");
    assert!(e.contains("$.m has a key of type int (1)"), "{e}");
    let e = json_error("bigint");
    assert!(e.contains("1180591620717411303424"), "{e}");
    let e = json_error("cycle");
    assert!(e.contains("$.k[0] contains itself"), "{e}");
    let e = json_error("surrogate");
    assert!(e.contains("not valid UTF-8"), "{e}");
}

#[test]
fn a_field_of_a_handle_reports_its_full_path() {
    let rt = runtime("basic");
    let out = call(&rt, "values", case("bytes")).expect("bytes");
    let result = out.get("result").expect("result");
    let e = result.to_json().expect_err("bytes").to_string();
    assert!(e.contains("$.result.blob"), "{e}");
}

#[test]
fn detach_copies_mutable_structure_and_shares_immutable_bytes() {
    let rt = runtime("basic");
    let original = call(&rt, "make_blob", json!({"size": 4096})).expect("make_blob runs");
    let copy = original
        .clone()
        .detach()
        .expect("a dict of bytes can be copied");
    let (a, b) = (handle_of(&original), handle_of(&copy));
    Python::attach(|py| {
        let (a, b) = (a.object().bind(py), b.object().bind(py));
        assert!(!a.is(b), "the copy is a new dict");
        let blob_a = a
            .get_item("result")
            .and_then(|r| r.get_item("blob"))
            .expect("blob");
        let blob_b = b
            .get_item("result")
            .and_then(|r| r.get_item("blob"))
            .expect("blob");
        assert!(blob_a.is(&blob_b), "immutable bytes are shared, not copied");
        b.set_item("added", 1).expect("the copy is mutable");
        assert!(
            !a.contains("added").expect("contains works"),
            "mutating the copy leaves the original alone"
        );
    });
    assert_eq!(copy.to_json().is_err(), original.to_json().is_err());
}

#[test]
fn detach_copies_every_nested_container_and_no_leaf() {
    let rt = runtime("basic");
    // {"a": 1, "b": [1, 2, {"c": None}], "s": "t", "big": "q" * 70_000}, and a tuple holding
    // a list: (1, 2, [3]).
    for name in ["dict", "tuple"] {
        let original = call(&rt, "values", case(name)).expect(name);
        let copy = original.clone().detach().expect("plain data can be copied");
        let (a, b) = (handle_of(&original), handle_of(&copy));
        Python::attach(|py| {
            let (a, b) = (a.object().bind(py), b.object().bind(py));
            let walker = pyo3::types::PyModule::from_code(
                py,
                cr#"
def problems(a, b, at="$"):
    """Where the copy b shares a mutable container with a, or copied a leaf."""
    if isinstance(a, dict):
        found = [at] if a is b else []
        for k in a:
            found += problems(a[k], b[k], f"{at}[{k!r}]")
        return found
    if isinstance(a, (list, tuple)):
        found = [at] if isinstance(a, list) and a is b else []
        for i, (x, y) in enumerate(zip(a, b)):
            found += problems(x, y, f"{at}[{i}]")
        return found
    return [] if a is b else [at + " (leaf copied)"]
"#,
                c"walker.py",
                c"walker",
            )
            .expect("the walker compiles");
            let problems: Vec<String> = walker
                .getattr("problems")
                .and_then(|f| f.call1((a, b)))
                .and_then(|r| r.extract())
                .expect("the walker runs");
            assert!(problems.is_empty(), "{name}: {problems:?}");
        });
        assert_eq!(copy.to_json().ok(), original.to_json().ok(), "{name}");
    }
}

/// Runs `keeper` with `shape`, hands its result to `bump` (which mutates its input) and
/// returns what `bump` gave back.
fn keep_then_bump(rt: &python_runtime::PythonRuntime, shape: &str) -> Json {
    let log = Lines::default();
    let kept = Invocation::new("keeper", &log)
        .run(rt, Value::Json(json!({ "shape": shape })))
        .expect("keeper");
    let bumped = Invocation::new("bump", &log).run(rt, kept).expect("bump");
    bumped.to_json().expect("json")
}

fn keeper_globals() -> Json {
    Python::attach(|py| -> PyResult<String> {
        let keeper = py.import("keeper")?;
        let json = py.import("json")?;
        let all = pyo3::types::PyDict::new(py);
        for name in ["DEFAULTS", "TAGS", "NESTED"] {
            all.set_item(name, keeper.getattr(name)?)?;
        }
        json.call_method1("dumps", (all,))?.extract()
    })
    .map(|text| serde_json::from_str(&text).expect("json"))
    .expect("keeper's globals")
}

#[test]
fn a_result_the_function_keeps_is_handed_on_as_a_copy() {
    let rt = runtime("basic");
    for shape in ["global", "inner", "tuple", "deep"] {
        for _ in 0..3 {
            keep_then_bump(&rt, shape);
        }
    }
    assert_eq!(
        keeper_globals(),
        json!({
            "DEFAULTS": {"count": 0, "tags": ["base"]},
            "TAGS": ["base"],
            "NESTED": [{"deep": {"list": [1]}}],
        }),
        "what a function keeps is not changed by the next function"
    );
    let out = keep_then_bump(&rt, "global");
    assert_eq!(out, json!({"count": 1, "tags": ["base", "bumped"]}));
}

#[test]
fn one_container_returned_twice_becomes_two_values() {
    let rt = runtime("basic");
    let out = keep_then_bump(&rt, "twice");
    assert_eq!(out, json!({"a": [1, "bumped"], "b": [1, "bumped"]}));
    let log = Lines::default();
    let twice = Invocation::new("keeper", &log)
        .run(&rt, Value::Json(json!({"shape": "twice"})))
        .expect("keeper");
    let (a, b) = (twice.get("a").expect("a"), twice.get("b").expect("b"));
    Python::attach(|py| {
        assert!(
            !handle_of(&a).object().bind(py).is(handle_of(&b).object()),
            "JSON has no aliases: `a` and `b` are separate lists"
        );
    });
}

#[test]
fn a_freshly_built_result_is_handed_on_without_a_copy() {
    let rt = runtime("basic");
    let log = Lines::default();
    let made = Invocation::new("keeper", &log)
        .run(&rt, Value::Json(json!({"shape": "fresh"})))
        .expect("keeper");
    let seen = Invocation::new("bump_ids", &log)
        .run(&rt, made)
        .expect("bump_ids")
        .to_json()
        .expect("json");
    let made_ids = Python::attach(|py| -> PyResult<Json> {
        let ids: Vec<u64> = py.import("keeper")?.getattr("FRESH_IDS")?.extract()?;
        Ok(json!(ids))
    })
    .expect("ids");
    assert_eq!(seen, made_ids, "the same dict, inner list and record");
}

#[test]
fn streamed_json_text_is_the_text_of_the_json_tree() {
    let rt = runtime("basic");
    let input = json!({"z": 1, "a": [1, 2.5, -0.0, 1e300, "x\"\n\u{e9}", null, true, {"deep": [false]}],
                       "big": u64::MAX, "neg": i64::MIN, "empty": {}, "none": []});
    let out = call(&rt, "echo", input.clone()).expect("echo");
    let mut streamed = Vec::new();
    out.write_json(&mut streamed).expect("streams");
    let tree = serde_json::to_vec(&out.to_json().expect("json")).expect("text");
    assert_eq!(
        String::from_utf8_lossy(&streamed),
        String::from_utf8_lossy(&tree)
    );
    assert_eq!(
        serde_json::from_slice::<Json>(&streamed).expect("json"),
        input
    );

    for case_name in ["nan", "cycle", "intkey", "bigint"] {
        let out = call(&rt, "values", case(case_name)).expect("values");
        let mut streamed = b"kept".to_vec();
        let e = out.write_json(&mut streamed).expect_err("no JSON form");
        assert_eq!(streamed, b"kept", "{case_name}: the buffer is as it was");
        assert_eq!(
            e.to_string(),
            out.to_json().expect_err("no JSON form").to_string(),
            "{case_name}"
        );
    }
}

#[test]
fn a_python_value_is_measured_in_one_pass_to_its_exact_json_length() {
    let rt = runtime("basic");
    let input = json!({"z": 1, "a": [1, 2.5, -0.0, 1e300, "x\"\n\u{e9}", null, true, {"deep": [false]}],
                       "big": u64::MAX, "neg": i64::MIN, "empty": {}, "none": [], "t": "\u{1F600}"});
    let exact = serde_json::to_vec(&input).expect("text").len();
    let out = call(&rt, "echo", input).expect("echo");
    let Value::Foreign(handle) = &out else {
        panic!("echo returns its Python object: {out:?}");
    };
    assert_eq!(handle.json_len_within(exact), Some(Some(exact)));
    assert_eq!(handle.json_len_within(exact + 10), Some(Some(exact)));
    assert_eq!(handle.json_len_within(exact - 1), Some(None));
    assert_eq!(handle.json_len_within(0), Some(None));
    assert!(!asl::limits::payload_exceeds(&out, exact));
    assert!(asl::limits::payload_exceeds(&out, exact - 1));

    // Without a JSON form there is no single pass: the engine measures part by part, where a
    // part with no JSON form counts as nothing, so the bound still holds for the rest.
    for case_name in ["nan", "cycle", "intkey", "bigint"] {
        let out = call(&rt, "values", case(case_name)).expect("values");
        let Value::Foreign(handle) = &out else {
            panic!("{case_name}: a Python object: {out:?}");
        };
        assert_eq!(handle.json_len_within(1 << 20), None, "{case_name}");
        assert!(!asl::limits::payload_exceeds(&out, 1 << 20), "{case_name}");
    }
    let out = call(&rt, "values", case("intkey")).expect("values");
    assert!(
        asl::limits::payload_exceeds(&out, "{\"m\":{}".len()),
        "the parts with a JSON form still count"
    );
}
