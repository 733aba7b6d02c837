//! Authentication as an extractor, and the `x-remaining-credits` header on every
//! authenticated response (errors included).

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use crate::service::Service;
use crate::store::KeyRecord;

/// The authenticated caller (`Authorization: Bearer <key>`).
pub struct Caller(pub KeyRecord);

/// Filled by [`Caller`] so the middleware knows whose credits to report.
#[derive(Clone, Default)]
struct AuthSlot(Arc<OnceLock<String>>);

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        svc: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let key = svc.authenticate(header).await?;
        if let Some(slot) = parts.extensions.get::<AuthSlot>() {
            let _ = slot.0.set(key.id.clone());
        }
        Ok(Caller(key))
    }
}

/// An optional caller: `None` without an `Authorization` header, an error with a bad one.
pub struct MaybeCaller(pub Option<KeyRecord>);

impl FromRequestParts<Arc<Service>> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        svc: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            return Ok(MaybeCaller(None));
        }
        Caller::from_request_parts(parts, svc)
            .await
            .map(|c| MaybeCaller(Some(c.0)))
    }
}

/// Adds `x-remaining-credits` to responses of authenticated requests.
pub async fn remaining_credits(
    State(svc): State<Arc<Service>>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = AuthSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut resp = next.run(req).await;
    if let Some(id) = slot.0.get() {
        if let Ok(c) = svc.credits(id).await {
            if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
                resp.headers_mut().insert("x-remaining-credits", v);
            }
        }
    }
    resp
}
