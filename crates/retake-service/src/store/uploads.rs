//! The SQLite statements of upload records.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{FileOutcome, StoreError, StoreResult, UploadFilter, UploadRecord};
use crate::domain::{FilePurpose, FileState};

const COLS: &str = "id, key_id, blob, bytes, content_type, sha256, created_at, expires_at, \
    state, purpose, filename, user_id, failure_reason";

fn corrupt(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(format!("upload {what} `{v}`"))),
    )
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<UploadRecord> {
    Ok(UploadRecord {
        id: r.get(0)?,
        key_id: r.get(1)?,
        blob: r.get(2)?,
        bytes: r.get::<_, i64>(3)?.max(0) as u64,
        content_type: r.get(4)?,
        sha256: r.get(5)?,
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
        state: {
            let v: String = r.get(8)?;
            FileState::parse(&v).ok_or_else(|| corrupt("state", &v))?
        },
        purpose: {
            let v: String = r.get(9)?;
            FilePurpose::parse(&v).ok_or_else(|| corrupt("purpose", &v))?
        },
        filename: r.get(10)?,
        user_id: r.get(11)?,
        failure_reason: r.get(12)?,
    })
}

pub(super) fn insert(c: &Connection, u: &UploadRecord) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO uploads ({COLS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            u.id,
            u.key_id,
            u.blob,
            u.bytes as i64,
            u.content_type,
            u.sha256,
            u.created_at,
            u.expires_at,
            u.state.as_str(),
            u.purpose.as_str(),
            u.filename,
            u.user_id,
            u.failure_reason
        ],
    )?;
    Ok(())
}

pub(super) fn get(c: &Connection, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM uploads WHERE id = ?1 AND key_id = ?2"
    ))?;
    Ok(st.query_row([id, key_id], from_row).optional()?)
}

pub(super) fn list(
    c: &Connection,
    key_id: &str,
    filter: &UploadFilter,
    limit: u32,
    offset: u32,
) -> StoreResult<(Vec<UploadRecord>, bool)> {
    // A filter left out matches everything (`?n IS NULL`), so one statement serves all four.
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM uploads WHERE key_id = ?1 \
         AND (?4 IS NULL OR purpose = ?4) AND (?5 IS NULL OR state = ?5) \
         ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = st.query_map(
        params![
            key_id,
            i64::from(limit) + 1,
            i64::from(offset),
            filter.purpose.map(FilePurpose::as_str),
            filter.state.map(FileState::as_str)
        ],
        from_row,
    )?;
    let mut all = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let more = all.len() > limit as usize;
    all.truncate(limit as usize);
    Ok((all, more))
}

pub(super) fn finish(
    c: &Connection,
    key_id: &str,
    id: &str,
    o: &FileOutcome,
) -> StoreResult<Option<UploadRecord>> {
    c.execute(
        "UPDATE uploads SET state = ?3, failure_reason = ?4, content_type = ?5, sha256 = ?6 \
         WHERE id = ?1 AND key_id = ?2 AND state = 'pending'",
        params![
            id,
            key_id,
            o.state.as_str(),
            o.failure_reason,
            o.content_type,
            o.sha256
        ],
    )?;
    get(c, key_id, id)
}

pub(super) fn delete(c: &Connection, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>> {
    Ok(c.query_row(
        &format!("DELETE FROM uploads WHERE id = ?1 AND key_id = ?2 RETURNING {COLS}"),
        [id, key_id],
        from_row,
    )
    .optional()?)
}

pub(super) fn expired(c: &Connection, now_ms: i64, limit: u32) -> StoreResult<Vec<UploadRecord>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM uploads WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2"
    ))?;
    let rows = st.query_map(params![now_ms, i64::from(limit)], from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
