//! JSON in and out of the backend's values.

use std::rc::Rc;

use jsonata_core::value::{JArray, JMap, JValue};
use serde_json::{Map, Value};

use super::ast::Need;
use crate::number;

/// A JSON value as JSONata's, without the intermediate copy `JValue::from(Value)` needs.
pub(super) fn from_json(value: &Value) -> JValue {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || match value {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(
                items.iter().map(from_json).collect(),
                flat,
            ))
        }
        Value::Object(fields) => JValue::Object(Rc::new(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<JMap>(),
        )),
    })
}

/// The parts of `value` that `need` says an expression can read, as JSONata's value: an
/// object keeps only the needed fields, an array keeps every item (each pruned alike, as a
/// path maps over arrays), so every read the expression can make finds what it would in the
/// whole value. Converting a large `$states.input` costs only what an expression reads.
pub(super) fn from_json_needed(value: &Value, need: &Need) -> JValue {
    let Need::Fields(fields) = need else {
        return from_json(value);
    };
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || match value {
        Value::Object(object) => JValue::Object(Rc::new(
            fields
                .iter()
                .filter_map(|(name, need)| {
                    let field = object.get(name)?;
                    Some((name.clone(), from_json_needed(field, need)))
                })
                .collect::<JMap>(),
        )),
        Value::Array(items) => {
            let flat = !items.iter().any(Value::is_array);
            let items = items
                .iter()
                .map(|item| from_json_needed(item, need))
                .collect();
            JValue::Array(JArray::new_flat(items, flat))
        }
        scalar => from_json(scalar),
    })
}

/// JSONata's value as JSON, `None` for undefined. Functions are dropped from objects and are
/// `null` in arrays, as `JSON.stringify` has them. Recursion grows the stack on the heap when
/// deep: a result can nest as deep as the evaluation that built it.
pub(super) fn to_json(value: &JValue) -> Option<Value> {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || to_json_shallow(value))
}

fn to_json_shallow(value: &JValue) -> Option<Value> {
    Some(match value {
        JValue::Undefined | JValue::Lambda(_) | JValue::Builtin { .. } | JValue::Regex { .. } => {
            return None;
        }
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number::to_json(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| to_json(v).unwrap_or(Value::Null))
                .collect(),
        ),
        JValue::Object(fields) => Value::Object(
            fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), to_json(v)?)))
                .collect::<Map<_, _>>(),
        ),
    })
}
