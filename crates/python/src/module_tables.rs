//! Module dicts that grew while a function ran in its domain get their table back in the
//! shared domain, after its gate.
//!
//! A `global x` for a name the module did not define at import adds a key to the module's
//! dict; when that makes the dict resize, CPython allocates the new key table on the
//! function's thread, i.e. in its domain. Every later lookup of any global of that module
//! (from another function, or from the engine) then reads the table: a violation for a
//! function, although nothing private was touched. After the gate, with every key open,
//! each module dict (and `sys.modules` itself) whose table lives in a domain is rebuilt in
//! place: its items copied out, the dict cleared and filled again, so its new table is
//! allocated outside every domain. The values stay what they are: an object the function
//! made and stored in a global is its own, and reading it from another function is a
//! violation, as it should be.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use mpk::Owners;

/// Rebuilds the module dicts whose table lives in a domain; how many it rebuilt. Called with
/// the GIL held, every key open, allocation going to the shared domain, and the free lists
/// just emptied (a full collection), so the new tables cannot come from the function's.
pub(crate) fn rehome(py: Python<'_>, owners: &Owners) -> PyResult<usize> {
    // SAFETY: the GIL is held; a borrowed reference to the interpreter's `sys.modules`.
    let modules = unsafe { Borrowed::from_ptr_or_err(py, ffi::PyImport_GetModuleDict()) }?;
    let modules = modules.cast::<PyDict>()?;
    // Looked at with borrowed references (a few ns a module: this runs after every gate);
    // the rare dict to rebuild is collected first, so that `sys.modules` does not change
    // while it is walked.
    let mut grown = Vec::new();
    let mut position: ffi::Py_ssize_t = 0;
    let mut key = std::ptr::null_mut();
    let mut value = std::ptr::null_mut();
    // SAFETY: a live dict, the GIL held; `PyDict_Next` gives borrowed references to live
    // entries and nothing changes the dict during the walk (no Python code runs).
    while unsafe { ffi::PyDict_Next(modules.as_ptr(), &mut position, &mut key, &mut value) } != 0 {
        // SAFETY: `value` is a live object the dict holds; a module's dict is a borrowed
        // reference the module holds (null, with no exception, only for a module whose
        // dict was cleared: skipped).
        let dict = unsafe {
            if ffi::PyModule_Check(value) == 0 {
                continue;
            }
            let dict = ffi::PyModule_GetDict(value);
            if dict.is_null() {
                continue;
            }
            Borrowed::from_ptr(py, dict)
        };
        // The dict itself was made with its module; only its table can have grown since.
        if owners
            .owner(crate::shared_copy::keys_of(&dict).cast())
            .is_some()
        {
            grown.push(dict.to_owned());
        }
    }
    let mut rebuilt = 0;
    for dict in std::iter::once(modules.to_owned().into_any()).chain(grown) {
        if rebuild_if_private(dict.cast::<PyDict>()?, owners)? {
            rebuilt += 1;
        }
    }
    Ok(rebuilt)
}

fn rebuild_if_private(dict: &Bound<'_, PyDict>, owners: &Owners) -> PyResult<bool> {
    if !crate::shared_copy::in_a_domain(dict.as_any(), owners) {
        return Ok(false);
    }
    // A copy of a clean table, merged into an empty dict, is cloned whole (one new
    // allocation of the right size); nothing else runs in between (the GIL is held and no
    // Python code is called).
    let items = dict.copy()?;
    dict.clear();
    dict.update(items.as_mapping())?;
    if crate::shared_copy::in_a_domain(dict.as_any(), owners) {
        tracing::warn!("a module dict's table could not be moved out of a function's domain");
    }
    Ok(true)
}
