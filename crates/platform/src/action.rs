//! An OpenWhisk action's code on disk: what `/init` sends (one Python source, or a base64 zip
//! of a workflow directory) unpacked into the action directory, and the record the deferred
//! fork server reads back from there.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use engine::{EngineOptions, Workflow};
use lanes::ForkServer;

use crate::host::{self, HostError};

/// What `/init` carries.
pub enum ActionSource {
    /// One Python source whose function `main` is the action.
    Python { code: String, main: String },
    /// A base64 zip of a workflow directory.
    Zip(String),
}

/// Why an action cannot be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("the action's code is not valid base64: {0}")]
    Base64(base64::DecodeError),
    #[error("the action's code is not a valid zip file: {0}")]
    Zip(zip::result::ZipError),
    #[error("'{0}' is not a Python function name: main must be an identifier")]
    Main(String),
    #[error("writing the action to {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Workflow(#[from] HostError),
}

/// The module a one-function action's source becomes.
const MODULE: &str = "action";
/// Written beside the action for the deferred fork server: its name and environment.
const RECORD: &str = ".faastlane-action.json";

/// An unpacked action.
pub struct Unpacked {
    pub workflow: Workflow,
    pub one_function: bool,
}

/// A name usable in ARNs from the action's (`/ns/pkg/name` -> `name`).
pub fn workflow_name(name: Option<&str>) -> String {
    let last = name.and_then(|n| n.rsplit('/').next()).unwrap_or("");
    crate::definition::arn_name(last, "action")
}

/// Writes `source` into `dir` (an empty directory) and loads its workflow: a zip's own, or for
/// one Python source a workflow of one Task calling its `main`.
pub fn unpack(
    dir: &Path,
    source: &ActionSource,
    name: &str,
    env: &[(String, String)],
) -> Result<Unpacked, ActionError> {
    let write = |file: &str, text: &[u8]| {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|source| ActionError::Write { path, source })
    };
    let one_function = match source {
        ActionSource::Zip(code) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(code.trim())
                .map_err(ActionError::Base64)?;
            let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(ActionError::Zip)?;
            // `extract` refuses entries that would land outside `dir`.
            archive.extract(dir).map_err(ActionError::Zip)?;
            false
        }
        ActionSource::Python { code, main } => {
            let valid = main
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && main.chars().all(|c| c.is_alphanumeric() || c == '_');
            if !valid {
                return Err(ActionError::Main(main.clone()));
            }
            write(&format!("{MODULE}.py"), code.as_bytes())?;
            let functions = serde_json::json!({ MODULE: format!("{MODULE}.{main}") });
            write("functions.json", functions.to_string().as_bytes())?;
            let definition = serde_json::json!({
                "StartAt": main,
                "States": { main.as_str(): { "Type": "Task", "Resource": MODULE, "End": true } }
            });
            write("workflow.json", definition.to_string().as_bytes())?;
            true
        }
    };
    let record = serde_json::json!({ "name": name, "env": env });
    write(RECORD, record.to_string().as_bytes())?;
    let workflow = host::load(dir, name)?;
    Ok(Unpacked {
        workflow,
        one_function,
    })
}

/// Forks a fork server that hosts whatever `/init` later unpacks into `dir`: its setup (run
/// when a state first wants worker processes, after `/init`) reads the record and the
/// workflow from there and exports the action's environment first. Call it while the
/// process has one thread.
pub fn start_deferred_fork_server(dir: &Path, engine: &EngineOptions) -> Option<Arc<ForkServer>> {
    let server = host::fork_server_options(engine);
    start_deferred_fork_server_with(dir, engine, server, |_, workflow| Ok(workflow))
}

/// [`start_deferred_fork_server`], hosting what `hosted` makes of the unpacked workflow
/// (process isolation: a workflow of its sensitive functions).
pub fn start_deferred_fork_server_with(
    dir: &Path,
    engine: &EngineOptions,
    server: lanes::ServerOptions,
    hosted: impl FnOnce(&Path, engine::Workflow) -> Result<engine::Workflow, String> + Send + 'static,
) -> Option<Arc<ForkServer>> {
    let dir = dir.to_path_buf();
    let options = engine.clone();
    let started = python_runtime::fork_server::start_deferred(server, move || {
        let text = std::fs::read_to_string(dir.join(RECORD))
            .map_err(|e| format!("no initialized action in {}: {e}", dir.display()))?;
        let record: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{RECORD}: {e}"))?;
        let name = record["name"].as_str().unwrap_or("action").to_owned();
        let env: Vec<(String, String)> =
            serde_json::from_value(record["env"].clone()).map_err(|e| format!("{RECORD}: {e}"))?;
        if !env.is_empty() {
            python_runtime::export_environment(&env).map_err(|e| e.to_string())?;
        }
        let workflow = host::load(&dir, &name).map_err(|e| e.to_string())?;
        let workflow = hosted(&dir, workflow)?;
        Ok(python_runtime::fork_server::Hosted {
            dir,
            workflow,
            engine: options,
            python: host::python_options(),
        })
    });
    match started {
        Ok(server) => Some(Arc::new(server)),
        Err(e) => {
            tracing::warn!("no process lanes: {e}");
            None
        }
    }
}
