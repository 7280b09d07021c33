//! Executions and their history.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value as Json;

use super::{INLINE_LIMIT, Store, StoreError, get_blob, put_blob};

/// What StartExecution records before it answers.
#[derive(Clone, Debug)]
pub struct NewExecution<'a> {
    pub arn: &'a str,
    pub name: &'a str,
    pub state_machine_arn: &'a str,
    /// The definition the execution runs (DescribeStateMachineForExecution reports it).
    pub definition: &'a str,
    pub role_arn: &'a str,
    pub machine_updated: f64,
    pub start: f64,
    pub input: &'a str,
    pub trace_header: Option<&'a str>,
}

/// How an execution ended.
#[derive(Clone, Debug)]
pub struct Finished {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: &'static str,
    pub stop: f64,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// AWS-shaped history events, in order.
    pub events: Vec<Json>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionRecord {
    pub seq: i64,
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub definition: String,
    pub role_arn: String,
    pub machine_updated: f64,
    pub status: String,
    pub start: f64,
    pub stop: Option<f64>,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub trace_header: Option<String>,
}

const COLUMNS: &str = "seq, arn, name, state_machine_arn, definition, role_arn, machine_updated, \
     status, start, stop, input, output, error, cause, trace_header";

impl Store {
    /// Records a RUNNING execution; `Ok(false)` when one of that ARN exists.
    pub fn insert_execution(&self, e: &NewExecution<'_>) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let definition = put_blob(&tx, e.definition)?;
        let input = put_blob(&tx, e.input)?;
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO executions (arn, name, state_machine_arn, definition,
                 role_arn, machine_updated, status, start, input, trace_header)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'RUNNING', ?7, ?8, ?9)",
            )?
            .execute(params![
                e.arn,
                e.name,
                e.state_machine_arn,
                definition,
                e.role_arn,
                e.machine_updated,
                e.start,
                input,
                e.trace_header
            ])?;
        tx.commit()?;
        Ok(inserted == 1)
    }

    /// Records how a RUNNING execution ended, with its history, in one transaction.
    /// `Ok(false)`: it had already ended (stopped meanwhile), nothing changed.
    pub fn finish_execution(&self, arn: &str, f: &Finished) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let output = f.output.as_deref().map(|o| put_blob(&tx, o)).transpose()?;
        let changed = tx
            .prepare_cached(
                "UPDATE executions SET status = ?2, stop = ?3, output = ?4, error = ?5, cause = ?6
                 WHERE arn = ?1 AND status = 'RUNNING'",
            )?
            .execute(params![arn, f.status, f.stop, output, f.error, f.cause])?;
        if changed == 1 {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO history (execution_arn, id, event) VALUES (?1, ?2, ?3)",
            )?;
            for (i, event) in f.events.iter().enumerate() {
                let id = event
                    .get("id")
                    .and_then(Json::as_i64)
                    .unwrap_or(i as i64 + 1);
                let stored = dehydrate(&tx, event)?;
                insert.execute(params![arn, id, stored.to_string()])?;
            }
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    pub fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let conn = self.lock();
        let raw = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM executions WHERE arn = ?1"))?
            .query_row(params![arn], raw_execution)
            .optional()?;
        raw.map(|r| resolve(&conn, r)).transpose()
    }

    /// Up to `limit` executions of a state machine, newest first, older than `before_seq`,
    /// optionally only those with `status`. Inputs and outputs are left as blob hashes
    /// (ListExecutions does not return them).
    pub fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<&str>,
        before_seq: i64,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let conn = self.lock();
        let rows = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM executions WHERE state_machine_arn = ?1 AND seq < ?2
                 AND (?3 IS NULL OR status = ?3) ORDER BY seq DESC LIMIT ?4"
            ))?
            .query_map(
                params![state_machine_arn, before_seq, status, limit as i64],
                raw_execution,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every RUNNING execution's ARN.
    pub fn running(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let arns = conn
            .prepare_cached("SELECT arn FROM executions WHERE status = 'RUNNING' ORDER BY seq")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(arns)
    }

    /// History events with ids in `from..=to`, in the given order, with their data.
    pub fn history(
        &self,
        arn: &str,
        after_id: i64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Json>, StoreError> {
        let conn = self.lock();
        let sql = if reverse {
            "SELECT event FROM history WHERE execution_arn = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
        } else {
            "SELECT event FROM history WHERE execution_arn = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        };
        let texts = conn
            .prepare_cached(sql)?
            .query_map(params![arn, after_id, limit as i64], |r| {
                r.get::<_, String>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        texts
            .into_iter()
            .map(|t| {
                let mut event: Json = serde_json::from_str(&t)?;
                rehydrate(&conn, &mut event)?;
                Ok(event)
            })
            .collect()
    }
}

fn raw_execution(r: &Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        seq: r.get(0)?,
        arn: r.get(1)?,
        name: r.get(2)?,
        state_machine_arn: r.get(3)?,
        definition: r.get(4)?,
        role_arn: r.get(5)?,
        machine_updated: r.get(6)?,
        status: r.get(7)?,
        start: r.get(8)?,
        stop: r.get(9)?,
        input: r.get(10)?,
        output: r.get(11)?,
        error: r.get(12)?,
        cause: r.get(13)?,
        trace_header: r.get(14)?,
    })
}

fn resolve(conn: &Connection, mut e: ExecutionRecord) -> Result<ExecutionRecord, StoreError> {
    e.definition = get_blob(conn, &e.definition)?;
    e.input = get_blob(conn, &e.input)?;
    e.output = e.output.map(|h| get_blob(conn, &h)).transpose()?;
    Ok(e)
}

const BLOB_KEY: &str = "$faastlaneBlob";

/// The event with every long string in its `...EventDetails` moved into `blobs`.
fn dehydrate(conn: &Connection, event: &Json) -> Result<Json, StoreError> {
    let mut event = event.clone();
    if let Some(object) = event.as_object_mut() {
        for (key, details) in object.iter_mut() {
            let Some(details) = details.as_object_mut().filter(|_| key.ends_with("Details")) else {
                continue;
            };
            for value in details.values_mut() {
                if let Some(s) = value.as_str().filter(|s| s.len() > INLINE_LIMIT) {
                    let hash = put_blob(conn, s)?;
                    *value = serde_json::json!({ BLOB_KEY: hash });
                }
            }
        }
    }
    Ok(event)
}

fn rehydrate(conn: &Connection, event: &mut Json) -> Result<(), StoreError> {
    if let Some(object) = event.as_object_mut() {
        for details in object.values_mut().filter_map(Json::as_object_mut) {
            for value in details.values_mut() {
                if let Some(hash) = value.get(BLOB_KEY).and_then(Json::as_str) {
                    *value = Json::String(get_blob(conn, hash)?);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_execution<'a>(arn: &'a str, input: &'a str) -> NewExecution<'a> {
        NewExecution {
            arn,
            name: "e",
            state_machine_arn: "arn:aws:states:r:1:stateMachine:m",
            definition: "{}",
            role_arn: "arn:aws:iam::1:role/r",
            machine_updated: 1.0,
            start: 2.0,
            input,
            trace_header: None,
        }
    }

    #[test]
    fn large_data_is_stored_once_and_read_back_whole() {
        let store = Store::open(":memory:").expect("store");
        let big = format!("\"{}\"", "x".repeat(10 * INLINE_LIMIT));
        for arn in ["a", "b"] {
            assert!(
                store
                    .insert_execution(&new_execution(arn, &big))
                    .expect("insert")
            );
        }
        let event = serde_json::json!({
            "id": 1, "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": big, "roleArn": "r"},
        });
        let finished = Finished {
            status: "SUCCEEDED",
            stop: 3.0,
            output: Some(big.clone()),
            error: None,
            cause: None,
            events: vec![event.clone()],
        };
        assert!(store.finish_execution("a", &finished).expect("finish"));
        // A second end (a stop racing the result) changes nothing.
        assert!(
            !store
                .finish_execution("a", &finished)
                .expect("finish again")
        );
        let blobs: i64 = store
            .lock()
            .query_row("SELECT count(*) FROM blobs WHERE data = ?1", [&big], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(blobs, 1);
        let stored: String = store
            .lock()
            .query_row(
                "SELECT event FROM history WHERE execution_arn = 'a'",
                [],
                |r| r.get(0),
            )
            .expect("event row");
        assert!(
            stored.len() < INLINE_LIMIT,
            "the event row references the blob"
        );
        assert_eq!(
            store.history("a", 0, false, 10).expect("history"),
            vec![event]
        );
        let e = store.execution("a").expect("read").expect("exists");
        assert_eq!(
            (e.status.as_str(), e.output.as_deref()),
            ("SUCCEEDED", Some(big.as_str()))
        );
    }

    #[test]
    fn running_executions_are_listed_for_recovery() {
        let store = Store::open(":memory:").expect("store");
        store
            .insert_execution(&new_execution("a", "{}"))
            .expect("insert");
        store
            .insert_execution(&new_execution("b", "{}"))
            .expect("insert");
        assert_eq!(store.running().expect("running"), vec!["a", "b"]);
        assert!(
            !store
                .insert_execution(&new_execution("a", "{}"))
                .expect("duplicate")
        );
    }
}
