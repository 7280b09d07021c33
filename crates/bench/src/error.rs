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
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
