//! The Luma-compatible surface under `/dream-machine/v1`. Each handler extracts, calls the
//! service, and returns JSON.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::{Caller, MaybeCaller};
use super::error::ApiError;
use crate::domain::Generation;
use crate::error::ServiceError;
use crate::service::{GenerationList, Service};

type ApiResult<T> = Result<T, ApiError>;

/// `POST /generations/video/modify`.
pub async fn modify(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Generation>)> {
    Ok((StatusCode::CREATED, Json(svc.submit(&key, &body).await?)))
}

/// `GET /generations/{id}`.
pub async fn get(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Generation>> {
    Ok(Json(svc.get(&key, &id).await?))
}

fn query_u32(query: &Option<String>, name: &str, default: u32) -> Result<u32, ServiceError> {
    let Some(q) = query else { return Ok(default) };
    match url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => v.trim().parse::<u32>().map_err(|_| {
            ServiceError::BadRequest(format!("{name} is `{v}`; it must be a whole number ≥ 0"))
        }),
    }
}

/// `GET /generations?limit=&offset=`.
pub async fn list(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<GenerationList>> {
    let limit = query_u32(&query, "limit", 10)?;
    let offset = query_u32(&query, "offset", 0)?;
    Ok(Json(svc.list(&key, limit, offset).await?))
}

/// `DELETE /generations/{id}`.
pub async fn delete(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    svc.delete(&key, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /credits`.
pub async fn credits(
    State(svc): State<Arc<Service>>,
    Caller(key): Caller,
) -> ApiResult<Json<serde_json::Value>> {
    let c = svc.credits(&key.id).await?;
    Ok(Json(serde_json::json!({ "credit_balance": c.as_f64() })))
}

/// `GET /ping`.
pub async fn ping() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "message": "pong" }))
}

/// `GET /generations/{id}/video`: the MP4, for the owner's key or a signed link.
pub async fn video(
    State(svc): State<Arc<Service>>,
    MaybeCaller(key): MaybeCaller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
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
    let signed = match (get("expires"), get("sig")) {
        (Some(e), Some(s)) => Some((e.parse::<i64>().unwrap_or(0), s)),
        _ => None,
    };
    let path = svc.video_file(&id, key.as_ref(), signed).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ServiceError::NotFound(format!("the video of `{id}` is gone ({e})")))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("video/mp4"),
    );
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    }
    Ok(resp)
}
