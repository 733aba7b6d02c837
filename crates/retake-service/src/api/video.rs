//! Video downloads with single byte ranges (206, `Accept-Ranges`, `Content-Range`), so
//! browsers can seek. Written against [`ByteSource`] — a size and a way to read a range —
//! so any blob store that can do those two serves ranges too.

use std::io::SeekFrom;
use std::path::PathBuf;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::ErrorBody;

/// Where a download's bytes come from.
#[async_trait]
pub trait ByteSource: Send + Sync {
    /// Total size in bytes.
    fn size(&self) -> u64;
    /// A stream of `len` bytes from `start` (the caller keeps the range inside the size).
    async fn read_range(&self, start: u64, len: u64) -> std::io::Result<Body>;
}

/// A file on the local disk.
pub struct FileSource {
    path: PathBuf,
    size: u64,
}

impl FileSource {
    /// Opens `path` for ranged reads.
    pub async fn open(path: PathBuf) -> std::io::Result<Self> {
        let size = tokio::fs::metadata(&path).await?.len();
        Ok(Self { path, size })
    }
}

#[async_trait]
impl ByteSource for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    async fn read_range(&self, start: u64, len: u64) -> std::io::Result<Body> {
        let mut file = tokio::fs::File::open(&self.path).await?;
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        let stream = tokio_util::io::ReaderStream::new(file.take(len));
        Ok(Body::from_stream(stream))
    }
}

/// What a `Range` header asks of a body of some size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable range (none, another unit, several ranges, malformed): the whole body.
    Whole,
    /// Bytes `start..=end`.
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// A well-formed range that lies outside the body (416).
    Unsatisfiable,
}

/// Reads a `Range` header (RFC 9110 §14.1.2) for a body of `size` bytes. Only a single
/// range is served; a request for several gets the whole body, which the RFC allows.
pub fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            // Digits too many for u64 are "more than any file": clamp.
            Some(s.parse::<u64>().unwrap_or(u64::MAX))
        }
    };
    match (first.is_empty(), last.is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => match number(last) {
            None => RangeAsk::Whole,
            Some(0) => RangeAsk::Unsatisfiable,
            Some(_) if size == 0 => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        // `A-`: from A to the end.
        (false, true) => match number(first) {
            None => RangeAsk::Whole,
            Some(a) if a >= size => RangeAsk::Unsatisfiable,
            Some(a) => RangeAsk::Part {
                start: a,
                end: size - 1,
            },
        },
        // `A-B`.
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= size {
                    RangeAsk::Unsatisfiable
                } else {
                    RangeAsk::Part {
                        start: a,
                        end: b.min(size - 1),
                    }
                }
            }
            _ => RangeAsk::Whole,
        },
        (true, true) => RangeAsk::Whole,
    }
}

/// The response to a download of `source`: whole (200) or one range (206), or 416 for a
/// range outside it. `etag` names this content for `If-Range` (a generation's video never
/// changes, so its id is enough).
pub async fn ranged_response(
    source: &dyn ByteSource,
    request: &HeaderMap,
    content_type: &'static str,
    etag: &str,
) -> std::io::Result<Response> {
    let size = source.size();
    let etag_value = format!("\"{etag}\"");
    // A range is only good for the content it was computed on: with a stale If-Range,
    // send everything.
    let if_range_ok = match request.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v.trim() == etag_value,
    };
    let ask = match request.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if if_range_ok => parse_range(r, size),
        _ => RangeAsk::Whole,
    };
    let (status, start, len) = match ask {
        RangeAsk::Whole => (StatusCode::OK, 0, size),
        RangeAsk::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangeAsk::Unsatisfiable => {
            let body = ErrorBody {
                detail: format!(
                    "the range asked for is outside the file, which is {size} bytes; ask for \
                     bytes 0 to {}",
                    size.saturating_sub(1)
                ),
                code: "range_not_satisfiable".into(),
                error: None,
            };
            let mut resp = (StatusCode::RANGE_NOT_SATISFIABLE, Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let body = source.read_range(start, len).await?;
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&etag_value) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{size}", start + len - 1);
        if let Ok(v) = HeaderValue::from_str(&range) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

/// An object in the blob store (local folder or bucket); ranges are read with the store's
/// own ranged read, so a seek in a browser costs one ranged GET on S3.
pub struct BlobSource {
    blobs: std::sync::Arc<dyn crate::blobs::BlobStore>,
    key: String,
    size: u64,
}

impl BlobSource {
    /// The object `key`, or `None` when the store has no such object.
    pub async fn open(
        blobs: std::sync::Arc<dyn crate::blobs::BlobStore>,
        key: &str,
    ) -> crate::blobs::BlobResult<Option<Self>> {
        Ok(blobs.head(key).await?.map(|size| Self {
            blobs,
            key: key.to_string(),
            size,
        }))
    }
}

#[async_trait]
impl ByteSource for BlobSource {
    fn size(&self) -> u64 {
        self.size
    }

    async fn read_range(&self, start: u64, len: u64) -> std::io::Result<Body> {
        let stream = self
            .blobs
            .read(&self.key, Some(start..start + len))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Body::from_stream(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_of_every_form() {
        let part = |start, end| RangeAsk::Part { start, end };
        for (header, want) in [
            ("bytes=0-99", part(0, 99)),
            ("bytes=100-", part(100, 999)),
            ("bytes=-100", part(900, 999)),
            ("bytes=-5000", part(0, 999)),
            ("bytes=990-5000", part(990, 999)),
            ("bytes= 5 - 9 ", part(5, 9)),
            ("bytes=999-999", part(999, 999)),
            ("bytes=1000-", RangeAsk::Unsatisfiable),
            ("bytes=1000-2000", RangeAsk::Unsatisfiable),
            ("bytes=-0", RangeAsk::Unsatisfiable),
            ("bytes=99999999999999999999999-", RangeAsk::Unsatisfiable),
            ("bytes=9-5", RangeAsk::Whole),
            ("bytes=0-1,5-9", RangeAsk::Whole),
            ("bytes=a-b", RangeAsk::Whole),
            ("bytes=-", RangeAsk::Whole),
            ("items=0-5", RangeAsk::Whole),
            ("", RangeAsk::Whole),
        ] {
            assert_eq!(parse_range(header, 1000), want, "{header}");
        }
        assert_eq!(parse_range("bytes=-5", 0), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), RangeAsk::Unsatisfiable);
    }
}
