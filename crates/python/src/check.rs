//! Checking a directory's functions without running them, for `faastlane validate`: each
//! function's module exists and parses, defines the function, and the function's signature
//! fits `handler(event, context)` or `main(args)`. Modules are parsed with Python's `ast`,
//! never imported, so none of their code runs (and no requirements are installed).

use std::path::Path;

use pyo3::prelude::*;

use crate::discovery::{Manifest, Target};
use crate::error::PythonError;
use crate::interpreter;

/// A function that would fail to load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionProblem {
    pub function: String,
    pub message: String,
}

/// Every problem found with `functions` of workflow directory `dir`.
pub fn check_functions(
    dir: &Path,
    functions: &[&str],
) -> Result<Vec<FunctionProblem>, PythonError> {
    let dir = dir
        .canonicalize()
        .map_err(|source| PythonError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
    let dir_str = dir.to_string_lossy().into_owned();
    let manifest = Manifest::load(&dir)?;
    interpreter::init()?;
    let mut problems = Vec::new();
    for &function in functions {
        let message = match manifest.target(function) {
            Err(e) => Some(e.to_string()),
            Ok(Target { module, attribute }) => interpreter::attach(|py| {
                let bootstrap = interpreter::bootstrap(py)
                    .map_err(|e| PythonError::Bootstrap(e.to_string()))?;
                let found = bootstrap
                    .call_method1("check_static", (&dir_str, &module, attribute.as_deref()))
                    .and_then(|r| r.extract::<Option<String>>())
                    .map_err(|e| PythonError::Bootstrap(e.to_string()))?;
                Ok::<_, PythonError>(found)
            })?,
        };
        if let Some(message) = message {
            problems.push(FunctionProblem {
                function: function.to_owned(),
                message,
            });
        }
    }
    Ok(problems)
}
