//! Extractors shared by the surfaces.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;

use super::error::ApiError;

/// The `{id}` (or `{upload_id}`, `{task_id}`: any `…_id`) of a route, as sent. An id that does not decode (`%FF%FE`) is still just an
/// id nobody has, so the handler answers 404 with the usual message instead of the
/// framework's 400.
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let decoded = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|p| p.iter().find(|(k, _)| is_id(k)).map(|(_, v)| v.to_string()));
        Ok(IdPath(decoded.unwrap_or_else(|| raw_segment(parts))))
    }
}

fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id")
}

/// The `{id}` segment of the request path as sent (still percent-encoded).
fn raw_segment(parts: &Parts) -> String {
    let Some(matched) = parts.extensions.get::<MatchedPath>() else {
        return String::new();
    };
    let at = matched.as_str().split('/').position(|s| {
        s.strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .is_some_and(is_id)
    });
    at.and_then(|i| parts.uri.path().split('/').nth(i))
        .unwrap_or_default()
        .to_string()
}
