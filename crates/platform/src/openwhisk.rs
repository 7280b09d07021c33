//! `faastlane openwhisk`: the action-proxy contract of OpenWhisk's runtimes (`POST /init`,
//! `POST /run` on :8080), so that a whole workflow deploys as one action.
//!
//! ```text
//! invoker --HTTP--> main thread: axum on a current-thread Tokio runtime, whose handlers run
//!                   the activation right there (Python, engine), then answer
//! ```
//!
//! Executions run on the process's main thread, where `faastlane run` runs them: Python's
//! signal handling and `faulthandler` belong there, and the fork server for process lanes is
//! forked before any other thread exists. The HTTP server runs on that thread too, so an
//! activation costs no hop between threads (handing each request to the main thread and the
//! answer back cost ~100 us of the ~190 us warm round trip, measured with `perf`). Because the workflow arrives later, through `/init`,
//! that server is *deferred*: it reads the action from the work directory when a state first
//! wants worker processes. OpenWhisk sends one activation at a time to an action-proxy
//! container; they run one after the other here too (a request that comes while one runs
//! waits for it, as the handlers block the only runtime thread).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use engine::{LogSink, Workflow};
use serde_json::{Value as Json, json};

use crate::action::{self, ActionSource};
use crate::host::{self, Activation, Host};

/// Written on its own line to stdout and stderr after each activation's output: how the
/// invoker knows an activation's logs are complete.
pub const SENTINEL: &str = SENTINEL_LINE.trim_ascii_end();
const SENTINEL_LINE: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n";

const INIT_TWICE: &str = "Cannot initialize the action more than once.";
const NO_CODE: &str = "Missing main/no code to execute.";
const NOT_A_DICTIONARY: &str = "The action did not return a dictionary or array.";
const NOT_INITIALIZED: &str = "no action defined yet";

/// How `faastlane openwhisk` runs.
#[derive(Clone, Debug)]
pub struct OpenWhiskOptions {
    pub addr: SocketAddr,
    /// Where `/init` unpacks the action (a fresh directory under the temporary directory
    /// when `None`).
    pub work_dir: Option<PathBuf>,
    /// Largest request body (a zip action's base64 and a `/run` parameter).
    pub max_body: usize,
    /// `--isolation`, decided: `Mpk` or `Process` isolate the action's sensitive functions
    /// (`None`: none).
    pub isolation: isolation::Mode,
}

/// Why the runtime could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum OpenWhiskError {
    #[error("creating the work directory {}: {source}", .path.display())]
    WorkDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("starting the HTTP server: {0}")]
    Server(std::io::Error),
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// An HTTP status and a JSON body.
struct Reply(StatusCode, Vec<u8>);

impl Reply {
    fn json(status: StatusCode, body: &Json) -> Reply {
        Reply(status, serde_json::to_vec(body).unwrap_or_default())
    }

    fn error(status: StatusCode, message: &str) -> Reply {
        Reply::json(status, &json!({ "error": message }))
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.0, [(header::CONTENT_TYPE, "application/json")], self.1).into_response()
    }
}

/// Serves the action proxy until the process is killed. Call it first in `main`, while the
/// process has one thread: it forks the (deferred) fork server before any thread starts.
/// `listening` hears the bound address.
pub fn serve(
    options: OpenWhiskOptions,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), OpenWhiskError> {
    let work_dir = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("faastlane-openwhisk-{}", std::process::id())),
    };
    let action_dir = work_dir.join("action");
    std::fs::create_dir_all(&action_dir).map_err(|source| OpenWhiskError::WorkDir {
        path: action_dir.clone(),
        source,
    })?;
    let log: Arc<dyn LogSink> = Arc::new(ActivationLog);
    let engine = host::engine_options(Arc::clone(&log));
    // With isolation, no process lanes (a lane worker runs several functions in one
    // process): the one fork server hosts the sensitive functions.
    let isolation = (options.isolation != isolation::Mode::None)
        .then(|| crate::isolate::ActionIsolation::start(options.isolation, &action_dir, &engine));
    let fork_server = match isolation {
        Some(_) => None,
        None => action::start_deferred_fork_server(&action_dir, &engine),
    };

    // No worker threads: the handlers below run activations on this (the main) thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(OpenWhiskError::Server)?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(options.addr))
        .map_err(|source| OpenWhiskError::Bind {
            addr: options.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(OpenWhiskError::Server)?;
    let proxy = Arc::new(Mutex::new(Proxy {
        action_dir,
        engine: engine.clone(),
        fork_server,
        isolation,
        host: None,
    }));
    let app = Router::new()
        .route("/init", post(init))
        .route("/run", post(run))
        .layer(DefaultBodyLimit::max(options.max_body))
        .with_state(proxy);
    // An answer is one write; no reason to let Nagle hold the end of a larger one back
    // waiting for the invoker's ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
    });
    listening(addr);
    runtime
        .block_on(async move { axum::serve(listener, app).await })
        .map_err(OpenWhiskError::Server)
}

/// The action behind the handlers. One runtime thread runs them one at a time, so the lock is
/// never contended; a panic that poisoned it left the proxy as consistent as its last step.
type Shared = Arc<Mutex<Proxy>>;

async fn init(State(proxy): State<Shared>, body: Bytes) -> Reply {
    let mut proxy = proxy.lock().unwrap_or_else(PoisonError::into_inner);
    proxy.init(&body)
}

async fn run(State(proxy): State<Shared>, body: Bytes) -> Reply {
    let mut proxy = proxy.lock().unwrap_or_else(PoisonError::into_inner);
    let answer = proxy.run(&body);
    end_activation();
    answer
}

/// The action, once initialized, and what it needs to be.
struct Proxy {
    action_dir: PathBuf,
    engine: engine::EngineOptions,
    fork_server: Option<Arc<lanes::ForkServer>>,
    isolation: Option<crate::isolate::ActionIsolation>,
    host: Option<Initialized>,
}

struct Initialized {
    host: Host,
    /// A one-function action answers an uncaught exception as OpenWhisk's Python runtime does.
    one_function: bool,
}

/// `/init`'s `value`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct InitValue {
    name: Option<String>,
    main: Option<String>,
    code: Option<String>,
    binary: bool,
    env: serde_json::Map<String, Json>,
}

impl Proxy {
    fn init(&mut self, body: &[u8]) -> Reply {
        if self.host.is_some() {
            eprintln!("{INIT_TWICE}");
            return Reply::error(StatusCode::FORBIDDEN, INIT_TWICE);
        }
        let request: Json = match serde_json::from_slice(body) {
            Ok(json) => json,
            Err(e) => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    &format!("Error unmarshaling request: {e}"),
                );
            }
        };
        let value = request.get("value").cloned().unwrap_or(Json::Null);
        let value: InitValue = match serde_json::from_value(value) {
            Ok(v) => v,
            Err(e) => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    &format!("Error unmarshaling request: {e}"),
                );
            }
        };
        let Some(code) = value.code.filter(|c| !c.is_empty()) else {
            return Reply::error(StatusCode::FORBIDDEN, NO_CODE);
        };
        let main = value
            .main
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "main".to_owned());
        let source = if value.binary {
            ActionSource::Zip(code)
        } else {
            ActionSource::Python { code, main }
        };
        let env: Vec<(String, String)> = value
            .env
            .iter()
            .map(|(k, v)| (k.clone(), env_text(v)))
            .collect();
        let name = action::workflow_name(value.name.as_deref());
        let unpacked = match action::unpack(&self.action_dir, &source, &name, &env) {
            Ok(unpacked) => unpacked,
            Err(e) => return Reply::error(StatusCode::BAD_GATEWAY, &e.to_string()),
        };
        match self.prepare(unpacked.workflow, &env) {
            Ok(host) => {
                self.host = Some(Initialized {
                    host,
                    one_function: unpacked.one_function,
                });
                Reply::json(StatusCode::OK, &json!({ "ok": true }))
            }
            Err(e) => {
                eprintln!("{e}");
                Reply::error(StatusCode::BAD_GATEWAY, &e)
            }
        }
    }

    fn prepare(&self, workflow: Workflow, env: &[(String, String)]) -> Result<Host, String> {
        if !workflow.functions().is_empty() && !env.is_empty() {
            // Before the modules are imported: code at module level reads them too.
            python_runtime::export_environment(env).map_err(|e| e.to_string())?;
        }
        // An action parameter from `/init` first, else the container's environment.
        let remote = host::remote_from_env(|name| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(name).ok())
        })
        .map_err(|e| e.to_string())?;
        let options = engine::EngineOptions {
            remote,
            processes: self
                .fork_server
                .clone()
                .filter(|_| host::wants_processes(&workflow))
                .map(|s| s as Arc<dyn engine::lanes::ProcessPool>),
            ..self.engine.clone()
        };
        let wrap = match &self.isolation {
            Some(isolation) => Some(isolation.wrap(&self.action_dir, &workflow)?),
            None => None,
        };
        Host::prepare(&self.action_dir, workflow, options, wrap).map_err(|e| e.to_string())
    }

    fn run(&mut self, body: &[u8]) -> Reply {
        let Some(action) = &self.host else {
            return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, NOT_INITIALIZED);
        };
        let request: serde_json::Map<String, Json> = match serde_json::from_slice(body) {
            Ok(json) => json,
            Err(e) => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    &format!("Error unmarshaling request: {e}"),
                );
            }
        };
        let mut input = Json::Object(Default::default());
        let mut activation = Activation::default();
        for (key, value) in request {
            if key == "value" {
                input = value;
                continue;
            }
            match key.as_str() {
                "activation_id" => activation.name = value.as_str().map(str::to_owned),
                "deadline" => activation.deadline = deadline(&value),
                _ => {}
            }
            activation
                .env
                .push((format!("__OW_{}", key.to_uppercase()), env_text(&value)));
        }
        if let Some(report) = action.host.answer_batch(&input, &activation) {
            // A sibling's branches (remote lanes), not an activation of the workflow.
            return match report {
                Ok(body) => Reply(StatusCode::OK, body),
                Err((error, cause)) => {
                    Reply::json(StatusCode::OK, &json!({ "error": error, "cause": cause }))
                }
            };
        }
        let result = action.host.execute(input, &activation);
        match result.outcome {
            Ok(value) => match host::output_bytes(&value) {
                Ok(text) if matches!(text.first(), Some(b'{' | b'[')) => {
                    Reply(StatusCode::OK, text)
                }
                Ok(_) => Reply::error(StatusCode::BAD_GATEWAY, NOT_A_DICTIONARY),
                Err(e) => failure(action.one_function, &e),
            },
            Err(e) => failure(action.one_function, &e),
        }
    }
}

/// The answer of a failed activation: OpenWhisk's Python runtime answers a one-function
/// action's uncaught exception with `{"error": str(exception)}` and prints the traceback on
/// stderr; a workflow answers Step Functions' `{"error", "cause"}`.
fn failure(one_function: bool, e: &asl::StatesError) -> Reply {
    if one_function
        && let Ok(report) = serde_json::from_str::<Json>(&e.cause)
        && let Some(message) = report.get("errorMessage").and_then(Json::as_str)
    {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "Traceback (most recent call last):");
        for frame in report
            .get("stackTrace")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
        {
            let _ = write!(err, "{}", frame);
            if !frame.ends_with('\n') {
                let _ = writeln!(err);
            }
        }
        let _ = writeln!(err, "{}: {message}", e.error);
        return Reply::json(StatusCode::OK, &json!({ "error": message }));
    }
    Reply::json(
        StatusCode::OK,
        &json!({ "error": e.error, "cause": e.cause }),
    )
}

/// An environment value: strings as they are, anything else as its JSON text.
fn env_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// OpenWhisk's `deadline` (milliseconds since the epoch, as a string or a number) as an
/// instant of this process's clock.
fn deadline(value: &Json) -> Option<std::time::Instant> {
    let ms: u64 = match value {
        Json::String(s) => s.trim().parse().ok()?,
        Json::Number(n) => n.as_u64()?,
        _ => return None,
    };
    crate::epoch_ms_to_instant(ms)
}

/// The log markers after an activation: everything written before them belongs to it.
/// One `write` per stream: the line is written whole (stderr is unbuffered, and `writeln!`
/// on it wrote the text and the newline apart).
fn end_activation() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(SENTINEL_LINE.as_bytes());
    let _ = out.flush();
    let _ = std::io::stderr().lock().write_all(SENTINEL_LINE.as_bytes());
}

/// What functions print: stdout to stdout and stderr to stderr, as an action's logs.
struct ActivationLog;

impl LogSink for ActivationLog {
    fn line(&self, _state: &str, line: &str) {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    fn error_line(&self, _state: &str, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
