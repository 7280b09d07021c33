//! Starting and stopping the server.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use engine::Identity;

use crate::api::App;
use crate::executor::pool::Pool;
use crate::functions::FunctionDirs;
use crate::mock::{MockConfig, MockError};
use crate::store::{MachineRecord, Store, StoreError, now};

/// Settings of `faastlane serve`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Directories holding the functions state machines call.
    pub functions: Vec<PathBuf>,
    /// Workflow directories registered at start (name = the directory's name).
    pub workflows: Vec<PathBuf>,
    /// SQLite database file, or `:memory:`.
    pub db: String,
    /// Executor processes (executions of workflows with functions running at once).
    pub workers: usize,
    /// How to start an executor process: the `faastlane` binary and its `executor` argument.
    pub executor_command: Vec<OsString>,
    pub mock_config: Option<PathBuf>,
    /// Requests larger than this get 413.
    pub max_body: usize,
    /// On SIGTERM/SIGINT, how long running executions may take to finish.
    pub grace: Duration,
    pub identity: Identity,
    /// What definitions and executions may use.
    pub limits: asl::Limits,
    /// Where executions send the branches beyond their CPU (remote lanes).
    pub remote: Option<crate::remote::RemoteConfig>,
    /// Executor processes for batches of branches siblings send.
    pub lanes_workers: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("opening the database {path}: {source}")]
    Database { path: String, source: StoreError },
    #[error(transparent)]
    Mock(#[from] MockError),
    #[error("registering the workflow {path}: {reason}")]
    Workflow { path: PathBuf, reason: String },
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Runs the server until SIGTERM or SIGINT; `ready` hears the address it listens on.
pub fn serve(
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ServeError> {
    let store = Store::open(&options.db).map_err(|source| ServeError::Database {
        path: options.db.clone(),
        source,
    })?;
    let mocks = match &options.mock_config {
        Some(path) => Some(MockConfig::load(path)?),
        None => None,
    };
    let mut dirs = options.functions.clone();
    dirs.extend(options.workflows.iter().cloned());
    let pool = Pool::new(options.executor_command.clone(), options.workers);
    let mut app = App::new(
        store,
        options.identity.clone(),
        FunctionDirs::new(dirs),
        pool,
        mocks,
    )
    .with_limits(options.limits.clone());
    app.remote = options.remote.clone();
    app.lanes_pool = Pool::new(options.executor_command.clone(), options.lanes_workers);
    let app = Arc::new(app);
    match app.fail_unfinished() {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!("{n} execution(s) were running when the server stopped: marked FAILED")
        }
        Err(e) => {
            return Err(ServeError::Database {
                path: options.db.clone(),
                source: e,
            });
        }
    }
    for dir in &options.workflows {
        register(&app, dir)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("faastlane-serve")
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(run(app, options, ready))
}

async fn run(
    app: Arc<App>,
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let _ = app.instance.set(instance_name(addr));
    ready(addr);
    let router = crate::http::router(Arc::clone(&app), options.max_body);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut stopping = stop_rx.clone();
    let served = tokio::spawn(async move { server.await });
    // Past the signal, open HTTP requests (a hung sync execution) get the grace period too.
    let _ = stopping.wait_for(|s| *s).await;
    tracing::info!(
        "shutting down: waiting up to {:?} for running executions",
        options.grace
    );
    let left = app.background.drain(options.grace).await;
    app.pool.shutdown();
    app.lanes_pool.shutdown();
    if left > 0 {
        tracing::warn!("{left} execution(s) still running past the grace period: marked FAILED");
    }
    if let Err(e) = app.fail_unfinished() {
        tracing::error!("recording unfinished executions: {e}");
    }
    match tokio::time::timeout(Duration::from_secs(1), served).await {
        Ok(Ok(Err(e))) => Err(ServeError::Serve(e)),
        _ => Ok(()),
    }
}

/// How this instance names itself to siblings: its host (the pod's name on Kubernetes),
/// address and process id.
fn instance_name(addr: SocketAddr) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_default();
    format!("{host} {addr} pid {}", std::process::id())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Registers the workflow in `dir` (its `workflow.json`) as a STANDARD state machine named
/// after the directory, replacing the definition a previous run registered.
fn register(app: &App, dir: &std::path::Path) -> Result<(), ServeError> {
    let fail = |reason: String| ServeError::Workflow {
        path: dir.to_path_buf(),
        reason,
    };
    let dir = dir.canonicalize().map_err(|e| fail(e.to_string()))?;
    let definition = std::fs::read_to_string(dir.join("workflow.json"))
        .map_err(|e| fail(format!("reading workflow.json: {e}")))?;
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workflow".to_string());
    crate::arn::check_name(&name).map_err(|e| fail(e.message))?;
    app.check_definition(&name, &definition)
        .map_err(|e| fail(e.message))?;
    let record = MachineRecord {
        seq: 0,
        name: name.clone(),
        arn: app.identity.state_machine_arn(&name),
        definition,
        role_arn: app.identity.role_arn(),
        kind: "STANDARD".to_string(),
        created: now(),
        updated: None,
        revision_id: None,
        logging: serde_json::json!({"level": "OFF", "includeExecutionData": false}),
        tracing: serde_json::json!({"enabled": false}),
    };
    let store_err = |e: StoreError| fail(e.to_string());
    if !app.store.insert_machine(&record).map_err(store_err)? {
        let existing = app.store.machine(&name).map_err(store_err)?;
        if existing.is_some_and(|e| e.definition != record.definition) {
            let updated = MachineRecord {
                updated: Some(now()),
                revision_id: Some(uuid::Uuid::new_v4().to_string()),
                ..record.clone()
            };
            app.store.update_machine(&updated).map_err(store_err)?;
        }
    }
    tracing::info!(state_machine = %record.arn, "registered {}", dir.display());
    Ok(())
}
