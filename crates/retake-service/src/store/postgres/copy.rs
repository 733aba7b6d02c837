//! Copying generations and keys out of and into the PostgreSQL store (`retake migrate`).

use deadpool_postgres::GenericClient;

use super::rows::{gen_from_row, GEN_COLS};
use super::{pg_err, PgStore, RETRIES};
use crate::domain::FailureCode;
use crate::store::rows::{credit_state_str, webhooks_json};
use crate::store::{
    now_ms, GenerationExport, IdempotencyKey, KeyRecord, QueuedJob, StoreError, StoreResult,
};

impl PgStore {
    pub(super) async fn export_page(
        &self,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<GenerationExport>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {GEN_COLS}, j.attempts, j.enqueued_at FROM generations \
                     LEFT JOIN jobs j ON j.generation_id = generations.id \
                     WHERE id > $1 ORDER BY id LIMIT $2"
                ),
                &[&after, &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let record = gen_from_row(&r)?;
            let job = match (r.get::<_, Option<i32>>(20), r.get::<_, Option<i64>>(21)) {
                (Some(attempts), Some(enqueued_at)) => Some(QueuedJob {
                    attempts: attempts.max(0) as u32,
                    enqueued_at,
                }),
                _ => None,
            };
            let idempotency = client
                .query(
                    "SELECT idem_key, request_hash, created_at FROM idempotency_keys \
                     WHERE generation_id = $1 ORDER BY idem_key",
                    &[&record.id],
                )
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| {
                    (
                        IdempotencyKey {
                            key: r.get(0),
                            request_hash: r.get(1),
                        },
                        r.get(2),
                    )
                })
                .collect();
            out.push(GenerationExport {
                record,
                job,
                idempotency,
            });
        }
        Ok(out)
    }

    pub(super) async fn import_key_row(&self, k: KeyRecord) -> StoreResult<()> {
        let revoked = k.revoked.then(now_ms);
        self.client()
            .await?
            .execute(
                "INSERT INTO api_keys (id, name, secret_hash, webhook_secret, balance, reserved, \
                 created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET name = $2, secret_hash = $3, \
                 webhook_secret = $4, balance = $5, reserved = $6, created_at = $7, \
                 revoked_at = COALESCE(api_keys.revoked_at, $8)",
                &[
                    &k.id,
                    &k.name,
                    &k.secret_hash,
                    &k.webhook_secret,
                    &k.balance.0,
                    &k.reserved.0,
                    &k.created_at,
                    &revoked,
                ],
            )
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    pub(super) async fn import_generation_rows(&self, e: GenerationExport) -> StoreResult<bool> {
        in_tx!(self, |tx| {
            let g = &e.record;
            let n = tx
                .execute(
                    &format!(
                        "INSERT INTO generations ({GEN_COLS}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                         $17, $18, $19, $20) ON CONFLICT (id) DO NOTHING"
                    ),
                    &[
                        &g.id,
                        &g.key_id,
                        &g.state.as_str(),
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
                        &credit_state_str(g.credit_state),
                        &g.callback_url,
                        &g.failure_code.map(FailureCode::as_str),
                        &g.updated_at,
                        &webhooks_json(&g.webhooks)?,
                    ],
                )
                .await
                .map_err(pg_err)?;
            if n == 0 {
                return Ok(false);
            }
            if let Some(job) = &e.job {
                tx.execute(
                    "INSERT INTO jobs (generation_id, attempts, enqueued_at) VALUES ($1, $2, $3)",
                    &[&g.id, &(job.attempts as i32), &job.enqueued_at],
                )
                .await
                .map_err(pg_err)?;
            }
            for (idem, created_at) in &e.idempotency {
                tx.execute(
                    "INSERT INTO idempotency_keys (key_id, idem_key, request_hash, \
                     generation_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                    &[&g.key_id, &idem.key, &idem.request_hash, &g.id, created_at],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)?;
            Ok(true)
        })
    }
}
