//! The Segmind-compatible surface, for the `segmind` SDK with its base URL pointed here:
//!
//! - `POST /v1/modify-video` (`run_sync`): JSON with URLs or a multipart form with the files;
//!   waits for the result and answers the MP4 itself, with `x-remaining-credits`.
//! - `POST /v2/modify-video`, `GET /v2/requests/{id}/status`, `GET /v2/requests/{id}`
//!   (`run`, `submit_async`): the same request, queued; poll, then fetch the video URL.
//!
//! Both share the Luma surface's generations, so a job is visible from either side.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::{content_type, read_capped, rename_fields, MAX_JSON_BYTES};
use super::error::{ApiError, ErrorBody};
use super::extract::IdPath;
use super::luma::{idempotency_key, mp4_response};
use crate::catalogue::Surface;
use crate::domain::{
    FailureCode, MediaRef, ModeName, ModelName, ModifyVideoRequest, State as GenState,
};
use crate::error::ServiceError;
use crate::service::Service;
use crate::store::KeyRecord;
use crate::uploads::Upload;

type ApiResult<T> = Result<T, ApiError>;

/// Largest JSON body, or text fields of a form, read.
const MAX_FIELDS_BYTES: usize = MAX_JSON_BYTES as usize;

/// The Segmind modify-video request (JSON).
#[derive(Clone, Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmindModifyRequest {
    /// URL of the source clip (MP4 or MOV, H.264), or an upload URL of this server.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1)]
    pub video_url: Option<String>,
    /// URL of the edited first frame (PNG, JPEG or WebP).
    #[serde(default)]
    pub first_frame_url: Option<String>,
    /// What to change.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub prompt: Option<String>,
    /// `adhere_1` … `reimagine_3`; default `adhere_1`.
    #[serde(default)]
    #[schema(value_type = Option<ModeName>)]
    pub mode: Option<String>,
    /// `ray-2` (default) or `ray-flash-2`.
    #[serde(default)]
    #[schema(value_type = Option<ModelName>)]
    pub model: Option<String>,
    /// retake's extension: a built-in look (no model needed), as in the Luma request.
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::LookValue>)]
    pub look: Option<serde_json::Value>,
}

/// The same request as a multipart form, with the files themselves: as Segmind's page shows
/// it, under `video_url` and `first_frame_url` (a part with a filename or a non-text type is
/// a file; a plain text part is a URL), or under `video` and `first_frame`.
#[allow(dead_code)] // documents the form; the handler reads it field by field
#[derive(utoipa::ToSchema)]
pub struct SegmindModifyForm {
    /// The source clip: a file, or its URL as text.
    #[schema(value_type = Option<String>)]
    video_url: Option<String>,
    /// The edited first frame: a file, or its URL as text.
    #[schema(value_type = Option<String>)]
    first_frame_url: Option<String>,
    /// The source clip file (another name for a `video_url` file).
    #[schema(value_type = Option<String>, format = Binary)]
    video: Option<Vec<u8>>,
    /// The edited first frame file (another name for a `first_frame_url` file).
    #[schema(value_type = Option<String>, format = Binary)]
    first_frame: Option<Vec<u8>>,
    /// What to change.
    prompt: Option<String>,
    /// `adhere_1` … `reimagine_3`; default `adhere_1`.
    #[schema(value_type = Option<ModeName>)]
    mode: Option<String>,
    /// `ray-2` (default) or `ray-flash-2`.
    #[schema(value_type = Option<ModelName>)]
    model: Option<String>,
    /// retake's extension: a built-in look's name, or its settings as a JSON object (as
    /// `look` in the JSON request).
    look: Option<String>,
}

/// A v2 request's status (and, once completed, its result).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct V2Status {
    /// The request id (the generation id).
    pub request_id: String,
    /// `QUEUED`, `PROCESSING`, `COMPLETED` or `FAILED`.
    pub status: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// 0–100.
    pub progress: u8,
    /// Once completed: a signed, expiring URL of the MP4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// What `POST /v2/modify-video` answers.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct V2Submitted {
    /// The request id (the generation id).
    pub request_id: String,
    /// `QUEUED`.
    pub status: String,
    /// Poll this for the status.
    pub status_url: String,
    /// Fetch this for the result once completed.
    pub response_url: String,
}

/// Files sent in a form, kept as uploads until the generation has copied them.
struct FormUploads<'a> {
    svc: &'a Service,
    key: &'a KeyRecord,
    uploads: Vec<Upload>,
}

impl FormUploads<'_> {
    async fn remove(self) {
        for u in &self.uploads {
            self.svc.remove_upload(self.key, u).await;
        }
    }
}

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

/// Reads the request as JSON or a multipart form into a modify-video request; files in a form
/// become uploads of the caller, referenced by URL.
async fn read_request<'a>(
    svc: &'a Arc<Service>,
    key: &'a KeyRecord,
    req: Request,
) -> Result<(ModifyVideoRequest, FormUploads<'a>), ServiceError> {
    let mut files = FormUploads {
        svc,
        key,
        uploads: Vec::new(),
    };
    let ct = content_type(req.headers());
    let fields = if ct == "multipart/form-data" {
        match read_form(svc, key, req, &mut files).await {
            Ok(f) => f,
            Err(e) => {
                files.remove().await;
                return Err(e);
            }
        }
    } else if ct.is_empty() || ct == "application/json" || ct.ends_with("+json") {
        let (parts, body) = req.into_parts();
        let body = read_capped(
            &parts.headers,
            body,
            MAX_JSON_BYTES,
            "send the clip as a URL (video_url), or the file itself in a multipart form",
        )
        .await?;
        serde_json::from_slice::<SegmindModifyRequest>(&body).map_err(|e| {
            bad(format!(
                "the body must be a JSON object like {{\"video_url\": \"https://…/clip.mp4\", \
                 \"first_frame_url\": \"https://…/frame.png\", \"mode\": \"flex_1\"}}; it could \
                 not be read: {e}"
            ))
        })?
    } else {
        return Err(ServiceError::UnsupportedMediaType(format!(
            "the body is `{ct}`; send JSON (`application/json`) with video_url, or a \
             `multipart/form-data` form with the `video` file"
        )));
    };
    let Some(video) = fields.video_url.filter(|u| !u.trim().is_empty()) else {
        files.remove().await;
        return Err(bad(
            "video_url is required: the clip's URL, or the clip itself as the `video_url` \
             file of a multipart form",
        ));
    };
    let request = ModifyVideoRequest {
        generation_type: Some(crate::domain::GENERATION_TYPE.into()),
        media: Some(MediaRef { url: Some(video) }),
        first_frame: fields
            .first_frame_url
            .filter(|u| !u.trim().is_empty())
            .map(|u| MediaRef { url: Some(u) }),
        mode: Some(fields.mode.unwrap_or_else(|| "adhere_1".into())),
        model: Some(fields.model.unwrap_or_else(|| "ray-2".into())),
        prompt: fields.prompt,
        callback_url: None,
        look: fields.look,
    };
    Ok((request, files))
}

async fn read_form(
    svc: &Arc<Service>,
    key: &KeyRecord,
    req: Request,
    files: &mut FormUploads<'_>,
) -> Result<SegmindModifyRequest, ServiceError> {
    let form_error = |e: axum::extract::multipart::MultipartError| {
        bad(format!(
            "the multipart form could not be read: {}",
            e.body_text()
        ))
    };
    let mut form = Multipart::from_request(req, svc).await.map_err(|e| {
        bad(format!(
            "the multipart form could not be read: {}",
            e.body_text()
        ))
    })?;
    let mut out = SegmindModifyRequest::default();
    let mut text_bytes = 0usize;
    // Files by input: (field name it came under, upload URL).
    let mut video_file: Option<(String, String)> = None;
    let mut first_frame_file: Option<(String, String)> = None;
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or("").to_string();
        // Segmind's page sends files under the URL fields' names; a part is a file when it
        // says so (a filename, or a type that is not text).
        let is_file = field.file_name().is_some()
            || field
                .content_type()
                .is_some_and(|t| !t.trim().to_ascii_lowercase().starts_with("text/"));
        let input = match name.as_str() {
            "video" => Some(true),
            "first_frame" => Some(false),
            "video_url" if is_file => Some(true),
            "first_frame_url" if is_file => Some(false),
            _ => None,
        };
        if let Some(is_video) = input {
            let slot = if is_video {
                &mut video_file
            } else {
                &mut first_frame_file
            };
            if let Some((earlier, _)) = slot {
                return Err(bad(format!(
                    "the form has two files for the {} (`{earlier}` and `{name}`); send one",
                    if is_video { "clip" } else { "first frame" }
                )));
            }
            let mut w = svc.begin_upload(key).await?;
            while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                w.write(&chunk).await?;
            }
            let upload = w.finish(svc).await.map_err(|e| match e {
                ServiceError::BadRequest(_) => bad(format!("the `{name}` file is empty")),
                other => other,
            })?;
            *slot = Some((name, upload.url.clone()));
            files.uploads.push(upload);
            continue;
        }
        match name.as_str() {
            "look" => {
                let value = field.text().await.map_err(form_error)?;
                text_bytes += value.len();
                if text_bytes > MAX_FIELDS_BYTES {
                    return Err(ServiceError::TooLarge(
                        "the form's text fields are over 256 KB".into(),
                    ));
                }
                // A look's name, or its JSON object.
                out.look = Some(if value.trim_start().starts_with('{') {
                    serde_json::from_str(&value)
                        .map_err(|e| bad(format!("the `look` field is not valid JSON: {e}")))?
                } else {
                    serde_json::Value::String(value)
                });
            }
            "video_url" | "first_frame_url" | "prompt" | "mode" | "model" => {
                let value = field.text().await.map_err(form_error)?;
                text_bytes += value.len();
                if text_bytes > MAX_FIELDS_BYTES {
                    return Err(ServiceError::TooLarge(
                        "the form's text fields are over 256 KB; send files as file parts \
                         (with a filename), such as curl's -F \"video_url=@clip.mp4\""
                            .into(),
                    ));
                }
                let slot = match name.as_str() {
                    "video_url" => &mut out.video_url,
                    "first_frame_url" => &mut out.first_frame_url,
                    "prompt" => &mut out.prompt,
                    "mode" => &mut out.mode,
                    _ => &mut out.model,
                };
                *slot = Some(value);
            }
            // Other fields the SDK may forward are ignored, like the JSON form ignores them.
            _ => while field.chunk().await.map_err(form_error)?.is_some() {},
        }
    }
    // A file wins over a URL of the same input.
    if let Some((_, url)) = video_file {
        out.video_url = Some(url);
    }
    if let Some((_, url)) = first_frame_file {
        out.first_frame_url = Some(url);
    }
    Ok(out)
}

/// Creates the generation; form files are removed once copied into it.
async fn submit(
    svc: &Arc<Service>,
    key: &KeyRecord,
    req: Request,
) -> Result<crate::service::Submission, ServiceError> {
    let idem = idempotency_key(req.headers())?.map(str::to_string);
    let (request, files) = read_request(svc, key, req).await?;
    let result = svc
        .submit(key, Surface::Luma, request, idem.as_deref())
        .await;
    files.remove().await;
    result
}

/// Cancels the generation if the synchronous request is dropped (the client went away)
/// before it settled, so nobody pays for a video no one will receive.
struct CancelOnDrop {
    svc: Arc<Service>,
    key_id: String,
    id: String,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (svc, key_id, id) = (self.svc.clone(), self.key_id.clone(), self.id.clone());
        tokio::spawn(async move {
            let _ = svc
                .cancel_as(
                    &key_id,
                    &id,
                    "the client of the synchronous request disconnected before the result was \
                     ready; no credits were charged",
                    FailureCode::Cancelled,
                )
                .await;
        });
    }
}

fn failure_error(code: Option<FailureCode>, reason: String) -> ServiceError {
    match code {
        Some(FailureCode::Input) => ServiceError::UnreadableMedia(reason),
        Some(FailureCode::Unavailable) => ServiceError::Unavailable(reason),
        Some(FailureCode::Cancelled) => ServiceError::Conflict(reason),
        Some(FailureCode::Timeout) => ServiceError::Timeout(reason),
        _ => ServiceError::ProcessingFailed(reason),
    }
}

/// Modify a video and wait for it: answers the MP4 (Segmind's synchronous API).
///
/// The wait is capped by the server's `sync_timeout`; past it the generation is cancelled
/// (not charged) and the answer is 504. If the client disconnects first, likewise.
#[utoipa::path(
    post,
    path = "/v1/modify-video",
    tag = "segmind",
    request_body(content(
        (SegmindModifyRequest = "application/json"),
        (SegmindModifyForm = "multipart/form-data"),
    )),
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Makes retries of this create safe: 1–255 visible ASCII characters"),
    ),
    responses(
        (status = 200, description = "The modified clip", content_type = "video/mp4", body = Vec<u8>,
            headers(
                ("x-remaining-credits" = String, description = "Credits left after this charge"),
                ("x-generation-id" = String, description = "The generation, also visible under /dream-machine/v1"),
            )),
        (status = 400, description = "A parameter is missing or wrong", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 402, description = "Not enough credits", body = ErrorBody),
        (status = 409, description = "Cancelled, or Idempotency-Key reused for another request", body = ErrorBody),
        (status = 413, description = "An input is over a limit", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor a multipart form", body = ErrorBody),
        (status = 422, description = "An input is not a video or image retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Processing failed, or a server fault", body = ErrorBody),
        (status = 501, description = "This server cannot do the request (e.g. prompt only)", body = ErrorBody),
        (status = 502, description = "A media URL's server failed", body = ErrorBody),
        (status = 504, description = "The result took longer than the server's sync_timeout", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn modify_video_sync(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    req: Request,
) -> ApiResult<Response> {
    let sub = submit(&svc, &key, req).await?;
    let mut guard = CancelOnDrop {
        svc: svc.clone(),
        key_id: key.id.clone(),
        id: sub.id.clone(),
        armed: true,
    };
    let timeout = svc.config.sync_timeout;
    let settled = svc
        .wait_settled(&key.id, &sub.id, Instant::now() + timeout)
        .await;
    guard.armed = false;
    let g = match settled? {
        Some(g) => g,
        None => {
            let reason = format!(
                "the result was not ready within {} (the server's sync_timeout); the generation \
                 was cancelled and not charged — send a shorter or smaller clip, use the \
                 asynchronous API (POST /v2/modify-video), or ask the operator to raise \
                 `sync_timeout`",
                humantime::format_duration(timeout)
            );
            return match svc
                .cancel_as(&key.id, &sub.id, &reason, FailureCode::Timeout)
                .await
            {
                Ok(_) => Err(ServiceError::Timeout(reason).into()),
                // It finished in the moment between: serve it after all.
                Err(ServiceError::Conflict(_)) => {
                    match svc.store.generation(&key.id, &sub.id).await? {
                        Some(g) => respond_settled(&svc, g).await,
                        None => Err(ServiceError::Timeout(reason).into()),
                    }
                }
                Err(e) => Err(e.into()),
            };
        }
    };
    respond_settled(&svc, g).await
}

async fn respond_settled(
    svc: &Arc<Service>,
    g: crate::store::GenerationRecord,
) -> ApiResult<Response> {
    match (&g.state, &g.output_blob) {
        (GenState::Completed, Some(blob)) => {
            let mut resp = mp4_response(svc, blob, &g.id).await?;
            if let Ok(v) = HeaderValue::from_str(&g.id) {
                resp.headers_mut().insert("x-generation-id", v);
            }
            Ok(resp)
        }
        _ => Err(failure_error(
            g.failure_code,
            g.failure_reason
                .unwrap_or_else(|| "the generation failed without a reason".into()),
        )
        .into()),
    }
}

/// Queue a modify-video request (Segmind's asynchronous v2 API, the SDK's default `run`).
#[utoipa::path(
    post,
    path = "/v2/modify-video",
    tag = "segmind",
    request_body(content(
        (SegmindModifyRequest = "application/json"),
        (SegmindModifyForm = "multipart/form-data"),
    )),
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Makes retries of this create safe: 1–255 visible ASCII characters"),
    ),
    responses(
        (status = 200, description = "Queued", body = V2Submitted),
        (status = 400, description = "A parameter is missing or wrong", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 402, description = "Not enough credits", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused for another request", body = ErrorBody),
        (status = 413, description = "An input is over a limit", body = ErrorBody),
        (status = 415, description = "The body is neither JSON nor a multipart form", body = ErrorBody),
        (status = 422, description = "An input is not a video or image retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
        (status = 502, description = "A media URL's server failed", body = ErrorBody),
        (status = 504, description = "A media URL's server was too slow", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn modify_video_async(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    req: Request,
) -> ApiResult<Json<V2Submitted>> {
    let sub = submit(&svc, &key, req).await?;
    let base = format!("{}/v2/requests/{}", svc.base_url, sub.id);
    Ok(Json(V2Submitted {
        request_id: sub.id,
        status: "QUEUED".into(),
        status_url: format!("{base}/status"),
        response_url: base,
    }))
}

async fn v2_status(svc: &Service, key: &KeyRecord, id: &str) -> ApiResult<Response> {
    let g = svc.get(key, id).await?;
    let (status, http) = match g.state {
        GenState::Queued => ("QUEUED", StatusCode::OK),
        GenState::Dreaming => ("PROCESSING", StatusCode::OK),
        GenState::Completed => ("COMPLETED", StatusCode::OK),
        // Segmind answers a failed request's status with 422; its SDK reads the body anyway.
        GenState::Failed => ("FAILED", StatusCode::UNPROCESSABLE_ENTITY),
    };
    let body = V2Status {
        request_id: g.id,
        status: status.into(),
        error: g.failure_reason,
        progress: g.progress,
        output: g.assets.video,
    };
    Ok((http, Json(body)).into_response())
}

/// A v2 request's status.
#[utoipa::path(
    get,
    path = "/v2/requests/{id}/status",
    tag = "segmind",
    params(("id" = String, Path, description = "request_id from the submit")),
    responses(
        (status = 200, description = "Queued, processing or completed", body = V2Status),
        (status = 422, description = "Failed; `error` says why", body = V2Status),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such request for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn request_status(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    v2_status(&svc, &key, &id).await
}

/// A v2 request's result: the status and, once completed, `output` (the video's URL).
#[utoipa::path(
    get,
    path = "/v2/requests/{id}",
    tag = "segmind",
    params(("id" = String, Path, description = "request_id from the submit")),
    responses(
        (status = 200, description = "The result so far", body = V2Status),
        (status = 422, description = "Failed; `error` says why", body = V2Status),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such request for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn request_result(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    v2_status(&svc, &key, &id).await
}

/// Rewrites error bodies of the Segmind routes the way its SDK reads them: `error` beside
/// `detail`, and our field names (`media.url`) in theirs (`video_url`).
pub async fn segmind_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    rename_fields(
        resp,
        &[
            ("first_frame.url", "first_frame_url"),
            ("media.url", "video_url"),
        ],
        true,
    )
    .await
}
