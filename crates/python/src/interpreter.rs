//! The embedded CPython interpreter: started once per process, with faastlane's bootstrap
//! module installed.
//!
//! Global state created here (one per process, never torn down):
//! - the interpreter itself (`Py_InitializeEx(0)`: Python installs no signal handlers, so
//!   Ctrl-C stays the host's business);
//! - the bootstrap module `_faastlane` (`bootstrap.py`), registered in `sys.modules`, which
//!   holds the module cache;
//! - `sys.stdout` and `sys.stderr`, replaced by streams that route writes to the log sink of
//!   the call running on the writing thread (see `output.rs`);
//! - `sys.executable`, set to the installation's interpreter (an embedded interpreter guesses
//!   it from `PATH`), or to the virtual environment's of the last runtime that has one.

use std::ffi::CString;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use crate::error::PythonError;
use crate::output;

const BOOTSTRAP_SOURCE: &str = include_str!("bootstrap.py");
/// Which arguments a function takes: shared with the benchmark's baseline worker.
pub const SIGNATURE_SOURCE: &str = include_str!("signature.py");

static BOOTSTRAP: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// What the embedded interpreter is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpreterInfo {
    /// `sys.version`.
    pub version: String,
    /// `sys.version_info[:3]`.
    pub version_info: (u8, u8, u8),
    /// `sys.base_prefix`: the installation the interpreter runs from.
    pub base_prefix: PathBuf,
    /// The standalone interpreter of that installation (`<base_prefix>/bin/pythonX.Y`), used to
    /// build virtual environments for `requirements.txt`.
    pub executable: PathBuf,
}

/// Starts the interpreter and installs faastlane's bootstrap, once per process. Later calls
/// only return the interpreter's description.
///
/// Starts no thread and imports no user code, so a process may call it and then import
/// modules (`Runtime::prepare` of a [`crate::PythonRuntime`]) before forking.
pub fn init() -> Result<InterpreterInfo, PythonError> {
    if let Some(info) = INFO.get() {
        return Ok(info.clone());
    }
    Python::initialize();
    let info = Python::attach(|py| {
        bootstrap(py)?;
        info(py).map_err(|e| PythonError::Bootstrap(e.to_string()))
    })?;
    Ok(INFO.get_or_init(|| info).clone())
}

/// The interpreter's description once [`init`] has started it: what never changes for the
/// life of the process, so that later calls (one per platform activation) skip the bootstrap
/// check and the `sys` look-ups.
static INFO: std::sync::OnceLock<InterpreterInfo> = std::sync::OnceLock::new();

/// Starts the interpreter as [`init`] does, without copying its description.
pub(crate) fn start() -> Result<(), PythonError> {
    if INFO.get().is_none() {
        init()?;
    }
    Ok(())
}

/// `Python::attach`, keeping this thread's Python thread state for the next call (see
/// [`ffi::keep_thread_state`]): the way every entry point of this crate takes the GIL.
pub(crate) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    crate::ffi::keep_thread_state();
    crate::domains::open_outside_domains();
    Python::attach(f)
}

/// The bootstrap module, compiled on first use.
pub(crate) fn bootstrap(py: Python<'_>) -> Result<&Bound<'_, PyModule>, PythonError> {
    BOOTSTRAP
        .get_or_try_init(py, || load_bootstrap(py))
        .map(|m| m.bind(py))
        .map_err(|e| PythonError::Bootstrap(e.to_string()))
}

fn load_bootstrap(py: Python<'_>) -> PyResult<Py<PyModule>> {
    let cstring = |s: &str| {
        CString::new(s).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
    };
    let modules = py.import("sys")?.getattr("modules")?;
    let signature = PyModule::from_code(
        py,
        &cstring(SIGNATURE_SOURCE)?,
        c"<faastlane signature>",
        c"_faastlane_signature",
    )?;
    modules.set_item("_faastlane_signature", &signature)?;
    let module = PyModule::from_code(
        py,
        &cstring(BOOTSTRAP_SOURCE)?,
        c"<faastlane bootstrap>",
        c"_faastlane",
    )?;
    modules.set_item("_faastlane", &module)?;
    let emit = wrap_pyfunction!(output::emit, &module)?;
    let copy_buffer = wrap_pyfunction!(crate::ffi::copy_buffer, &module)?;
    let request_id = wrap_pyfunction!(output::request_id, &module)?;
    let executable = info(py)?.executable.to_string_lossy().into_owned();
    module.call_method1("setup", (emit, executable, copy_buffer, request_id))?;
    Ok(module.unbind())
}

fn info(py: Python<'_>) -> PyResult<InterpreterInfo> {
    let sys = py.import("sys")?;
    let version: String = sys.getattr("version")?.extract()?;
    let version_info = sys.getattr("version_info")?;
    let part = |name: &str| -> PyResult<u8> { version_info.getattr(name)?.extract() };
    let (major, minor, micro) = (part("major")?, part("minor")?, part("micro")?);
    let base_prefix: PathBuf = sys.getattr("base_prefix")?.extract()?;
    let executable = base_prefix
        .join("bin")
        .join(format!("python{major}.{minor}"));
    Ok(InterpreterInfo {
        version,
        version_info: (major, minor, micro),
        base_prefix,
        executable,
    })
}
