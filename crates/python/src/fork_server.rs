//! A fork server for process lanes that hosts a workflow's Python functions: the one set-up
//! the CLI, the benchmark suite and the lane benchmarks share.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::{EngineOptions, NoLog, Runtime, Workflow};
use lanes::{ForkServer, Forked, Host, ServerOptions};

use crate::{PythonOptions, PythonRuntime};

/// Starts a [`ForkServer`] whose server process starts its own interpreter, loads `workflow`'s
/// functions from `dir` with `python` options and forks warm workers (inside CPython's fork
/// hooks). Call it while this process still has one thread, before [`crate::init`] if this
/// process runs Python too.
///
/// The server's engine options are `engine`'s with the log silenced at import (the parent
/// reports what modules print on import, and their errors, when it loads them itself);
/// workers send what functions print to the parent's log.
pub fn start(
    dir: &Path,
    workflow: &Workflow,
    engine: &EngineOptions,
    python: PythonOptions,
    server: ServerOptions,
) -> std::io::Result<ForkServer> {
    let dir: PathBuf = dir.to_path_buf();
    let workflow = workflow.clone();
    let options = EngineOptions {
        log: Arc::new(NoLog),
        processes: None,
        ..engine.clone()
    };
    let python = python.init_log(Arc::new(NoLog));
    // The setup's error crosses to the parent as text.
    ForkServer::start(server, move || {
        host(&dir, workflow, options, python).map_err(|e| e.to_string())
    })
}

/// Why the fork server cannot serve this workflow.
#[derive(Debug, thiserror::Error)]
enum HostError {
    #[error(transparent)]
    Python(#[from] crate::PythonError),
    /// A function of the workflow does not load.
    #[error("{function}: {message}")]
    Function { function: String, message: String },
}

/// What a deferred fork server hosts, known only after it was forked.
pub struct Hosted {
    pub dir: PathBuf,
    pub workflow: Workflow,
    pub engine: EngineOptions,
    pub python: PythonOptions,
}

/// Like [`start`] for a program that learns its workflow after it must have forked (a
/// platform runtime that gets its code through an HTTP request once its server threads
/// run): `source` runs in the server process when setup starts (with
/// [`ServerOptions::lazy_setup`], when the parent first wants a worker), and says what to
/// host, typically read from a directory the parent has filled by then.
pub fn start_deferred(
    server: ServerOptions,
    source: impl FnOnce() -> Result<Hosted, String>,
) -> std::io::Result<ForkServer> {
    ForkServer::start(server, move || {
        let hosted = source()?;
        let options = EngineOptions {
            log: Arc::new(NoLog),
            processes: None,
            ..hosted.engine
        };
        let python = hosted.python.init_log(Arc::new(NoLog));
        host(&hosted.dir, hosted.workflow, options, python).map_err(|e| e.to_string())
    })
}

/// What the server process builds before its first fork.
fn host(
    dir: &Path,
    workflow: Workflow,
    options: EngineOptions,
    python: PythonOptions,
) -> Result<Host, HostError> {
    crate::init()?;
    let runtime = PythonRuntime::with_options(dir, python)?;
    let names = workflow.functions();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    // A function nothing provides fails when its Task runs (Lambda.ResourceNotFoundException).
    let problems = runtime.prepare(&names);
    if let Some(p) = problems
        .iter()
        .find(|p| p.kind != engine::PrepareErrorKind::NotFound)
    {
        return Err(HostError::Function {
            function: p.function.clone(),
            message: p.message.clone(),
        });
    }
    Ok(Host {
        workflow,
        runtime: Arc::new(runtime),
        options,
        fork_hooks: Some(Box::new(|fork| {
            crate::around_fork(fork, |r| matches!(r, Ok(Forked::Child)))
        })),
    })
}
