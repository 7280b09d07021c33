//! Detaching a Python value: the copy the engine hands a function when it keeps the value
//! itself (Step Functions passes every function a copy of its input).
//!
//! `copy.deepcopy` is correct but runs in Python, about 1 µs per object. Plain data (dicts,
//! lists, tuples, strings, numbers, bytes) is copied here instead, from Rust: new containers,
//! shared immutable leaves. Anything else (numpy arrays, sets, bytearrays, user classes), and
//! structures deeper than [`MAX_DEPTH`] (which may be cyclic), fall back to `copy.deepcopy`.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Below this depth containers are copied here; deeper ones go to `copy.deepcopy`, which
/// handles cycles.
const MAX_DEPTH: usize = 200;

/// An independent copy of `object`: mutable containers are new, immutable leaves shared.
pub(crate) fn detach<'py>(object: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    copy_at(object, 0, &mut HashMap::new())
}

/// `open` maps each dict and list being copied (by address) to its copy, so a container that
/// holds itself gets a copy that holds itself, not an unrolled chain.
fn copy_at<'py>(
    object: &Bound<'py, PyAny>,
    depth: usize,
    open: &mut HashMap<usize, Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = object.py();
    if is_immutable_leaf(object) {
        return Ok(object.clone());
    }
    let address = object.as_ptr() as usize;
    if let Some(copy) = open.get(&address) {
        return Ok(copy.clone());
    }
    if depth >= MAX_DEPTH {
        return deepcopy(object);
    }
    // Containers are copied shallowly in C first (`PyDict_Copy`, `PyList_GetSlice`: one
    // allocation, leaves shared), then only the items that are containers themselves are
    // replaced by their copies: a record of plain fields costs one C call, not one insert per
    // field. FINRA-100 (each of 100 branches copies 400 trades) went from 95-97 ms to 54-75 ms
    // per execution, inline (`faastlane bench --run-case`, 30 runs, median).
    if let Ok(dict) = object.cast_exact::<PyDict>() {
        let out = dict.copy()?;
        open.insert(address, out.clone().into_any());
        for (k, v) in dict.iter() {
            if !is_immutable_leaf(&v) {
                out.set_item(k, copy_at(&v, depth + 1, open)?)?;
            }
        }
        open.remove(&address);
        return Ok(out.into_any());
    }
    if let Ok(list) = object.cast_exact::<PyList>() {
        let out = list.get_slice(0, list.len());
        open.insert(address, out.clone().into_any());
        for (i, v) in list.iter().enumerate() {
            if !is_immutable_leaf(&v) {
                out.set_item(i, copy_at(&v, depth + 1, open)?)?;
            }
        }
        open.remove(&address);
        return Ok(out.into_any());
    }
    if let Ok(tuple) = object.cast_exact::<PyTuple>() {
        if tuple.iter().all(|v| is_immutable_leaf(&v)) {
            return Ok(object.clone());
        }
        let items = tuple
            .iter()
            .map(|v| copy_at(&v, depth + 1, open))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(PyTuple::new(py, items)?.into_any());
    }
    deepcopy(object)
}

fn is_immutable_leaf(object: &Bound<'_, PyAny>) -> bool {
    object.is_none()
        || object.is_exact_instance_of::<PyString>()
        || object.is_exact_instance_of::<PyInt>()
        || object.is_exact_instance_of::<PyFloat>()
        || object.is_exact_instance_of::<PyBool>()
        || object.is_exact_instance_of::<PyBytes>()
}

fn deepcopy<'py>(object: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    object
        .py()
        .import("copy")?
        .call_method1("deepcopy", (object,))
}

/// What a function returned, made the engine's own: `result` itself when nothing but the
/// engine holds it or any container in it (a freshly built result: the hand-off stays a
/// pointer move), else with every container that something else still holds (a module
/// global, a cache, the object itself twice) replaced by a copy. Step Functions hands on
/// values, not objects: a function that returns a dict it keeps, and another that mutates its
/// input, must not change each other's data, on any lane.
///
/// Sharing is read from reference counts: `result` is held by the caller's one reference, a
/// member by its container only. The walk visits containers only (dicts, lists, tuples),
/// reading members as borrowed references (no reference-count traffic while it looks);
/// immutable leaves are shared as they are, whatever their count. An object of another type
/// that only the engine holds is kept as it is, unlooked-into: its insides are its own
/// class's business.
pub(crate) fn own<'py>(result: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // The caller's reference is the only one a result that nothing else holds has.
    Ok(owned_member(&result, 1, 0)?.unwrap_or(result))
}

/// `None` when `member` (held `expected` times by the engine) is the engine's own, with its
/// shared insides replaced in place; else what to put in its place.
fn owned_member<'py>(
    member: &Bound<'py, PyAny>,
    expected: isize,
    depth: usize,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    if is_immutable_leaf(member) {
        return Ok(None);
    }
    if references(member) > expected || depth >= MAX_DEPTH {
        return detach(member).map(Some);
    }
    let py = member.py();
    // A member is held by its container alone when nothing else holds it.
    const IN_CONTAINER: isize = 1;
    if let Ok(dict) = member.cast::<PyDict>() {
        let mut position: pyo3::ffi::Py_ssize_t = 0;
        let mut key = std::ptr::null_mut();
        let mut value = std::ptr::null_mut();
        // SAFETY: the thread is attached (`Bound<'py>`); `dict` is a live dict; `PyDict_Next`
        // writes borrowed references to live entries. Setting the value of a key the dict
        // already has while iterating is allowed (the set of keys does not change).
        while unsafe { pyo3::ffi::PyDict_Next(dict.as_ptr(), &mut position, &mut key, &mut value) }
            != 0
        {
            // SAFETY: `value` is a borrowed reference to a live object, valid while the dict
            // holds it; `borrowed` does not outlive this iteration step.
            let borrowed = unsafe { Borrowed::from_ptr(py, value) };
            if let Some(copy) = owned_member(&borrowed, IN_CONTAINER, depth + 1)? {
                // SAFETY: as above for `key`; `PyDict_SetItem` takes its own references.
                let key = unsafe { Borrowed::from_ptr(py, key) };
                dict.set_item(key, copy)?;
            }
        }
        return Ok(None);
    }
    if let Ok(list) = member.cast::<PyList>() {
        for i in 0..list.len() {
            let index = pyo3::ffi::Py_ssize_t::try_from(i)
                .map_err(|e| pyo3::exceptions::PyIndexError::new_err(e.to_string()))?;
            // SAFETY: the thread is attached and `list` is a live list; `PyList_GetItem`
            // returns a borrowed reference (NULL with an exception set when out of range).
            let item = unsafe { pyo3::ffi::PyList_GetItem(list.as_ptr(), index) };
            // SAFETY: a non-NULL `item` is a live object the list holds; `borrowed` does not
            // outlive this step (only this item is replaced, after its last use).
            let borrowed = unsafe { Borrowed::from_ptr_or_err(py, item) }?;
            if let Some(copy) = owned_member(&borrowed, IN_CONTAINER, depth + 1)? {
                list.set_item(i, copy)?;
            }
        }
        return Ok(None);
    }
    if let Ok(tuple) = member.cast_exact::<PyTuple>() {
        // Immutable itself, but it may hold mutable members: rebuilt when one is shared.
        let mut replaced: Vec<Option<Bound<'py, PyAny>>> = Vec::with_capacity(tuple.len());
        for i in 0..tuple.len() {
            // SAFETY: `i` is in bounds; the item is a borrowed reference the tuple keeps.
            let borrowed = unsafe { tuple.get_borrowed_item_unchecked(i) };
            replaced.push(owned_member(&borrowed, IN_CONTAINER, depth + 1)?);
        }
        if replaced.iter().all(Option::is_none) {
            return Ok(None);
        }
        let items = tuple
            .iter()
            .zip(replaced)
            .map(|(item, copy)| copy.unwrap_or(item));
        return Ok(Some(PyTuple::new(py, items)?.into_any()));
    }
    Ok(None)
}

/// How many references `object` has.
fn references(object: &Bound<'_, PyAny>) -> isize {
    // SAFETY: `object` is a live object (the `Bound` holds a reference) and the attached
    // thread (`Bound<'py>`) makes reading its count race-free.
    unsafe { pyo3::ffi::Py_REFCNT(object.as_ptr()) }
}
