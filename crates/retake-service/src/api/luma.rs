//! The Luma-compatible surface under `/dream-machine/v1`. Each handler extracts, calls the
//! service, and returns JSON.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::{Caller, MaybeCaller};
use super::body::{read_all, MAX_JSON_BYTES};
use super::error::{ApiError, ErrorBody};
use super::extract::IdPath;
use super::video::{ranged_response, BlobSource};
use crate::catalogue::Surface;
use crate::domain::{Generation, ModifyVideoRequest};
use crate::error::ServiceError;
use crate::service::{GenerationList, Service};

type ApiResult<T> = Result<T, ApiError>;

/// `GET /credits` answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreditBalance {
    /// Credits not spent or held by generations in flight.
    pub credit_balance: f64,
}

/// `GET /ping` answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Pong {
    /// Always `pong`.
    pub message: String,
}

/// Refuses a body declared as something other than JSON (a missing type is read as JSON).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ServiceError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(ServiceError::UnsupportedMediaType(format!(
            "the body is declared as `{}`; send JSON with `Content-Type: application/json` \
             (upload files with POST /v1/uploads first)",
            ct.to_str().unwrap_or("?")
        )))
    }
}

/// The `Idempotency-Key` header, if sent.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ServiceError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            ServiceError::BadRequest(
                "Idempotency-Key must be visible ASCII characters, such as a UUID".into(),
            )
        }),
    }
}

/// Create a modify-video generation.
///
/// Fetches and checks the inputs, reserves the credits and queues the job. With an
/// `Idempotency-Key` this key used before for the same request, answers 200 with the
/// generation made then (header `idempotent-replayed: true`) and makes nothing new.
#[utoipa::path(
    post,
    path = "/dream-machine/v1/generations/video/modify",
    tag = "luma",
    request_body = ModifyVideoRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Makes retries of this create safe: 1–255 visible ASCII characters"),
    ),
    responses(
        (status = 201, description = "Queued", body = Generation),
        (status = 200, description = "Replay of an earlier create with the same Idempotency-Key", body = Generation),
        (status = 400, description = "A parameter is missing or wrong, or a URL may not be fetched", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 402, description = "Not enough credits", body = ErrorBody),
        (status = 404, description = "An upload URL names no upload of this key", body = ErrorBody),
        (status = 408, description = "The body stalled or took too long", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused for a different request", body = ErrorBody),
        (status = 413, description = "The body is over 256 KB, or an input is over a size, duration or resolution limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "An input is not a video or image retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
        (status = 502, description = "A media URL's server failed", body = ErrorBody),
        (status = 504, description = "A media URL's server was too slow", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn modify(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_json(&headers)?;
    let body = read_all(body, "the request body", MAX_JSON_BYTES).await?;
    let request = ModifyVideoRequest::from_json(&body)?;
    let s = svc
        .submit(&key, Surface::Luma, request, idempotency_key(&headers)?)
        .await?;
    let status = if s.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = (status, Json(s.generation)).into_response();
    if s.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Get a generation.
#[utoipa::path(
    get,
    path = "/dream-machine/v1/generations/{id}",
    tag = "luma",
    params(("id" = String, Path, description = "Generation id (a UUID)")),
    responses(
        (status = 200, description = "The generation", body = Generation),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such generation for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Json<Generation>> {
    Ok(Json(svc.get(&key, &id).await?))
}

/// A list's `offset` parameter (default 0): at most `i32::MAX`, as the stores page with it.
pub(crate) fn query_offset(query: &Option<String>) -> Result<u32, ServiceError> {
    let offset = query_u32(query, "offset", 0)?;
    if offset > i32::MAX as u32 {
        return Err(ServiceError::BadRequest(format!(
            "offset is {offset}; use 0 to {}",
            i32::MAX
        )));
    }
    Ok(offset)
}

pub(crate) fn query_u32(
    query: &Option<String>,
    name: &str,
    default: u32,
) -> Result<u32, ServiceError> {
    let Some(q) = query else { return Ok(default) };
    match url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => v.trim().parse::<u32>().map_err(|_| {
            ServiceError::BadRequest(format!("{name} is `{v}`; it must be a whole number ≥ 0"))
        }),
    }
}

/// List generations, newest first.
#[utoipa::path(
    get,
    path = "/dream-machine/v1/generations",
    tag = "luma",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Page size (default 10)"),
        ("offset" = Option<u32>, Query, minimum = 0, maximum = 2147483647, description = "How many to skip"),
    ),
    responses(
        (status = 200, description = "A page", body = GenerationList),
        (status = 400, description = "limit or offset out of range", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn list(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<GenerationList>> {
    let limit = query_u32(&query, "limit", 10)?;
    let offset = query_offset(&query)?;
    Ok(Json(svc.list(&key, limit, offset).await?))
}

/// Delete a generation and its files. A queued or dreaming one is stopped and its credits
/// released (nothing is charged); a completed one's charge stays.
#[utoipa::path(
    delete,
    path = "/dream-machine/v1/generations/{id}",
    tag = "luma",
    params(("id" = String, Path, description = "Generation id (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such generation for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    svc.delete(&key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancel a queued or dreaming generation (a retake extension; the SDKs do not call it).
///
/// It becomes `failed` with a `failure_reason` that says it was cancelled; its credits are
/// released and a worker running it stops.
#[utoipa::path(
    post,
    path = "/dream-machine/v1/generations/{id}/cancel",
    tag = "luma",
    params(("id" = String, Path, description = "Generation id (a UUID)")),
    responses(
        (status = 200, description = "Cancelled", body = Generation),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such generation for this key", body = ErrorBody),
        (status = 409, description = "Already completed or failed", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn cancel(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Json<Generation>> {
    Ok(Json(svc.cancel(&key, &id).await?))
}

/// The key's available credits.
#[utoipa::path(
    get,
    path = "/dream-machine/v1/credits",
    tag = "luma",
    responses(
        (status = 200, description = "Balance", body = CreditBalance),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn credits(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
) -> ApiResult<Json<CreditBalance>> {
    let c = svc.credits(&key.id).await?;
    Ok(Json(CreditBalance {
        credit_balance: c.as_f64(),
    }))
}

/// Liveness check of the Luma surface.
#[utoipa::path(
    get,
    path = "/dream-machine/v1/ping",
    tag = "luma",
    responses((status = 200, description = "Alive", body = Pong))
)]
pub async fn ping() -> Json<Pong> {
    Json(Pong {
        message: "pong".into(),
    })
}

/// Download a completed generation's MP4, with the owner's key or a signed link.
///
/// `assets.video` of a completed generation is such a signed link (`expires`, `sig`); it
/// works without a key until it expires (or the key that made it is revoked). A single
/// `Range` is served as 206, so players can seek.
#[utoipa::path(
    get,
    path = "/dream-machine/v1/generations/{id}/video",
    tag = "luma",
    params(
        ("id" = String, Path, description = "Generation id (a UUID)"),
        ("expires" = Option<i64>, Query, description = "Signed link: expiry, Unix seconds"),
        ("sig" = Option<String>, Query, description = "Signed link: signature"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`, `bytes=1024-` or `bytes=-1024`"),
    ),
    responses(
        (status = 200, description = "The MP4", content_type = "video/mp4", body = Vec<u8>),
        (status = 400, description = "`expires` is not a Unix time", body = ErrorBody),
        (status = 206, description = "The range asked for (Content-Range says which)", content_type = "video/mp4", body = Vec<u8>),
        (status = 416, description = "The range lies outside the file", body = ErrorBody),
        (status = 401, description = "No key and no signed link, or an invalid key", body = ErrorBody),
        (status = 403, description = "The signed link expired or is not valid", body = ErrorBody),
        (status = 404, description = "No such generation, or no video yet", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("api_key" = []))
)]
pub async fn video(
    State(svc): State<Arc<Service>>,
    MaybeCaller(key): MaybeCaller,
    IdPath(id): IdPath,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let params: Vec<(String, String)> = query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let expires = match get("expires") {
        None => None,
        Some(e) => Some(e.trim().parse::<i64>().map_err(|_| {
            ServiceError::BadRequest(format!(
                "expires is `{e}`; it must be the Unix time of a signed link — GET the \
                 generation again for a fresh link"
            ))
        })?),
    };
    let signed = match (expires, get("sig")) {
        (Some(e), Some(s)) => Some((e, s)),
        _ => None,
    };
    let blob = svc.video_blob(&id, key.as_ref(), signed).await?;
    video_response(&svc, &blob, &id, &headers).await
}

/// An MP4 from blob storage as the response, whole or the range `request` asks for.
pub(crate) async fn video_response(
    svc: &Service,
    blob: &str,
    id: &str,
    request: &HeaderMap,
) -> ApiResult<Response> {
    let gone = || ServiceError::NotFound(format!("the video of `{id}` is gone from storage"));
    let source = BlobSource::open(svc.blobs.clone(), blob)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(gone)?;
    ranged_response(&source, request, "video/mp4", id)
        .await
        .map_err(|e| {
            ServiceError::NotFound(format!("the video of `{id}` could not be read ({e})")).into()
        })
}

/// Streams a whole MP4 from blob storage as the response body.
pub(crate) async fn mp4_response(svc: &Service, blob: &str, id: &str) -> ApiResult<Response> {
    video_response(svc, blob, id, &HeaderMap::new()).await
}
