//! The SQLite schema, as numbered migrations tracked in `PRAGMA user_version`.

use rusqlite::Connection;

use super::StoreResult;

/// Each entry moves the schema one version up. Append; never edit a shipped entry.
const MIGRATIONS: &[&str] = &[
    // 1: keys with credits, generations, the job queue.
    "CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash BLOB NOT NULL,
        webhook_secret BLOB NOT NULL,
        balance INTEGER NOT NULL,          -- hundredths of a credit
        reserved INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,       -- Unix ms
        revoked_at INTEGER
    );
    CREATE TABLE generations (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES api_keys(id),
        state TEXT NOT NULL,
        failure_reason TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        request TEXT NOT NULL,
        model TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        media_blob TEXT NOT NULL,
        first_frame_blob TEXT,
        output_blob TEXT,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        cost INTEGER NOT NULL,
        credit_state TEXT NOT NULL,        -- reserved | charged | released
        callback_url TEXT
    );
    CREATE INDEX generations_by_key ON generations(key_id, created_at DESC);
    CREATE TABLE jobs (
        generation_id TEXT PRIMARY KEY REFERENCES generations(id) ON DELETE CASCADE,
        lease_owner TEXT,
        lease_until INTEGER,               -- Unix ms; NULL while queued
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at INTEGER NOT NULL
    );
    CREATE INDEX jobs_queue ON jobs(lease_until, enqueued_at);",
    // 2: failure codes; idempotency keys of creates (they go with their generation).
    "ALTER TABLE generations ADD COLUMN failure_code TEXT;
    CREATE TABLE idempotency_keys (
        key_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        generation_id TEXT NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (key_id, idem_key)
    );
    CREATE INDEX idempotency_by_generation ON idempotency_keys(generation_id);",
    // 3: webhook delivery status per generation (JSON list of events); upload records.
    "ALTER TABLE generations ADD COLUMN webhooks TEXT;
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES api_keys(id),
        blob TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL,       -- Unix ms
        expires_at INTEGER NOT NULL        -- Unix ms
    );
    CREATE INDEX uploads_by_key ON uploads(key_id, created_at DESC);
    CREATE INDEX uploads_by_expiry ON uploads(expires_at);",
    // 4: the Files API's fields of an upload (`/agents/v1/files`: one record per stored file).
    "ALTER TABLE uploads ADD COLUMN state TEXT NOT NULL DEFAULT 'ready';
    ALTER TABLE uploads ADD COLUMN purpose TEXT NOT NULL DEFAULT 'input';
    ALTER TABLE uploads ADD COLUMN filename TEXT;
    ALTER TABLE uploads ADD COLUMN user_id TEXT;
    ALTER TABLE uploads ADD COLUMN failure_reason TEXT;",
];

/// Brings the database to the newest schema.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        return Err(super::StoreError::Corrupt(format!(
            "the database has schema version {version} but this build knows up to {}; \
             run a newer retake on this data folder",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version this build writes.
#[cfg(test)]
pub fn latest_version() -> usize {
    MIGRATIONS.len()
}
