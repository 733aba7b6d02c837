//! Copying generations and keys out of and into an SQLite store (`retake migrate`).

use rusqlite::{params, OptionalExtension};

use super::rows::{credit_state_str, gen_from_row, webhooks_json, GEN_COLS};
use super::{
    now_ms, GenerationExport, IdempotencyKey, KeyRecord, QueuedJob, SqliteStore, StoreResult,
};
use crate::domain::FailureCode;

impl SqliteStore {
    /// Generations after `after` in id order, with their jobs and idempotency keys.
    pub(super) fn export_blocking(
        &self,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<GenerationExport>> {
        self.with_conn(|c| {
            let records = {
                let mut st = c.prepare(&format!(
                    "SELECT {GEN_COLS} FROM generations WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))?;
                let rows = st.query_map(params![after, i64::from(limit)], gen_from_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut out = Vec::with_capacity(records.len());
            for record in records {
                let job = c
                    .query_row(
                        "SELECT attempts, enqueued_at FROM jobs WHERE generation_id = ?1",
                        [&record.id],
                        |r| {
                            Ok(QueuedJob {
                                attempts: r.get(0)?,
                                enqueued_at: r.get(1)?,
                            })
                        },
                    )
                    .optional()?;
                let mut st = c.prepare(
                    "SELECT idem_key, request_hash, created_at FROM idempotency_keys \
                     WHERE generation_id = ?1 ORDER BY idem_key",
                )?;
                let idempotency = st
                    .query_map([&record.id], |r| {
                        Ok((
                            IdempotencyKey {
                                key: r.get(0)?,
                                request_hash: r.get(1)?,
                            },
                            r.get(2)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                out.push(GenerationExport {
                    record,
                    job,
                    idempotency,
                });
            }
            Ok(out)
        })
    }

    /// Adds or overwrites a key as it is.
    pub(super) fn import_key_blocking(&self, k: &KeyRecord) -> StoreResult<()> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO api_keys (id, name, secret_hash, webhook_secret, balance, reserved, \
                 created_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (id) DO UPDATE SET name = ?2, secret_hash = ?3, \
                 webhook_secret = ?4, balance = ?5, reserved = ?6, created_at = ?7, \
                 revoked_at = COALESCE(revoked_at, ?8)",
                params![
                    k.id,
                    k.name,
                    k.secret_hash,
                    k.webhook_secret,
                    k.balance.0,
                    k.reserved.0,
                    k.created_at,
                    k.revoked.then(now_ms),
                ],
            )?;
            Ok(())
        })
    }

    /// Adds a generation as it is; `false` when its id is taken.
    pub(super) fn import_generation_blocking(&self, e: &GenerationExport) -> StoreResult<bool> {
        self.with_conn(|c| {
            let tx = c.transaction()?;
            let g = &e.record;
            let n = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO generations ({GEN_COLS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
                ),
                params![
                    g.id,
                    g.key_id,
                    g.state.as_str(),
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
                    credit_state_str(g.credit_state),
                    g.callback_url,
                    g.failure_code.map(FailureCode::as_str),
                    g.updated_at,
                    webhooks_json(&g.webhooks)?,
                ],
            )?;
            if n == 0 {
                return Ok(false);
            }
            if let Some(job) = &e.job {
                tx.execute(
                    "INSERT INTO jobs (generation_id, attempts, enqueued_at) VALUES (?1, ?2, ?3)",
                    params![g.id, job.attempts, job.enqueued_at],
                )?;
            }
            for (idem, created_at) in &e.idempotency {
                tx.execute(
                    "INSERT INTO idempotency_keys (key_id, idem_key, request_hash, \
                     generation_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![g.key_id, idem.key, idem.request_hash, g.id, created_at],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })
    }
}
