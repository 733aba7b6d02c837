//! SQLite rows: the column lists, row mapping and the statements several store methods share.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{
    now_ms, CreditState, GenerationRecord, KeyRecord, Requeued, StoreError, StoreResult,
    WebhookDelivery,
};
use crate::domain::{FailureCode, State};
use crate::pricing::Credits;

pub(super) const GEN_COLS: &str =
    "id, key_id, state, failure_reason, created_at, request, model, progress, \
    media_blob, first_frame_blob, output_blob, width, height, frames, cost, credit_state, \
    callback_url, failure_code, updated_at, webhooks";

pub(super) const KEY_COLS: &str =
    "id, name, secret_hash, webhook_secret, balance, reserved, created_at, revoked_at";

pub(super) fn credit_state_str(s: CreditState) -> &'static str {
    match s {
        CreditState::Reserved => "reserved",
        CreditState::Charged => "charged",
        CreditState::Released => "released",
    }
}

pub(super) fn gen_from_row(r: &Row<'_>) -> rusqlite::Result<GenerationRecord> {
    let state: String = r.get(2)?;
    let credit: String = r.get(15)?;
    let bad = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            Box::new(StoreError::Corrupt(what)),
        )
    };
    Ok(GenerationRecord {
        id: r.get(0)?,
        key_id: r.get(1)?,
        state: State::parse(&state).ok_or_else(|| bad(format!("unknown state `{state}`")))?,
        failure_reason: r.get(3)?,
        created_at: r.get(4)?,
        request_json: r.get(5)?,
        model: r.get(6)?,
        progress: r.get::<_, i64>(7)?.clamp(0, 100) as u8,
        media_blob: r.get(8)?,
        first_frame_blob: r.get(9)?,
        output_blob: r.get(10)?,
        width: r.get(11)?,
        height: r.get(12)?,
        frames: r.get(13)?,
        cost: Credits(r.get(14)?),
        credit_state: match credit.as_str() {
            "reserved" => CreditState::Reserved,
            "charged" => CreditState::Charged,
            "released" => CreditState::Released,
            other => return Err(bad(format!("unknown credit state `{other}`"))),
        },
        callback_url: r.get(16)?,
        failure_code: r
            .get::<_, Option<String>>(17)?
            .and_then(|c| FailureCode::parse(&c)),
        updated_at: r.get(18)?,
        webhooks: match r.get::<_, Option<String>>(19)? {
            None => Vec::new(),
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| bad(format!("webhook delivery record: {e}")))?,
        },
    })
}

pub(super) fn webhooks_json(w: &[WebhookDelivery]) -> StoreResult<Option<String>> {
    if w.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(w)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Puts an expired or orphaned job back in the queue, or fails it once it has used its
/// attempts (settling its credits), adding it to `out`.
pub(super) fn requeue_or_fail(
    tx: &Transaction<'_>,
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
        let failed = Some((reason.as_str(), FailureCode::Crashed));
        if let Some(g) = settle(tx, id, State::Failed, failed, None)? {
            out.failed.push(g);
        }
    } else {
        tx.execute(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE generation_id = ?1",
            [id],
        )?;
        tx.execute(
            "UPDATE generations SET state = 'queued', progress = 0, updated_at = ?2 \
             WHERE id = ?1",
            params![id, now_ms()],
        )?;
        out.requeued.push(id.to_string());
    }
    Ok(())
}

pub(super) fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        secret_hash: r.get(2)?,
        webhook_secret: r.get(3)?,
        balance: Credits(r.get(4)?),
        reserved: Credits(r.get(5)?),
        created_at: r.get(6)?,
        revoked: r.get::<_, Option<i64>>(7)?.is_some(),
    })
}

pub(super) fn get_gen(c: &Connection, id: &str) -> StoreResult<Option<GenerationRecord>> {
    let mut st = c.prepare_cached(&format!("SELECT {GEN_COLS} FROM generations WHERE id = ?1"))?;
    Ok(st.query_row([id], gen_from_row).optional()?)
}

pub(super) fn get_key(c: &Connection, id: &str) -> StoreResult<Option<KeyRecord>> {
    let mut st = c.prepare_cached(&format!("SELECT {KEY_COLS} FROM api_keys WHERE id = ?1"))?;
    Ok(st.query_row([id], key_from_row).optional()?)
}

/// Whether `worker` may still finish generation `id`: a job requeued after its lease expired
/// stays the old worker's to finish until another worker takes it; one another worker has
/// taken is theirs, and a job that is gone is nobody's.
pub(super) fn still_ours(tx: &Transaction<'_>, id: &str, worker: &str) -> StoreResult<bool> {
    let owner: Option<Option<String>> = tx
        .query_row(
            "SELECT lease_owner FROM jobs WHERE generation_id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match owner {
        Some(Some(o)) => o == worker,
        Some(None) => true,
        None => false,
    })
}

/// Moves a generation to a terminal state and settles its credits, once. Returns the
/// updated record, or `None` when it was already settled or is gone.
pub(super) fn settle(
    tx: &Transaction<'_>,
    id: &str,
    state: State,
    reason: Option<(&str, FailureCode)>,
    output_blob: Option<&str>,
) -> StoreResult<Option<GenerationRecord>> {
    let Some(g) = get_gen(tx, id)? else {
        return Ok(None);
    };
    if g.state.is_terminal() || g.credit_state != CreditState::Reserved {
        return Ok(None);
    }
    let (credit, charge) = if state == State::Completed {
        (CreditState::Charged, g.cost.0)
    } else {
        (CreditState::Released, 0)
    };
    tx.execute(
        "UPDATE generations SET state = ?2, failure_reason = ?3, output_blob = ?4, \
         credit_state = ?5, progress = CASE WHEN ?2 = 'completed' THEN 100 ELSE progress END, \
         updated_at = ?6, failure_code = ?7 WHERE id = ?1",
        params![
            id,
            state.as_str(),
            reason.map(|r| r.0),
            output_blob,
            credit_state_str(credit),
            now_ms(),
            reason.map(|r| r.1.as_str()),
        ],
    )?;
    tx.execute(
        "UPDATE api_keys SET reserved = reserved - ?2, balance = balance - ?3 WHERE id = ?1",
        params![g.key_id, g.cost.0, charge],
    )?;
    tx.execute("DELETE FROM jobs WHERE generation_id = ?1", [id])?;
    get_gen(tx, id)
}

pub(super) fn find_idempotent(
    c: &Connection,
    key_id: &str,
    key: &str,
) -> StoreResult<Option<(String, GenerationRecord)>> {
    let found: Option<(String, String)> = c
        .prepare_cached(
            "SELECT request_hash, generation_id FROM idempotency_keys \
             WHERE key_id = ?1 AND idem_key = ?2",
        )?
        .query_row([key_id, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((hash, id)) = found else {
        return Ok(None);
    };
    Ok(get_gen(c, &id)?.map(|g| (hash, g)))
}

/// Requeues (or fails) every job leased by one of `owners`.
pub(super) fn requeue_owned(
    tx: &Transaction<'_>,
    owners: &[String],
    max_attempts: u32,
) -> StoreResult<Requeued> {
    let mut out = Requeued::default();
    for owner in owners {
        let held: Vec<(String, u32)> = {
            let mut st =
                tx.prepare("SELECT generation_id, attempts FROM jobs WHERE lease_owner = ?1")?;
            let rows = st.query_map([owner], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        for (id, attempts) in held {
            requeue_or_fail(tx, &id, attempts, max_attempts, &mut out)?;
        }
    }
    Ok(out)
}

/// Replaces the delivery record of `delivery.event` on generation `id` (if it exists).
pub(super) fn record_delivery(
    tx: &Transaction<'_>,
    id: &str,
    delivery: WebhookDelivery,
) -> StoreResult<()> {
    let Some(mut g) = get_gen(tx, id)? else {
        return Ok(());
    };
    match g.webhooks.iter_mut().find(|w| w.event == delivery.event) {
        Some(w) => *w = delivery,
        None => g.webhooks.push(delivery),
    }
    tx.execute(
        "UPDATE generations SET webhooks = ?2 WHERE id = ?1",
        params![id, webhooks_json(&g.webhooks)?],
    )?;
    Ok(())
}
