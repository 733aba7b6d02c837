//! Request bodies: a per-route byte cap checked against `Content-Length` before anything is
//! read (so an over-limit upload gets its 413 without a `100 Continue`), the same cap
//! enforced while a chunked body streams in, and body errors turned into the statuses a
//! client can act on (413, 408, 400); and the rewriting of error bodies into a surface's own
//! field names.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use futures_util::StreamExt;

use super::error::{ApiError, ErrorBody};
use crate::error::ServiceError;
use crate::transport::{find_body_error, BodyError, CappedBody};

/// Largest JSON body a create reads.
pub const MAX_JSON_BYTES: u64 = 256 * 1024;

/// A route's body limit and what to call the body in errors.
#[derive(Clone, Copy, Debug)]
pub struct BodyCap {
    /// Bytes.
    pub limit: u64,
    /// What the body is (`the upload`, `the request`) and the setting that sets the limit.
    pub what: &'static str,
    /// The setting an operator raises, if one does.
    pub setting: Option<&'static str>,
}

impl BodyCap {
    fn too_large(&self, got: Option<u64>) -> ServiceError {
        let size = match got {
            Some(n) => format!(" is {};", human_bytes(n)),
            None => " is over the limit;".into(),
        };
        let raise = match self.setting {
            Some(s) => format!(", or ask the operator to raise `{s}`"),
            None => String::new(),
        };
        ServiceError::TooLarge(format!(
            "{}{size} the limit is {} — send a smaller file{raise}",
            self.what,
            human_bytes(self.limit)
        ))
    }
}

/// A size for messages: KB (1024 bytes) under a megabyte, MB (10^6 bytes) above, so that
/// "256 KB" reads as the documented limit and "100.0 MB" as `max_bytes`.
fn human_bytes(n: u64) -> String {
    if n < 1_000_000 {
        format!("{} KB", n.div_ceil(1024))
    } else {
        format!("{:.1} MB", n as f64 / 1e6)
    }
}

/// Middleware: refuses a body whose `Content-Length` is over the cap before reading it,
/// and caps a body of unknown length while it streams.
pub async fn cap_body(State(cap): State<BodyCap>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared {
        if len > cap.limit {
            // The body stays unread: say the connection closes, so that a client does not
            // send its next request down a connection the server is about to drop.
            let mut resp = ApiError(cap.too_large(Some(len))).into_response();
            resp.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return resp;
        }
    }
    let has_body = declared.is_some_and(|len| len > 0)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = Body::new(CappedBody::new(body, cap.limit).on_finish(finished.clone()));
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    let unread = has_body && !finished.load(std::sync::atomic::Ordering::Relaxed);
    if unread && !resp.status().is_success() {
        // A refused request's body is not all read; close rather than read the rest.
        resp.headers_mut()
            .entry(header::CONNECTION)
            .or_insert(header::HeaderValue::from_static("close"));
    }
    resp
}

/// The error a client should see for a body that failed while being read.
pub fn read_error(what: &str, e: &axum::Error, cap: Option<BodyCap>) -> ServiceError {
    match find_body_error(e) {
        Some(BodyError::TooLarge { .. }) => match cap {
            Some(c) => c.too_large(None),
            None => ServiceError::TooLarge(format!("{what} is over the size limit")),
        },
        Some(t @ (BodyError::Idle(_) | BodyError::Deadline(_))) => ServiceError::RequestTimeout(
            format!("{t}; send {what} without pauses, or over a faster connection"),
        ),
        None => ServiceError::BadRequest(format!("{what} was cut off: {e}")),
    }
}

/// Reads a whole (small) body, mapping failures with [`read_error`].
pub async fn read_all(body: Body, what: &str, limit: u64) -> Result<Bytes, ServiceError> {
    let cap = BodyCap {
        limit,
        what: "the request body",
        setting: None,
    };
    axum::body::to_bytes(Body::new(CappedBody::new(body, limit)), usize::MAX)
        .await
        .map_err(|e| read_error(what, &e, Some(cap)))
}

/// How much of an over-long body is still read (and dropped) so that the client, which is
/// usually still sending, receives the 413 instead of a reset connection.
const DRAIN_MAX: u64 = 8 * 1024 * 1024;

/// The body's bytes, at most `limit` of them; past that, 413 with `hint` (what to send instead).
pub(crate) async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    hint: &str,
) -> Result<Vec<u8>, ServiceError> {
    let too_large =
        || ServiceError::TooLarge(format!("the JSON body is over {} KB; {hint}", limit / 1024));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_MAX.max(limit)) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            // The route's cap stopped the stream: the same 413 as a body counted here.
            Err(e) if matches!(find_body_error(&e), Some(BodyError::TooLarge { .. })) => {
                return Err(too_large())
            }
            Err(e) => return Err(read_error("the body", &e, None)),
        };
        seen += chunk.len() as u64;
        if seen > limit {
            buf = Vec::new();
            if seen > DRAIN_MAX {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    if seen > limit {
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
    let Ok(bytes) = axum::body::to_bytes(body, MAX_JSON_BYTES as usize).await else {
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
