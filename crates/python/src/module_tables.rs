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

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use mpk::Owners;

/// Rebuilds the module dicts whose table lives in a domain; how many it rebuilt. Called with
/// the GIL held, every key open, allocation going to the shared domain, and the free lists
/// just emptied (a full collection), so the new tables cannot come from the function's.
pub(crate) fn rehome(py: Python<'_>, owners: &Owners) -> PyResult<usize> {
    let modules = py.import("sys")?.getattr("modules")?;
    let modules = modules.cast::<PyDict>()?;
    let mut rebuilt = 0;
    if rebuild_if_private(modules, owners)? {
        rebuilt += 1;
    }
    for (_, module) in modules.iter() {
        if let Ok(module) = module.cast::<PyModule>()
            && rebuild_if_private(&module.dict(), owners)?
        {
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
