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
