//! Python values in process lanes: the [`engine::codec::ValueCodec`] of [`crate::PythonRuntime`]
//! and the CPython fork hooks a fork server wraps around `fork()`.
//!
//! Encoding is pickle protocol 5 with out-of-band buffers: `bytes`, `bytearray` and
//! `memoryview` objects of [`OUT_OF_BAND_MIN`] bytes or more, and numpy arrays, are written
//! after the pickle stream as raw bytes (one `write(2)` each, straight from the object), and
//! the receiver maps the payload's memfd copy-on-write and hands the buffers to
//! `pickle.loads` as views of that mapping: a numpy array comes back as a view of the mapped
//! pages, a `bytes` object is copied once from them.
//!
//! Layout (little endian): `b"FLPK"`, `u32` version, `u64` stream length, `u64` buffer count,
//! then (`u64` offset, `u64` length) per buffer, the pickle stream, and the buffers at
//! 64-byte-aligned offsets.

use asl::Value;
use engine::codec::{CodecError, Payload, PayloadSink, ValueCodec};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyTuple};

use crate::convert::Location;
use crate::{ffi, interpreter};

/// Buffers from this size travel out of band (smaller ones stay in the pickle stream).
pub const OUT_OF_BAND_MIN: usize = 64 * 1024;

const MAGIC: &[u8; 4] = b"FLPK";
const VERSION: u32 = 1;
const ALIGN: u64 = 64;

/// Below this depth containers are searched for large buffers.
const MAX_DEPTH: usize = 100;

/// Pickles values for another process of the same program.
#[derive(Debug, Default)]
pub struct PickleCodec;

/// A value Python could not pickle.
fn err(e: impl std::fmt::Display) -> CodecError {
    CodecError::Unencodable(e.to_string())
}

/// A payload that does not unpickle.
fn corrupt(e: impl std::fmt::Display) -> CodecError {
    CodecError::Corrupt(e.to_string())
}

impl ValueCodec for PickleCodec {
    fn encode(&self, values: &[&Value], out: &mut dyn PayloadSink) -> Result<(), CodecError> {
        interpreter::attach(|py| -> Result<(), CodecError> {
            let bootstrap = interpreter::bootstrap(py).map_err(err)?;
            let items = values
                .iter()
                .map(|v| {
                    let object = crate::handle::to_python(py, v)?;
                    Ok(mark_buffers(bootstrap, &object, 0)?.unwrap_or(object))
                })
                .collect::<PyResult<Vec<_>>>()
                .map_err(err)?;
            let list = PyList::new(py, items).map_err(err)?;
            let (stream, buffers) = bootstrap
                .call_method1("lane_dumps", (list, OUT_OF_BAND_MIN))
                .and_then(|r| r.extract::<(Bound<'_, PyBytes>, Vec<Bound<'_, PyAny>>)>())
                .map_err(err)?;
            let stream = stream.as_bytes();
            let views = buffers
                .iter()
                .map(ffi::BufferView::of)
                .collect::<PyResult<Vec<_>>>()
                .map_err(err)?;
            let header_len = 24 + 16 * views.len() as u64;
            let mut at = align(header_len + stream.len() as u64);
            let mut header = Vec::with_capacity(header_len as usize);
            header.extend_from_slice(MAGIC);
            header.extend_from_slice(&VERSION.to_le_bytes());
            header.extend_from_slice(&(stream.len() as u64).to_le_bytes());
            header.extend_from_slice(&(views.len() as u64).to_le_bytes());
            for v in &views {
                header.extend_from_slice(&at.to_le_bytes());
                header.extend_from_slice(&(v.bytes().len() as u64).to_le_bytes());
                at = align(at + v.bytes().len() as u64);
            }
            let io = |e: std::io::Error| CodecError::Write(e.to_string());
            out.reserve(if views.is_empty() {
                header_len + stream.len() as u64
            } else {
                at
            })
            .map_err(io)?;
            out.write_all(&header).map_err(io)?;
            out.write_all(stream).map_err(io)?;
            for v in &views {
                pad(out)?;
                out.write_all(v.bytes()).map_err(io)?;
            }
            Ok(())
        })
    }

    fn decode(&self, payload: &Payload) -> Result<Vec<Value>, CodecError> {
        let bytes = payload.bytes();
        let word = |at: usize| -> Result<u64, CodecError> {
            bytes
                .get(at..at + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| corrupt("truncated payload"))
        };
        if bytes.get(..4) != Some(MAGIC.as_slice()) {
            return Err(corrupt("not a pickled payload"));
        }
        let stream_len = usize::try_from(word(8)?).map_err(corrupt)?;
        let count = usize::try_from(word(16)?).map_err(corrupt)?;
        let header_len = count
            .checked_mul(16)
            .and_then(|n| n.checked_add(24))
            .ok_or_else(|| corrupt("bad buffer count"))?;
        let stream = bytes
            .get(header_len..header_len + stream_len)
            .ok_or_else(|| corrupt("truncated pickle stream"))?;
        let mut spans = Vec::with_capacity(count);
        for i in 0..count {
            let offset = usize::try_from(word(24 + 16 * i)?).map_err(corrupt)?;
            let len = usize::try_from(word(32 + 16 * i)?).map_err(corrupt)?;
            if offset.checked_add(len).is_none_or(|end| end > bytes.len()) {
                return Err(corrupt("a buffer lies outside the payload"));
            }
            spans.push((offset, len));
        }
        interpreter::attach(|py| -> Result<Vec<Value>, CodecError> {
            let bootstrap = interpreter::bootstrap(py).map_err(corrupt)?;
            let buffers = if spans.is_empty() {
                Vec::new()
            } else {
                // One copy-on-write mapping of the whole payload; each buffer is a slice.
                let whole = match payload.fd() {
                    Some(fd) => {
                        use std::os::fd::AsRawFd;
                        bootstrap
                            .call_method1("lane_map", (fd.as_raw_fd(), bytes.len()))
                            .map_err(corrupt)?
                    }
                    None => PyMemoryView::from(&PyByteArray::new(py, bytes).into_any())
                        .map_err(corrupt)?
                        .into_any(),
                };
                spans
                    .iter()
                    .map(|(offset, len)| {
                        whole.get_item(pyo3::types::PySlice::new(
                            py,
                            *offset as isize,
                            (offset + len) as isize,
                            1,
                        ))
                    })
                    .collect::<PyResult<Vec<_>>>()
                    .map_err(corrupt)?
            };
            let stream = PyBytes::new(py, stream);
            let loaded = bootstrap
                .call_method1(
                    "lane_loads",
                    (stream, PyList::new(py, buffers).map_err(corrupt)?),
                )
                .map_err(corrupt)?;
            let list = loaded
                .cast::<PyList>()
                .map_err(|_| corrupt("the payload is not a list"))?;
            let origin: std::sync::Arc<str> = "another process".into();
            Ok(list
                .iter()
                .map(|item| crate::handle::from_python(item, &Location::root(origin.clone())))
                .collect())
        })
    }
}

fn align(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

fn pad(out: &mut dyn PayloadSink) -> Result<(), CodecError> {
    let at = out.position();
    let zeros = [0u8; ALIGN as usize];
    out.write_all(&zeros[..(align(at) - at) as usize])
        .map_err(|e| CodecError::Write(e.to_string()))
}

/// `object` with every large `bytes`, `bytearray` and `memoryview` inside plain containers
/// wrapped for out-of-band pickling; `None` when nothing needed wrapping (nothing is copied
/// then). Containers on the way to a wrapped buffer are rebuilt, the rest shared.
fn mark_buffers<'py>(
    bootstrap: &Bound<'py, pyo3::types::PyModule>,
    object: &Bound<'py, PyAny>,
    depth: usize,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = object.py();
    let wrap = |kind: u8| {
        bootstrap
            .call_method1("out_of_band", (object, kind))
            .map(Some)
    };
    if let Ok(b) = object.cast_exact::<PyBytes>() {
        return if b.as_bytes().len() >= OUT_OF_BAND_MIN {
            wrap(0)
        } else {
            Ok(None)
        };
    }
    if let Ok(b) = object.cast_exact::<PyByteArray>() {
        return if b.len() >= OUT_OF_BAND_MIN {
            wrap(1)
        } else {
            Ok(None)
        };
    }
    if object.is_exact_instance_of::<PyMemoryView>() {
        return wrap(2);
    }
    if depth >= MAX_DEPTH {
        return Ok(None);
    }
    if let Ok(dict) = object.cast_exact::<PyDict>() {
        let mut changed: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> = Vec::new();
        for (k, v) in dict.iter() {
            if let Some(new) = mark_buffers(bootstrap, &v, depth + 1)? {
                changed.push((k, new));
            }
        }
        if changed.is_empty() {
            return Ok(None);
        }
        let copy = dict.copy()?;
        for (k, v) in changed {
            copy.set_item(k, v)?;
        }
        return Ok(Some(copy.into_any()));
    }
    let sequence: Option<Vec<Bound<'py, PyAny>>> = if let Ok(list) = object.cast_exact::<PyList>() {
        Some(list.iter().collect())
    } else if let Ok(tuple) = object.cast_exact::<PyTuple>() {
        Some(tuple.iter().collect())
    } else {
        None
    };
    let Some(items) = sequence else {
        return Ok(None);
    };
    let mut out: Option<Vec<Bound<'py, PyAny>>> = None;
    for (i, item) in items.iter().enumerate() {
        if let Some(new) = mark_buffers(bootstrap, item, depth + 1)? {
            out.get_or_insert_with(|| items.clone())[i] = new;
        }
    }
    Ok(match out {
        None => None,
        Some(items) if object.is_exact_instance_of::<PyTuple>() => {
            Some(PyTuple::new(py, items)?.into_any())
        }
        Some(items) => Some(PyList::new(py, items)?.into_any()),
    })
}

/// Runs `fork` between CPython's `PyOS_BeforeFork` and `PyOS_AfterFork_Child` or
/// `PyOS_AfterFork_Parent` (as `os.fork` does), with the GIL held. `is_child` tells the two
/// apart from what `fork` returned. The caller must be single-threaded for the child to be
/// safe (a fork server); the hooks keep CPython's own locks consistent.
///
/// Before forking, `gc.freeze()` moves every object to the collector's permanent generation,
/// as CPython's documentation advises for fork without exec: the child's collections then
/// skip the inherited objects instead of writing to (and so copying) every page holding one.
pub fn around_fork<R>(fork: impl FnOnce() -> R, is_child: impl Fn(&R) -> bool) -> R {
    interpreter::attach(|py| {
        if let Err(e) = py.import("gc").and_then(|gc| gc.call_method0("freeze")) {
            tracing::debug!("gc.freeze failed: {e}");
        }
        ffi::around_fork(py, fork, is_child)
    })
}
