//! Service errors as HTTP responses: a status and `{"detail": "...", "code": "..."}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ServiceError;

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
        ServiceError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::UnreadableMedia(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Upstream(_) => StatusCode::BAD_GATEWAY,
        ServiceError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
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
        let body = serde_json::json!({ "detail": detail, "code": e.code() });
        let mut resp = (status, Json(body)).into_response();
        if let ServiceError::RateLimited { retry_after_s, .. } = e {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        resp
    }
}
