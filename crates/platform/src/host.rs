//! A workflow prepared from a directory, as a platform runtime hosts it: definition read and
//! validated, functions imported, the engine set up the way `faastlane run` sets it up
//! (embedded Python, lanes chosen per Parallel/Map state, process lanes from a fork server
//! when there is one), then one execution per platform request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, ExecutionResult, Identity, LogSink,
    NativeRuntime, PrepareProblem, Runtime, Workflow,
};
use lanes::{ForkServer, ServerOptions};
use python_runtime::{PythonError, PythonOptions, PythonRuntime};
use serde_json::Value as Json;

use crate::definition::{self, DefinitionError};

/// Why a workflow directory cannot be hosted.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// The definition does not validate: every problem, with its state and JSON pointer.
    #[error("{} is not a valid state machine:\n{}", .path.display(), bullets(.problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("loading the Python functions of {}: {source}", .dir.display())]
    Python { dir: PathBuf, source: PythonError },
    /// `FAASTLANE_REMOTE` (or its cap or timeout) names no usable back end.
    #[error("remote lanes: {0}")]
    Remote(#[from] server::remote::RemoteConfigError),
    /// Functions that do not load (missing module, syntax or import error), by state.
    #[error("the workflow cannot run:\n{}", bullets(.problems.iter().map(ToString::to_string)))]
    Prepare { problems: Vec<PrepareProblem> },
    /// The isolation asked for (`FAASTLANE_ISOLATION`) cannot be set up.
    #[error("isolation: {0}")]
    Isolation(String),
}

/// Wraps a workflow's function runtime before its engine is made (`--isolation`: the
/// sensitive functions in protection domains or worker processes).
pub type Wrap = Box<dyn FnOnce(Arc<dyn Runtime>) -> Result<Arc<dyn Runtime>, String>>;

fn bullets<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items
        .into_iter()
        .map(|p| format!("  - {}", p.as_ref()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates the workflow in `dir`, named `name` in its ARNs.
pub fn load(dir: &Path, name: &str) -> Result<Workflow, HostError> {
    let (path, text) = definition::read_in(dir)?;
    let machine = asl::load_str(&text).map_err(|diags| HostError::Invalid {
        path,
        problems: diags.iter().map(ToString::to_string).collect(),
    })?;
    Ok(Workflow {
        name: name.to_owned(),
        machine,
    })
}

/// Engine options as `faastlane run --lanes auto` has them: lanes chosen per state over the
/// usable CPUs, the default limits, `log` for what functions print.
pub fn engine_options(log: Arc<dyn LogSink>) -> EngineOptions {
    EngineOptions {
        identity: Identity::from_env(),
        lanes: BranchLanes::Auto,
        trace: tracing::enabled!(tracing::Level::DEBUG),
        log,
        limits: asl::Limits::default(),
        processes: None,
        remote: None,
        cpus: lanes::cpus::usable().usable,
    }
}

/// Remote lanes as the environment configures them for a platform runtime (what `--remote`,
/// `--remote-cap` and `--remote-timeout` say to `faastlane run` and `serve`):
/// `FAASTLANE_REMOTE` (`http://...`, `lambda:NAME`, `openwhisk:NAME`), `FAASTLANE_REMOTE_CAP`
/// (default 4) and `FAASTLANE_REMOTE_TIMEOUT` (seconds, default 900). `env` reads a variable.
pub fn remote_from_env(
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<engine::lanes::RemoteLanes>, HostError> {
    let Some(target) = env("FAASTLANE_REMOTE").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    fn parse<T: std::str::FromStr>(
        env: &impl Fn(&str) -> Option<String>,
        target: &str,
        name: &str,
        what: &str,
        default: T,
    ) -> Result<T, HostError> {
        let Some(text) = env(name) else {
            return Ok(default);
        };
        text.trim().parse().map_err(|_| {
            HostError::Remote(server::remote::RemoteConfigError::Setup {
                target: target.to_owned(),
                reason: format!("{name}={text:?} is not {what}"),
            })
        })
    }
    let config = server::remote::RemoteConfig {
        cap: parse(&env, &target, "FAASTLANE_REMOTE_CAP", "a whole number", 4)?,
        timeout_seconds: parse(&env, &target, "FAASTLANE_REMOTE_TIMEOUT", "a number", 900.0)?,
        target,
    };
    Ok(Some(config.lanes()?))
}

/// How this instance names itself to a sibling that sent it branches (the trace's `went to`):
/// Lambda's log stream (one per execution environment), else the host name, and the process id.
pub fn instance_name() -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let place = var("AWS_LAMBDA_LOG_STREAM_NAME")
        .or_else(|| var("HOSTNAME"))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{place} (pid {})", std::process::id())
}

/// Options of the fork server a host's process lanes use: set up only when a state first
/// wants worker processes, so a workflow whose states all stay inline never pays for it.
pub fn fork_server_options(engine: &EngineOptions) -> ServerOptions {
    ServerOptions {
        lazy_setup: true,
        worker_memory_limit: engine.limits.executor_memory_bytes,
        ..ServerOptions::default()
    }
}

/// Whether a workflow can use process lanes: a Parallel or Map state, and Python functions.
pub fn wants_processes(workflow: &Workflow) -> bool {
    let branches = workflow.machine.states.values().any(|s| {
        matches!(
            &s.kind,
            asl::model::StateKind::Parallel(_) | asl::model::StateKind::Map(_)
        )
    });
    // Any Task: a function may be named only at run time (`FunctionName.$`).
    branches && asl::walk::has_tasks(&workflow.machine)
}

/// The Python options every host uses: the workflow directory becomes the working directory.
pub fn python_options() -> PythonOptions {
    PythonOptions::default().chdir(true)
}

/// A workflow ready to execute.
pub struct Host {
    engine: Engine,
    workflow: Workflow,
    /// Whether its functions are Python (and so read `os.environ`).
    python: bool,
}

/// What one platform request asks of an execution.
#[derive(Clone, Debug, Default)]
pub struct Activation {
    /// The execution's name: the platform's request or activation id, so that
    /// `$$.Execution.Name` and the execution ARN carry it.
    pub name: Option<String>,
    /// When the platform stops waiting (`States.Timeout` past it).
    pub deadline: Option<Instant>,
    /// Environment variables the functions see from this activation on.
    pub env: Vec<(String, String)>,
}

impl Host {
    /// Prepares `workflow` from `dir` with `options` (whose `processes` may hold a fork
    /// server): starts the interpreter, installs `requirements.txt`, imports every function;
    /// the function runtime wrapped with `wrap` first, if given.
    pub fn prepare(
        dir: &Path,
        workflow: Workflow,
        options: EngineOptions,
        wrap: Option<Wrap>,
    ) -> Result<Host, HostError> {
        let python = !workflow.functions().is_empty();
        let runtime: Arc<dyn Runtime> = if python {
            let runtime = PythonRuntime::with_options(dir, python_options()).map_err(|source| {
                HostError::Python {
                    dir: dir.to_path_buf(),
                    source,
                }
            })?;
            Arc::new(runtime)
        } else {
            Arc::new(NativeRuntime::new())
        };
        let runtime = match wrap {
            Some(wrap) => wrap(runtime).map_err(HostError::Isolation)?,
            None => runtime,
        };
        let engine = Engine::with_options(runtime, options);
        engine
            .prepare(&workflow)
            .map_err(|problems| HostError::Prepare { problems })?;
        Ok(Host {
            engine,
            workflow,
            python,
        })
    }

    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// Exports `vars` to the functions (nothing to do for a workflow without functions).
    pub fn export(&self, vars: &[(String, String)]) -> Result<(), PythonError> {
        if self.python && !vars.is_empty() {
            python_runtime::export_environment(vars)?;
        }
        Ok(())
    }

    /// When `event` is a sibling's remote-lane batch (`{"faastlaneLanes": ...}`): runs its
    /// branches here and gives the report, or `Err((error, cause))` for a batch this host
    /// cannot run; `None` for any other event (an execution's input).
    pub fn answer_batch(
        &self,
        event: &Json,
        activation: &Activation,
    ) -> Option<Result<Vec<u8>, (String, String)>> {
        event.get(engine::wire::REMOTE_EVENT_KEY)?;
        if let Err(e) = self.export(&activation.env) {
            tracing::warn!("the activation's environment was not set: {e}");
        }
        let answer =
            engine::wire::answer_event(&self.engine, &self.workflow, event, &instance_name())?;
        Some(answer.and_then(|report| {
            serde_json::to_vec(&report).map_err(|e| {
                (
                    "Runtime.MarshalError".to_owned(),
                    format!("Unable to marshal the remote-lane report: {e}"),
                )
            })
        }))
    }

    /// Runs one execution on the calling thread.
    pub fn execute(&self, input: Json, activation: &Activation) -> ExecutionResult {
        if let Err(e) = self.export(&activation.env) {
            tracing::warn!("the activation's environment was not set: {e}");
        }
        let result = self.engine.execute(
            &self.workflow,
            input,
            &ExecutionOptions {
                name: activation.name.clone(),
                deadline: activation.deadline,
                ..ExecutionOptions::default()
            },
        );
        log_ended(&result);
        result
    }
}

/// The `ended` log line of an execution (`-v`), the same for every front end.
pub fn log_ended(result: &ExecutionResult) {
    tracing::info!(
        arn = %result.arn,
        duration_us = result.duration.as_micros() as u64,
        failed = result.outcome.as_ref().err().map(|e| e.error.as_str()).unwrap_or(""),
        "ended"
    );
}

/// Starts the fork server for `workflow` in `dir` when it can use process lanes; call it
/// while this process has one thread. A server that cannot start leaves branches in this
/// process (said on the log).
pub fn start_fork_server(
    dir: &Path,
    workflow: &Workflow,
    options: &EngineOptions,
) -> Option<Arc<ForkServer>> {
    if !wants_processes(workflow) {
        return None;
    }
    let server = fork_server_options(options);
    match python_runtime::fork_server::start(dir, workflow, options, python_options(), server) {
        Ok(server) => Some(Arc::new(server)),
        Err(e) => {
            tracing::warn!("no process lanes: {e}");
            None
        }
    }
}

/// The compact JSON of a successful output.
pub fn output_bytes(value: &asl::Value) -> Result<Vec<u8>, asl::StatesError> {
    let mut text = Vec::new();
    value.write_json(&mut text).map_err(|e| {
        asl::StatesError::new(
            "Runtime.MarshalError",
            format!("Unable to marshal the execution output: {e}"),
        )
    })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn remote_lanes_come_from_the_environment_or_fail_naming_the_variable() {
        assert!(matches!(remote_from_env(env(&[])), Ok(None)));
        let lanes = remote_from_env(env(&[
            ("FAASTLANE_REMOTE", "http://lanes.internal"),
            ("FAASTLANE_REMOTE_CAP", "3"),
            ("FAASTLANE_REMOTE_TIMEOUT", "12.5"),
        ]))
        .expect("valid")
        .expect("configured");
        assert_eq!(lanes.cap, 3);
        assert_eq!(lanes.timeout, std::time::Duration::from_secs_f64(12.5));
        assert_eq!(lanes.transport.target(), "http://lanes.internal");
        let e = remote_from_env(env(&[
            ("FAASTLANE_REMOTE", "http://x"),
            ("FAASTLANE_REMOTE_CAP", "many"),
        ]))
        .map(|_| ())
        .expect_err("a bad cap")
        .to_string();
        assert!(
            e.contains("FAASTLANE_REMOTE_CAP=\"many\" is not a whole number"),
            "{e}"
        );
        let e = remote_from_env(env(&[
            ("FAASTLANE_REMOTE", "http://x"),
            ("FAASTLANE_REMOTE_CAP", "0"),
        ]))
        .map(|_| ())
        .expect_err("a zero cap")
        .to_string();
        assert!(e.contains("--remote-cap must be at least 1"), "{e}");
        let e = remote_from_env(env(&[("FAASTLANE_REMOTE", "lambda:f")]))
            .map(|_| ())
            .expect_err("no endpoint")
            .to_string();
        assert!(e.contains("AWS_ENDPOINT_URL_LAMBDA"), "{e}");
    }
}
