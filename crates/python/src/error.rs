//! Errors of the runtime itself (as opposed to a user's function failing, which is a
//! [`engine::TaskFailure`]).

use std::path::PathBuf;

/// Setting up a [`crate::PythonRuntime`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("cannot start the embedded python interpreter: {0}")]
    Bootstrap(String),
    #[error("workflow directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Manifest {
        path: PathBuf,
        source: crate::discovery::ManifestError,
    },
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
}

/// Installing `requirements.txt` into a cached virtual environment failed.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no cache directory: set FAASTLANE_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    #[error("cannot use cache directory {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the embedded interpreter's executable {path} does not exist")]
    NoInterpreter { path: PathBuf },
    #[error("{path} reports python {found}, the embedded interpreter is {expected}")]
    InterpreterMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{step} failed ({status}); see pip's output above")]
    Failed { step: String, status: String },
}
