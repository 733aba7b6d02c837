//! Reading request bodies with a byte cap that answers 413 in the JSON error shape, and the
//! rewriting of error bodies into a surface's own field names.

use axum::body::Body;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use futures_util::StreamExt;

use super::error::ErrorBody;
use crate::error::ServiceError;

/// Largest JSON body the create endpoints read (media travel as URLs or uploads).
pub(crate) const MAX_JSON_BYTES: usize = 256 * 1024;

/// How much of an over-long body is still read (and dropped) so that the client, which is
/// usually still sending, receives the 413 instead of a reset connection.
const DRAIN_MAX: u64 = 8 * 1024 * 1024;

/// The body's bytes, at most `limit` of them; past that, 413 with `hint` (what to send instead).
pub(crate) async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    hint: &str,
) -> Result<Vec<u8>, ServiceError> {
    let too_large =
        || ServiceError::TooLarge(format!("the JSON body is over {} KB; {hint}", limit / 1024));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_MAX.max(limit as u64)) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ServiceError::BadRequest(format!("the body could not be read: {e}; send it again"))
        })?;
        seen += chunk.len() as u64;
        if seen > limit as u64 {
            buf = Vec::new();
            if seen > DRAIN_MAX {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if seen > limit as u64 {
        return Err(too_large());
    }
    Ok(buf)
}

/// The essence of a `Content-Type` header, lower-cased (`multipart/form-data`), or "".
pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Rewrites a JSON error response so its `detail` names the request fields the way this
/// surface does (`renames`: ours → theirs), and, with `echo_error`, copies `detail` into
/// `error` (what Segmind's SDK reads). Other responses pass unchanged.
pub(crate) async fn rename_fields(
    resp: Response,
    renames: &[(&str, &str)],
    echo_error: bool,
) -> Response {
    if resp.status().is_success() || content_type(resp.headers()) != "application/json" {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_JSON_BYTES).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let out = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(mut e) => {
            for (ours, theirs) in renames {
                e.detail = e.detail.replace(ours, theirs);
            }
            if echo_error {
                e.error = Some(e.detail.clone());
            }
            serde_json::to_vec(&e).unwrap_or_else(|_| bytes.to_vec())
        }
        // Not an error body (a Segmind FAILED status): leave it alone.
        Err(_) => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}
