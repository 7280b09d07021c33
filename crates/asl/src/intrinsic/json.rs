//! The guide's "intrinsics for JSON data manipulation": `States.JsonMerge`,
//! `States.StringToJson`, `States.JsonToString`.

use serde_json::Value as Json;

use super::{Invalid, json_of, string_arg};
use crate::value::{Kind, Value};

/// Parses JSON text; an empty or blank string is `null`, as Step Functions returns it.
pub(super) fn string_to_json(text: &Value) -> Result<Value, Invalid> {
    let text = string_arg(text, "the argument")?;
    if text.trim().is_empty() {
        return Ok(Value::null());
    }
    serde_json::from_str(&text)
        .map(Value::Json)
        .map_err(|e| Invalid(format!("the argument is not JSON text: {e}")))
}

/// Compact JSON, fields in their original order (`{"name":"Foo","year":2020}` in the ASL
/// specification's example).
pub(super) fn json_to_string(value: &Value) -> Result<Value, Invalid> {
    let json = json_of(value, "the argument")?;
    serde_json::to_string(&json)
        .map(|s| Value::Json(Json::String(s)))
        .map_err(|e| Invalid(format!("the argument could not be serialized: {e}")))
}

/// Shallow merge: a field of `second` replaces the field of the same name in `first`. The
/// third argument selects deep merging, which Step Functions does not support: it must be
/// `false`.
pub(super) fn json_merge(first: Value, second: Value, deep: &Value) -> Result<Value, Invalid> {
    match deep.scalar() {
        Some(Json::Bool(false)) => {}
        Some(Json::Bool(true)) => {
            return Err(Invalid::new(
                "deep merging is not supported: the third argument must be false",
            ));
        }
        _ => {
            return Err(Invalid::kind(
                "the third argument",
                "the boolean false",
                deep,
            ));
        }
    }
    let mut merged = object_fields(first, "the first argument")?;
    for (key, value) in object_fields(second, "the second argument")? {
        merged.insert(key, value);
    }
    Ok(Value::from_fields(merged))
}

fn object_fields(value: Value, what: &str) -> Result<indexmap::IndexMap<String, Value>, Invalid> {
    if value.kind() != Kind::Object {
        return Err(Invalid::kind(what, "an object", &value));
    }
    value
        .into_fields()
        .ok_or_else(|| Invalid(format!("{what} could not be read")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{Opaque, cause, eval, eval_value};
    use crate::value::Value;

    #[test]
    fn string_to_json_guide_example() {
        let input = json!({"escapedJsonString": "{\"foo\": \"bar\"}"});
        assert_eq!(
            eval("States.StringToJson($.escapedJsonString)", input).unwrap(),
            json!({"foo": "bar"})
        );
    }

    #[test]
    fn string_to_json_specification_example_and_scalars() {
        let input = json!({"someString": "{\"number\": 20}", "zebra": "stripe"});
        assert_eq!(
            eval("States.StringToJson($.someString)", input).unwrap(),
            json!({"number": 20})
        );
        assert_eq!(
            eval("States.StringToJson(' [1, \"x\"] ')", json!({})).unwrap(),
            json!([1, "x"])
        );
        assert_eq!(
            eval("States.StringToJson('null')", json!({})).unwrap(),
            json!(null)
        );
    }

    #[test]
    fn string_to_json_of_blank_text_is_null() {
        // Recorded on AWS: "" and " " give null.
        for text in ["", " ", "\t\n "] {
            assert_eq!(
                eval("States.StringToJson($.s)", json!({ "s": text })).unwrap(),
                json!(null),
                "{text:?}"
            );
        }
    }

    #[test]
    fn string_to_json_argument_checks() {
        let c = cause("States.StringToJson($.s)", json!({"s": "{oops"}));
        assert!(
            c.contains("Invalid arguments in States.StringToJson: the argument is not JSON text: "),
            "{c}"
        );
        assert!(
            cause("States.StringToJson($.o)", json!({"o": {"a": 1}}))
                .ends_with("the argument must be a string, got an object")
        );
    }

    #[test]
    fn json_to_string_guide_and_specification_examples() {
        assert_eq!(
            eval(
                "States.JsonToString($.unescapedJson)",
                json!({"unescapedJson": {"foo": "bar"}})
            )
            .unwrap(),
            json!(r#"{"foo":"bar"}"#)
        );
        let input = json!({"someJson": {"name": "Foo", "year": 2020}, "zebra": "stripe"});
        assert_eq!(
            eval("States.JsonToString($.someJson)", input).unwrap(),
            json!(r#"{"name":"Foo","year":2020}"#)
        );
    }

    #[test]
    fn json_to_string_keeps_field_order_and_serializes_scalars() {
        let input = json!({"o": {"z": 1, "a": [true, null, 1.5]}, "s": "x"});
        assert_eq!(
            eval("States.JsonToString($.o)", input.clone()).unwrap(),
            json!(r#"{"z":1,"a":[true,null,1.5]}"#)
        );
        assert_eq!(
            eval("States.JsonToString($.s)", input).unwrap(),
            json!(r#""x""#)
        );
    }

    #[test]
    fn json_to_string_of_an_opaque_object_fails() {
        let input = Value::Object(
            [("h".to_string(), Opaque::value("h"))]
                .into_iter()
                .collect(),
        );
        let err = eval_value("States.JsonToString($.h)", input).unwrap_err();
        assert!(
            err.cause.ends_with(
                "Invalid arguments in States.JsonToString: the argument could not be converted \
                 to JSON: h is not JSON"
            ),
            "{}",
            err.cause
        );
    }

    #[test]
    fn json_merge_guide_example() {
        let input = json!({
            "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
            "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}
        });
        let out = eval("States.JsonMerge($.json1, $.json2, false)", input).unwrap();
        assert_eq!(out, json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}));
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"a":{"a3":1,"a4":2},"b":2,"c":3}"#
        );
    }

    #[test]
    fn json_merge_keeps_runtime_objects_as_handles() {
        let input = Value::Object(
            [
                (
                    "x".to_string(),
                    Value::Object(
                        [("h".to_string(), Opaque::value("h"))]
                            .into_iter()
                            .collect(),
                    ),
                ),
                ("y".to_string(), Value::Json(json!({"k": 1}))),
            ]
            .into_iter()
            .collect(),
        );
        let out = eval_value("States.JsonMerge($.x, $.y, false)", input).unwrap();
        assert_eq!(Opaque::tag(&out.get("h").unwrap()), Some("h"));
        assert_eq!(out.get("k").unwrap().to_json().unwrap(), json!(1));
    }

    #[test]
    fn json_merge_argument_checks() {
        let input = json!({"a": {"x": 1}, "b": {"y": 2}, "l": [1]});
        assert!(
            cause("States.JsonMerge($.a, $.b, true)", input.clone()).ends_with(
                "Invalid arguments in States.JsonMerge: deep merging is not supported: the \
                 third argument must be false"
            )
        );
        assert!(
            cause("States.JsonMerge($.a, $.b, 'false')", input.clone())
                .ends_with("the third argument must be the boolean false, got a string")
        );
        assert!(
            cause("States.JsonMerge($.l, $.b, false)", input.clone())
                .ends_with("the first argument must be an object, got an array")
        );
        assert!(
            cause("States.JsonMerge($.a, 'x', false)", input)
                .ends_with("the second argument must be an object, got a string")
        );
    }
}
