//! Luma's current API as the `luma-agents` SDK calls it, under `/agents/v1` (the SDK's
//! `base_url` is `http://HOST:PORT/agents/v1`): video edits with keyframes at any frame and
//! output resolution tiers, and the Files API. Generations made here are generations like
//! any other: visible under `/dream-machine/v1` and `/api/v1/tasks` with the same key.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Caller;
use super::body::read_capped;
use super::error::{ApiError, ErrorBody};
use super::luma::{idempotency_key, query_u32, require_json};
use crate::domain::{EditGeneration, EditGenerationList, EditRequest};
use crate::service::Service;

type ApiResult<T> = Result<T, ApiError>;

/// The largest create body: the source clip inline as base64 (`max_bytes`, a third larger
/// in base64) and a megabyte for the rest.
pub fn max_create_body(svc: &Service) -> u64 {
    let inline = svc.config.max_bytes.saturating_mul(4) / 3;
    inline.saturating_add(1 << 20)
}

/// Create a video edit (`type: "video_edit"`, model `ray-3.2`).
///
/// Fetches and checks the source and keyframes, reserves the price (per second of output at
/// its resolution tier) and queues the edit; poll `GET /agents/v1/generations/{id}` until
/// `state` is `completed` (then `output[0].url`) or `failed` (then `failure_code` and
/// `failure_reason`, and nothing is charged). With an `Idempotency-Key` this key used before
/// for the same request, answers 200 with the generation made then.
#[utoipa::path(
    post,
    path = "/agents/v1/generations",
    tag = "agents",
    request_body = EditRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Makes retries of this create safe: 1–255 visible ASCII characters"),
    ),
    responses(
        (status = 201, description = "Queued", body = EditGeneration),
        (status = 200, description = "Replay of an earlier create with the same Idempotency-Key", body = EditGeneration),
        (status = 400, description = "A field is missing or wrong (the message names it), a reference is not this key's, or a URL may not be fetched", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 402, description = "Not enough credits for the price", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused for a different request", body = ErrorBody),
        (status = 413, description = "The body, or an input, is over a limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "An input is not a video or image retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
        (status = 502, description = "A media URL's server failed", body = ErrorBody),
        (status = 504, description = "A media URL's server was too slow", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn create(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    require_json(&parts.headers)?;
    let body = read_capped(
        &parts.headers,
        body,
        max_create_body(&svc),
        "send large files through the Files API (POST /agents/v1/files) or as URLs",
    )
    .await?;
    let request = EditRequest::from_json(&body)?;
    drop(body);
    let s = svc
        .submit_edit(&key, request, idempotency_key(&parts.headers)?)
        .await?;
    let status = if s.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = (status, Json(svc.edit_view(&s.record))).into_response();
    if s.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Get a generation (any of this key's, whichever API made it).
#[utoipa::path(
    get,
    path = "/agents/v1/generations/{id}",
    tag = "agents",
    params(("id" = String, Path, description = "Generation id (a UUID)")),
    responses(
        (status = 200, description = "The generation", body = EditGeneration),
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
    Path(id): Path<String>,
) -> ApiResult<Json<EditGeneration>> {
    Ok(Json(svc.edit(&key, &id).await?))
}

/// List this key's generations, newest first (retake's extension; the SDK does not call it).
#[utoipa::path(
    get,
    path = "/agents/v1/generations",
    tag = "agents",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size (default 25)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before"),
    ),
    responses(
        (status = 200, description = "A page", body = EditGenerationList),
        (status = 400, description = "limit out of range, or a cursor this server did not give", body = ErrorBody),
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
) -> ApiResult<Json<EditGenerationList>> {
    let limit = query_u32(&query, "limit", 25)?;
    let cursor = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "cursor")
            .map(|(_, v)| v.into_owned())
    });
    Ok(Json(svc.list_edits(&key, limit, cursor.as_deref()).await?))
}

/// Delete a generation and its files (a running one is stopped; a charge stays). retake's
/// extension.
#[utoipa::path(
    delete,
    path = "/agents/v1/generations/{id}",
    tag = "agents",
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
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    svc.delete(&key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancel a queued or processing generation: it fails with a reason saying so, and its
/// credits are released. retake's extension.
#[utoipa::path(
    post,
    path = "/agents/v1/generations/{id}/cancel",
    tag = "agents",
    params(("id" = String, Path, description = "Generation id (a UUID)")),
    responses(
        (status = 200, description = "Cancelled", body = EditGeneration),
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
    Path(id): Path<String>,
) -> ApiResult<Json<EditGeneration>> {
    Ok(Json(svc.cancel_edit(&key, &id).await?))
}
