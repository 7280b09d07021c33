use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use engine::{
    BranchLanes, Engine, EngineOptions, ExecutionOptions, HistoryLog, Identity, NativeRuntime,
    Runtime, StderrLog, Workflow,
};
use lanes::{ForkServer, ServerOptions};
use python_runtime::PythonRuntime;

use super::isolation::Isolation;
use crate::args::{LanesArg, RunArgs};
use crate::workflow::Loaded;

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let loaded = Loaded::read(&args.workflow, &args.substitutions.read()?)?;
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
    // An unwritable trace path is found now, not after the run has done its work.
    let trace = match &args.trace {
        Some(path) => {
            let path = loaded.resolve_user_path(path);
            let file = std::fs::File::create(&path)
                .with_context(|| format!("cannot write the trace to {}", path.display()))?;
            Some((path, file))
        }
        None => None,
    };
    // Before any function, fork server or worker exists: they all inherit the diverted fd 1.
    let mut out = crate::stdout::divert()?;
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
        limits: limits(&args),
        processes: None,
        cpus,
        remote: args.remote.config()?.map(|c| c.lanes()).transpose()?,
    };
    let mocks = mocked_responses(&args, &workflow)?;
    // First, while this process has one thread and no interpreter: the fork servers.
    let isolation = Isolation::start(args.isolation, &loaded.dir, &workflow, &options)?;
    // Isolated functions stay off process lanes: a lane worker runs every Task of its
    // branches (and of later states) in one process, which would undo the isolation.
    let server = if isolation.isolates() {
        if args.lanes == LanesArg::Process {
            anyhow::bail!(
                "--lanes process cannot be combined with --isolation: a lane worker runs several functions in one process; use --lanes auto, inline or threads"
            );
        }
        None
    } else if mocks.is_some() {
        // No fork server with mocks: mocked functions need not exist.
        None
    } else {
        fork_server(&args, &loaded, &workflow, &options)
    };
    // Forced processes: workers (one per usable CPU: this process only dispatches) start
    // idle while this process loads the functions, so the first Parallel or Map hands them
    // its branches instead of starting them.
    let prestart = server
        .as_ref()
        .filter(|_| args.lanes == LanesArg::Process)
        .map(|s| {
            let server = Arc::clone(s);
            let workers = cpus.max(1);
            std::thread::spawn(move || server.prestart(workers))
        });
    let mut runtime = isolation.wrap(function_runtime(&loaded, &workflow)?)?;
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
    let history = args
        .history
        .as_ref()
        .map(|_| Arc::new(HistoryLog::default()));
    let span = tracing::info_span!("execution", workflow = %workflow.name);
    let _enter = span.enter();
    tracing::info!("started");
    let result = engine.execute(
        &workflow,
        input,
        &ExecutionOptions {
            name: args.name.clone(),
            history: history.clone().map(|h| h as Arc<dyn engine::HistorySink>),
            ..ExecutionOptions::default()
        },
    );
    platform::host::log_ended(&result);
    server::observe::log_trace(&result.trace);
    if let (Some(path), Some(history)) = (&args.history, history) {
        let text = serde_json::to_string_pretty(&serde_json::json!({"events": history.events()}))
            .context("serializing the history")?;
        let path = loaded.resolve_user_path(path);
        std::fs::write(&path, text)
            .with_context(|| format!("writing the history to {}", path.display()))?;
    }
    if let Some(Ok(Err(e))) = prestart.map(std::thread::JoinHandle::join) {
        tracing::debug!("no workers started ahead: {e}");
    }
    let trace_text = trace
        .is_some()
        .then(|| serde_json::to_string_pretty(&result.trace));
    // Plain JSON (the input handed through, say) goes out as it is serialized.
    let plain = match &result.outcome {
        Ok(value) if !args.pretty => value.as_json(),
        _ => None,
    };
    let code = match plain {
        Some(json) => {
            out.emit_json(json)?;
            ExitCode::SUCCESS
        }
        None => {
            let (text, code) = output_text(result, args.pretty)?;
            out.emit(&text)?;
            code
        }
    };
    // After the output: a trace that cannot be written does not lose a finished run.
    if let (Some((path, mut file)), Some(text)) = (trace, trace_text) {
        use std::io::Write;
        let text = text.context("serializing the trace")?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("writing the trace to {}", path.display()))?;
    }
    Ok(code)
}

/// The text to print (with its newline) and the exit code. Compact output is written from
/// the result's objects as it walks them, without a JSON tree in between: a large output
/// then needs the memory of its text, not of a tree as well.
fn output_text(result: engine::ExecutionResult, pretty: bool) -> Result<(Vec<u8>, ExitCode)> {
    let failure = |e: asl::StatesError| serde_json::json!({"error": e.error, "cause": e.cause});
    let (json, code) = match (result.outcome, pretty) {
        (Ok(value), false) => {
            let mut text = Vec::new();
            match value.write_json(&mut text) {
                Ok(()) => {
                    text.push(b'\n');
                    return Ok((text, ExitCode::SUCCESS));
                }
                Err(e) => (
                    failure(asl::StatesError::new(
                        "Runtime.MarshalError",
                        format!("Unable to marshal the execution output: {e}"),
                    )),
                    ExitCode::from(1),
                ),
            }
        }
        (Ok(value), true) => match value.into_json() {
            Ok(json) => (json, ExitCode::SUCCESS),
            Err(e) => (
                failure(asl::StatesError::new(
                    "Runtime.MarshalError",
                    format!("Unable to marshal the execution output: {e}"),
                )),
                ExitCode::from(1),
            ),
        },
        (Err(e), _) => (failure(e), ExitCode::from(1)),
    };
    let mut text = if pretty {
        serde_json::to_vec_pretty(&json)
    } else {
        serde_json::to_vec(&json)
    }
    .context("serializing the output")?;
    text.push(b'\n');
    Ok((text, code))
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

/// Python functions from the workflow's directory; no interpreter at all when there is no
/// Task. A Task whose function is known only at run time (`"FunctionName.$"`) imports it
/// when it first runs.
fn function_runtime(loaded: &Loaded, workflow: &Workflow) -> Result<Arc<dyn Runtime>> {
    if !asl::walk::has_tasks(&workflow.machine) {
        return Ok(Arc::new(NativeRuntime::new()));
    }
    python_runtime::init().context("starting the embedded Python interpreter")?;
    let options = platform::host::python_options();
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
    // A recorded history keeps branches in this process.
    if args.history.is_some()
        || !matches!(args.lanes, LanesArg::Process | LanesArg::Auto)
        || !platform::host::wants_processes(workflow)
    {
        return None;
    }
    let server_options = ServerOptions {
        // With `auto`, a run whose states all stay inline never starts the server's Python.
        lazy_setup: args.lanes == LanesArg::Auto,
        worker_memory_limit: options.limits.executor_memory_bytes,
        ..ServerOptions::default()
    };
    let python = platform::host::python_options();
    match python_runtime::fork_server::start(&loaded.dir, workflow, options, python, server_options)
    {
        Ok(server) => Some(Arc::new(server)),
        Err(e) => {
            tracing::warn!("no process lanes: {e}");
            None
        }
    }
}

/// The execution limits the flags ask for; the rest are the defaults.
fn limits(args: &RunArgs) -> asl::Limits {
    let base = if args.aws_limits {
        asl::Limits::aws()
    } else {
        asl::Limits::default()
    };
    let mut limits = args.limits.over(asl::Limits {
        executor_memory_bytes: args.worker_memory_mb.map(|mb| mb << 20),
        ..base.clone()
    });
    if args.aws_limits {
        limits.history_events = base.history_events;
    }
    limits.payload_bytes = args.max_payload.or(base.payload_bytes);
    limits
}
