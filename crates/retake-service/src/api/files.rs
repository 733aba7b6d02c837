//! The Files API under `/agents/v1/files`, as the `luma-agents` SDK calls it: a multipart
//! create with the bytes inline, or a JSON create answering a signed PUT link, then
//! `complete`; get, list and delete.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::Json;
use futures_util::StreamExt;

use super::auth::Caller;
use super::body::{content_type, read_capped, MAX_JSON_BYTES};
use super::error::{ApiError, ErrorBody};
use super::luma::query_u32;
use crate::domain::{
    CreateFileRequest, CreateFileResponse, FileList, FileObject, FilePurpose, FileState,
};
use crate::error::ServiceError;
use crate::service::Service;
use crate::store::UploadFilter;

type ApiResult<T> = Result<T, ApiError>;

/// Most bytes of a multipart create's text fields together.
const MAX_FIELDS_BYTES: usize = 64 * 1024;

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

fn query_value(query: &Option<String>, name: &str) -> Option<String> {
    let q = query.as_deref()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Upload a file to this key's namespace (two modes, by `Content-Type`).
///
/// `multipart/form-data`: the bytes in the `file` part with `mime_type` (and optionally
/// `size_bytes`, `purpose`, `filename`, `user_id`, `expires_at`) as text parts; the file is
/// checked at once and answered `ready` (`upload` is null). `application/json`
/// ([`CreateFileRequest`]): answers a `pending` file and `upload`, a signed URL to PUT exactly
/// `size_bytes` bytes to; then `POST /agents/v1/files/{id}/complete`. A file works as a
/// `file_id` (source or keyframe) for this key only.
#[utoipa::path(
    post,
    path = "/agents/v1/files",
    tag = "agents",
    request_body(content = CreateFileRequest, description = "JSON for a presigned upload; or a multipart form with the same fields as text parts and the bytes in `file`"),
    responses(
        (status = 201, description = "Created (ready for a multipart create, pending with `upload` for a JSON one)", body = CreateFileResponse),
        (status = 400, description = "A field is missing or wrong (the message names it)", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 413, description = "Over the size limit for the type", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor a multipart form", body = ErrorBody),
        (status = 422, description = "The bytes are not an image or clip retake can read, or not of the declared type", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn create(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    req: Request,
) -> ApiResult<(StatusCode, Json<CreateFileResponse>)> {
    let ct = content_type(req.headers());
    let created = if ct == "multipart/form-data" {
        let mut form = Multipart::from_request(req, &svc).await.map_err(|e| {
            bad(format!(
                "the multipart form could not be read: {}",
                e.body_text()
            ))
        })?;
        let form_error = |e: axum::extract::multipart::MultipartError| {
            bad(format!(
                "the multipart form could not be read: {}",
                e.body_text()
            ))
        };
        let mut fields = CreateFileRequest::default();
        let mut bytes = None;
        let mut text = 0usize;
        while let Some(mut field) = form.next_field().await.map_err(form_error)? {
            let name = field.name().unwrap_or("").to_string();
            if name == "file" {
                if bytes.is_some() {
                    return Err(
                        bad("the form has two `file` parts; send one file per create").into(),
                    );
                }
                let mut w = svc.begin_file().await?;
                while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                    w.write(&chunk).await?;
                }
                bytes = Some(w);
                continue;
            }
            let slot = match name.as_str() {
                "mime_type" => &mut fields.mime_type,
                "purpose" => &mut fields.purpose,
                "filename" => &mut fields.filename,
                "user_id" => &mut fields.user_id,
                "expires_at" => &mut fields.expires_at,
                "size_bytes" => {
                    let v = field.text().await.map_err(form_error)?;
                    text += v.len();
                    fields.size_bytes = Some(v.trim().parse().map_err(|_| {
                        bad(format!(
                            "size_bytes `{}` is not a whole number of bytes",
                            v.chars().take(30).collect::<String>()
                        ))
                    })?);
                    continue;
                }
                // Other parts a client may add are read and ignored, as JSON ignores nothing
                // but a form cannot say which parts it means.
                _ => {
                    while field.chunk().await.map_err(form_error)?.is_some() {}
                    continue;
                }
            };
            let v = field.text().await.map_err(form_error)?;
            text += v.len();
            *slot = Some(v);
            if text > MAX_FIELDS_BYTES {
                return Err(ServiceError::TooLarge(
                    "the form's text parts are over 64 KB; the bytes go in the `file` part".into(),
                )
                .into());
            }
        }
        svc.create_file_inline(&key, fields, bytes).await?
    } else if ct.is_empty() || ct == "application/json" || ct.ends_with("+json") {
        let (parts, body) = req.into_parts();
        let body = read_capped(
            &parts.headers,
            body,
            MAX_JSON_BYTES,
            "a presigned create is a small JSON object; the bytes go to its upload URL",
        )
        .await?;
        let fields: CreateFileRequest = serde_json::from_slice(&body).map_err(|e| {
            bad(format!(
                "the body must be a JSON object like {{\"mime_type\": \"video/mp4\", \
                 \"size_bytes\": 123456}}; it could not be read: {e}"
            ))
        })?;
        svc.create_file_presigned(&key, fields).await?
    } else {
        return Err(ServiceError::UnsupportedMediaType(format!(
            "the body is declared as `{ct}`; send a multipart form with the bytes in `file`, or \
             JSON to get an upload URL"
        ))
        .into());
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// The bytes of a presigned upload: exactly `size_bytes` of them, to the signed `upload.url`
/// (no API key; the link is for this one file and expires after `link_ttl`).
#[utoipa::path(
    put,
    path = "/agents/v1/files/{id}/content",
    tag = "agents",
    params(
        ("id" = String, Path, description = "File id"),
        ("key" = String, Query, description = "From the upload URL"),
        ("expires" = i64, Query, description = "From the upload URL"),
        ("sig" = String, Query, description = "From the upload URL"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 200, description = "Stored; now POST /agents/v1/files/{id}/complete"),
        (status = 400, description = "Not exactly `size_bytes` bytes", body = ErrorBody),
        (status = 403, description = "The link is not valid or has expired", body = ErrorBody),
        (status = 404, description = "No such file", body = ErrorBody),
        (status = 409, description = "The file is already completed", body = ErrorBody),
        (status = 413, description = "More than `size_bytes` bytes", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    )
)]
pub async fn put_content(
    State(svc): State<Arc<Service>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> ApiResult<StatusCode> {
    let key = query_value(&query, "key").unwrap_or_default();
    let expires = query_value(&query, "expires")
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    let sig = query_value(&query, "sig").unwrap_or_default();
    let file = svc.file_for_put(&key, &id, expires, &sig).await?;
    let mut w = svc.begin_put(file.bytes).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad(format!("the upload was cut off: {e}")))?;
        w.write(&chunk).await?;
    }
    svc.finish_put(&file, w).await?;
    Ok(StatusCode::OK)
}

/// Finish a presigned upload: checks the bytes PUT to its URL (`pending` → `ready`, or
/// `failed` with `failure_reason`). A file already checked is answered as it is.
#[utoipa::path(
    post,
    path = "/agents/v1/files/{id}/complete",
    tag = "agents",
    params(("id" = String, Path, description = "File id")),
    responses(
        (status = 200, description = "The file, ready or failed", body = FileObject),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such file for this key", body = ErrorBody),
        (status = 409, description = "Nothing was PUT to its upload URL yet", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn complete(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FileObject>> {
    Ok(Json(svc.complete_file(&key, &id).await?))
}

/// A file of this key's.
#[utoipa::path(
    get,
    path = "/agents/v1/files/{id}",
    tag = "agents",
    params(("id" = String, Path, description = "File id")),
    responses(
        (status = 200, description = "The file", body = FileObject),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such file for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn get(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FileObject>> {
    Ok(Json(svc.get_file(&key, &id).await?))
}

/// This key's files, newest first (uploads of `/v1/uploads` too: they are the same records).
#[utoipa::path(
    get,
    path = "/agents/v1/files",
    tag = "agents",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size (default 25)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before"),
        ("purpose" = Option<FilePurpose>, Query, description = "Only files of this purpose"),
        ("state" = Option<FileState>, Query, description = "Only files in this state"),
    ),
    responses(
        (status = 200, description = "A page", body = FileList),
        (status = 400, description = "A bad limit, cursor, purpose or state", body = ErrorBody),
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
) -> ApiResult<Json<FileList>> {
    let limit = query_u32(&query, "limit", 25)?;
    let purpose = match query_value(&query, "purpose") {
        None => None,
        Some(p) => Some(FilePurpose::parse(&p).ok_or_else(|| {
            bad(format!(
                "purpose `{}` is unknown; use input or reference",
                p.chars().take(30).collect::<String>()
            ))
        })?),
    };
    let state = match query_value(&query, "state") {
        None => None,
        Some(s) => Some(FileState::parse(s.trim()).ok_or_else(|| {
            bad(format!(
                "state `{}` is unknown; use pending, ready or failed",
                s.chars().take(30).collect::<String>()
            ))
        })?),
    };
    let cursor = query_value(&query, "cursor");
    let filter = UploadFilter { purpose, state };
    Ok(Json(
        svc.list_files(&key, filter, limit, cursor.as_deref())
            .await?,
    ))
}

/// Delete a file (generations made from it keep their own copy).
#[utoipa::path(
    delete,
    path = "/agents/v1/files/{id}",
    tag = "agents",
    params(("id" = String, Path, description = "File id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such file for this key", body = ErrorBody),
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
    svc.delete_file(&key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
