//! retake's own routes that the studio needs and the SDK surfaces lack (usable by anyone with
//! a key): frames of an uploaded clip, an upload's bytes, a look's preview, a price quote and
//! a generation's progress as server-sent events. All take the key in a header, never in the
//! URL.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::agents::max_create_body;
use super::auth::Caller;
use super::body::{read_capped, MAX_JSON_BYTES};
use super::error::{ApiError, ErrorBody};
use super::extract::IdPath;
use super::luma::{query_u32, require_json};
use super::video::{ranged_response, BlobSource};
use crate::domain::Generation;
use crate::error::ServiceError;
use crate::frames::{FrameStrip, PreviewRequest};
use crate::service::{Quote, QuoteRequest, Service};

type ApiResult<T> = Result<T, ApiError>;

/// How often the event stream reports a generation.
pub const EVENT_EVERY: Duration = Duration::from_millis(500);

fn png(bytes: Vec<u8>) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, "image/png")], bytes).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

/// The frames of an uploaded clip: how many there are, and evenly spaced thumbnails.
#[utoipa::path(
    get,
    path = "/v1/uploads/{upload_id}/frames",
    tag = "studio",
    params(
        ("upload_id" = String, Path, description = "Upload id of a clip (a UUID)"),
        ("count" = Option<u32>, Query, minimum = 1, maximum = 60, description = "How many thumbnails (default 12)"),
        ("width" = Option<u32>, Query, minimum = 16, maximum = 320, description = "Thumbnail width, pixels (default 160)"),
    ),
    responses(
        (status = 200, description = "Frame numbers and thumbnails", body = FrameStrip),
        (status = 400, description = "count or width out of range, or the upload is an image", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such upload for this key (or it expired)", body = ErrorBody),
        (status = 413, description = "The clip is over a size, duration or resolution limit", body = ErrorBody),
        (status = 422, description = "The upload is not a clip retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn frames(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<FrameStrip>> {
    let count = query_u32(&query, "count", 12)?;
    let width = query_u32(&query, "width", 160)?;
    Ok(Json(svc.frame_strip(&key, &id, count, width).await?))
}

/// One frame of an uploaded clip as a PNG at the output size: the image to edit and send
/// back as a keyframe (`video.edit.keyframes` with `keyframe_indexes: [n]`, or the first
/// frame for `n` = 0).
#[utoipa::path(
    get,
    path = "/v1/uploads/{upload_id}/frames/{n}",
    tag = "studio",
    params(
        ("upload_id" = String, Path, description = "Upload id of a clip (a UUID)"),
        ("n" = String, Path, description = "Source frame, from 0 (as `keyframe_indexes` counts)"),
    ),
    responses(
        (status = 200, description = "The frame", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "Not a frame number, past the last frame, or the upload is an image", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such upload for this key (or it expired)", body = ErrorBody),
        (status = 413, description = "The clip is over a size, duration or resolution limit", body = ErrorBody),
        (status = 422, description = "The upload is not a clip retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn frame(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
    params: RawPathParams,
) -> ApiResult<Response> {
    let n = params
        .iter()
        .find(|(k, _)| *k == "n")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    Ok(png(svc.upload_frame(&key, &id, &n).await?))
}

/// An upload's bytes (whole or one range), e.g. to play a clip again after a page reload.
#[utoipa::path(
    get,
    path = "/v1/uploads/{upload_id}/content",
    tag = "uploads",
    params(
        ("upload_id" = String, Path, description = "Upload id (a UUID)"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`"),
    ),
    responses(
        (status = 200, description = "The file, with the type its content shows", content((Vec<u8> = "video/mp4"), (Vec<u8> = "video/quicktime"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "application/octet-stream"))),
        (status = 206, description = "The range asked for", content((Vec<u8> = "video/mp4"), (Vec<u8> = "video/quicktime"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (Vec<u8> = "application/octet-stream"))),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such upload for this key (or it expired)", body = ErrorBody),
        (status = 416, description = "The range lies outside the file", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn content(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let record = svc.upload_record(&key, &id).await?;
    let gone = || ServiceError::NotFound(format!("the file of upload `{id}` is gone"));
    let source = BlobSource::open(svc.blobs.clone(), &record.blob)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(gone)?;
    let kind = match record.content_type.as_str() {
        "video/mp4" => "video/mp4",
        "video/quicktime" => "video/quicktime",
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/webp" => "image/webp",
        _ => "application/octet-stream",
    };
    let mut resp = ranged_response(&source, &headers, kind, &record.sha256)
        .await
        .map_err(|e| ServiceError::Internal(format!("reading upload `{id}`: {e}")))?;
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

/// A built-in look applied to a frame of an uploaded clip, or to an uploaded image, as a PNG
/// (the studio's live preview; `retake look` on the command line).
#[utoipa::path(
    post,
    path = "/v1/looks/preview",
    tag = "studio",
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The frame with the look", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "A field is missing or wrong (the look, the frame, the mask's shape)", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such upload for this key (or it expired)", body = ErrorBody),
        (status = 408, description = "The body stalled or took too long", body = ErrorBody),
        (status = 413, description = "The body is over 256 KB, or the clip is over a limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The upload is not a clip or image retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
        (status = 502, description = "The mask URL's server failed", body = ErrorBody),
        (status = 504, description = "The mask URL's server was too slow", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn preview(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_json(&headers)?;
    let body = read_capped(
        &headers,
        body,
        MAX_JSON_BYTES,
        "send the look and an upload id",
    )
    .await?;
    let req: PreviewRequest = serde_json::from_slice(&body).map_err(|e| {
        ServiceError::BadRequest(format!(
            "the body must be like {{\"look\": {{\"name\": \"sepia\", \"strength\": 0.8}}, \
             \"upload_id\": \"…\", \"frame\": 0}}; it could not be read: {e}"
        ))
    })?;
    Ok(png(svc.preview_look(&key, &req).await?))
}

/// What a create would charge, from the create's own checks and pricing: send the body you
/// would send to `POST /dream-machine/v1/generations/video/modify` or `POST
/// /agents/v1/generations` (told apart by `type` or `source`). Nothing is created or
/// reserved; the clip is fetched and probed as the create would.
#[utoipa::path(
    post,
    path = "/v1/quote",
    tag = "studio",
    request_body = QuoteRequest,
    responses(
        (status = 200, description = "The price", body = Quote),
        (status = 400, description = "A parameter is missing or wrong (the create would refuse it)", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "An upload URL names no upload of this key", body = ErrorBody),
        (status = 408, description = "The body stalled or took too long", body = ErrorBody),
        (status = 413, description = "The body or the clip is over a limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The clip is not a video retake can read", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
        (status = 502, description = "A media URL's server failed", body = ErrorBody),
        (status = 504, description = "A media URL's server was too slow", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn quote(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Quote>> {
    require_json(&headers)?;
    let body = read_capped(
        &headers,
        body,
        max_create_body(&svc),
        "send large files as uploads (POST /v1/uploads) and their URLs",
    )
    .await?;
    Ok(Json(svc.quote(&key, &body).await?))
}

/// The names of the stream's events, for the API schema.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum GenerationEventName {
    /// `data` is the generation, as `GET /dream-machine/v1/generations/{id}` answers it.
    Generation,
    /// `data` is `{"detail": …}`: the generation went away (deleted); the stream ends.
    Error,
}

/// One event of `GET /v1/generations/{id}/events` (its `event:` and `data:` lines).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // documents the stream; the events are written by `Sse`
pub struct GenerationEvent {
    /// What the event carries.
    pub event: GenerationEventName,
    /// JSON text: a Generation for `generation`, `{"detail"}` for `error`.
    pub data: String,
}

/// The event stream's state: who asks, about what, and whether this is the first event.
struct Follow {
    svc: Arc<Service>,
    key: crate::store::KeyRecord,
    id: String,
    first: bool,
}

/// A generation's progress as server-sent events: a `generation` event (the generation as
/// `GET /dream-machine/v1/generations/{id}` answers it) at once and every half second, the
/// last one in a terminal state (`completed` or `failed`), after which the stream ends; an
/// `error` event (`{"detail"}`) ends it if the generation goes away. Send the key in the
/// `Authorization` header (read the stream with `fetch()`, not `EventSource`, which cannot).
#[utoipa::path(
    get,
    path = "/v1/generations/{id}/events",
    tag = "studio",
    params(("id" = String, Path, description = "Generation id (a UUID)")),
    responses(
        (status = 200, description = "`event: generation` with `data:` the Generation JSON, every 0.5 s until a terminal state (each event as this schema describes it)", content_type = "text/event-stream", body = GenerationEvent),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such generation for this key", body = ErrorBody),
        (status = 429, description = "Rate limit; see Retry-After", body = ErrorBody),
        (status = 500, description = "Server fault", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
pub async fn events(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    // Unknown ids are a plain 404, before any stream starts.
    let record = svc.record(&key, &id).await?;
    let start = Follow {
        svc,
        key,
        id: record.id,
        first: true,
    };
    let stream = futures_util::stream::unfold(Some(start), |state| async move {
        let Follow {
            svc,
            key,
            id,
            first,
        } = state?;
        if !first {
            tokio::time::sleep(EVENT_EVERY).await;
        }
        let (event, more) = match svc.record(&key, &id).await {
            Ok(r) => {
                let g: Generation = svc.view(&r);
                let event = Event::default()
                    .event("generation")
                    .json_data(&g)
                    .unwrap_or_else(|_| Event::default().event("generation").data("{}"));
                (event, !r.state.is_terminal())
            }
            Err(e) => {
                let detail = serde_json::json!({ "detail": e.to_string() });
                (
                    Event::default().event("error").data(detail.to_string()),
                    false,
                )
            }
        };
        let next = more.then_some(Follow {
            svc,
            key,
            id,
            first: false,
        });
        Some((Ok::<Event, std::convert::Infallible>(event), next))
    });
    let mut resp = Sse::new(stream).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}
