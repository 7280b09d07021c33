//! The data a state carries between states.
//!
//! A state's data is JSON, a handle to an object a function runtime owns (for example a
//! Python dict returned by the previous function), or a mix of both (an object built by
//! `Parameters` whose fields are runtime objects). Handles are never converted to JSON unless a
//! value leaves the process or a JSONPath query needs the whole document: field access on a
//! handle asks the runtime for just that field, which keeps a hand-off between two functions
//! of the same runtime a pointer move.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value as Json;

/// The JSON type of a value, as Choice rules and intrinsic argument checks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
    /// A runtime object with no JSON equivalent (bytes, a tensor, ...).
    Opaque,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
            Kind::Opaque => "opaque object",
        }
    }
}

/// A runtime object could not be turned into JSON, or copied.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ForeignError {
    /// The object, or a part of it, has no JSON form (a socket, a NaN, a non-string key):
    /// the function's output is at fault, and the message names the part.
    #[error("{0}")]
    NotJson(String),
    /// The runtime could not make an independent copy of the object for the next function.
    #[error("{0}")]
    NotCopied(String),
}

/// An object owned by a function runtime, reachable without converting it to JSON.
///
/// Implementations return scalars as `Value::Json` and containers as new handles, so a
/// path like `$.a.b` touches only `a` and `b`.
pub trait Foreign: Send + Sync + fmt::Debug {
    fn kind(&self) -> Kind;
    /// Field `key` of an object; `None` when absent or when this is not an object.
    fn get(&self, key: &str) -> Option<Value>;
    /// Element `index` of an array; `None` when out of range or not an array.
    fn index(&self, index: usize) -> Option<Value>;
    /// Number of elements of an array or fields of an object.
    fn len(&self) -> Option<usize>;
    /// Whether this is an empty array or object.
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
    /// Field names of an object, in order; empty for anything else.
    fn keys(&self) -> Vec<String>;
    /// The whole object as JSON (the slow path: the value leaves the process).
    fn to_json(&self) -> Result<Json, ForeignError>;
    /// Appends the whole object's compact JSON text to `out`: the same text as
    /// [`Foreign::to_json`] serialized, without building the JSON tree first (a large output
    /// then needs the text's memory, not the tree's as well). On an error `out` is as it was.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), ForeignError> {
        let json = self.to_json()?;
        serde_json::to_writer(out, &json).map_err(|e| ForeignError::NotJson(e.to_string()))
    }
    /// The length of the object's compact JSON text when it is at most `max` bytes
    /// (`Some(Some(len))`), `Some(None)` when it is longer, counted in one pass that stops at
    /// the bound. `None` (the default) when the runtime has no such pass or the object no
    /// JSON form: callers then measure it field by field ([`crate::limits::payload_exceeds`]),
    /// which for a runtime object costs one call into the runtime per field.
    fn json_len_within(&self, _max: usize) -> Option<Option<usize>> {
        None
    }
    /// The object's JSON when it is JSON already, borrowed ([`crate::shared::SharedJson`]):
    /// readers then use it in place instead of asking for a copy.
    fn as_json(&self) -> Option<&Json> {
        None
    }
    /// Lets the owning runtime recover its own object.
    fn as_any(&self) -> &dyn Any;
    /// The runtime's name for the object's type (`generator`, `numpy.ndarray`), for error
    /// messages; `None` when it has none to give.
    fn type_name(&self) -> Option<String> {
        None
    }
    /// An independent copy: mutating one must not change the other. The engine asks for one
    /// when it hands a value to a function while keeping the value itself (for ResultPath,
    /// Retry, Catch or sibling branches), because Step Functions passes copies. Runtimes
    /// should share immutable parts (a Python `bytes`) and copy only mutable structure.
    fn detach(&self) -> Result<Value, ForeignError> {
        self.to_json().map(Value::Json)
    }
}

/// A state's data.
#[derive(Clone, Debug)]
pub enum Value {
    /// Plain JSON.
    Json(Json),
    /// An object some of whose fields (at any depth) are runtime objects.
    Object(IndexMap<String, Value>),
    /// An array some of whose elements (at any depth) are runtime objects.
    Array(Vec<Value>),
    /// An object owned by a runtime.
    Foreign(Arc<dyn Foreign>),
}

impl Default for Value {
    fn default() -> Self {
        Value::Json(Json::Null)
    }
}

impl From<Json> for Value {
    fn from(json: Json) -> Self {
        Value::Json(json)
    }
}

impl Value {
    pub fn null() -> Value {
        Value::Json(Json::Null)
    }

    pub fn empty_object() -> Value {
        Value::Json(Json::Object(serde_json::Map::new()))
    }

    pub fn foreign(object: Arc<dyn Foreign>) -> Value {
        Value::Foreign(object)
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Json(j) => json_kind(j),
            Value::Object(_) => Kind::Object,
            Value::Array(_) => Kind::Array,
            Value::Foreign(f) => f.kind(),
        }
    }

    /// The JSON form when this value is already plain JSON (or a handle to JSON).
    pub fn as_json(&self) -> Option<&Json> {
        match self {
            Value::Json(j) => Some(j),
            Value::Foreign(f) => f.as_json(),
            _ => None,
        }
    }

    /// Field `key` of an object (a clone of JSON, a new handle for a runtime object).
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Json(Json::Object(m)) => m.get(key).cloned().map(Value::Json),
            Value::Json(_) | Value::Array(_) => None,
            Value::Object(m) => m.get(key).cloned(),
            Value::Foreign(f) => f.get(key),
        }
    }

    /// Element `index` of an array.
    pub fn index(&self, index: usize) -> Option<Value> {
        match self {
            Value::Json(Json::Array(a)) => a.get(index).cloned().map(Value::Json),
            Value::Json(_) | Value::Object(_) => None,
            Value::Array(a) => a.get(index).cloned(),
            Value::Foreign(f) => f.index(index),
        }
    }

    /// Moves field `key` out of an object without cloning it.
    pub fn take(self, key: &str) -> Option<Value> {
        match self {
            Value::Json(Json::Object(mut m)) => m.swap_remove(key).map(Value::Json),
            Value::Object(mut m) => m.swap_remove(key),
            other => other.get(key),
        }
    }

    /// Moves element `index` out of an array without cloning it.
    pub fn take_index(self, index: usize) -> Option<Value> {
        match self {
            Value::Json(Json::Array(mut a)) if index < a.len() => {
                Some(Value::Json(a.swap_remove(index)))
            }
            Value::Array(mut a) if index < a.len() => Some(a.swap_remove(index)),
            other => other.index(index),
        }
    }

    /// Length of an array (or number of fields of an object).
    pub fn len(&self) -> Option<usize> {
        match self {
            Value::Json(Json::Array(a)) => Some(a.len()),
            Value::Json(Json::Object(m)) => Some(m.len()),
            Value::Json(_) => None,
            Value::Object(m) => Some(m.len()),
            Value::Array(a) => Some(a.len()),
            Value::Foreign(f) => f.len(),
        }
    }

    /// Whether this is an empty array or object (`false` for scalars).
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The elements of an array, each as its own value (handles stay handles).
    pub fn into_elements(self) -> Option<Vec<Value>> {
        match self {
            Value::Json(Json::Array(a)) => Some(a.into_iter().map(Value::Json).collect()),
            Value::Array(a) => Some(a),
            Value::Foreign(f) if f.kind() == Kind::Array => {
                let n = f.len().unwrap_or(0);
                (0..n).map(|i| f.index(i)).collect()
            }
            _ => None,
        }
    }

    /// The fields of an object, each as its own value (handles stay handles).
    pub fn into_fields(self) -> Option<IndexMap<String, Value>> {
        match self {
            Value::Json(Json::Object(m)) => {
                Some(m.into_iter().map(|(k, v)| (k, Value::Json(v))).collect())
            }
            Value::Object(m) => Some(m),
            Value::Foreign(f) if f.kind() == Kind::Object => f
                .keys()
                .into_iter()
                .map(|k| f.get(&k).map(|v| (k, v)))
                .collect(),
            _ => None,
        }
    }

    /// Converts to plain JSON, asking runtimes to serialize their objects.
    pub fn to_json(&self) -> Result<Json, ForeignError> {
        match self {
            Value::Json(j) => Ok(j.clone()),
            Value::Object(m) => {
                let mut out = serde_json::Map::with_capacity(m.len());
                for (k, v) in m {
                    out.insert(k.clone(), v.to_json()?);
                }
                Ok(Json::Object(out))
            }
            Value::Array(a) => a
                .iter()
                .map(Value::to_json)
                .collect::<Result<_, _>>()
                .map(Json::Array),
            Value::Foreign(f) => f.to_json(),
        }
    }

    /// Appends the value's compact JSON text to `out` (the text `serde_json::to_string` gives
    /// for [`Value::to_json`]), streaming runtime objects (see [`Foreign::write_json`]).
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), ForeignError> {
        let text_error = |e: serde_json::Error| ForeignError::NotJson(e.to_string());
        match self {
            Value::Json(j) => serde_json::to_writer(out, j).map_err(text_error),
            Value::Object(m) => {
                out.push(b'{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, k).map_err(text_error)?;
                    out.push(b':');
                    v.write_json(out)?;
                }
                out.push(b'}');
                Ok(())
            }
            Value::Array(a) => {
                out.push(b'[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    v.write_json(out)?;
                }
                out.push(b']');
                Ok(())
            }
            Value::Foreign(f) => f.write_json(out),
        }
    }

    /// Like [`Value::to_json`], moving JSON parts instead of cloning them.
    pub fn into_json(self) -> Result<Json, ForeignError> {
        match self {
            Value::Json(j) => Ok(j),
            Value::Object(m) => {
                let mut out = serde_json::Map::with_capacity(m.len());
                for (k, v) in m {
                    out.insert(k, v.into_json()?);
                }
                Ok(Json::Object(out))
            }
            Value::Array(a) => a
                .into_iter()
                .map(Value::into_json)
                .collect::<Result<_, _>>()
                .map(Json::Array),
            Value::Foreign(f) => f.to_json(),
        }
    }

    /// A copy that shares nothing mutable with `self` (see [`Foreign::detach`]). Plain JSON
    /// is already independent once cloned, so this costs nothing for it.
    pub fn detach(self) -> Result<Value, ForeignError> {
        match self {
            Value::Json(_) => Ok(self),
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| v.detach().map(|v| (k, v)))
                .collect::<Result<IndexMap<_, _>, _>>()
                .map(Value::Object),
            Value::Array(a) => a
                .into_iter()
                .map(Value::detach)
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Foreign(f) => f.detach(),
        }
    }

    /// A scalar (null, boolean, number, string) as JSON; `None` for containers.
    pub fn scalar(&self) -> Option<Json> {
        match self {
            Value::Json(j) if !j.is_array() && !j.is_object() => Some(j.clone()),
            Value::Foreign(f)
                if matches!(
                    f.kind(),
                    Kind::Null | Kind::Bool | Kind::Number | Kind::String
                ) =>
            {
                f.to_json().ok()
            }
            _ => None,
        }
    }

    /// Builds an object from fields, staying plain JSON when every field is JSON.
    pub fn from_fields(fields: IndexMap<String, Value>) -> Value {
        if !fields.values().all(|v| matches!(v, Value::Json(_))) {
            return Value::Object(fields);
        }
        let map = fields
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::Json(j) => Some((k, j)),
                _ => None,
            })
            .collect();
        Value::Json(Json::Object(map))
    }

    /// Builds an array from elements, staying plain JSON when every element is JSON.
    pub fn from_elements(elements: Vec<Value>) -> Value {
        if !elements.iter().all(|v| matches!(v, Value::Json(_))) {
            return Value::Array(elements);
        }
        let items = elements
            .into_iter()
            .filter_map(|v| match v {
                Value::Json(j) => Some(j),
                _ => None,
            })
            .collect();
        Value::Json(Json::Array(items))
    }
}

pub fn json_kind(j: &Json) -> Kind {
    match j {
        Json::Null => Kind::Null,
        Json::Bool(_) => Kind::Bool,
        Json::Number(_) => Kind::Number,
        Json::String(_) => Kind::String,
        Json::Array(_) => Kind::Array,
        Json::Object(_) => Kind::Object,
    }
}
