//! [`PyHandle`]: a Python object a function returned, held by the engine as an
//! [`asl::Foreign`] value without converting it.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use asl::path::push_key;
use asl::{Foreign, ForeignError, Kind, Value};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use serde_json::Value as Json;

use crate::{convert, interpreter};

/// A Python object owned by the engine's state data.
///
/// Passing a `Value::Foreign` holding a `PyHandle` to another Python function hands it the
/// very same object: no copy, no serialization, whatever its size.
pub struct PyHandle {
    object: Py<PyAny>,
    kind: Kind,
    location: Location,
}

/// Where a handle's object sits in the output of the function that returned it, for error
/// messages: `$` is the output itself, `$.result.blob` a field of a field.
#[derive(Clone, Debug)]
pub(crate) struct Location {
    pub(crate) origin: Arc<str>,
    pub(crate) path: String,
}

impl Location {
    pub(crate) fn root(origin: Arc<str>) -> Self {
        Location {
            origin,
            path: "$".to_string(),
        }
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut path = self.path.clone();
        push_key(&mut path, key);
        Location {
            origin: Arc::clone(&self.origin),
            path,
        }
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        Location {
            origin: Arc::clone(&self.origin),
            path: format!("{}[{index}]", self.path),
        }
    }
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
            Some(convert::from_python(item, &self.location.key(key)))
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
            Some(convert::from_python(item, &self.location.index(index)))
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
                ForeignError(format!(
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
