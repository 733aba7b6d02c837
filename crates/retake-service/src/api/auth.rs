//! Authentication as an extractor (with the per-key rate limit), and the middleware that puts
//! `x-remaining-credits` on every authenticated response (errors included) and counts
//! responses for the metrics.

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use crate::auth;
use crate::pricing::Credits;
use crate::service::{Credentials, Service};
use crate::store::KeyRecord;

/// The authenticated caller: `Authorization: Bearer <key>` or `x-api-key: <key>`.
pub struct Caller(pub KeyRecord);

/// Filled by [`Caller`] so the middleware knows whose credits to report: the key id and
/// its available credits when the request came in.
#[derive(Clone, Default)]
struct AuthSlot(Arc<OnceLock<(String, Credits)>>);

fn credentials(parts: &Parts) -> Result<Credentials<'_>, ApiError> {
    let text = |name| -> Result<Option<&str>, ApiError> {
        match parts.headers.get(name) {
            None => Ok(None),
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| ApiError(auth::invalid_key())),
        }
    };
    Ok(Credentials {
        authorization: text(header::AUTHORIZATION.as_str())?,
        api_key: text("x-api-key")?,
    })
}

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        svc: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        let key = svc.authenticate(credentials(parts)?).await?;
        if let Some(slot) = parts.extensions.get::<AuthSlot>() {
            let _ = slot.0.set((key.id.clone(), key.available()));
        }
        svc.check_rate(&key)?;
        Ok(Caller(key))
    }
}

/// An optional caller: `None` without a key header, an error with a bad one.
pub struct MaybeCaller(pub Option<KeyRecord>);

impl FromRequestParts<Arc<Service>> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        svc: &Arc<Service>,
    ) -> Result<Self, Self::Rejection> {
        if credentials(parts)?.is_missing() {
            return Ok(MaybeCaller(None));
        }
        Caller::from_request_parts(parts, svc)
            .await
            .map(|c| MaybeCaller(Some(c.0)))
    }
}

/// Adds `x-remaining-credits` to responses of authenticated requests and counts responses.
///
/// Reads cannot change a balance, so they report the balance seen when the key was checked;
/// anything else reads it again after the handler ran (a create has reserved by then).
pub async fn remaining_credits(
    State(svc): State<Arc<Service>>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = AuthSlot::default();
    req.extensions_mut().insert(slot.clone());
    let read_only = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut resp = next.run(req).await;
    if let Some((id, seen)) = slot.0.get() {
        let credits = if read_only {
            Some(*seen)
        } else {
            svc.credits(id).await.ok()
        };
        if let Some(c) = credits {
            if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
                resp.headers_mut().insert("x-remaining-credits", v);
            }
        }
    }
    svc.metrics.http_response(resp.status().as_u16());
    resp
}
