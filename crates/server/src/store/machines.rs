//! State machines and tags.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError, get_blob, put_blob};

/// A state machine as DescribeStateMachine reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineRecord {
    pub seq: i64,
    pub name: String,
    pub arn: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    pub created: f64,
    pub updated: Option<f64>,
    pub revision_id: Option<String>,
    pub logging: serde_json::Value,
    pub tracing: serde_json::Value,
}

const COLUMNS: &str =
    "seq, name, arn, definition, role_arn, type, created, updated, revision_id, logging, tracing";

impl Store {
    /// Inserts a new state machine; `Ok(false)` when one of that name exists.
    pub fn insert_machine(&self, m: &MachineRecord) -> Result<bool, StoreError> {
        let conn = self.lock();
        let definition = put_blob(&conn, &m.definition)?;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO state_machines
             (name, arn, definition, role_arn, type, created, updated, revision_id, logging, tracing)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                m.name,
                m.arn,
                definition,
                m.role_arn,
                m.kind,
                m.created,
                m.updated,
                m.revision_id,
                m.logging.to_string(),
                m.tracing.to_string()
            ],
        )?;
        Ok(inserted == 1)
    }

    pub fn machine(&self, name: &str) -> Result<Option<MachineRecord>, StoreError> {
        let conn = self.lock();
        let raw = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM state_machines WHERE name = ?1"
            ))?
            .query_row(params![name], raw_machine)
            .optional()?;
        raw.map(|r| r.resolve(&conn)).transpose()
    }

    /// Up to `limit` state machines created after `after_seq`, oldest first.
    pub fn list_machines(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<MachineRecord>, StoreError> {
        let conn = self.lock();
        let raws = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM state_machines WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))?
            .query_map(params![after_seq, limit as i64], raw_machine)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(|r| r.resolve(&conn)).collect()
    }

    /// Replaces what UpdateStateMachine may change.
    pub fn update_machine(&self, m: &MachineRecord) -> Result<(), StoreError> {
        let conn = self.lock();
        let definition = put_blob(&conn, &m.definition)?;
        conn.execute(
            "UPDATE state_machines SET definition = ?2, role_arn = ?3, updated = ?4,
             revision_id = ?5, logging = ?6, tracing = ?7 WHERE name = ?1",
            params![
                m.name,
                definition,
                m.role_arn,
                m.updated,
                m.revision_id,
                m.logging.to_string(),
                m.tracing.to_string()
            ],
        )?;
        Ok(())
    }

    pub fn delete_machine(&self, name: &str, arn: &str) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM state_machines WHERE name = ?1", params![name])?;
        tx.execute("DELETE FROM tags WHERE resource_arn = ?1", params![arn])?;
        tx.commit()?;
        Ok(())
    }

    pub fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.lock();
        let tags = conn
            .prepare_cached("SELECT key, value FROM tags WHERE resource_arn = ?1 ORDER BY key")?
            .query_map(params![arn], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(tags)
    }

    pub fn set_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for (key, value) in tags {
            tx.execute(
                "INSERT INTO tags (resource_arn, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
                params![arn, key, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn remove_tags(&self, arn: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for key in keys {
            tx.execute(
                "DELETE FROM tags WHERE resource_arn = ?1 AND key = ?2",
                params![arn, key],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// A row with its definition still a blob hash.
struct RawMachine(MachineRecord);

impl RawMachine {
    fn resolve(mut self, conn: &rusqlite::Connection) -> Result<MachineRecord, StoreError> {
        self.0.definition = get_blob(conn, &self.0.definition)?;
        Ok(self.0)
    }
}

fn raw_machine(r: &Row<'_>) -> rusqlite::Result<RawMachine> {
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        let text: String = r.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    };
    Ok(RawMachine(MachineRecord {
        seq: r.get(0)?,
        name: r.get(1)?,
        arn: r.get(2)?,
        definition: r.get(3)?,
        role_arn: r.get(4)?,
        kind: r.get(5)?,
        created: r.get(6)?,
        updated: r.get(7)?,
        revision_id: r.get(8)?,
        logging: json(9)?,
        tracing: json(10)?,
    }))
}
