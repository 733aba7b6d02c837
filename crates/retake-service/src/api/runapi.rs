//! The RunAPI-compatible surface: `POST /api/v1/luma/modify_video` queues a task (model
//! `luma-modify-video`, billed per call); a task is read, cancelled and deleted under
//! `/api/v1/tasks/{task_id}`, and the same under `/api/v1/luma/modify_video/{task_id}`.
//!
//! Tasks are generations: one made here is visible under `/dream-machine/v1` with the same key,
//! and any generation of the key can be read here as a task.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::Caller;
use super::body::{read_capped, rename_fields, MAX_JSON_BYTES};
use super::error::{ApiError, ErrorBody};
use super::luma::{idempotency_key, require_json};
use crate::domain::{Task, TaskRequest};
use crate::service::Service;

type ApiResult<T> = Result<T, ApiError>;

/// Create a modify-video task (RunAPI's `luma-modify-video`).
///
/// Fetches and checks the inputs, reserves the model's per-call price and queues the task;
/// poll `poll_url` until `status` is `completed` (then `output.video_url`) or `failed` (then
/// `error`, and nothing is charged). With an `Idempotency-Key` this key used before for the
/// same request, answers the task made then (header `idempotent-replayed: true`).
#[utoipa::path(
    post,
    path = "/api/v1/luma/modify_video",
    tag = "runapi",
    request_body = TaskRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Makes retries of this create safe: 1–255 visible ASCII characters"),
    ),
    responses(
        (status = 200, description = "Queued (or the replay of an earlier create with the same Idempotency-Key)", body = Task),
        (status = 400, description = "A parameter is missing or wrong, or a URL may not be fetched", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 402, description = "Not enough credits for the model's price", body = ErrorBody),
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
pub async fn modify(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    require_json(&parts.headers)?;
    let body = read_capped(
        &parts.headers,
        body,
        MAX_JSON_BYTES,
        "send the media as URLs (upload files with POST /v1/uploads first)",
    )
    .await?;
    let request = TaskRequest::from_json(&body)?;
    let s = svc
        .submit_task(&key, request, idempotency_key(&parts.headers)?)
        .await?;
    let mut resp = Json(s.task).into_response();
    if s.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

async fn get(svc: &Service, key: &crate::store::KeyRecord, id: &str) -> ApiResult<Json<Task>> {
    Ok(Json(svc.task(key, id).await?))
}

async fn cancel(svc: &Service, key: &crate::store::KeyRecord, id: &str) -> ApiResult<Json<Task>> {
    Ok(Json(svc.cancel_task(key, id).await?))
}

async fn delete(svc: &Service, key: &crate::store::KeyRecord, id: &str) -> ApiResult<StatusCode> {
    svc.delete(key, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get a task: its status, progress, error or output video, cost and times.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{task_id}",
    tag = "runapi",
    params(("task_id" = String, Path, description = "task_id from the create (a UUID)")),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such task for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get_task(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Task>> {
    get(&svc, &key, &task_id).await
}

/// Get a task (the same as `GET /api/v1/tasks/{task_id}`).
#[utoipa::path(
    get,
    path = "/api/v1/luma/modify_video/{task_id}",
    tag = "runapi",
    params(("task_id" = String, Path, description = "task_id from the create (a UUID)")),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such task for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get_modify_task(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Task>> {
    get(&svc, &key, &task_id).await
}

/// Cancel a pending or processing task: it fails with an error saying so, and its credits are
/// released.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{task_id}/cancel",
    tag = "runapi",
    params(("task_id" = String, Path, description = "task_id from the create (a UUID)")),
    responses(
        (status = 200, description = "Cancelled", body = Task),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such task for this key", body = ErrorBody),
        (status = 409, description = "Already completed or failed", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn cancel_task(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Task>> {
    cancel(&svc, &key, &task_id).await
}

/// Cancel a task (the same as `POST /api/v1/tasks/{task_id}/cancel`).
#[utoipa::path(
    post,
    path = "/api/v1/luma/modify_video/{task_id}/cancel",
    tag = "runapi",
    params(("task_id" = String, Path, description = "task_id from the create (a UUID)")),
    responses(
        (status = 200, description = "Cancelled", body = Task),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such task for this key", body = ErrorBody),
        (status = 409, description = "Already completed or failed", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn cancel_modify_task(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Task>> {
    cancel(&svc, &key, &task_id).await
}

/// Delete a task and its files (a running one is stopped; a charge is not refunded).
#[utoipa::path(
    delete,
    path = "/api/v1/tasks/{task_id}",
    tag = "runapi",
    params(("task_id" = String, Path, description = "task_id from the create (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such task for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete_task(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(task_id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&svc, &key, &task_id).await
}

/// Delete a task (the same as `DELETE /api/v1/tasks/{task_id}`).
#[utoipa::path(
    delete,
    path = "/api/v1/luma/modify_video/{task_id}",
    tag = "runapi",
    params(("task_id" = String, Path, description = "task_id from the create (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such task for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete_modify_task(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(task_id): Path<String>,
) -> ApiResult<StatusCode> {
    delete(&svc, &key, &task_id).await
}

/// Error bodies of this surface name its own fields (`source_video_url`, not `media.url`).
pub async fn runapi_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    rename_fields(
        resp,
        &[
            ("first_frame.url", "first_frame_url"),
            ("media.url", "source_video_url"),
        ],
        false,
    )
    .await
}
