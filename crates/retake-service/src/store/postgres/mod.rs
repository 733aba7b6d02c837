//! The PostgreSQL store, for several API nodes and workers on several machines: a connection
//! pool, the same transactions as the SQLite store (each method is one), row locks where two
//! nodes could race (a generation's row is locked before it changes, so credits settle once),
//! jobs claimed with `FOR UPDATE SKIP LOCKED`, and `LISTEN/NOTIFY` to wake idle workers.

mod listen;
mod rows;
pub(crate) mod schema;
mod uploads;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::Notify;
use tokio_postgres::error::SqlState;

use self::rows::{
    find_idempotent, gen_from_row, get_gen, get_key, key_from_row, requeue_or_fail, settle,
    still_ours, GEN_COLS, KEY_COLS,
};
use super::rows::{credit_state_str, webhooks_json};
use super::{
    now_ms, Cancelled, CreditState, FileOutcome, GenerationExport, GenerationRecord,
    IdempotencyKey, KeyRecord, Lease, LeasedJob, Requeued, Store, StoreError, StoreResult,
    Submitted, UploadFilter, UploadRecord, WebhookDelivery,
};
use crate::domain::{FailureCode, State};
use crate::pricing::Credits;

/// Times a transaction is retried after PostgreSQL aborted it for a deadlock or a
/// serialization failure (both mean "concurrent work; try again").
const RETRIES: usize = 8;

/// A [`Store`] on a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    config: tokio_postgres::Config,
}

/// Maps a driver error to a store error whose text says what PostgreSQL said.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if matches!(
            *db.code(),
            SqlState::T_R_DEADLOCK_DETECTED | SqlState::T_R_SERIALIZATION_FAILURE
        ) {
            return StoreError::Contention(db.message().to_string());
        }
        return StoreError::Database(format!("PostgreSQL: {}", db.message()));
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    StoreError::Database(format!("PostgreSQL: {text}"))
}

/// A `postgres://` URL with its password replaced by `***` (for logs and `retake config`).
pub fn mask_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Runs `$body` (an expression using the transaction `$tx`, ending in a commit) in a fresh
/// transaction, again when PostgreSQL aborted it for a deadlock or serialization failure.
macro_rules! in_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            let mut client = $self.client().await?;
            let $tx = client.transaction().await.map_err(pg_err)?;
            let r: StoreResult<_> = async { $body }.await;
            match r {
                Err(StoreError::Contention(_)) if attempt < RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 << attempt.min(6))).await;
                }
                other => break other,
            }
        }
    }};
}

// After the macro, which it uses.
mod copy;

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), checks that the
    /// database can be reached, and migrates it to this build's schema.
    pub async fn open(url: &str, pool_size: usize) -> StoreResult<Self> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| {
            StoreError::Database(format!(
                "database_url `{}` is not a PostgreSQL URL ({e}); write it like \
                 postgres://retake:PASSWORD@db.example.com:5432/retake",
                mask_url(url)
            ))
        })?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(StoreError::Database(
                "database_url asks for sslmode=require, but this build talks to PostgreSQL \
                 without TLS; drop sslmode (and keep the database on a private network or \
                 behind a TLS tunnel)"
                    .into(),
            ));
        }
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Database(format!("PostgreSQL pool: {e}")))?;
        let store = Self { pool, config };
        let mut client = store.client().await.map_err(|e| {
            StoreError::Database(format!(
                "cannot connect to the database at {}: {e} — check that PostgreSQL runs there, \
                 that this machine may reach it (listen_addresses, pg_hba.conf, firewalls), and \
                 the user name and password in `database_url`",
                mask_url(url)
            ))
        })?;
        schema::migrate(&mut client).await?;
        Ok(store)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => pg_err(e),
            other => StoreError::Database(format!("PostgreSQL: {other}")),
        })
    }

    /// Runs SQL as it is (tests and `retake migrate` use it to inspect the database).
    pub async fn execute_batch(&self, sql: &str) -> StoreResult<()> {
        self.client()
            .await?
            .batch_execute(sql)
            .await
            .map_err(pg_err)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn insert_key(&self, k: KeyRecord) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO api_keys (id, name, secret_hash, webhook_secret, balance, reserved, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &k.id,
                    &k.name,
                    &k.secret_hash,
                    &k.webhook_secret,
                    &k.balance.0,
                    &k.reserved.0,
                    &k.created_at,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        get_key(&self.client().await?, id).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.client()
            .await?
            .query(
                &format!("SELECT {KEY_COLS} FROM api_keys ORDER BY created_at, id"),
                &[],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(key_from_row)
            .collect()
    }

    async fn revoke_key(&self, id: &str) -> StoreResult<()> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now_ms()],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no active key `{id}`")));
        }
        Ok(())
    }

    async fn add_credits(&self, id: &str, amount: Credits) -> StoreResult<KeyRecord> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE api_keys SET balance = balance + $2 WHERE id = $1 RETURNING {KEY_COLS}"
                ),
                &[&id, &amount.0],
            )
            .await
            .map_err(pg_err)?;
        row.as_ref()
            .map(key_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("no key `{id}`")))
    }

    async fn submit(
        &self,
        g: GenerationRecord,
        idempotency: Option<IdempotencyKey>,
    ) -> StoreResult<Submitted> {
        in_tx!(self, |tx| {
            // The key's row lock orders this key's creates across every node: the
            // idempotency check and the reservation below see each other's commits.
            let key = tx
                .query_opt(
                    "SELECT balance - reserved, revoked_at IS NOT NULL FROM api_keys \
                     WHERE id = $1 FOR UPDATE",
                    &[&g.key_id],
                )
                .await
                .map_err(pg_err)?;
            if let Some(idem) = &idempotency {
                if let Some((hash, earlier)) = find_idempotent(&tx, &g.key_id, &idem.key).await? {
                    if hash != idem.request_hash {
                        return Err(StoreError::IdempotencyConflict(idem.key.clone()));
                    }
                    return Ok(Submitted::Replayed(Box::new(earlier)));
                }
            }
            let (available, revoked): (i64, bool) = match &key {
                Some(r) => (r.get(0), r.get(1)),
                None => (0, true),
            };
            if revoked || available < g.cost.0 {
                return Err(StoreError::InsufficientCredits {
                    needed: g.cost,
                    available: Credits(if revoked { 0 } else { available }),
                });
            }
            tx.execute(
                "UPDATE api_keys SET reserved = reserved + $2 WHERE id = $1",
                &[&g.key_id, &g.cost.0],
            )
            .await
            .map_err(pg_err)?;
            let now = now_ms();
            tx.execute(
                &format!(
                    "INSERT INTO generations ({GEN_COLS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
                ),
                &[
                    &g.id,
                    &g.key_id,
                    &State::Queued.as_str(),
                    &g.failure_reason,
                    &g.created_at,
                    &g.request_json,
                    &g.model,
                    &i32::from(g.progress),
                    &g.media_blob,
                    &g.first_frame_blob,
                    &g.output_blob,
                    &(g.width as i32),
                    &(g.height as i32),
                    &(g.frames as i32),
                    &g.cost.0,
                    &credit_state_str(CreditState::Reserved),
                    &g.callback_url,
                    &Option::<&str>::None,
                    &now,
                    &webhooks_json(&g.webhooks)?,
                ],
            )
            .await
            .map_err(pg_err)?;
            tx.execute(
                "INSERT INTO jobs (generation_id, enqueued_at) VALUES ($1, $2)",
                &[&g.id, &now],
            )
            .await
            .map_err(pg_err)?;
            if let Some(idem) = &idempotency {
                tx.execute(
                    "INSERT INTO idempotency_keys (key_id, idem_key, request_hash, \
                     generation_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                    &[&g.key_id, &idem.key, &idem.request_hash, &g.id, &now],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.execute("NOTIFY retake_jobs", &[])
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(Submitted::Created)
        })
    }

    async fn idempotent(
        &self,
        key_id: &str,
        key: &str,
    ) -> StoreResult<Option<(String, GenerationRecord)>> {
        find_idempotent(&self.client().await?, key_id, key).await
    }

    async fn generation_by_id(&self, id: &str) -> StoreResult<Option<GenerationRecord>> {
        get_gen(&self.client().await?, id, false).await
    }

    async fn list_generations(
        &self,
        key_id: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<GenerationRecord>, bool)> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(&format!(
                "SELECT {GEN_COLS} FROM generations WHERE key_id = $1 \
                 ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3"
            ))
            .await
            .map_err(pg_err)?;
        let rows = client
            .query(&st, &[&key_id, &(i64::from(limit) + 1), &i64::from(offset)])
            .await
            .map_err(pg_err)?;
        let mut all = rows
            .iter()
            .map(gen_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let more = all.len() > limit as usize;
        all.truncate(limit as usize);
        Ok((all, more))
    }

    async fn cancel(
        &self,
        key_id: &str,
        id: &str,
        reason: &str,
        code: FailureCode,
    ) -> StoreResult<Cancelled> {
        in_tx!(self, |tx| {
            let g = get_gen(&tx, id, true)
                .await?
                .filter(|g| g.key_id == key_id)
                .ok_or_else(|| StoreError::NotFound(format!("no generation `{id}`")))?;
            if g.state.is_terminal() {
                return Err(StoreError::AlreadyFinished {
                    id: id.to_string(),
                    state: g.state.as_str(),
                });
            }
            let was_running = tx
                .query_opt(
                    "SELECT lease_owner IS NOT NULL FROM jobs WHERE generation_id = $1",
                    &[&id],
                )
                .await
                .map_err(pg_err)?
                .map(|r| r.get::<_, bool>(0))
                .unwrap_or(false);
            let generation = settle(&tx, &g, State::Failed, Some((reason, code)), None)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("`{id}` could not be settled")))?;
            tx.commit().await.map_err(pg_err)?;
            Ok(Cancelled {
                generation,
                was_running,
            })
        })
    }

    async fn delete_generation(&self, key_id: &str, id: &str) -> StoreResult<GenerationRecord> {
        in_tx!(self, |tx| {
            let g = get_gen(&tx, id, true)
                .await?
                .filter(|g| g.key_id == key_id)
                .ok_or_else(|| StoreError::NotFound(format!("no generation `{id}`")))?;
            if g.credit_state == CreditState::Reserved {
                tx.execute(
                    "UPDATE api_keys SET reserved = reserved - $2 WHERE id = $1",
                    &[&g.key_id, &g.cost.0],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.execute("DELETE FROM generations WHERE id = $1", &[&id])
                .await
                .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(g)
        })
    }

    async fn lease_job(&self, worker: &str, ttl_ms: i64) -> StoreResult<Option<LeasedJob>> {
        in_tx!(self, |tx| {
            let now = now_ms();
            // SKIP LOCKED on the job and its generation: workers on every machine take
            // different jobs without waiting for each other, and never wait on a generation
            // another transaction is settling.
            let picked = tx
                .query_opt(
                    "SELECT j.generation_id FROM jobs j JOIN generations g ON g.id = j.generation_id \
                     WHERE j.lease_until IS NULL ORDER BY j.enqueued_at, g.seq LIMIT 1 \
                     FOR UPDATE OF j, g SKIP LOCKED",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            let Some(picked) = picked else {
                return Ok(None);
            };
            let id: String = picked.get(0);
            let attempt: i32 = tx
                .query_one(
                    "UPDATE jobs SET lease_owner = $2, lease_until = $3, attempts = attempts + 1 \
                     WHERE generation_id = $1 RETURNING attempts",
                    &[&id, &worker, &(now + ttl_ms)],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            tx.execute(
                "UPDATE generations SET state = 'dreaming', updated_at = $2 WHERE id = $1",
                &[&id, &now],
            )
            .await
            .map_err(pg_err)?;
            let generation = get_gen(&tx, &id, false)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("job `{id}` has no generation")))?;
            tx.commit().await.map_err(pg_err)?;
            Ok(Some(LeasedJob {
                generation,
                attempt: attempt.max(0) as u32,
            }))
        })
    }

    async fn heartbeat(
        &self,
        id: &str,
        worker: &str,
        ttl_ms: i64,
        progress: u8,
    ) -> StoreResult<Lease> {
        // One statement: the job's lease and the generation's progress move together.
        let n = self
            .client()
            .await?
            .execute(
                "WITH held AS (UPDATE jobs SET lease_until = $3 \
                    WHERE generation_id = $1 AND lease_owner = $2 RETURNING generation_id) \
                 UPDATE generations SET progress = GREATEST(progress, $4), updated_at = $5 \
                 WHERE id IN (SELECT generation_id FROM held)",
                &[
                    &id,
                    &worker,
                    &(now_ms() + ttl_ms),
                    &i32::from(progress.min(99)),
                    &now_ms(),
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(if n == 0 { Lease::Lost } else { Lease::Held })
    }

    async fn complete(
        &self,
        id: &str,
        worker: &str,
        output_blob: &str,
    ) -> StoreResult<Option<GenerationRecord>> {
        in_tx!(self, |tx| {
            let Some(g) = get_gen(&tx, id, true).await? else {
                return Ok(None);
            };
            if !still_ours(&tx, id, worker).await? {
                return Ok(None);
            }
            let done = settle(&tx, &g, State::Completed, None, Some(output_blob)).await?;
            tx.commit().await.map_err(pg_err)?;
            Ok(done)
        })
    }

    async fn fail(
        &self,
        id: &str,
        worker: &str,
        reason: &str,
        code: FailureCode,
    ) -> StoreResult<Option<GenerationRecord>> {
        in_tx!(self, |tx| {
            let Some(g) = get_gen(&tx, id, true).await? else {
                return Ok(None);
            };
            if !still_ours(&tx, id, worker).await? {
                return Ok(None);
            }
            let done = settle(&tx, &g, State::Failed, Some((reason, code)), None).await?;
            tx.commit().await.map_err(pg_err)?;
            Ok(done)
        })
    }

    async fn requeue_expired(&self, max_attempts: u32) -> StoreResult<Requeued> {
        in_tx!(self, |tx| {
            let now = now_ms();
            // Generations first (the order every other transaction locks in); rows another
            // node is sweeping or settling right now are left to it.
            let expired = tx
                .query(
                    "SELECT j.generation_id, j.attempts FROM jobs j \
                     JOIN generations g ON g.id = j.generation_id \
                     WHERE j.lease_until IS NOT NULL AND j.lease_until < $1 \
                     FOR UPDATE OF g, j SKIP LOCKED",
                    &[&now],
                )
                .await
                .map_err(pg_err)?;
            let mut out = Requeued::default();
            for row in expired {
                let id: String = row.get(0);
                let attempts = row.get::<_, i32>(1).max(0) as u32;
                requeue_or_fail(&tx, &id, attempts, max_attempts, &mut out).await?;
            }
            if !out.requeued.is_empty() {
                tx.execute("NOTIFY retake_jobs", &[])
                    .await
                    .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)?;
            Ok(out)
        })
    }

    async fn queue_depth(&self) -> StoreResult<u64> {
        let n: i64 = self
            .client()
            .await?
            .query_one("SELECT COUNT(*) FROM jobs WHERE lease_until IS NULL", &[])
            .await
            .map_err(pg_err)?
            .get(0);
        Ok(n.max(0) as u64)
    }

    fn listen(
        &self,
        jobs: Arc<Notify>,
        settled: Arc<Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        Some(tokio::spawn(listen::run(
            self.config.clone(),
            jobs,
            settled,
        )))
    }

    async fn export_generations(
        &self,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<GenerationExport>> {
        self.export_page(after, limit).await
    }

    async fn import_key(&self, k: KeyRecord) -> StoreResult<()> {
        self.import_key_row(k).await
    }

    async fn import_generation(&self, e: GenerationExport) -> StoreResult<bool> {
        self.import_generation_rows(e).await
    }

    async fn lease_owners(&self) -> StoreResult<Vec<String>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT DISTINCT lease_owner FROM jobs WHERE lease_owner IS NOT NULL",
                &[],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    async fn requeue_leases_of(
        &self,
        owners: &[String],
        max_attempts: u32,
    ) -> StoreResult<Requeued> {
        let owners = owners.to_vec();
        in_tx!(self, |tx| {
            // Generations first, the order every other transaction locks in.
            let held = tx
                .query(
                    "SELECT j.generation_id, j.attempts FROM jobs j \
                     JOIN generations g ON g.id = j.generation_id \
                     WHERE j.lease_owner = ANY($1) FOR UPDATE OF g, j",
                    &[&owners],
                )
                .await
                .map_err(pg_err)?;
            let mut out = Requeued::default();
            for row in held {
                let id: String = row.get(0);
                let attempts = row.get::<_, i32>(1).max(0) as u32;
                requeue_or_fail(&tx, &id, attempts, max_attempts, &mut out).await?;
            }
            if !out.requeued.is_empty() {
                tx.execute("NOTIFY retake_jobs", &[])
                    .await
                    .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)?;
            Ok(out)
        })
    }

    async fn record_webhook(&self, id: &str, delivery: WebhookDelivery) -> StoreResult<()> {
        in_tx!(self, |tx| {
            let Some(mut g) = get_gen(&tx, id, true).await? else {
                return Ok(());
            };
            match g.webhooks.iter_mut().find(|w| w.event == delivery.event) {
                Some(w) => *w = delivery.clone(),
                None => g.webhooks.push(delivery.clone()),
            }
            tx.execute(
                "UPDATE generations SET webhooks = $2 WHERE id = $1",
                &[&id, &webhooks_json(&g.webhooks)?],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(())
        })
    }

    async fn insert_upload(&self, u: UploadRecord) -> StoreResult<()> {
        uploads::insert(&self.client().await?, &u).await
    }

    async fn upload(&self, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>> {
        uploads::get(&self.client().await?, key_id, id).await
    }

    async fn list_uploads(
        &self,
        key_id: &str,
        filter: &UploadFilter,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<UploadRecord>, bool)> {
        uploads::list(&self.client().await?, key_id, filter, limit, offset).await
    }

    async fn finish_upload(
        &self,
        key_id: &str,
        id: &str,
        outcome: FileOutcome,
    ) -> StoreResult<Option<UploadRecord>> {
        uploads::finish(&self.client().await?, key_id, id, &outcome).await
    }

    async fn delete_upload(&self, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>> {
        uploads::delete(&self.client().await?, key_id, id).await
    }

    async fn expired_uploads(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<UploadRecord>> {
        uploads::expired(&self.client().await?, now_ms, limit).await
    }
}
