//! `--isolation`: which functions run isolated (the workflow's `faastlane.json`) and how.
//! Decided, and the process-isolation fork server started, before anything else runs: a
//! fork server must start while this process has one thread, and `--isolation mpk` without
//! protection keys must fail before the first function runs.

use std::sync::Arc;

use anyhow::{Context, Result};
use engine::{EngineOptions, Runtime, Workflow};
use isolation::{Choice, DomainIsolated, Mode, ProcessIsolated, Settings};
use lanes::{ForkServer, ServerOptions};
use python_runtime::PythonOptions;

use crate::args::IsolationArg;

/// The isolation of one run, ready to wrap the function runtime.
pub struct Isolation {
    mode: Mode,
    /// The functions to isolate, in the order the fork server's workflow has them.
    sensitive: Vec<String>,
    server: Option<(Arc<ForkServer>, String)>,
}

impl Isolation {
    /// Reads the workflow's marking, chooses (printing `auto`'s notice on stderr) and, for
    /// process isolation, starts the fork server that hosts the sensitive functions.
    pub fn start(
        arg: IsolationArg,
        dir: &std::path::Path,
        workflow: &Workflow,
        options: &EngineOptions,
    ) -> Result<Isolation> {
        let requested = match arg {
            IsolationArg::None => Mode::None,
            IsolationArg::Mpk => Mode::Mpk,
            IsolationArg::Process => Mode::Process,
            IsolationArg::Auto => Mode::Auto,
        };
        let functions = workflow.functions();
        let none = Isolation {
            mode: Mode::None,
            sensitive: Vec::new(),
            server: None,
        };
        if requested == Mode::None {
            return Ok(none);
        }
        // The CLI runs Python functions, whose memory `python_runtime::domains` routes to
        // their domains.
        let Choice { mode, notice } = isolation::choose(requested, mpk::support(), true)?;
        if let Some(notice) = notice {
            eprintln!("{notice}");
        }
        let settings = Settings::read(dir, &functions)?;
        let sensitive: Vec<String> = settings.sensitive(&functions).into_iter().collect();
        if sensitive.is_empty() {
            return Ok(none);
        }
        let server = match mode {
            Mode::Process => Some(process_server(dir, workflow, options, &sensitive)?),
            _ => None,
        };
        Ok(Isolation {
            mode,
            sensitive,
            server,
        })
    }

    /// Whether any function runs isolated.
    pub fn isolates(&self) -> bool {
        self.mode != Mode::None
    }

    /// `runtime` with the sensitive functions isolated.
    pub fn wrap(&self, runtime: Arc<dyn Runtime>) -> Result<Arc<dyn Runtime>> {
        Ok(match (self.mode, &self.server) {
            (Mode::Process, Some((server, name))) => Arc::new(ProcessIsolated::new(
                runtime,
                Arc::clone(server) as Arc<dyn engine::lanes::ProcessPool>,
                name,
                &self.sensitive,
            )),
            (Mode::Mpk, _) => platform::isolate::in_domains(runtime, &self.sensitive)
                .map_err(anyhow::Error::msg)?,
            _ => runtime,
        })
    }
}

/// A fork server hosting the sensitive functions, with no idle workers: each call gets a
/// fresh fork, never a process another function ran in.
fn process_server(
    dir: &std::path::Path,
    workflow: &Workflow,
    options: &EngineOptions,
    sensitive: &[String],
) -> Result<(Arc<ForkServer>, String)> {
    let hosted = isolation::isolation_workflow(&workflow.name, sensitive)?;
    let server_options = ServerOptions {
        idle_workers: 0,
        ..ServerOptions::default()
    };
    let python = PythonOptions::default().chdir(true);
    let server = python_runtime::fork_server::start(dir, &hosted, options, python, server_options)
        .context("starting the fork server for process isolation")?;
    Ok((Arc::new(server), hosted.name))
}

/// What `faastlane serve --isolation` hands its executors (as JSON on their command line):
/// the mode it chose and each function directory's functions to isolate.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ServeSpec {
    /// `mpk` or `process`.
    pub mode: String,
    pub dirs: Vec<DirSpec>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DirSpec {
    /// Canonical path, as the executor canonicalizes the directories its jobs name.
    pub dir: std::path::PathBuf,
    pub sensitive: Vec<String>,
}

/// Decides `serve --isolation` at start, before any executor exists: the mode (`auto`'s
/// notice on stderr; `mpk` without protection keys refused), and for each function
/// directory the functions its `faastlane.json` marks, each checked against the functions
/// the directory provides. Without a marking, `mpk` isolates every function the directory
/// provides; `process` needs the marking (its worker processes are forked from a server
/// that imports the sensitive functions when an executor starts, before the workflows
/// that will call them are known).
pub fn serve_spec(arg: IsolationArg, dirs: &[std::path::PathBuf]) -> Result<Option<ServeSpec>> {
    let requested = match arg {
        IsolationArg::None => return Ok(None),
        IsolationArg::Mpk => Mode::Mpk,
        IsolationArg::Process => Mode::Process,
        IsolationArg::Auto => Mode::Auto,
    };
    let Choice { mode, notice } = isolation::choose(requested, mpk::support(), true)?;
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
    let mut specs = Vec::new();
    for dir in dirs {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("function directory {}", dir.display()))?;
        let provided = provided_functions(&dir);
        let path = dir.join(isolation::SETTINGS_FILE);
        let marked = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let settings: Settings = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not valid settings", path.display()))?;
                settings.isolation.sensitive
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        for (i, name) in marked.iter().flatten().enumerate() {
            if !provided.contains(name) {
                anyhow::bail!(
                    "{}: /isolation/sensitive/{i}: {} has no function named '{name}' (it has: {})",
                    path.display(),
                    dir.display(),
                    provided.join(", ")
                );
            }
        }
        let sensitive = match (marked, mode) {
            (Some(marked), _) => marked,
            (None, Mode::Mpk) => provided,
            (None, _) => anyhow::bail!(
                "faastlane serve --isolation process needs the sensitive functions of {} named in {} (e.g. {{\"isolation\": {{\"sensitive\": [\"{}\"]}}}}): its worker processes are forked from a server that imports them when an executor starts",
                dir.display(),
                path.display(),
                provided.first().map_or("NAME", String::as_str)
            ),
        };
        specs.push(DirSpec { dir, sensitive });
    }
    Ok(Some(ServeSpec {
        mode: if mode == Mode::Mpk { "mpk" } else { "process" }.to_string(),
        dirs: specs,
    }))
}

/// The functions `dir` provides, by the runtime's rules: `NAME.py` and packages
/// `NAME/__init__.py` for plain names, and the names its `functions.json` maps.
fn provided_functions(dir: &std::path::Path) -> Vec<String> {
    let plain = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let mut names = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".py").filter(|s| plain(s)) {
            names.insert(stem.to_string());
        } else if plain(&name) && path.join("__init__.py").is_file() {
            names.insert(name);
        }
    }
    let manifest = std::fs::read_to_string(dir.join(python_runtime::discovery::MANIFEST))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&t).ok());
    names.extend(manifest.into_iter().flatten().map(|(k, _)| k));
    names.into_iter().collect()
}

/// In an executor of `faastlane serve --isolation`, before anything else runs (a fork
/// server must start while the process has one thread): for `process`, a fork server per
/// directory hosting its sensitive functions; for `mpk`, the protection domains with
/// Python's allocators routed to them. The wrap isolates each directory's runtime as the
/// executor makes it.
pub fn executor_wrap(spec: &str) -> Result<server::executor::Wrap> {
    let spec: ServeSpec = serde_json::from_str(spec).context("the executor's isolation spec")?;
    let sensitive: std::collections::HashMap<std::path::PathBuf, Vec<String>> = spec
        .dirs
        .into_iter()
        .map(|d| (d.dir, d.sensitive))
        .collect();
    let canonical =
        |dir: &std::path::Path| dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if spec.mode == "mpk" {
        // Made when the executor makes its first runtime, Python started (as `run` does): the
        // domains' SIGSEGV handler must be installed after Python's `faulthandler`, which it
        // passes every other fault on to; installed before, `faulthandler` would replace it
        // and a violation would kill the executor.
        let made: std::sync::OnceLock<Result<Arc<mpk::Domains>, String>> =
            std::sync::OnceLock::new();
        return Ok(Box::new(move |dir, runtime| {
            let domains = made
                .get_or_init(|| {
                    let domains = Arc::new(
                        mpk::Domains::new()
                            .map_err(|e| format!("setting up protection domains: {e}"))?,
                    );
                    python_runtime::domains::install(&domains).map_err(|e| {
                        format!("routing python's allocators to the protection domains: {e}")
                    })?;
                    Ok(domains)
                })
                .clone()?;
            // A directory the server did not name (none should come) gets no domain of
            // its own: its functions share the domain of functions not marked sensitive.
            let functions = sensitive.get(&canonical(dir)).cloned().unwrap_or_default();
            let isolated = DomainIsolated::over(runtime, &functions, Arc::clone(&domains))
                .with_memory(Arc::new(python_runtime::domains::PythonMemory));
            Ok(Arc::new(isolated) as Arc<dyn Runtime>)
        }));
    }
    let mut servers = std::collections::HashMap::new();
    for (i, (dir, functions)) in sensitive.into_iter().enumerate() {
        if functions.is_empty() {
            continue;
        }
        let hosted = isolation::isolation_workflow(&format!("isolation-{i}"), &functions)?;
        let server = python_runtime::fork_server::start(
            &dir,
            &hosted,
            &EngineOptions::default(),
            PythonOptions::default(),
            ServerOptions {
                idle_workers: 0,
                ..ServerOptions::default()
            },
        )
        .with_context(|| {
            format!(
                "starting the fork server for process isolation of {}",
                dir.display()
            )
        })?;
        servers.insert(dir, (Arc::new(server), hosted.name, functions));
    }
    Ok(Box::new(move |dir, runtime| {
        Ok(match servers.get(&canonical(dir)) {
            Some((server, name, functions)) => Arc::new(ProcessIsolated::new(
                runtime,
                Arc::clone(server) as Arc<dyn engine::lanes::ProcessPool>,
                name,
                functions,
            )) as Arc<dyn Runtime>,
            None => runtime,
        })
    }))
}
