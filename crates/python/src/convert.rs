//! Conversions between JSON and Python objects: JSON becomes dict/list/str/int/float/bool/None
//! (built directly, not through a JSON string, [`json_to_python`]); a Python object becomes
//! JSON only when its value leaves the process ([`to_json`], with errors naming the part at
//! fault by its [`Location`]). The engine's [`asl::Value`] and Python objects, with their
//! handles, are `handle.rs`, above this.

use std::sync::Arc;

use asl::ForeignError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};
use std::io::Write;

use serde_json::{Map, Number, Value as Json};

use asl::path::push_key;

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

/// Containers nested deeper than this are not converted to JSON.
const MAX_DEPTH: usize = 1000;

pub(crate) fn json_to_python<'py>(py: Python<'py>, json: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match json {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Json::String(s) => PyString::new(py, s).into_any(),
        Json::Array(elements) => {
            let items = elements
                .iter()
                .map(|v| json_to_python(py, v))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Json::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, v) in fields {
                dict.set_item(k, json_to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Why an object has no JSON form; the path is added on the way out of the recursion.
enum Problem {
    NotJson(String),
    NonFinite(f64),
    BigInt(String),
    Key(String, String),
    BadString(String),
    Cycle,
    TooDeep,
}

struct Failure {
    problem: Problem,
    /// Path segments from the failing object up to the converted one (innermost first).
    segments: Vec<Segment>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Failure {
    fn new(problem: Problem) -> Self {
        Failure {
            problem,
            segments: Vec::new(),
        }
    }

    fn into_error(self, location: &Location) -> ForeignError {
        let mut path = location.path.clone();
        for segment in self.segments.iter().rev() {
            match segment {
                Segment::Key(k) => push_key(&mut path, k),
                Segment::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        let what = match self.problem {
            Problem::NotJson(ty) => {
                format!("{path} is a Python {ty} object, which has no JSON form")
            }
            Problem::NonFinite(f) => {
                format!(
                    "{path} is the float {}, which JSON cannot represent",
                    python_float(f)
                )
            }
            Problem::BigInt(repr) => {
                format!("{path} is the integer {repr}, which does not fit in 64 bits")
            }
            Problem::Key(ty, repr) => {
                format!("{path} has a key of type {ty} ({repr}); JSON object keys must be strings")
            }
            Problem::BadString(e) => format!("{path} is a string that is not valid UTF-8 ({e})"),
            Problem::Cycle => format!("{path} contains itself (a reference cycle)"),
            Problem::TooDeep => format!("{path} is nested deeper than {MAX_DEPTH} levels"),
        };
        ForeignError::NotJson(format!(
            "cannot convert the output of python function '{}' to JSON: {what}",
            location.origin
        ))
    }
}

fn python_float(f: f64) -> &'static str {
    if f.is_nan() {
        "nan"
    } else if f > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// Converts `object` (found at `location`) to JSON: the slow path, taken when a value leaves
/// the process.
pub(crate) fn to_json(
    object: &Bound<'_, PyAny>,
    location: &Location,
) -> Result<Json, ForeignError> {
    let mut open = Vec::new();
    json_of(object, &mut open).map_err(|f| f.into_error(location))
}

fn json_of(object: &Bound<'_, PyAny>, open: &mut Vec<usize>) -> Result<Json, Failure> {
    if object.is_none() {
        return Ok(Json::Null);
    }
    if let Ok(b) = object.cast_exact::<PyBool>() {
        return Ok(Json::Bool(b.is_true()));
    }
    if object.is_instance_of::<PyInt>() {
        if let Ok(i) = object.extract::<i64>() {
            return Ok(i.into());
        }
        if let Ok(u) = object.extract::<u64>() {
            return Ok(u.into());
        }
        return Err(Failure::new(Problem::BigInt(repr(object))));
    }
    if let Ok(f) = object.cast::<PyFloat>() {
        let value = f.value();
        return Number::from_f64(value)
            .map(Json::Number)
            .ok_or_else(|| Failure::new(Problem::NonFinite(value)));
    }
    if let Ok(s) = object.cast::<PyString>() {
        return s
            .to_str()
            .map(|t| Json::String(t.to_owned()))
            .map_err(|e| Failure::new(Problem::BadString(e.to_string())));
    }
    let is_dict = object.is_instance_of::<PyDict>();
    let is_sequence = object.is_instance_of::<PyList>() || object.is_instance_of::<PyTuple>();
    if !is_dict && !is_sequence {
        return Err(Failure::new(Problem::NotJson(type_name(object))));
    }
    let address = object.as_ptr() as usize;
    if open.contains(&address) {
        return Err(Failure::new(Problem::Cycle));
    }
    if open.len() >= MAX_DEPTH {
        return Err(Failure::new(Problem::TooDeep));
    }
    open.push(address);
    let result = if let Ok(dict) = object.cast::<PyDict>() {
        dict_json(dict, open)
    } else if let Ok(list) = object.cast::<PyList>() {
        sequence_json(list.iter(), open)
    } else if let Ok(tuple) = object.cast::<PyTuple>() {
        sequence_json(tuple.iter(), open)
    } else {
        Err(Failure::new(Problem::NotJson(type_name(object))))
    };
    open.pop();
    result
}

fn dict_json(dict: &Bound<'_, PyDict>, open: &mut Vec<usize>) -> Result<Json, Failure> {
    let mut map = Map::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        let Ok(key) = k.cast::<PyString>() else {
            return Err(Failure::new(Problem::Key(type_name(&k), repr(&k))));
        };
        let key = key
            .to_str()
            .map_err(|e| Failure::new(Problem::BadString(e.to_string())))?;
        let value = json_of(&v, open).map_err(|mut f| {
            f.segments.push(Segment::Key(key.to_owned()));
            f
        })?;
        map.insert(key.to_owned(), value);
    }
    Ok(Json::Object(map))
}

fn sequence_json<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    open: &mut Vec<usize>,
) -> Result<Json, Failure> {
    let mut out = Vec::with_capacity(items.size_hint().0);
    for (i, item) in items.enumerate() {
        out.push(json_of(&item, open).map_err(|mut f| {
            f.segments.push(Segment::Index(i));
            f
        })?);
    }
    Ok(Json::Array(out))
}

/// `bytes`, `set`, `datetime.datetime`, `numpy.ndarray`...
fn type_name(object: &Bound<'_, PyAny>) -> String {
    if object.is_instance_of::<PyBytes>() {
        return "bytes".into();
    }
    if object.is_instance_of::<PyByteArray>() {
        return "bytearray".into();
    }
    let ty = object.get_type();
    let name = ty
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into());
    match ty.module().map(|m| m.to_string()) {
        Ok(module) if module != "builtins" => format!("{module}.{name}"),
        _ => name,
    }
}

fn repr(object: &Bound<'_, PyAny>) -> String {
    let text = object
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    if text.chars().count() > 60 {
        let short: String = text.chars().take(57).collect();
        format!("{short}...")
    } else {
        text
    }
}

/// Appends `object`'s compact JSON text to `out` as it walks it, without a JSON tree: the
/// text is byte for byte what [`to_json`] then `serde_json::to_writer` give. When `object`
/// has no JSON form, `out` is restored and the error is [`to_json`]'s (the walk is redone
/// then, on the error path only, for its message).
pub(crate) fn write_json(
    object: &Bound<'_, PyAny>,
    location: &Location,
    out: &mut Vec<u8>,
) -> Result<(), ForeignError> {
    let start = out.len();
    let mut open = Vec::new();
    if write_of(object, &mut open, out).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    let json = to_json(object, location)?;
    serde_json::to_writer(out, &json).map_err(|e| ForeignError::NotJson(e.to_string()))
}

/// Why streaming stopped; [`write_json`] asks [`to_json`] for the message.
struct Unwritable;

/// Writes `bytes`, or stops the walk when the writer refuses them ([`Counter`] past its bound).
fn put(out: &mut impl Write, bytes: &[u8]) -> Result<(), Unwritable> {
    out.write_all(bytes).map_err(|_| Unwritable)
}

fn write_text(out: &mut impl Write, text: &str) -> Result<(), Unwritable> {
    serde_json::to_writer(out, text).map_err(|_| Unwritable)
}

fn write_of(
    object: &Bound<'_, PyAny>,
    open: &mut Vec<usize>,
    out: &mut impl Write,
) -> Result<(), Unwritable> {
    if object.is_none() {
        return put(out, b"null");
    }
    if let Ok(b) = object.cast_exact::<PyBool>() {
        return put(out, if b.is_true() { b"true" } else { b"false" });
    }
    if object.is_instance_of::<PyInt>() {
        if let Ok(i) = object.extract::<i64>() {
            return write!(out, "{i}").map_err(|_| Unwritable);
        }
        if let Ok(u) = object.extract::<u64>() {
            return write!(out, "{u}").map_err(|_| Unwritable);
        }
        return Err(Unwritable);
    }
    if let Ok(f) = object.cast::<PyFloat>() {
        let number = Number::from_f64(f.value()).ok_or(Unwritable)?;
        return serde_json::to_writer(out, &number).map_err(|_| Unwritable);
    }
    if let Ok(s) = object.cast::<PyString>() {
        return write_text(out, s.to_str().map_err(|_| Unwritable)?);
    }
    let address = object.as_ptr() as usize;
    if open.contains(&address) || open.len() >= MAX_DEPTH {
        return Err(Unwritable);
    }
    open.push(address);
    let result = if let Ok(dict) = object.cast::<PyDict>() {
        write_dict(dict, open, out)
    } else if let Ok(list) = object.cast::<PyList>() {
        write_sequence(list.iter(), open, out)
    } else if let Ok(tuple) = object.cast::<PyTuple>() {
        write_sequence(tuple.iter(), open, out)
    } else {
        Err(Unwritable)
    };
    open.pop();
    result
}

fn write_dict(
    dict: &Bound<'_, PyDict>,
    open: &mut Vec<usize>,
    out: &mut impl Write,
) -> Result<(), Unwritable> {
    put(out, b"{")?;
    for (i, (k, v)) in dict.iter().enumerate() {
        if i > 0 {
            put(out, b",")?;
        }
        let key = k.cast::<PyString>().map_err(|_| Unwritable)?;
        write_text(out, key.to_str().map_err(|_| Unwritable)?)?;
        put(out, b":")?;
        write_of(&v, open, out)?;
    }
    put(out, b"}")
}

fn write_sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    open: &mut Vec<usize>,
    out: &mut impl Write,
) -> Result<(), Unwritable> {
    put(out, b"[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            put(out, b",")?;
        }
        write_of(&item, open, out)?;
    }
    put(out, b"]")
}

/// Counts the bytes written to it and refuses any past `left`.
struct Counter {
    left: usize,
    over: bool,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.left.checked_sub(buf.len()) {
            Some(left) => {
                self.left = left;
                Ok(buf.len())
            }
            None => {
                self.over = true;
                Err(std::io::Error::other("over the bound"))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of `object`'s compact JSON text when it is at most `max` bytes (`Some(Some)`),
/// `Some(None)` when it is longer: counted in one walk under the GIL, nothing written, and
/// stopped at the bound. `None` when it has no JSON form (the caller measures it part by
/// part, and a part with no JSON form counts as nothing there).
pub(crate) fn json_len_within(object: &Bound<'_, PyAny>, max: usize) -> Option<Option<usize>> {
    let mut counter = Counter {
        left: max,
        over: false,
    };
    match write_of(object, &mut Vec::new(), &mut counter) {
        Ok(()) => Some(Some(max - counter.left)),
        Err(Unwritable) if counter.over => Some(None),
        Err(Unwritable) => None,
    }
}
