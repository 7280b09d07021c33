//! `--isolation`: which functions run isolated (the workflow's `faastlane.json`) and how.
//! Decided, and the process-isolation fork server started, before anything else runs: a
//! fork server must start while this process has one thread, and `--isolation mpk` without
//! protection keys must fail before the first function runs.

use std::sync::Arc;

use anyhow::{Context, Result};
use engine::{EngineOptions, Runtime, Workflow};
use isolation::{Choice, Mode, ProcessIsolated, Settings};
use lanes::{ForkServer, ServerOptions};
use python_runtime::PythonOptions;

use crate::args::IsolationArg;

/// The isolation `arg` asks for on this machine: `Mode::None`, `Mpk` or `Process`, `auto`'s
/// notice printed on stderr, `mpk` without protection keys refused. (The CLI runs Python
/// functions, whose memory `python_runtime::domains` routes to their domains.)
pub fn choose(arg: IsolationArg) -> Result<Mode> {
    let requested = match arg {
        IsolationArg::None => return Ok(Mode::None),
        IsolationArg::Mpk => Mode::Mpk,
        IsolationArg::Process => Mode::Process,
        IsolationArg::Auto => Mode::Auto,
    };
    let Choice { mode, notice } = isolation::choose(requested, mpk::support(), true)?;
    if let Some(notice) = notice {
        eprintln!("{notice}");
    }
    Ok(mode)
}

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
        let none = Isolation {
            mode: Mode::None,
            sensitive: Vec::new(),
            server: None,
        };
        let mode = choose(arg)?;
        if mode == Mode::None {
            return Ok(none);
        }
        let functions = workflow.functions();
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
    pub mode: SpecMode,
    pub dirs: Vec<DirSpec>,
}

#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecMode {
    Mpk,
    Process,
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
    let mode = choose(arg)?;
    if mode == Mode::None {
        return Ok(None);
    }
    let mut specs = Vec::new();
    for dir in dirs {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("function directory {}", dir.display()))?;
        let provided = server::functions::provided(&dir);
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
        mode: if mode == Mode::Mpk {
            SpecMode::Mpk
        } else {
            SpecMode::Process
        },
        dirs: specs,
    }))
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
    if spec.mode == SpecMode::Mpk {
        // The domains are made at the first runtime, Python started (`in_domains`), and
        // shared by every directory's.
        return Ok(Box::new(move |dir, runtime| {
            // A directory the server did not name (none should come) gets no domain of
            // its own: its functions share the domain of functions not marked sensitive.
            let functions = sensitive.get(&canonical(dir)).cloned().unwrap_or_default();
            platform::isolate::in_domains(runtime, &functions)
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
