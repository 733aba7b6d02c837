//! Uploads: `POST /v1/uploads` takes the raw file as the body and answers a URL usable as
//! `media.url` or `first_frame.url` (or Segmind's `video_url`) by the same key; list, get
//! and delete them like generations. They are deleted `upload_ttl` after upload.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use futures_util::StreamExt;

use super::auth::Caller;
use super::body::{read_error, BodyCap};
use super::error::{ApiError, ErrorBody};
use super::extract::IdPath;
use super::luma::{query_offset, query_u32};
use crate::service::Service;
use crate::uploads::{Upload, UploadList};

/// The cap on an upload's body.
pub fn cap(svc: &Service) -> BodyCap {
    BodyCap {
        limit: svc.config.max_bytes,
        what: "the upload",
        setting: Some("max_bytes"),
    }
}

/// Upload a clip or image; use the answered `url` in a create request of the same key.
#[utoipa::path(
    post,
    path = "/v1/uploads",
    tag = "uploads",
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file's bytes"),
    responses(
        (status = 201, description = "Stored", body = Upload),
        (status = 400, description = "Empty or cut-off body", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 408, description = "The body stalled or took too long", body = ErrorBody),
        (status = 413, description = "Over the byte limit (refused from Content-Length before the body is read)", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn upload(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    body: Body,
) -> Result<(StatusCode, Json<Upload>), ApiError> {
    let mut writer = svc.begin_upload(&key).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| read_error("the upload", &e, Some(cap(&svc))))?;
        writer.write(&chunk).await?;
    }
    let upload = writer.finish(&svc).await?;
    Ok((StatusCode::CREATED, Json(upload)))
}

/// List this key's uploads, newest first.
#[utoipa::path(
    get,
    path = "/v1/uploads",
    tag = "uploads",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Page size (default 10)"),
        ("offset" = Option<u32>, Query, minimum = 0, maximum = 2147483647, description = "How many to skip"),
    ),
    responses(
        (status = 200, description = "A page", body = UploadList),
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
) -> Result<Json<UploadList>, ApiError> {
    let limit = query_u32(&query, "limit", 10)?;
    let offset = query_offset(&query)?;
    Ok(Json(svc.list_uploads(&key, limit, offset).await?))
}

/// One upload of this key's.
#[utoipa::path(
    get,
    path = "/v1/uploads/{upload_id}",
    tag = "uploads",
    params(("upload_id" = String, Path, description = "Upload id (a UUID)")),
    responses(
        (status = 200, description = "The upload", body = Upload),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such upload for this key (or it expired)", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> Result<Json<Upload>, ApiError> {
    Ok(Json(svc.get_upload(&key, &id).await?))
}

/// Delete an upload now (generations made from it keep their own copy).
#[utoipa::path(
    delete,
    path = "/v1/uploads/{upload_id}",
    tag = "uploads",
    params(("upload_id" = String, Path, description = "Upload id (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such upload for this key (or it expired)", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn delete(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    svc.delete_upload(&key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
