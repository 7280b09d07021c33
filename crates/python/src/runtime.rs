//! [`PythonRuntime`]: the [`engine::Runtime`] that runs a workflow directory's Python
//! functions in this process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use asl::{StatesError, Value};
use engine::{Call, LambdaResponse, LogSink, PrepareError, Runtime, StderrLog, TaskFailure};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::context::{FunctionInfo, LambdaContext};
use crate::convert::Location;
use crate::discovery::{Manifest, Target};
use crate::error::PythonError;
use crate::handle::PyHandle;
use crate::interpreter::{self, InterpreterInfo};
use crate::venv::{self, Environment, PipNetwork};
use crate::{failure, output, watchdog};

/// Lambda's default memory size, reported when nothing else is configured.
pub const DEFAULT_MEMORY_MB: u32 = 128;

/// How a [`PythonRuntime`] is set up. `PythonOptions::default()` reads `FAASTLANE_MEMORY_MB`
/// and the cache directory variables (see [`venv::default_cache_dir`]).
#[derive(Clone)]
pub struct PythonOptions {
    /// Make the workflow directory the process's working directory (what a function that
    /// opens `data/model.bin` expects). Process-wide: for a program that runs one workflow,
    /// like the CLI; off by default.
    pub chdir: bool,
    /// `context.memory_limit_in_mb`. Default: `$FAASTLANE_MEMORY_MB`, else 128 (Lambda's
    /// default). Informative only: nothing enforces it.
    pub memory_limit_mb: u32,
    /// Install `requirements.txt` when the directory has one (default: yes).
    pub install_requirements: bool,
    /// Where cached virtual environments live; `None`: [`venv::default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Whether pip may use the package index.
    pub pip_network: PipNetwork,
    /// Receives what modules print while [`Runtime::prepare`] imports them, tagged with the
    /// function being loaded (a module first imported by a call prints to that call's log).
    /// Default: the process's stderr.
    pub init_log: Arc<dyn LogSink>,
}

impl Default for PythonOptions {
    fn default() -> Self {
        PythonOptions {
            chdir: false,
            memory_limit_mb: std::env::var("FAASTLANE_MEMORY_MB")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(DEFAULT_MEMORY_MB),
            install_requirements: true,
            cache_dir: None,
            pip_network: PipNetwork::Online,
            init_log: Arc::new(StderrLog),
        }
    }
}

impl PythonOptions {
    pub fn chdir(mut self, chdir: bool) -> Self {
        self.chdir = chdir;
        self
    }

    pub fn memory_limit_mb(mut self, mb: u32) -> Self {
        self.memory_limit_mb = mb;
        self
    }

    pub fn install_requirements(mut self, install: bool) -> Self {
        self.install_requirements = install;
        self
    }

    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    pub fn pip_network(mut self, network: PipNetwork) -> Self {
        self.pip_network = network;
        self
    }

    pub fn init_log(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.init_log = sink;
        self
    }
}

/// The directory name of a virtual environment bundled with the functions (OpenWhisk's).
pub const BUNDLED_VIRTUALENV: &str = "virtualenv";

/// `virtualenv/lib/python*/site-packages` under `dir`, when the directory bundles one.
fn bundled_site_packages(dir: &Path) -> Vec<PathBuf> {
    let lib = dir.join(BUNDLED_VIRTUALENV).join("lib");
    let Ok(entries) = std::fs::read_dir(&lib) else {
        return Vec::new();
    };
    let mut sites: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    sites.sort();
    sites
}

/// Sets environment variables as `os.environ[name] = value` does, so that Python code (which
/// reads the `os.environ` snapshot taken at start) and the processes it starts see them.
pub fn export_environment(vars: &[(String, String)]) -> Result<(), PythonError> {
    interpreter::start()?;
    interpreter::attach(|py| -> PyResult<()> {
        let environ = OS_ENVIRON
            .get_or_try_init(py, || {
                py.import("os")?.getattr("environ").map(Bound::unbind)
            })?
            .bind(py);
        for (name, value) in vars {
            environ.set_item(name, value)?;
        }
        Ok(())
    })
    .map_err(|e| PythonError::Bootstrap(format!("setting the environment: {e}")))
}

/// `os.environ`, looked up once: a platform runtime exports variables on every activation.
static OS_ENVIRON: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();

/// A loaded function: the callable and what its `context` reports.
struct Function {
    callable: Py<PyAny>,
    /// 2: `handler(event, context)`; 1: `main(args)`.
    arity: u8,
    info: Arc<FunctionInfo>,
}

/// Runs the Python functions of one workflow directory.
///
/// Construction starts the interpreter (once per process), puts the directory first on
/// `sys.path` and installs `requirements.txt`; [`Runtime::prepare`] imports the modules;
/// [`Runtime::invoke`] calls a function on the calling thread. Modules are imported once per
/// process and shared by every runtime on the same directory.
pub struct PythonRuntime {
    dir: PathBuf,
    dir_str: String,
    manifest: Manifest,
    options: PythonOptions,
    environment: Option<Environment>,
    interpreter: InterpreterInfo,
    functions: Mutex<HashMap<String, Arc<Function>>>,
}

impl std::fmt::Debug for PythonRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonRuntime")
            .field("dir", &self.dir)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl PythonRuntime {
    /// A runtime for `dir` with default options.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, PythonError> {
        Self::with_options(dir, PythonOptions::default())
    }

    pub fn with_options(
        dir: impl AsRef<Path>,
        options: PythonOptions,
    ) -> Result<Self, PythonError> {
        let dir = dir
            .as_ref()
            .canonicalize()
            .map_err(|source| PythonError::Directory {
                path: dir.as_ref().to_path_buf(),
                source,
            })?;
        if !dir.is_dir() {
            return Err(PythonError::Directory {
                path: dir,
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let dir_str = dir
            .to_str()
            .ok_or_else(|| PythonError::Directory {
                path: dir.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the path is not valid UTF-8",
                ),
            })?
            .to_owned();
        let manifest = Manifest::load(&dir)?;
        let interpreter = interpreter::init()?;

        let requirements = dir.join(venv::REQUIREMENTS);
        let environment = if options.install_requirements && requirements.is_file() {
            let cache_dir = options
                .cache_dir
                .clone()
                .or_else(venv::default_cache_dir)
                .ok_or(crate::error::RequirementsError::NoCacheDir)?;
            Some(venv::ensure(
                &requirements,
                &cache_dir,
                &interpreter,
                options.pip_network,
            )?)
        } else {
            None
        };

        Python::attach(|py| -> PyResult<()> {
            let bootstrap = interpreter::bootstrap(py)
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
            bootstrap.call_method1("add_workflow_dir", (&dir_str,))?;
            if let Some(env) = &environment {
                let site = env.site_packages.to_string_lossy();
                let python = env.root.join("bin").join("python");
                let python = python.to_string_lossy();
                bootstrap.call_method1("add_site_dir", (&*site, &dir_str, &*python))?;
            }
            // A `virtualenv/` shipped inside the directory, as OpenWhisk's Python runtime
            // accepts in an action's zip: its packages come right after the directory.
            for site in bundled_site_packages(&dir) {
                let python = dir.join(BUNDLED_VIRTUALENV).join("bin").join("python");
                let (site, python) = (site.to_string_lossy(), python.to_string_lossy());
                bootstrap.call_method1("add_site_dir", (&*site, &dir_str, &*python))?;
            }
            Ok(())
        })
        .map_err(|e| PythonError::Bootstrap(e.to_string()))?;

        if options.chdir {
            std::env::set_current_dir(&dir).map_err(|source| PythonError::Directory {
                path: dir.clone(),
                source,
            })?;
        }

        Ok(PythonRuntime {
            dir,
            dir_str,
            manifest,
            options,
            environment,
            interpreter,
            functions: Mutex::new(HashMap::new()),
        })
    }

    /// The workflow directory (canonical).
    pub fn directory(&self) -> &Path {
        &self.dir
    }

    /// The virtual environment of `requirements.txt`, when there is one.
    pub fn environment(&self) -> Option<&Environment> {
        self.environment.as_ref()
    }

    /// The embedded interpreter.
    pub fn interpreter(&self) -> &InterpreterInfo {
        &self.interpreter
    }

    /// The loaded function `name`, importing its module on first use; what the module prints
    /// while it is imported goes to `log` under `state`.
    fn function(
        &self,
        py: Python<'_>,
        name: &str,
        log: &dyn LogSink,
        state: &str,
    ) -> Result<Arc<Function>, LoadFailure> {
        if let Some(f) = self.lock_functions().get(name) {
            return Ok(Arc::clone(f));
        }
        // Not under the lock: importing runs Python, which may let other threads in.
        let loaded = Arc::new(self.load(py, name, log, state)?);
        Ok(Arc::clone(
            self.lock_functions()
                .entry(name.to_owned())
                .or_insert(loaded),
        ))
    }

    fn lock_functions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Function>>> {
        self.functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn load(
        &self,
        py: Python<'_>,
        name: &str,
        log: &dyn LogSink,
        state: &str,
    ) -> Result<Function, LoadFailure> {
        let Target { module, attribute } = self.manifest.target(name).map_err(|e| LoadFailure {
            error_type: "Runtime.HandlerNotFound".into(),
            message: e.to_string(),
            not_found: true,
        })?;
        let bootstrap = interpreter::bootstrap(py).map_err(|e| LoadFailure {
            error_type: "Runtime.Unknown".into(),
            message: e.to_string(),
            not_found: false,
        })?;
        let resolved = output::capture(log, state, || {
            bootstrap.call_method1("resolve", (&self.dir_str, &module, attribute.as_deref()))
        });
        let (callable, arity, _file) = resolved
            .and_then(|r| r.extract::<(Py<PyAny>, u8, Py<PyString>)>())
            .map_err(|err| LoadFailure::from_pyerr(py, &err, &self.dir_str))?;
        Ok(Function {
            callable,
            arity,
            info: Arc::new(FunctionInfo {
                function_name: name.into(),
                log_group_name: format!("/aws/lambda/{name}").into(),
                memory_limit_in_mb: self.options.memory_limit_mb.to_string().into(),
            }),
        })
    }
}

/// A function that could not be loaded, named like Lambda's init errors.
#[derive(Debug)]
struct LoadFailure {
    error_type: String,
    message: String,
    /// Nothing in the directory provides the function (no module, no manifest entry).
    not_found: bool,
}

impl LoadFailure {
    fn from_pyerr(py: Python<'_>, err: &PyErr, directory: &str) -> Self {
        let value = err.value(py);
        let field = |name: &str| value.getattr(name).and_then(|v| v.extract::<String>()).ok();
        match (field("error_type"), field("message")) {
            (Some(error_type), Some(message)) => LoadFailure {
                error_type,
                message,
                not_found: field("kind").as_deref() == Some("missing-module"),
            },
            _ => {
                let d = failure::describe(py, err, directory);
                LoadFailure {
                    error_type: d.error_type,
                    message: d.message,
                    not_found: false,
                }
            }
        }
    }

    fn into_task_failure(self, call: &Call<'_>) -> TaskFailure {
        if self.not_found {
            return call.function_not_found();
        }
        let request_id = call.request_id.as_str();
        TaskFailure::Runtime(StatesError::new(
            self.error_type.clone(),
            failure::cause(&self.message, &self.error_type, request_id, &[]),
        ))
    }
}

impl Runtime for PythonRuntime {
    fn codec(&self) -> &dyn engine::codec::ValueCodec {
        &crate::lane::PickleCodec
    }

    fn prepare(&self, functions: &[&str]) -> Vec<PrepareError> {
        let mut seen = std::collections::HashSet::new();
        functions
            .iter()
            .filter(|f| seen.insert(**f))
            .filter_map(|name| {
                let log = self.options.init_log.as_ref();
                interpreter::attach(|py| self.function(py, name, log, name).err()).map(|e| {
                    if e.not_found {
                        PrepareError::not_found(*name, e.message)
                    } else {
                        PrepareError::unloadable(*name, e.message)
                    }
                })
            })
            .collect()
    }

    fn lambda_response(
        &self,
        call: &Call<'_>,
        result: Value,
        measure: bool,
    ) -> Result<LambdaResponse, TaskFailure> {
        let is_python = match &result {
            Value::Foreign(f) => f.as_any().is::<PyHandle>(),
            _ => false,
        };
        if !is_python {
            return LambdaResponse::json(call, result, measure);
        }
        // Only `bytes` (an opaque object) can be a raw body: anything else, unmeasured, is
        // handed on without taking the GIL (a Lambda-ARN Task's hand-off stays a pointer move).
        if !measure && result.kind() != asl::Kind::Opaque {
            return Ok(LambdaResponse {
                payload: result,
                body_length: None,
            });
        }
        interpreter::attach(|py| {
            let object = match &result {
                Value::Foreign(f) => f
                    .as_any()
                    .downcast_ref::<PyHandle>()
                    .map(|h| h.object().clone_ref(py)),
                _ => None,
            };
            let Some(object) = object else {
                return LambdaResponse::json(call, result, measure);
            };
            let marshal = |e: &dyn std::fmt::Display| {
                engine::lambda::marshal_error(call, &format!("Unable to marshal response: {e}"))
            };
            let bootstrap = interpreter::bootstrap(py).map_err(|e| marshal(&e))?;
            let answer = bootstrap
                .call_method1("lambda_response", (object.bind(py), measure))
                .map_err(|e| marshal(&e.value(py)))?;
            let (replaced, payload, body_length) = answer
                .extract::<(bool, Bound<'_, PyAny>, Option<usize>)>()
                .map_err(|e| marshal(&e.value(py)))?;
            let payload = if replaced {
                crate::handle::from_python(payload, &Location::root(Arc::from(call.function)))
            } else {
                result
            };
            Ok(LambdaResponse {
                payload,
                body_length,
            })
        })
    }

    fn invoke(&self, call: &Call<'_>, input: Value) -> Result<Value, TaskFailure> {
        let started = Instant::now();
        if call.deadline.is_some_and(|d| d <= started) {
            return Err(failure::timeout(std::time::Duration::ZERO));
        }
        interpreter::attach(|py| {
            let function = self
                .function(py, call.function, call.log, call.state_name)
                .map_err(|e| e.into_task_failure(call))?;
            let event = crate::handle::to_python(py, &input).map_err(|e| {
                TaskFailure::Runtime(StatesError::runtime(format!(
                    "cannot pass the input to python function '{}': {e}",
                    call.function
                )))
            })?;
            drop(input);
            let callable = function.callable.bind(py);
            let request_id = call.request_id.as_str();
            let outcome = output::capture(call.log, call.state_name, || {
                output::with_request_id(request_id, || {
                    let armed = call.deadline.map(|d| watchdog::arm(py, d));
                    let result = if function.arity == 2 {
                        let context = LambdaContext::new(
                            Arc::clone(&function.info),
                            call.qualifier,
                            call.invoked_function_arn(),
                            call.request_id.as_str(),
                            call.deadline,
                            started,
                        );
                        Bound::new(py, context).and_then(|c| callable.call1((event, c)))
                    } else {
                        callable.call1((event,))
                    };
                    let timed_out = armed.is_some_and(|a| a.disarm(py));
                    (result, timed_out)
                })
            });
            match outcome {
                (_, true) => {
                    let failure = failure::timeout(started.elapsed());
                    // Lambda logs the timeout in the function's log stream too.
                    if let TaskFailure::Function(e) = &failure {
                        call.log.line(
                            call.state_name,
                            &format!("{} {}", call.request_id.as_str(), e.cause),
                        );
                    }
                    Err(failure)
                }
                (Ok(result), false) => {
                    let result = crate::copy::own(result).map_err(|e| {
                        TaskFailure::Runtime(StatesError::runtime(format!(
                            "the result of python function '{}' cannot be copied: {e}",
                            call.function
                        )))
                    })?;
                    Ok(crate::handle::from_python(
                        result,
                        &Location::root(Arc::clone(&function.info.function_name)),
                    ))
                }
                (Err(err), false) => Err(failure::from_exception(
                    py,
                    &err,
                    &self.dir_str,
                    call.request_id.as_str(),
                    call.log,
                    call.state_name,
                )),
            }
        })
    }
}
