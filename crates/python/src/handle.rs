//! [`PyHandle`]: a Python object a function returned, held by the engine as an
//! [`asl::Foreign`] value without converting it; and the engine's [`Value`] to and from Python
//! objects.
//!
//! Into Python ([`to_python`]): JSON as `convert.rs` builds it; a [`PyHandle`] becomes its own
//! object again; an object or array mixing both becomes a dict or list whose members are
//! converted the same way.
//!
//! Out of Python ([`from_python`]): scalars become JSON (cheap to copy, and what Choice rules
//! compare); every container and every other object stays a [`PyHandle`], converted only if
//! the value leaves the process (`convert::to_json`).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use asl::{Foreign, ForeignError, Kind, Value};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Number, Value as Json};

use crate::convert::{self, Location, json_to_python};
use crate::interpreter;

/// Strings up to this many characters are copied out as JSON; longer ones stay handles so a
/// hand-off of a large string costs no more than one of a small one.
const INLINE_STR_MAX: usize = 64 * 1024;

/// A Python object owned by the engine's state data.
///
/// Passing a `Value::Foreign` holding a `PyHandle` to another Python function hands it the
/// very same object: no copy, no serialization, whatever its size.
pub struct PyHandle {
    object: Py<PyAny>,
    kind: Kind,
    location: Location,
}

impl PyHandle {
    pub(crate) fn new(object: Bound<'_, PyAny>, kind: Kind, location: Location) -> Self {
        PyHandle {
            object: object.unbind(),
            kind,
            location,
        }
    }

    /// The Python object.
    pub fn object(&self) -> &Py<PyAny> {
        &self.object
    }

    /// Where the object sits in its function's output (`$`, `$.result.blob`, ...).
    pub fn path(&self) -> &str {
        &self.location.path
    }

    /// The function whose output this object is part of.
    pub fn origin(&self) -> &str {
        &self.location.origin
    }
}

impl fmt::Debug for PyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyHandle")
            .field("kind", &self.kind)
            .field("origin", &self.location.origin)
            .field("path", &self.location.path)
            .finish_non_exhaustive()
    }
}

impl Foreign for PyHandle {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn get(&self, key: &str) -> Option<Value> {
        if self.kind != Kind::Object {
            return None;
        }
        interpreter::attach(|py| {
            let dict = self.object.bind(py).cast::<PyDict>().ok()?;
            let item = dict.get_item(key).ok()??;
            Some(from_python(item, &self.location.key(key)))
        })
    }

    fn index(&self, index: usize) -> Option<Value> {
        if self.kind != Kind::Array {
            return None;
        }
        interpreter::attach(|py| {
            let object = self.object.bind(py);
            let item = if let Ok(list) = object.cast::<PyList>() {
                list.get_item(index).ok()?
            } else {
                object.cast::<PyTuple>().ok()?.get_item(index).ok()?
            };
            Some(from_python(item, &self.location.index(index)))
        })
    }

    fn len(&self) -> Option<usize> {
        if !matches!(self.kind, Kind::Object | Kind::Array) {
            return None;
        }
        interpreter::attach(|py| self.object.bind(py).len().ok())
    }

    fn keys(&self) -> Vec<String> {
        if self.kind != Kind::Object {
            return Vec::new();
        }
        interpreter::attach(|py| {
            let Ok(dict) = self.object.bind(py).cast::<PyDict>() else {
                return Vec::new();
            };
            // Keys that are not strings have no JSON name: they are left out here and
            // reported by `to_json`.
            dict.keys()
                .iter()
                .filter_map(|k| {
                    k.cast::<PyString>()
                        .ok()
                        .and_then(|s| s.to_str().ok().map(str::to_owned))
                })
                .collect()
        })
    }

    fn to_json(&self) -> Result<Json, ForeignError> {
        interpreter::attach(|py| convert::to_json(self.object.bind(py), &self.location))
    }

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), ForeignError> {
        interpreter::attach(|py| convert::write_json(self.object.bind(py), &self.location, out))
    }

    fn json_len_within(&self, max: usize) -> Option<Option<usize>> {
        interpreter::attach(|py| convert::json_len_within(self.object.bind(py), max))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn type_name(&self) -> Option<String> {
        interpreter::attach(|py| {
            let name = self
                .object
                .bind(py)
                .get_type()
                .fully_qualified_name()
                .ok()?;
            Some(name.to_string())
        })
    }

    /// Dicts, lists and other mutable objects are copied; immutable ones (`bytes`, `str`,
    /// numbers, tuples of them) are shared, so a large `bytes` payload costs nothing to
    /// detach (see [`crate::copy`]).
    fn detach(&self) -> Result<Value, ForeignError> {
        interpreter::attach(|py| {
            let copy = crate::copy::detach(self.object.bind(py)).map_err(|e| {
                ForeignError::NotCopied(format!(
                    "{} (from {}) cannot be copied for the next function: {e}",
                    self.location.path, self.location.origin
                ))
            })?;
            Ok(Value::Foreign(Arc::new(PyHandle::new(
                copy,
                self.kind,
                self.location.clone(),
            ))))
        })
    }
}

impl PyHandle {
    /// This handle's object copied into the shared domain (see [`crate::shared_copy`]), as
    /// a new handle; an object with no JSON form gives the JSON path's error.
    pub(crate) fn copy_to_shared(
        &self,
        py: Python<'_>,
        owners: &mpk::Owners,
    ) -> Result<Value, ForeignError> {
        let object = self.object.bind(py);
        match crate::shared_copy::copy(object, owners) {
            Ok(copy) => Ok(Value::Foreign(Arc::new(PyHandle::new(
                copy,
                self.kind,
                self.location.clone(),
            )))),
            // The JSON path's error; should the walk ever refuse what JSON takes, its result.
            Err(crate::shared_copy::Refusal::NotJson) => {
                convert::to_json(object, &self.location).map(Value::Json)
            }
            Err(crate::shared_copy::Refusal::Python(e)) => Err(ForeignError::NotCopied(format!(
                "{} (from {}) cannot be copied for the next function: {e}",
                self.location.path, self.location.origin
            ))),
        }
    }
}

/// Builds the Python object for `value`.
pub(crate) fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    match value {
        Value::Json(json) => json_to_python(py, json),
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, v) in fields {
                dict.set_item(k, to_python(py, v)?)?;
            }
            Ok(dict.into_any())
        }
        Value::Array(elements) => {
            let items = elements
                .iter()
                .map(|v| to_python(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
        Value::Foreign(foreign) => match foreign.as_any().downcast_ref::<PyHandle>() {
            Some(handle) => Ok(handle.object().bind(py).clone()),
            None => match foreign.as_json() {
                // JSON held by reference: converted in place.
                Some(json) => json_to_python(py, json),
                // Another runtime's object: JSON is the only common ground.
                None => {
                    let json = foreign.to_json().map_err(|e| {
                        pyo3::exceptions::PyValueError::new_err(format!(
                            "input is not convertible to JSON: {e}"
                        ))
                    })?;
                    json_to_python(py, &json)
                }
            },
        },
    }
}

/// The engine's view of a Python object: JSON for scalars, a handle for everything else.
pub(crate) fn from_python(object: Bound<'_, PyAny>, location: &Location) -> Value {
    if object.is_none() {
        return Value::Json(Json::Null);
    }
    if let Ok(b) = object.cast_exact::<PyBool>() {
        return Value::Json(Json::Bool(b.is_true()));
    }
    if object.is_instance_of::<PyInt>() {
        if let Ok(i) = object.extract::<i64>() {
            return Value::Json(i.into());
        }
        if let Ok(u) = object.extract::<u64>() {
            return Value::Json(u.into());
        }
        return handle(object, Kind::Number, location);
    }
    if let Ok(f) = object.cast::<PyFloat>() {
        return match Number::from_f64(f.value()) {
            Some(n) => Value::Json(Json::Number(n)),
            None => handle(object, Kind::Number, location),
        };
    }
    if let Ok(s) = object.cast::<PyString>() {
        if s.len().is_ok_and(|n| n <= INLINE_STR_MAX)
            && let Ok(text) = s.to_str()
        {
            return Value::Json(Json::String(text.to_owned()));
        }
        return handle(object, Kind::String, location);
    }
    let kind = if object.is_instance_of::<PyDict>() {
        Kind::Object
    } else if object.is_instance_of::<PyList>() || object.is_instance_of::<PyTuple>() {
        Kind::Array
    } else {
        Kind::Opaque
    };
    handle(object, kind, location)
}

fn handle(object: Bound<'_, PyAny>, kind: Kind, location: &Location) -> Value {
    Value::Foreign(Arc::new(PyHandle::new(object, kind, location.clone())))
}
