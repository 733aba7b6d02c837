//! The HTTP surface: routes only. Handlers live by surface (`luma`, `uploads`).

mod auth;
mod error;
mod luma;
mod uploads;

pub use error::{status, ApiError};

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::ServiceError;
use crate::service::Service;

async fn healthz(State(svc): State<Arc<Service>>) -> Result<Json<serde_json::Value>, ApiError> {
    let depth = svc.store.queue_depth().await?;
    Ok(Json(
        serde_json::json!({ "status": "ok", "queue_depth": depth }),
    ))
}

async fn fallback() -> ApiError {
    ApiError(ServiceError::NotFound(
        "no such endpoint; the API lives under /dream-machine/v1 (see the README)".into(),
    ))
}

/// All routes, with the credits header layer.
pub fn router(svc: Arc<Service>) -> Router {
    let luma = Router::new()
        .route("/generations/video/modify", post(luma::modify))
        .route("/generations", get(luma::list))
        .route("/generations/{id}", get(luma::get).delete(luma::delete))
        .route("/generations/{id}/video", get(luma::video))
        .route("/credits", get(luma::credits))
        .route("/ping", get(luma::ping));
    Router::new()
        .nest("/dream-machine/v1", luma)
        .route(
            "/v1/uploads",
            post(uploads::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/healthz", get(healthz))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            svc.clone(),
            auth::remaining_credits,
        ))
        .with_state(svc)
}
