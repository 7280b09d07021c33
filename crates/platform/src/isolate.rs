//! Function isolation for an OpenWhisk action, whose workflow arrives with `/init`: the mode
//! is decided when the runtime starts (`faastlane openwhisk --isolation`), the sensitive
//! functions (the action's `faastlane.json`, or every function) when `/init` unpacks it.
//! For `process`, the fork server that hosts them is forked at start (while the process has
//! one thread) and set up at first use, from what `/init` unpacked, as process lanes' is.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use engine::{EngineOptions, Runtime, Workflow};
use isolation::{DomainIsolated, Mode, ProcessIsolated, Settings};
use lanes::ForkServer;
use mpk::Domains;

use crate::host;

/// The name of the workflow the isolation fork server hosts.
const HOSTED: &str = "isolation";

/// The functions of `workflow` (in `dir`) to isolate, in a fixed order: those its
/// `faastlane.json` marks, or all of them.
pub fn sensitive(dir: &Path, workflow: &Workflow) -> Result<Vec<String>, String> {
    let functions = workflow.functions();
    let settings = Settings::read(dir, &functions).map_err(|e| e.to_string())?;
    Ok(settings.sensitive(&functions).into_iter().collect())
}

/// This process's protection domains, made once and after the interpreter started (the
/// domains' SIGSEGV handler must come after Python's `faulthandler`'s, which it passes every
/// other fault on to: made before, `faulthandler` replaces it and a violation kills the
/// process), with Python's allocators routed to them.
pub fn domains() -> Result<Arc<Domains>, String> {
    static MADE: OnceLock<Result<Arc<Domains>, String>> = OnceLock::new();
    MADE.get_or_init(|| {
        let domains =
            Arc::new(Domains::new().map_err(|e| format!("setting up protection domains: {e}"))?);
        python_runtime::domains::install(&domains)
            .map_err(|e| format!("routing python's allocators to the protection domains: {e}"))?;
        Ok(domains)
    })
    .clone()
}

/// `runtime` with each of `sensitive` in a protection domain of its own (the others share
/// one more), over this process's [`domains`].
pub fn in_domains(
    runtime: Arc<dyn Runtime>,
    sensitive: &[String],
) -> Result<Arc<dyn Runtime>, String> {
    let isolated = DomainIsolated::over(runtime, sensitive, domains()?);
    Ok(Arc::new(isolated.with_memory(Arc::new(
        python_runtime::domains::PythonMemory,
    ))))
}

/// An action's isolation (`mpk` or `process`).
pub struct ActionIsolation {
    mode: Mode,
    /// For `process`: the fork server of the isolation workflow, set up at first use.
    server: Option<Arc<ForkServer>>,
}

impl ActionIsolation {
    /// Call while the process has one thread: for `process`, forks the fork server that
    /// will host the sensitive functions of whatever `/init` unpacks into `action_dir`.
    pub fn start(mode: Mode, action_dir: &Path, engine: &EngineOptions) -> ActionIsolation {
        let server = (mode == Mode::Process).then(|| {
            // No idle workers: each call gets a fresh fork, never a process another call ran in.
            let server = lanes::ServerOptions {
                idle_workers: 0,
                ..host::fork_server_options(engine)
            };
            crate::action::start_deferred_fork_server_with(
                action_dir,
                engine,
                server,
                |dir, workflow| {
                    let sensitive = sensitive(dir, &workflow)?;
                    isolation::isolation_workflow(HOSTED, &sensitive).map_err(|e| e.to_string())
                },
            )
        });
        ActionIsolation {
            mode,
            server: server.flatten(),
        }
    }

    /// The wrap of the action's function runtime, once `/init` unpacked `workflow` into `dir`.
    pub fn wrap(&self, dir: &Path, workflow: &Workflow) -> Result<host::Wrap, String> {
        let sensitive = sensitive(dir, workflow)?;
        match (self.mode, &self.server) {
            (Mode::Mpk, _) => Ok(Box::new(move |runtime| in_domains(runtime, &sensitive))),
            (Mode::Process, Some(server)) => {
                let server = Arc::clone(server);
                Ok(Box::new(move |runtime| {
                    Ok(Arc::new(ProcessIsolated::new(
                        runtime,
                        server as Arc<dyn engine::lanes::ProcessPool>,
                        HOSTED,
                        &sensitive,
                    )) as Arc<dyn Runtime>)
                }))
            }
            (Mode::Process, None) => {
                Err("process isolation: the fork server could not be started".to_string())
            }
            (mode, _) => Err(format!("no isolation to set up for mode {mode:?}")),
        }
    }
}
