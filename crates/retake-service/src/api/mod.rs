//! The HTTP surface: routes only. Handlers live by surface (`luma`, `segmind`, `runapi`,
//! `agents`, `uploads`, and `studio`: the frames, preview, quote and event routes the studio
//! needs).

mod agents;
mod auth;
pub mod body;
mod error;
mod extract;
mod files;
mod luma;
mod openapi;
mod runapi;
mod segmind;
mod studio;
mod uploads;
pub mod video;

pub use error::{json_errors, status, ApiError, ErrorBody};
pub use openapi::ApiDoc;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use utoipa::OpenApi as _;

use crate::error::ServiceError;
use crate::service::Service;

/// `GET /healthz` answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
    /// Generations waiting for a worker.
    pub queue_depth: u64,
}

/// Health: the database answers and how many jobs wait.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 500, description = "The database does not answer", body = ErrorBody),
    )
)]
async fn healthz(State(svc): State<Arc<Service>>) -> Result<Json<Health>, ApiError> {
    let depth = svc.store.queue_depth().await?;
    Ok(Json(Health {
        status: "ok".into(),
        queue_depth: depth,
    }))
}

/// Prometheus metrics of this process (queue depth, job durations, frames per second,
/// failures by reason, responses by status).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 500, description = "The database does not answer", body = ErrorBody),
    )
)]
async fn metrics(State(svc): State<Arc<Service>>) -> Result<Response, ApiError> {
    let depth = svc.store.queue_depth().await?;
    let running = svc.running.lock().map(|r| r.len()).unwrap_or(0);
    let mut resp = svc.metrics.render(depth, running).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(resp)
}

async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => {
            ApiError(ServiceError::Internal(format!("OpenAPI document: {e}"))).into_response()
        }
    }
}

async fn fallback() -> ApiError {
    ApiError(ServiceError::NotFound(
        "no such endpoint; the API lives under /dream-machine/v1, /agents/v1, /v1/modify-video, \
         /v2 and /api/v1 (GET /openapi.json lists every route)"
            .into(),
    ))
}

/// All routes, with the credits header layer; every error, the framework's own included,
/// leaves as `{"detail", "code"}`.
pub fn router(svc: Arc<Service>) -> Router {
    let json_cap = body::BodyCap {
        limit: body::MAX_JSON_BYTES,
        what: "the request body",
        setting: None,
    };
    // A form may carry the clip, the first frame and the text fields.
    let form_cap = body::BodyCap {
        limit: svc
            .config
            .max_bytes
            .saturating_add(svc.config.max_image_bytes)
            .saturating_add(1 << 20),
        what: "the request",
        setting: Some("max_bytes"),
    };
    let luma = Router::new()
        .route(
            "/generations/video/modify",
            post(luma::modify).layer(from_fn_with_state(json_cap, body::cap_body)),
        )
        .route("/generations", get(luma::list))
        .route("/generations/{id}", get(luma::get).delete(luma::delete))
        .route("/generations/{id}/cancel", post(luma::cancel))
        .route("/generations/{id}/video", get(luma::video))
        .route("/credits", get(luma::credits))
        .route("/ping", get(luma::ping));
    let segmind_routes = Router::new()
        .route("/v1/modify-video", post(segmind::modify_video_sync))
        .route("/v2/modify-video", post(segmind::modify_video_async))
        .route("/v2/requests/{id}/status", get(segmind::request_status))
        .route("/v2/requests/{id}", get(segmind::request_result))
        // Files are streamed to disk with their own byte cap.
        .layer(DefaultBodyLimit::disable())
        .route_layer(from_fn_with_state(form_cap, body::cap_body))
        // Inside segmind_errors, so the framework's rejections get its `error` field too.
        .route_layer(from_fn(json_errors))
        .route_layer(from_fn(segmind::segmind_errors));
    let runapi_routes = Router::new()
        .route(
            "/api/v1/luma/modify_video",
            post(runapi::modify).layer(from_fn_with_state(json_cap, body::cap_body)),
        )
        .route(
            "/api/v1/luma/modify_video/{task_id}",
            get(runapi::get_modify_task).delete(runapi::delete_modify_task),
        )
        .route(
            "/api/v1/luma/modify_video/{task_id}/cancel",
            post(runapi::cancel_modify_task),
        )
        .route(
            "/api/v1/tasks/{task_id}",
            get(runapi::get_task).delete(runapi::delete_task),
        )
        .route("/api/v1/tasks/{task_id}/cancel", post(runapi::cancel_task))
        // Inside runapi_errors, so the framework's rejections get RunAPI's shape too.
        .route_layer(from_fn(json_errors))
        .route_layer(from_fn(runapi::runapi_errors));
    let agents = Router::new()
        .route(
            "/generations",
            // A create may carry its files inline; its own cap applies.
            post(agents::create)
                .layer(DefaultBodyLimit::disable())
                .get(agents::list),
        )
        .route("/generations/{id}", get(agents::get).delete(agents::delete))
        .route("/generations/{id}/cancel", post(agents::cancel))
        .route(
            "/files",
            // A multipart create streams its file to disk with its own cap.
            post(files::create)
                .layer(DefaultBodyLimit::disable())
                .get(files::list),
        )
        .route("/files/{id}", get(files::get).delete(files::delete))
        .route("/files/{id}/complete", post(files::complete))
        .route(
            "/files/{id}/content",
            put(files::put_content).layer(DefaultBodyLimit::disable()),
        );
    let app = Router::new()
        .nest("/dream-machine/v1", luma)
        .nest("/agents/v1", agents)
        .merge(segmind_routes)
        .merge(runapi_routes)
        .route(
            "/v1/uploads",
            post(uploads::upload)
                .layer(DefaultBodyLimit::disable())
                .layer(from_fn_with_state(uploads::cap(&svc), body::cap_body))
                .get(uploads::list),
        )
        .route(
            "/v1/uploads/{upload_id}",
            get(uploads::get).delete(uploads::delete),
        )
        .route("/v1/uploads/{upload_id}/frames", get(studio::frames))
        .route("/v1/uploads/{upload_id}/frames/{n}", get(studio::frame))
        .route("/v1/uploads/{upload_id}/content", get(studio::content))
        .route(
            "/v1/looks/preview",
            post(studio::preview).layer(from_fn_with_state(json_cap, body::cap_body)),
        )
        .route(
            "/v1/quote",
            // A quote takes what a create takes, inline files included; its own cap applies.
            post(studio::quote).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/generations/{id}/events", get(studio::events))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .merge(crate::studio::routes())
        .fallback(fallback)
        .layer(from_fn_with_state(svc.clone(), auth::remaining_credits))
        .with_state(svc);
    // Around the whole router rather than each route, so it sees responses as they leave
    // (a 405 with its `Allow` header, which the router adds last).
    Router::new()
        .fallback_service(app)
        .layer(from_fn(json_errors))
}
