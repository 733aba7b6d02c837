//! The SQLite store: one file in the data folder, WAL mode, one writer connection and a few
//! reader connections, so reads never queue behind a write (WAL lets them run side by side).
//!
//! rusqlite is synchronous: point reads run in place when a reader is free (microseconds),
//! everything else on tokio's blocking pool, so handlers never block the reactor for long.
//! Each method is one transaction; those that write take the write lock at the start
//! (IMMEDIATE), so two processes on one file wait for each other (busy timeout) instead of
//! failing with "database is locked" when a read turns into a write.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::rows::{
    credit_state_str, find_idempotent, gen_from_row, get_gen, get_key, key_from_row,
    record_delivery, requeue_or_fail, requeue_owned, settle, still_ours, webhooks_json, GEN_COLS,
    KEY_COLS,
};
use super::uploads;
use super::{
    now_ms, schema, Cancelled, CreditState, FileOutcome, GenerationExport, GenerationRecord,
    IdempotencyKey, KeyRecord, Lease, LeasedJob, Requeued, Store, StoreError, StoreResult,
    Submitted, UploadFilter, UploadRecord, WebhookDelivery,
};
use crate::domain::{FailureCode, State};
use crate::pricing::Credits;

/// Reader connections per store; more than the cores of a small server gains nothing.
const READERS: usize = 4;

/// A [`Store`] on an SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn lock(m: &Mutex<Connection>) -> StoreResult<MutexGuard<'_, Connection>> {
    m.lock()
        .map_err(|_| StoreError::Database("a database call panicked earlier".into()))
}

fn open_conn(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut writer = open_conn(path)?;
        schema::migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = open_conn(path)?;
            r.pragma_update(None, "query_only", "ON")?;
            readers.push(Mutex::new(r));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// Runs `f` with the writer connection, on the calling thread (for the CLI and blocking
    /// callers).
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut guard = lock(&self.inner.writer)?;
        f(&mut guard)
    }

    /// Runs a read-only `f` on a free reader connection (or waits for one).
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let n = self.inner.readers.len();
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.inner.readers[(start + i) % n].try_lock() {
                return f(&guard);
            }
        }
        let guard = lock(&self.inner.readers[start % n])?;
        f(&guard)
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.with_conn(f))
            .await
            .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// A reader nobody is using right now, if any.
    fn free_reader(&self) -> Option<MutexGuard<'_, Connection>> {
        let n = self.inner.readers.len();
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        (0..n).find_map(|i| self.inner.readers[(start + i) % n].try_lock().ok())
    }

    /// A point lookup: run here on a free reader (a few microseconds, less than the hop to
    /// the blocking pool and back), else on the blocking pool.
    async fn read_point<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        if let Some(conn) = self.free_reader() {
            return f(&conn);
        }
        self.read(f).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.with_reader(f))
            .await
            .map_err(|e| StoreError::Database(format!("database task failed: {e}")))?
    }

    /// Adds a key (blocking).
    pub fn insert_key_blocking(&self, k: &KeyRecord) -> StoreResult<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO api_keys (id, name, secret_hash, webhook_secret, balance, reserved, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    k.id,
                    k.name,
                    k.secret_hash,
                    k.webhook_secret,
                    k.balance.0,
                    k.reserved.0,
                    k.created_at
                ],
            )?;
            Ok(())
        })
    }

    /// All keys, oldest first (blocking).
    pub fn list_keys_blocking(&self) -> StoreResult<Vec<KeyRecord>> {
        self.with_conn(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {KEY_COLS} FROM api_keys ORDER BY created_at, id"
            ))?;
            let rows = st.query_map([], key_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Revokes a key (blocking).
    pub fn revoke_key_blocking(&self, id: &str) -> StoreResult<()> {
        self.with_conn(|c| {
            let n = c.execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_ms()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no active key `{id}`")));
            }
            Ok(())
        })
    }

    /// Adds credits to a key (blocking).
    pub fn add_credits_blocking(&self, id: &str, amount: Credits) -> StoreResult<KeyRecord> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE api_keys SET balance = balance + ?2 WHERE id = ?1",
                params![id, amount.0],
            )?;
            get_key(c, id)?.ok_or_else(|| StoreError::NotFound(format!("no key `{id}`")))
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_key(&self, key: KeyRecord) -> StoreResult<()> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.insert_key_blocking(&key))
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?
    }

    async fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        let id = id.to_string();
        self.read_point(move |c| get_key(c, &id)).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.list_keys_blocking())
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?
    }

    async fn revoke_key(&self, id: &str) -> StoreResult<()> {
        let (me, id) = (self.clone(), id.to_string());
        tokio::task::spawn_blocking(move || me.revoke_key_blocking(&id))
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?
    }

    async fn add_credits(&self, id: &str, amount: Credits) -> StoreResult<KeyRecord> {
        let (me, id) = (self.clone(), id.to_string());
        tokio::task::spawn_blocking(move || me.add_credits_blocking(&id, amount))
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?
    }

    async fn submit(
        &self,
        g: GenerationRecord,
        idempotency: Option<IdempotencyKey>,
    ) -> StoreResult<Submitted> {
        self.call(move |c| {
            // IMMEDIATE: take the write lock first, so two processes cannot both miss the
            // idempotency row and both insert.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(idem) = &idempotency {
                if let Some((hash, earlier)) = find_idempotent(&tx, &g.key_id, &idem.key)? {
                    if hash != idem.request_hash {
                        return Err(StoreError::IdempotencyConflict(idem.key.clone()));
                    }
                    return Ok(Submitted::Replayed(Box::new(earlier)));
                }
            }
            let n = tx.execute(
                "UPDATE api_keys SET reserved = reserved + ?2 \
                 WHERE id = ?1 AND revoked_at IS NULL AND balance - reserved >= ?2",
                params![g.key_id, g.cost.0],
            )?;
            if n == 0 {
                let available = get_key(&tx, &g.key_id)?
                    .map(|k| k.available())
                    .unwrap_or_default();
                return Err(StoreError::InsufficientCredits {
                    needed: g.cost,
                    available,
                });
            }
            let now = now_ms();
            tx.execute(
                &format!(
                    "INSERT INTO generations ({GEN_COLS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
                ),
                params![
                    g.id,
                    g.key_id,
                    State::Queued.as_str(),
                    g.failure_reason,
                    g.created_at,
                    g.request_json,
                    g.model,
                    g.progress,
                    g.media_blob,
                    g.first_frame_blob,
                    g.output_blob,
                    g.width,
                    g.height,
                    g.frames,
                    g.cost.0,
                    credit_state_str(CreditState::Reserved),
                    g.callback_url,
                    Option::<&str>::None,
                    now,
                    webhooks_json(&g.webhooks)?
                ],
            )?;
            tx.execute(
                "INSERT INTO jobs (generation_id, enqueued_at) VALUES (?1, ?2)",
                params![g.id, now],
            )?;
            if let Some(idem) = &idempotency {
                tx.execute(
                    "INSERT INTO idempotency_keys (key_id, idem_key, request_hash, \
                     generation_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![g.key_id, idem.key, idem.request_hash, g.id, now],
                )?;
            }
            tx.commit()?;
            Ok(Submitted::Created)
        })
        .await
    }

    async fn idempotent(
        &self,
        key_id: &str,
        key: &str,
    ) -> StoreResult<Option<(String, GenerationRecord)>> {
        let (key_id, key) = (key_id.to_string(), key.to_string());
        self.read(move |c| find_idempotent(c, &key_id, &key)).await
    }

    async fn generation_by_id(&self, id: &str) -> StoreResult<Option<GenerationRecord>> {
        let id = id.to_string();
        self.read_point(move |c| get_gen(c, &id)).await
    }

    async fn list_generations(
        &self,
        key_id: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<GenerationRecord>, bool)> {
        let key_id = key_id.to_string();
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {GEN_COLS} FROM generations WHERE key_id = ?1 \
                 ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3"
            ))?;
            let rows = st.query_map(
                params![key_id, i64::from(limit) + 1, i64::from(offset)],
                gen_from_row,
            )?;
            let mut all = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let more = all.len() > limit as usize;
            all.truncate(limit as usize);
            Ok((all, more))
        })
        .await
    }

    async fn cancel(
        &self,
        key_id: &str,
        id: &str,
        reason: &str,
        code: FailureCode,
    ) -> StoreResult<Cancelled> {
        let (key_id, id, reason) = (key_id.to_string(), id.to_string(), reason.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let g = get_gen(&tx, &id)?
                .filter(|g| g.key_id == key_id)
                .ok_or_else(|| StoreError::NotFound(format!("no generation `{id}`")))?;
            if g.state.is_terminal() {
                return Err(StoreError::AlreadyFinished {
                    id,
                    state: g.state.as_str(),
                });
            }
            let was_running: bool = tx
                .query_row(
                    "SELECT lease_owner IS NOT NULL FROM jobs WHERE generation_id = ?1",
                    [&id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            let generation = settle(&tx, &id, State::Failed, Some((&reason, code)), None)?
                .ok_or_else(|| StoreError::Corrupt(format!("`{id}` could not be settled")))?;
            tx.commit()?;
            Ok(Cancelled {
                generation,
                was_running,
            })
        })
        .await
    }

    async fn delete_generation(&self, key_id: &str, id: &str) -> StoreResult<GenerationRecord> {
        let (key_id, id) = (key_id.to_string(), id.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let g = get_gen(&tx, &id)?
                .filter(|g| g.key_id == key_id)
                .ok_or_else(|| StoreError::NotFound(format!("no generation `{id}`")))?;
            if g.credit_state == CreditState::Reserved {
                tx.execute(
                    "UPDATE api_keys SET reserved = reserved - ?2 WHERE id = ?1",
                    params![g.key_id, g.cost.0],
                )?;
            }
            tx.execute("DELETE FROM jobs WHERE generation_id = ?1", [&id])?;
            tx.execute("DELETE FROM generations WHERE id = ?1", [&id])?;
            tx.commit()?;
            Ok(g)
        })
        .await
    }

    async fn lease_job(&self, worker: &str, ttl_ms: i64) -> StoreResult<Option<LeasedJob>> {
        let worker = worker.to_string();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let leased: Option<(String, u32)> = tx
                .query_row(
                    "UPDATE jobs SET lease_owner = ?1, lease_until = ?2, attempts = attempts + 1 \
                     WHERE generation_id = (SELECT generation_id FROM jobs \
                        WHERE lease_until IS NULL ORDER BY enqueued_at LIMIT 1) \
                     RETURNING generation_id, attempts",
                    params![worker, now + ttl_ms],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((id, attempt)) = leased else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE generations SET state = 'dreaming', updated_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            let generation = get_gen(&tx, &id)?
                .ok_or_else(|| StoreError::Corrupt(format!("job `{id}` has no generation")))?;
            tx.commit()?;
            Ok(Some(LeasedJob {
                generation,
                attempt,
            }))
        })
        .await
    }

    async fn heartbeat(
        &self,
        id: &str,
        worker: &str,
        ttl_ms: i64,
        progress: u8,
    ) -> StoreResult<Lease> {
        let (id, worker) = (id.to_string(), worker.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let n = tx.execute(
                "UPDATE jobs SET lease_until = ?3 WHERE generation_id = ?1 AND lease_owner = ?2",
                params![id, worker, now + ttl_ms],
            )?;
            if n == 0 {
                return Ok(Lease::Lost);
            }
            tx.execute(
                "UPDATE generations SET progress = MAX(progress, ?2), updated_at = ?3 \
                 WHERE id = ?1",
                params![id, progress.min(99), now],
            )?;
            tx.commit()?;
            Ok(Lease::Held)
        })
        .await
    }

    async fn complete(
        &self,
        id: &str,
        worker: &str,
        output_blob: &str,
    ) -> StoreResult<Option<GenerationRecord>> {
        let (id, worker, blob) = (id.to_string(), worker.to_string(), output_blob.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !still_ours(&tx, &id, &worker)? {
                return Ok(None);
            }
            let g = settle(&tx, &id, State::Completed, None, Some(&blob))?;
            tx.commit()?;
            Ok(g)
        })
        .await
    }

    async fn fail(
        &self,
        id: &str,
        worker: &str,
        reason: &str,
        code: FailureCode,
    ) -> StoreResult<Option<GenerationRecord>> {
        let (id, worker, reason) = (id.to_string(), worker.to_string(), reason.to_string());
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !still_ours(&tx, &id, &worker)? {
                return Ok(None);
            }
            let g = settle(&tx, &id, State::Failed, Some((&reason, code)), None)?;
            tx.commit()?;
            Ok(g)
        })
        .await
    }

    async fn requeue_expired(&self, max_attempts: u32) -> StoreResult<Requeued> {
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let expired: Vec<(String, u32)> = {
                let mut st = tx.prepare(
                    "SELECT generation_id, attempts FROM jobs \
                     WHERE lease_until IS NOT NULL AND lease_until < ?1",
                )?;
                let rows = st.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut out = Requeued::default();
            for (id, attempts) in expired {
                requeue_or_fail(&tx, &id, attempts, max_attempts, &mut out)?;
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn queue_depth(&self) -> StoreResult<u64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE lease_until IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
        .await
    }

    async fn export_generations(
        &self,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<GenerationExport>> {
        let (me, after) = (self.clone(), after.to_string());
        tokio::task::spawn_blocking(move || me.export_blocking(&after, limit))
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?
    }

    async fn import_key(&self, key: KeyRecord) -> StoreResult<()> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.import_key_blocking(&key))
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?
    }

    async fn import_generation(&self, generation: GenerationExport) -> StoreResult<bool> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.import_generation_blocking(&generation))
            .await
            .map_err(|e| StoreError::Database(e.to_string()))?
    }

    async fn lease_owners(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut st =
                c.prepare("SELECT DISTINCT lease_owner FROM jobs WHERE lease_owner IS NOT NULL")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }

    async fn requeue_leases_of(
        &self,
        owners: &[String],
        max_attempts: u32,
    ) -> StoreResult<Requeued> {
        let owners = owners.to_vec();
        self.call(move |c| {
            let tx = c.transaction()?;
            let out = requeue_owned(&tx, &owners, max_attempts)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn record_webhook(&self, id: &str, delivery: WebhookDelivery) -> StoreResult<()> {
        let id = id.to_string();
        self.call(move |c| {
            let tx = c.transaction()?;
            record_delivery(&tx, &id, delivery)?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn insert_upload(&self, u: UploadRecord) -> StoreResult<()> {
        self.call(move |c| uploads::insert(c, &u)).await
    }

    async fn upload(&self, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>> {
        let (key_id, id) = (key_id.to_string(), id.to_string());
        self.read_point(move |c| uploads::get(c, &key_id, &id))
            .await
    }

    async fn list_uploads(
        &self,
        key_id: &str,
        filter: &UploadFilter,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<UploadRecord>, bool)> {
        let (key_id, filter) = (key_id.to_string(), *filter);
        self.read(move |c| uploads::list(c, &key_id, &filter, limit, offset))
            .await
    }

    async fn finish_upload(
        &self,
        key_id: &str,
        id: &str,
        outcome: FileOutcome,
    ) -> StoreResult<Option<UploadRecord>> {
        let (key_id, id) = (key_id.to_string(), id.to_string());
        self.call(move |c| uploads::finish(c, &key_id, &id, &outcome))
            .await
    }

    async fn delete_upload(&self, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>> {
        let (key_id, id) = (key_id.to_string(), id.to_string());
        self.call(move |c| uploads::delete(c, &key_id, &id)).await
    }

    async fn expired_uploads(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<UploadRecord>> {
        self.read(move |c| uploads::expired(c, now_ms, limit)).await
    }
}
