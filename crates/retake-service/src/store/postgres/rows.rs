//! PostgreSQL rows: the column lists, row mapping and the statements several store methods
//! share (the same shapes as the SQLite store's).

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::pg_err;
use crate::domain::{FailureCode, State};
use crate::pricing::Credits;
use crate::store::rows::credit_state_str;
use crate::store::{
    now_ms, CreditState, GenerationRecord, KeyRecord, Requeued, StoreError, StoreResult,
};

pub(super) const GEN_COLS: &str =
    "id, key_id, state, failure_reason, created_at, request, model, progress, \
    media_blob, first_frame_blob, output_blob, width, height, frames, cost, credit_state, \
    callback_url, failure_code, updated_at, webhooks";

pub(super) const KEY_COLS: &str =
    "id, name, secret_hash, webhook_secret, balance, reserved, created_at, revoked_at";

fn col<'a, T: tokio_postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

pub(super) fn gen_from_row(r: &Row) -> StoreResult<GenerationRecord> {
    let state: String = col(r, 2)?;
    let credit: String = col(r, 15)?;
    Ok(GenerationRecord {
        id: col(r, 0)?,
        key_id: col(r, 1)?,
        state: State::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown state `{state}`")))?,
        failure_reason: col(r, 3)?,
        created_at: col(r, 4)?,
        request_json: col(r, 5)?,
        model: col(r, 6)?,
        progress: col::<i32>(r, 7)?.clamp(0, 100) as u8,
        media_blob: col(r, 8)?,
        first_frame_blob: col(r, 9)?,
        output_blob: col(r, 10)?,
        width: col::<i32>(r, 11)?.max(0) as u32,
        height: col::<i32>(r, 12)?.max(0) as u32,
        frames: col::<i32>(r, 13)?.max(0) as u32,
        cost: Credits(col(r, 14)?),
        credit_state: match credit.as_str() {
            "reserved" => CreditState::Reserved,
            "charged" => CreditState::Charged,
            "released" => CreditState::Released,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown credit state `{other}`"
                )))
            }
        },
        callback_url: col(r, 16)?,
        failure_code: col::<Option<String>>(r, 17)?.and_then(|c| FailureCode::parse(&c)),
        updated_at: col(r, 18)?,
        webhooks: match col::<Option<String>>(r, 19)? {
            None => Vec::new(),
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("webhook delivery record: {e}")))?,
        },
    })
}

pub(super) fn key_from_row(r: &Row) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        id: col(r, 0)?,
        name: col(r, 1)?,
        secret_hash: col(r, 2)?,
        webhook_secret: col(r, 3)?,
        balance: Credits(col(r, 4)?),
        reserved: Credits(col(r, 5)?),
        created_at: col(r, 6)?,
        revoked: col::<Option<i64>>(r, 7)?.is_some(),
    })
}

/// A generation; with `lock`, its row stays locked until the transaction ends (every
/// transaction that changes a generation locks it first, so they queue instead of deadlock).
pub(super) async fn get_gen<C: GenericClient>(
    c: &C,
    id: &str,
    lock: bool,
) -> StoreResult<Option<GenerationRecord>> {
    let sql = format!(
        "SELECT {GEN_COLS} FROM generations WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let st = c.prepare_cached(&sql).await.map_err(pg_err)?;
    c.query_opt(&st, &[&id])
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(gen_from_row)
        .transpose()
}

pub(super) async fn get_key<C: GenericClient>(c: &C, id: &str) -> StoreResult<Option<KeyRecord>> {
    let st = c
        .prepare_cached(&format!("SELECT {KEY_COLS} FROM api_keys WHERE id = $1"))
        .await
        .map_err(pg_err)?;
    c.query_opt(&st, &[&id])
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(key_from_row)
        .transpose()
}

/// Whether `worker` may still finish generation `id` (same rule as the SQLite store's): a
/// requeued job stays the old worker's until another worker takes it.
pub(super) async fn still_ours<C: GenericClient>(
    c: &C,
    id: &str,
    worker: &str,
) -> StoreResult<bool> {
    let row = c
        .query_opt(
            "SELECT lease_owner FROM jobs WHERE generation_id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(pg_err)?;
    Ok(match row {
        Some(r) => match col::<Option<String>>(&r, 0)? {
            Some(o) => o == worker,
            None => true,
        },
        None => false,
    })
}

/// Moves a locked generation to a terminal state and settles its credits, once. The caller
/// holds the generation's row lock (`get_gen(.., true)`), so two nodes cannot both settle it.
pub(super) async fn settle<C: GenericClient>(
    c: &C,
    g: &GenerationRecord,
    state: State,
    reason: Option<(&str, FailureCode)>,
    output_blob: Option<&str>,
) -> StoreResult<Option<GenerationRecord>> {
    if g.state.is_terminal() || g.credit_state != CreditState::Reserved {
        return Ok(None);
    }
    let (credit, charge) = if state == State::Completed {
        (CreditState::Charged, g.cost.0)
    } else {
        (CreditState::Released, 0)
    };
    c.execute(
        "UPDATE generations SET state = $2, failure_reason = $3, output_blob = $4, \
         credit_state = $5, progress = CASE WHEN $2 = 'completed' THEN 100 ELSE progress END, \
         updated_at = $6, failure_code = $7 WHERE id = $1",
        &[
            &g.id,
            &state.as_str(),
            &reason.map(|r| r.0),
            &output_blob,
            &credit_state_str(credit),
            &now_ms(),
            &reason.map(|r| r.1.as_str()),
        ],
    )
    .await
    .map_err(pg_err)?;
    c.execute(
        "UPDATE api_keys SET reserved = reserved - $2, balance = balance - $3 WHERE id = $1",
        &[&g.key_id, &g.cost.0, &charge],
    )
    .await
    .map_err(pg_err)?;
    c.execute("DELETE FROM jobs WHERE generation_id = $1", &[&g.id])
        .await
        .map_err(pg_err)?;
    c.execute("SELECT pg_notify('retake_settled', $1)", &[&g.id])
        .await
        .map_err(pg_err)?;
    get_gen(c, &g.id, false).await
}

/// Puts an expired or orphaned job back in the queue, or fails it once it has used its
/// attempts (settling its credits), adding it to `out`. The caller holds the generation's
/// and the job's row locks.
pub(super) async fn requeue_or_fail<C: GenericClient>(
    c: &C,
    id: &str,
    attempts: u32,
    max_attempts: u32,
    out: &mut Requeued,
) -> StoreResult<()> {
    if attempts >= max_attempts {
        let reason = format!(
            "processing stopped {attempts} times without finishing (the worker crashed, was \
             killed or hung); no credits were charged — try again, or send a shorter clip"
        );
        let Some(g) = get_gen(c, id, false).await? else {
            return Ok(());
        };
        let failed = Some((reason.as_str(), FailureCode::Crashed));
        if let Some(g) = settle(c, &g, State::Failed, failed, None).await? {
            out.failed.push(g);
        }
    } else {
        c.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE generation_id = $1",
            &[&id],
        )
        .await
        .map_err(pg_err)?;
        c.execute(
            "UPDATE generations SET state = 'queued', progress = 0, updated_at = $2 \
             WHERE id = $1",
            &[&id, &now_ms()],
        )
        .await
        .map_err(pg_err)?;
        out.requeued.push(id.to_string());
    }
    Ok(())
}

pub(super) async fn find_idempotent<C: GenericClient>(
    c: &C,
    key_id: &str,
    key: &str,
) -> StoreResult<Option<(String, GenerationRecord)>> {
    let st = c
        .prepare_cached(
            "SELECT request_hash, generation_id FROM idempotency_keys \
             WHERE key_id = $1 AND idem_key = $2",
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = c.query_opt(&st, &[&key_id, &key]).await.map_err(pg_err)? else {
        return Ok(None);
    };
    let (hash, id): (String, String) = (col(&row, 0)?, col(&row, 1)?);
    Ok(get_gen(c, &id, false).await?.map(|g| (hash, g)))
}
