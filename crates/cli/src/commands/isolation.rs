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
use crate::workflow::Loaded;

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
        loaded: &Loaded,
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
        let settings = Settings::read(&loaded.dir, &functions)?;
        let sensitive: Vec<String> = settings.sensitive(&functions).into_iter().collect();
        if sensitive.is_empty() {
            return Ok(none);
        }
        let server = match mode {
            Mode::Process => Some(process_server(loaded, workflow, options, &sensitive)?),
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
            (Mode::Mpk, _) => {
                let isolated = DomainIsolated::new(runtime, &self.sensitive)
                    .context("setting up protection domains")?;
                python_runtime::domains::install(isolated.domains())
                    .context("routing python's allocators to the protection domains")?;
                Arc::new(isolated.with_memory(Arc::new(python_runtime::domains::PythonMemory)))
            }
            _ => runtime,
        })
    }
}

/// A fork server hosting the sensitive functions, with no idle workers: each call gets a
/// fresh fork, never a process another function ran in.
fn process_server(
    loaded: &Loaded,
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
    let server =
        python_runtime::fork_server::start(&loaded.dir, &hosted, options, python, server_options)
            .context("starting the fork server for process isolation")?;
    Ok((Arc::new(server), hosted.name))
}
