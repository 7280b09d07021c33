use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, Identity, LogSink, NativeRuntime,
    Runtime, Workflow,
};
use lanes::{ForkServer, ServerOptions};
use python_runtime::{PythonOptions, PythonRuntime};

use crate::args::{LanesArg, RunArgs};
use crate::workflow::Loaded;

/// Prints what functions log to stderr, tagged with the state.
struct StderrLog;

impl LogSink for StderrLog {
    fn line(&self, state: &str, line: &str) {
        eprintln!("[{state}] {line}");
    }
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let loaded = Loaded::read(&args.workflow)?;
    let machine = match loaded.machine() {
        Ok(m) => m,
        Err(report) => {
            eprintln!("{report}");
            return Ok(ExitCode::from(2));
        }
    };
    // Read the input before changing directory: a relative --input path is the user's.
    let input = crate::input::read(args.input.as_deref())?;
    let workflow = Workflow {
        name: loaded.name.clone(),
        machine,
    };
    let cpus = lanes::cpus::usable().usable;
    let options = EngineOptions {
        identity: Identity::from_env(),
        lanes: match args.lanes {
            LanesArg::Inline => BranchLanes::Inline,
            LanesArg::Threads => BranchLanes::Threads(cpus),
            LanesArg::Process => BranchLanes::Process,
            LanesArg::Auto => BranchLanes::Auto,
        },
        // -vv logs every state, from the trace.
        trace: args.trace.is_some() || tracing::enabled!(tracing::Level::DEBUG),
        log: Arc::new(StderrLog),
        max_events: (args.max_events > 0).then_some(args.max_events),
        processes: None,
        cpus,
    };
    let mocks = mocked_responses(&args, &workflow)?;
    // First, while this process has one thread and no interpreter: the fork server (not
    // with mocks: mocked functions need not exist).
    let server = if mocks.is_some() {
        None
    } else {
        fork_server(&args, &loaded, &workflow, &options)
    };
    // Forced processes: workers start (idle) while this process loads the functions, so the
    // first Parallel or Map hands them its branches instead of starting them.
    let prestart = server
        .as_ref()
        .filter(|_| args.lanes == LanesArg::Process)
        .map(|s| {
            let server = Arc::clone(s);
            let workers = cpus.saturating_sub(1).max(1);
            std::thread::spawn(move || server.prestart(workers))
        });
    let mut runtime = function_runtime(&loaded, &workflow)?;
    if let Some(mocks) = &mocks {
        runtime = Arc::new(server::mock::Mocked::new(
            runtime,
            mocks.clone(),
            &workflow.machine,
        ));
    }
    let options = EngineOptions {
        processes: server.map(|s| s as Arc<dyn engine::lanes::ProcessPool>),
        ..options
    };
    let engine = Engine::with_options(runtime, options);
    // Mocked runs import what they call when they call it: the mocked functions need not exist.
    let prepared = if mocks.is_none() {
        engine.prepare(&workflow)
    } else {
        Ok(())
    };
    if let Err(problems) = prepared {
        eprintln!("{} cannot run:", loaded.definition_path.display());
        for p in &problems {
            eprintln!("  - {p}");
        }
        return Ok(ExitCode::from(2));
    }
    let span = tracing::info_span!("execution", workflow = %workflow.name);
    let _enter = span.enter();
    tracing::info!("started");
    let result = engine.execute(
        &workflow,
        input,
        &ExecutionOptions {
            name: args.name.clone(),
        },
    );
    tracing::info!(
        arn = %result.arn,
        duration_us = result.duration.as_micros() as u64,
        failed = result.outcome.as_ref().err().map(|e| e.error.as_str()).unwrap_or(""),
        "ended"
    );
    server::observe::log_trace(&result.trace);
    if let Some(Ok(Err(e))) = prestart.map(std::thread::JoinHandle::join) {
        tracing::debug!("no workers started ahead: {e}");
    }
    if let Some(path) = &args.trace {
        let text = serde_json::to_string_pretty(&result.trace).context("serializing the trace")?;
        let path = loaded.resolve_user_path(path);
        std::fs::write(&path, text)
            .with_context(|| format!("writing the trace to {}", path.display()))?;
    }
    let (json, code) = match result.into_json() {
        Ok(output) => (output, ExitCode::SUCCESS),
        Err(e) => (
            serde_json::json!({"error": e.error, "cause": e.cause}),
            ExitCode::from(1),
        ),
    };
    let text = if args.pretty {
        serde_json::to_string_pretty(&json)
    } else {
        serde_json::to_string(&json)
    }
    .context("serializing the output")?;
    super::emit(&format!("{text}\n"))?;
    Ok(code)
}

/// The mocked responses of `--test-case` in `--mock-config`, by state name.
fn mocked_responses(
    args: &RunArgs,
    workflow: &Workflow,
) -> Result<Option<std::collections::BTreeMap<String, server::mock::MockedResponse>>> {
    let (Some(path), Some(case)) = (&args.mock_config, &args.test_case) else {
        return Ok(None);
    };
    let config = server::mock::MockConfig::load(path)?;
    config
        .test_case(&workflow.name, case)
        .map(Some)
        .with_context(|| {
            format!(
                "{} has no test case '{case}' for state machine '{}' (StateMachines.{}.TestCases.{case})",
                path.display(),
                workflow.name,
                workflow.name
            )
        })
}

/// Python functions from the workflow's directory; no interpreter at all when no Task needs one.
fn function_runtime(loaded: &Loaded, workflow: &Workflow) -> Result<Arc<dyn Runtime>> {
    if workflow.functions().is_empty() {
        return Ok(Arc::new(NativeRuntime::new()));
    }
    python_runtime::init().context("starting the embedded Python interpreter")?;
    let options = PythonOptions::default().chdir(true);
    let runtime = PythonRuntime::with_options(&loaded.dir, options)
        .with_context(|| format!("loading the Python functions of {}", loaded.dir.display()))?;
    Ok(Arc::new(runtime))
}

/// The fork server for process lanes, when they may be used: `--lanes process|auto`, a
/// Parallel or Map state, and Python functions. It starts its own interpreter and imports
/// the functions (with one BLAS thread) while this process does the same.
fn fork_server(
    args: &RunArgs,
    loaded: &Loaded,
    workflow: &Workflow,
    options: &EngineOptions,
) -> Option<Arc<ForkServer>> {
    if !matches!(args.lanes, LanesArg::Process | LanesArg::Auto)
        || !has_branches(&workflow.machine)
        || workflow.functions().is_empty()
    {
        return None;
    }
    let server_options = ServerOptions {
        // With `auto`, a run whose states all stay inline never starts the server's Python.
        lazy_setup: args.lanes == LanesArg::Auto,
        ..ServerOptions::default()
    };
    let python = PythonOptions::default().chdir(true);
    match python_runtime::fork_server::start(&loaded.dir, workflow, options, python, server_options)
    {
        Ok(server) => Some(Arc::new(server)),
        Err(e) => {
            tracing::warn!("no process lanes: {e}");
            None
        }
    }
}

fn has_branches(machine: &asl::StateMachine) -> bool {
    machine.states.values().any(|s| {
        matches!(
            &s.kind,
            asl::model::StateKind::Parallel(_) | asl::model::StateKind::Map(_)
        )
    })
}
