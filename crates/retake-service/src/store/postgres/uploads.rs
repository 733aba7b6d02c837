//! The PostgreSQL statements of upload records (the same shapes as the SQLite store's).

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::pg_err;
use crate::domain::{FilePurpose, FileState};
use crate::store::{FileOutcome, StoreError, StoreResult, UploadFilter, UploadRecord};

const COLS: &str = "id, key_id, blob, bytes, content_type, sha256, created_at, expires_at, \
    state, purpose, filename, user_id, failure_reason";

fn from_row(r: &Row) -> StoreResult<UploadRecord> {
    let get = |e: tokio_postgres::Error| StoreError::Corrupt(format!("upload record: {e}"));
    Ok(UploadRecord {
        id: r.try_get(0).map_err(get)?,
        key_id: r.try_get(1).map_err(get)?,
        blob: r.try_get(2).map_err(get)?,
        bytes: r.try_get::<_, i64>(3).map_err(get)?.max(0) as u64,
        content_type: r.try_get(4).map_err(get)?,
        sha256: r.try_get(5).map_err(get)?,
        created_at: r.try_get(6).map_err(get)?,
        expires_at: r.try_get(7).map_err(get)?,
        state: {
            let v: String = r.try_get(8).map_err(get)?;
            FileState::parse(&v)
                .ok_or_else(|| StoreError::Corrupt(format!("upload state `{v}`")))?
        },
        purpose: {
            let v: String = r.try_get(9).map_err(get)?;
            FilePurpose::parse(&v)
                .ok_or_else(|| StoreError::Corrupt(format!("upload purpose `{v}`")))?
        },
        filename: r.try_get(10).map_err(get)?,
        user_id: r.try_get(11).map_err(get)?,
        failure_reason: r.try_get(12).map_err(get)?,
    })
}

pub(super) async fn insert<C: GenericClient>(c: &C, u: &UploadRecord) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO uploads ({COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        &[
            &u.id,
            &u.key_id,
            &u.blob,
            &(u.bytes as i64),
            &u.content_type,
            &u.sha256,
            &u.created_at,
            &u.expires_at,
            &u.state.as_str(),
            &u.purpose.as_str(),
            &u.filename,
            &u.user_id,
            &u.failure_reason,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

pub(super) async fn get<C: GenericClient>(
    c: &C,
    key_id: &str,
    id: &str,
) -> StoreResult<Option<UploadRecord>> {
    let st = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM uploads WHERE id = $1 AND key_id = $2"
        ))
        .await
        .map_err(pg_err)?;
    c.query_opt(&st, &[&id, &key_id])
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(super) async fn list<C: GenericClient>(
    c: &C,
    key_id: &str,
    filter: &UploadFilter,
    limit: u32,
    offset: u32,
) -> StoreResult<(Vec<UploadRecord>, bool)> {
    // A filter left out matches everything (`$n IS NULL`), so one statement serves all four.
    let (purpose, state) = (
        filter.purpose.map(FilePurpose::as_str),
        filter.state.map(FileState::as_str),
    );
    let rows = c
        .query(
            &format!(
                "SELECT {COLS} FROM uploads WHERE key_id = $1 \
                 AND ($4::TEXT IS NULL OR purpose = $4) AND ($5::TEXT IS NULL OR state = $5) \
                 ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3"
            ),
            &[
                &key_id,
                &(i64::from(limit) + 1),
                &i64::from(offset),
                &purpose,
                &state,
            ],
        )
        .await
        .map_err(pg_err)?;
    let mut all = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let more = all.len() > limit as usize;
    all.truncate(limit as usize);
    Ok((all, more))
}

pub(super) async fn finish<C: GenericClient>(
    c: &C,
    key_id: &str,
    id: &str,
    o: &FileOutcome,
) -> StoreResult<Option<UploadRecord>> {
    c.execute(
        "UPDATE uploads SET state = $3, failure_reason = $4, content_type = $5, sha256 = $6 \
         WHERE id = $1 AND key_id = $2 AND state = 'pending'",
        &[
            &id,
            &key_id,
            &o.state.as_str(),
            &o.failure_reason,
            &o.content_type,
            &o.sha256,
        ],
    )
    .await
    .map_err(pg_err)?;
    get(c, key_id, id).await
}

pub(super) async fn delete<C: GenericClient>(
    c: &C,
    key_id: &str,
    id: &str,
) -> StoreResult<Option<UploadRecord>> {
    c.query_opt(
        &format!("DELETE FROM uploads WHERE id = $1 AND key_id = $2 RETURNING {COLS}"),
        &[&id, &key_id],
    )
    .await
    .map_err(pg_err)?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(super) async fn expired<C: GenericClient>(
    c: &C,
    now_ms: i64,
    limit: u32,
) -> StoreResult<Vec<UploadRecord>> {
    let rows = c
        .query(
            &format!(
                "SELECT {COLS} FROM uploads WHERE expires_at < $1 ORDER BY expires_at LIMIT $2"
            ),
            &[&now_ms, &i64::from(limit)],
        )
        .await
        .map_err(pg_err)?;
    rows.iter().map(from_row).collect()
}
