//! The durable store: state machines, executions, their inputs, outputs and history, in one
//! SQLite database (WAL). Every write the API acknowledges is committed first; WAL with
//! `synchronous=NORMAL` survives the process being killed (not a power cut mid-checkpoint).
//!
//! Large strings (inputs, outputs, definitions, event data over [`INLINE_LIMIT`]) live once
//! in `blobs`, keyed by their SHA-256, and are referenced from rows and events.

use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

mod executions;
mod machines;

pub use executions::{ExecutionRecord, Finished, NewExecution};
pub use machines::MachineRecord;

/// Strings longer than this are stored once in `blobs` and referenced.
pub const INLINE_LIMIT: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored JSON is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("blob {0} is missing")]
    MissingBlob(String),
}

pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blobs (
    hash TEXT PRIMARY KEY,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_machines (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    arn TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL REFERENCES blobs(hash),
    role_arn TEXT NOT NULL,
    type TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL,
    revision_id TEXT,
    logging TEXT NOT NULL,
    tracing TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    resource_arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    definition TEXT NOT NULL REFERENCES blobs(hash),
    role_arn TEXT NOT NULL,
    machine_updated REAL NOT NULL,
    status TEXT NOT NULL,
    start REAL NOT NULL,
    stop REAL,
    input TEXT NOT NULL REFERENCES blobs(hash),
    output TEXT REFERENCES blobs(hash),
    error TEXT,
    cause TEXT,
    trace_header TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (state_machine_arn, seq);
CREATE INDEX IF NOT EXISTS executions_running ON executions (status) WHERE status = 'RUNNING';
CREATE TABLE IF NOT EXISTS history (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;
";

impl Store {
    /// Opens (creating) the database at `path`; `:memory:` keeps it in memory (tests).
    pub fn open(path: &str) -> Result<Store, StoreError> {
        let conn = if path == ":memory:" {
            Connection::open_in_memory()?
        } else {
            Connection::open(path)?
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (a statement either
        // committed or not), so the connection stays usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Stores `data` once under its SHA-256 and returns the hash.
pub(crate) fn put_blob(conn: &Connection, data: &str) -> Result<String, StoreError> {
    let hash = hex(&Sha256::digest(data.as_bytes()));
    conn.prepare_cached("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?1, ?2)")?
        .execute(params![hash, data])?;
    Ok(hash)
}

pub(crate) fn get_blob(conn: &Connection, hash: &str) -> Result<String, StoreError> {
    conn.prepare_cached("SELECT data FROM blobs WHERE hash = ?1")?
        .query_row(params![hash], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::MissingBlob(hash.to_string()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch, as the JSON protocol sends timestamps.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
