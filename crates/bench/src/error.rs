//! The benchmark's errors.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("redis-server is not installed (scripts/ensure-redis.sh installs Debian's package)")]
    RedisMissing,
    #[error("redis: {0}")]
    Redis(String),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("worker for function '{function}': {message}")]
    Worker { function: String, message: String },
    #[error("{path}: {message}")]
    Workflow { path: PathBuf, message: String },
    #[error("python runtime: {0}")]
    Python(String),
    #[error("the execution failed: {0}")]
    Execution(String),
    #[error("the output differs from {expected}: {detail}")]
    WrongOutput { expected: PathBuf, detail: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A case file (`--run-case`, `--run-client`) that cannot be read or parsed.
    #[error("the case {path}: {message}")]
    Case { path: PathBuf, message: String },
    /// A client process of a case with concurrent clients failed; `stderr` is the last line
    /// each client wrote there.
    #[error("{message}{}", if stderr.is_empty() { String::new() } else { format!(" ({stderr})") })]
    Client { message: String, stderr: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
