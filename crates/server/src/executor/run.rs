//! Runs a [`Job`] with the engine: one cached engine per definition and functions.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use engine::{
    Engine, EngineOptions, ExecutionOptions, ExecutionStatus, HistoryLog, Identity, LogSink,
    NativeRuntime, Runtime, Workflow,
};

use super::{Job, JobResult};
use crate::functions::Routed;
use crate::mock::Mocked;

/// What the engine's cause says when the state machine's own TimeoutSeconds elapses.
const MACHINE_TIMEOUT_CAUSE: &str = "The execution timed out";

/// Whether a failure is the execution timing out (status TIMED_OUT) rather than failing.
pub fn machine_timeout(error: &str, cause: &str) -> bool {
    error == "States.Timeout" && cause.starts_with(MACHINE_TIMEOUT_CAUSE)
}

/// Runs one execution of `workflow` named `name` on `input` (JSON text), recording its
/// history events.
pub fn execute(engine: &Engine, workflow: &Workflow, name: &str, input: &str) -> JobResult {
    execute_with(engine, workflow, name, input, true)
}

/// [`execute`], recording the history only when `record` (a recorded history keeps every
/// branch in this process).
pub fn execute_with(
    engine: &Engine,
    workflow: &Workflow,
    name: &str,
    input: &str,
    record: bool,
) -> JobResult {
    let input: serde_json::Value = match serde_json::from_str(input) {
        Ok(v) => v,
        Err(e) => {
            return JobResult::failed("States.Runtime", format!("the input is not JSON: {e}"));
        }
    };
    let span = tracing::info_span!("execution", machine = %workflow.name, name = %name);
    let _enter = span.enter();
    // The history GetExecutionHistory returns: recorded as it happens, stored with the result.
    let history = Arc::new(HistoryLog::default());
    let result = engine.execute(
        workflow,
        input,
        &ExecutionOptions {
            name: Some(name.to_string()),
            history: record.then(|| Arc::clone(&history) as Arc<dyn engine::HistorySink>),
            ..ExecutionOptions::default()
        },
    );
    let events: Vec<serde_json::Value> = history
        .events()
        .iter()
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect();
    tracing::info!(
        duration_us = result.duration.as_micros() as u64,
        ok = result.outcome.is_ok(),
        "execution ended"
    );
    crate::observe::log_trace(&result.trace);
    let timings = crate::observe::Timings::of(&result.trace);
    let timed_out = result.status == ExecutionStatus::TimedOut;
    let mut result = match result.into_json() {
        Ok(output) => JobResult {
            status: "SUCCEEDED".to_string(),
            output: Some(output.to_string()),
            error: None,
            cause: None,
            events: Vec::new(),
            timings: Default::default(),
            lanes: None,
        },
        Err(e) => {
            let status = if timed_out || machine_timeout(&e.error, &e.cause) {
                "TIMED_OUT"
            } else {
                "FAILED"
            };
            JobResult {
                status: status.to_string(),
                output: None,
                error: Some(e.error),
                cause: Some(e.cause),
                events: Vec::new(),
                timings: Default::default(),
                lanes: None,
            }
        }
    };
    result.timings = timings;
    result.events = events;
    result
}

/// How an executor wraps the runtime of a function directory before any engine uses it
/// (`faastlane serve --isolation`: the directory's sensitive functions in protection
/// domains or worker processes).
pub type Wrap = Box<
    dyn Fn(&std::path::Path, Arc<dyn Runtime>) -> Result<Arc<dyn Runtime>, String> + Send + Sync,
>;

/// Runs jobs, keeping prepared engines (and the Python modules they imported) between them.
pub struct Runner {
    identity: Identity,
    /// Where what functions print goes.
    log: Arc<dyn LogSink>,
    /// Whether Python may be started (false in the server process: it runs no user code).
    python: bool,
    engines: HashMap<String, (Arc<Workflow>, Arc<Engine>)>,
    runtimes: HashMap<PathBuf, Arc<dyn Runtime>>,
    wrap: Option<Wrap>,
}

impl Runner {
    pub fn new(identity: Identity, python: bool, log: Arc<dyn LogSink>) -> Self {
        Runner {
            identity,
            log,
            python,
            engines: HashMap::new(),
            runtimes: HashMap::new(),
            wrap: None,
        }
    }

    /// The same, wrapping each function directory's runtime with `wrap` once, when it is made.
    pub fn with_wrap(mut self, wrap: Option<Wrap>) -> Self {
        self.wrap = wrap;
        self
    }

    pub fn run(&mut self, job: &Job) -> JobResult {
        let (workflow, engine) = match self.engine(job) {
            Ok(prepared) => prepared,
            Err(cause) => return JobResult::failed("States.Runtime", cause),
        };
        match &job.lanes {
            // The instance's name is the server's to fill in.
            Some(request) => {
                JobResult::lanes(engine.run_remote_batch(&workflow, request.clone(), ""))
            }
            None => execute_with(&engine, &workflow, &job.execution, &job.input, job.history),
        }
    }

    fn engine(&mut self, job: &Job) -> Result<(Arc<Workflow>, Arc<Engine>), String> {
        let key = cache_key(job);
        if job.mocks.is_none()
            && let Some((w, e)) = self.engines.get(&key)
        {
            return Ok((Arc::clone(w), Arc::clone(e)));
        }
        let machine = asl::load_str_with(&job.definition, &job.limits).map_err(|diags| {
            let list: Vec<String> = diags.iter().map(ToString::to_string).collect();
            format!("the definition is not valid: {}", list.join("; "))
        })?;
        let workflow = Arc::new(Workflow {
            name: job.machine.clone(),
            machine,
        });
        let mut routes: BTreeMap<String, Arc<dyn Runtime>> = BTreeMap::new();
        for (function, dir) in &job.functions {
            routes.insert(function.clone(), self.runtime(dir)?);
        }
        let mut others = Vec::new();
        for dir in &job.dirs {
            others.push((dir.clone(), self.runtime(dir)?));
        }
        let mut runtime: Arc<dyn Runtime> = Arc::new(Routed::new(routes).with_dirs(others));
        if let Some(mocks) = &job.mocks {
            runtime = Arc::new(Mocked::new(runtime, mocks.clone(), &workflow.machine));
        }
        // An execution's surplus branches may go to siblings; a batch a sibling sent runs
        // here whole (no second hop).
        let remote = match (&job.remote, &job.lanes) {
            (Some(config), None) => Some(config.lanes().map_err(|e| e.to_string())?),
            _ => None,
        };
        let options = EngineOptions {
            identity: self.identity.clone(),
            cpus: 1,
            trace: true,
            log: Arc::clone(&self.log),
            limits: job.limits.clone(),
            lanes: if remote.is_some() {
                engine::BranchLanes::Auto
            } else {
                EngineOptions::default().lanes
            },
            remote,
            ..EngineOptions::default()
        };
        let engine = Arc::new(Engine::with_options(runtime, options));
        if job.mocks.is_none()
            && let Err(problems) = engine.prepare(&workflow)
        {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(format!("the functions cannot run: {}", list.join("; ")));
        }
        if job.mocks.is_none() {
            // Bounded: a long-lived executor sees a handful of definitions; start over past 64.
            if self.engines.len() >= 64 {
                self.engines.clear();
            }
            self.engines
                .insert(key, (Arc::clone(&workflow), Arc::clone(&engine)));
        }
        Ok((workflow, engine))
    }

    fn runtime(&mut self, dir: &PathBuf) -> Result<Arc<dyn Runtime>, String> {
        if let Some(r) = self.runtimes.get(dir) {
            return Ok(Arc::clone(r));
        }
        if !self.python {
            return Ok(Arc::new(NativeRuntime::new()));
        }
        python_runtime::init().map_err(|e| format!("starting Python: {e}"))?;
        let runtime = python_runtime::PythonRuntime::with_options(
            dir,
            python_runtime::PythonOptions::default(),
        )
        .map_err(|e| format!("loading the Python functions of {}: {e}", dir.display()))?;
        let mut runtime: Arc<dyn Runtime> = Arc::new(runtime);
        if let Some(wrap) = &self.wrap {
            runtime = wrap(dir, runtime)?;
        }
        self.runtimes.insert(dir.clone(), Arc::clone(&runtime));
        Ok(runtime)
    }
}

fn cache_key(job: &Job) -> String {
    let functions: Vec<String> = job
        .functions
        .iter()
        .map(|(f, d)| format!("{f}={}", d.display()))
        .chain(job.dirs.iter().map(|d| d.display().to_string()))
        .collect();
    let remote = match (&job.remote, &job.lanes) {
        (Some(r), None) => format!("{}/{}/{}", r.target, r.cap, r.timeout_seconds),
        _ => String::new(),
    };
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{:?}\u{0}{remote}",
        job.machine,
        job.definition,
        functions.join(","),
        job.limits
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executor_runs_a_job_with_its_payload_limit() {
        let mut runner = Runner::new(Identity::default(), false, Arc::new(engine::NoLog));
        let job = |payload_bytes| Job {
            machine: "grow".into(),
            definition: r#"{"StartAt": "Grow", "States": {"Grow": {"Type": "Pass",
                "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": true}}}"#
                .into(),
            functions: BTreeMap::new(),
            execution: "e".into(),
            input: serde_json::json!({"s": "x".repeat(100)}).to_string(),
            mocks: None,
            dirs: Vec::new(),
            history: true,
            remote: None,
            lanes: None,
            limits: asl::Limits {
                payload_bytes,
                ..asl::Limits::default()
            },
        };
        let failed = runner.run(&job(Some(150)));
        assert_eq!(failed.status, "FAILED");
        assert_eq!(failed.error.as_deref(), Some("States.DataLimitExceeded"));
        // The same definition without the limit: a different cached engine.
        assert_eq!(runner.run(&job(None)).status, "SUCCEEDED");
    }
}
