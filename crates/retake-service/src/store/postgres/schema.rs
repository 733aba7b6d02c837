//! The PostgreSQL schema, as numbered migrations recorded in `retake_schema`. Every node
//! runs them at start under an advisory lock, so two nodes starting at once migrate once.

use deadpool_postgres::GenericClient;

use super::pg_err;
use crate::store::{StoreError, StoreResult};

/// Lock id for migrations (any constant; "retake" in ASCII).
const MIGRATION_LOCK: i64 = 0x7265_7461_6b65;

/// Each entry moves the schema one version up. Append; never edit a shipped entry. The
/// columns match the SQLite schema's, so both stores read and write the same records.
const MIGRATIONS: &[&str] = &[
    // 1: keys with credits, generations, the job queue, idempotency keys.
    "CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash BYTEA NOT NULL,
        webhook_secret BYTEA NOT NULL,
        balance BIGINT NOT NULL,           -- hundredths of a credit
        reserved BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,        -- Unix ms
        revoked_at BIGINT
    );
    CREATE TABLE generations (
        seq BIGSERIAL UNIQUE,              -- insertion order, for stable listing
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES api_keys(id),
        state TEXT NOT NULL,
        failure_reason TEXT,
        failure_code TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        request TEXT NOT NULL,
        model TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        media_blob TEXT NOT NULL,
        first_frame_blob TEXT,
        output_blob TEXT,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        cost BIGINT NOT NULL,
        credit_state TEXT NOT NULL,        -- reserved | charged | released
        callback_url TEXT
    );
    CREATE INDEX generations_by_key ON generations(key_id, created_at DESC, seq DESC);
    CREATE TABLE jobs (
        generation_id TEXT PRIMARY KEY REFERENCES generations(id) ON DELETE CASCADE,
        lease_owner TEXT,
        lease_until BIGINT,                -- Unix ms; NULL while queued
        attempts INTEGER NOT NULL DEFAULT 0,
        enqueued_at BIGINT NOT NULL
    );
    CREATE INDEX jobs_queue ON jobs(enqueued_at) WHERE lease_until IS NULL;
    CREATE INDEX jobs_leased ON jobs(lease_until) WHERE lease_until IS NOT NULL;
    CREATE TABLE idempotency_keys (
        key_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        generation_id TEXT NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (key_id, idem_key)
    );
    CREATE INDEX idempotency_by_generation ON idempotency_keys(generation_id);",
    // 2: webhook delivery status per generation (JSON list of events); upload records.
    "ALTER TABLE generations ADD COLUMN webhooks TEXT;
    CREATE TABLE uploads (
        seq BIGSERIAL UNIQUE,              -- insertion order, for stable listing
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES api_keys(id),
        blob TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        content_type TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at BIGINT NOT NULL,        -- Unix ms
        expires_at BIGINT NOT NULL         -- Unix ms
    );
    CREATE INDEX uploads_by_key ON uploads(key_id, created_at DESC, seq DESC);
    CREATE INDEX uploads_by_expiry ON uploads(expires_at);",
    // 3: the Files API's fields of an upload (`/agents/v1/files`: one record per stored file).
    "ALTER TABLE uploads ADD COLUMN state TEXT NOT NULL DEFAULT 'ready';
    ALTER TABLE uploads ADD COLUMN purpose TEXT NOT NULL DEFAULT 'input';
    ALTER TABLE uploads ADD COLUMN filename TEXT;
    ALTER TABLE uploads ADD COLUMN user_id TEXT;
    ALTER TABLE uploads ADD COLUMN failure_reason TEXT;",
];

/// The schema version this build writes.
#[cfg(test)]
pub(crate) fn latest_version() -> usize {
    MIGRATIONS.len()
}

/// Brings the database to the newest schema, or refuses one a newer retake migrated.
pub(super) async fn migrate(client: &mut deadpool_postgres::Client) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS retake_schema (version INTEGER NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(pg_err)?;
    let version: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM retake_schema", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    let version = version.max(0) as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {version} but this retake knows up to {}: a newer \
             retake migrated it. Run that newer retake (on every node), or point \
             `database_url` at another database",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.batch_execute(sql).await.map_err(pg_err)?;
        tx.execute(
            "INSERT INTO retake_schema (version, applied_at) VALUES ($1, $2)",
            &[&((i + 1) as i32), &crate::store::now_ms()],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(())
}
