//! Service errors as HTTP responses: a status and `{"detail": "...", "code": "..."}`.
//! The Segmind surface adds `"error"` (what its SDK reads) in its own middleware.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ServiceError;

/// The body of every error response.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to change.
    pub detail: String,
    /// A stable machine-readable code (`bad_request`, `insufficient_credits`, …).
    pub code: String,
    /// The same text as `detail`, on the Segmind-compatible endpoints only (their SDK reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A [`ServiceError`] on its way out as a response.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl<E: Into<ServiceError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

/// The status each error maps to.
pub fn status(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ServiceError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::InsufficientCredits { .. } => StatusCode::PAYMENT_REQUIRED,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ServiceError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::UnreadableMedia(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Upstream(_) => StatusCode::BAD_GATEWAY,
        ServiceError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        ServiceError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        ServiceError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        ServiceError::ProcessingFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ServiceError::Unavailable(_) => StatusCode::NOT_IMPLEMENTED,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status(&e);
        let detail = match &e {
            ServiceError::Internal(m) => {
                tracing::error!("internal error: {m}");
                "internal error; the server log has the details".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            detail,
            code: e.code().to_string(),
            error: None,
        };
        let mut resp = (status, Json(body)).into_response();
        if let ServiceError::RateLimited { retry_after_s, .. } = e {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        resp
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false)
}

/// The code and a hint for an error status that did not come from a [`ServiceError`].
fn code_for(status: StatusCode) -> (String, &'static str) {
    let (code, hint) = match status.as_u16() {
        400 => ("bad_request", "check the URL, its query and the headers"),
        401 => ("unauthorized", "send an API key"),
        403 => ("forbidden", ""),
        404 => ("not_found", "GET /openapi.json lists every route"),
        405 => ("method_not_allowed", ""),
        408 => ("request_timeout", "send the request without pauses"),
        413 => ("too_large", "send a smaller body"),
        415 => ("unsupported_media_type", "send JSON"),
        422 => ("bad_request", "check the body against GET /openapi.json"),
        431 => ("headers_too_large", "send fewer or shorter headers"),
        500 => ("internal", "the server log has the details"),
        503 => ("unavailable", "retry later"),
        _ => {
            let reason = status.canonical_reason().unwrap_or("error");
            let code = reason.to_ascii_lowercase().replace([' ', '-'], "_");
            return (code, "");
        }
    };
    (code.to_string(), hint)
}

/// Middleware: an error response that is not already our JSON — the framework's own
/// rejections (a path it cannot decode, a method the route lacks, a body it could not
/// read) — is rewritten into the one error shape, keeping its status and headers.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(resp.headers()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, hint) = code_for(status);
    let what = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        format!("{method} is not allowed on this route; use {allowed}")
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string()
    } else {
        text
    };
    let detail = if hint.is_empty() {
        what
    } else {
        format!("{what} — {hint}")
    };
    if status.is_server_error() {
        tracing::error!(%status, "error response from the framework: {detail}");
    }
    let body = ErrorBody {
        detail,
        code,
        error: None,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
