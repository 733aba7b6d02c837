//! `POST /v1/uploads`: the raw file as the body; answers a URL usable as `media.url` or
//! `first_frame.url` (or Segmind's `video_url`) by the same key.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use futures_util::StreamExt;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use crate::error::ServiceError;
use crate::service::Service;
use crate::uploads::Upload;

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
        (status = 413, description = "Over the byte limit", body = ErrorBody),
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
        let chunk =
            chunk.map_err(|e| ServiceError::BadRequest(format!("the upload was cut off: {e}")))?;
        writer.write(&chunk).await?;
    }
    let upload = writer.finish(svc.blobs.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(upload)))
}
