//! The service's error type: every variant maps to one HTTP status and says what to fix.

use crate::pricing::Credits;
use crate::store::StoreError;

/// What a service call can fail with. The API turns each into a status and `{"detail": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A parameter is missing or wrong (400).
    #[error("{0}")]
    BadRequest(String),
    /// No key, or a key the server does not know (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The key may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The key's available credits do not cover the cost (402).
    #[error("this generation costs {needed} credits{} but the key has {available} available — add credits (`retake keys credit`){}",
        if pricing.is_empty() { String::new() } else { format!(" ({pricing})") },
        if pricing.contains("per call") { "" } else { " or send a shorter or smaller clip" })]
    InsufficientCredits {
        /// Cost of the request.
        needed: Credits,
        /// What the key has left, reservations deducted.
        available: Credits,
        /// The model and its pricing rule, when known (`ray-2: 0.01582 credits per …`).
        pricing: String,
    },
    /// No such generation for this key (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the resource's state (409): cancelling a finished
    /// generation, reusing an idempotency key for another request.
    #[error("{0}")]
    Conflict(String),
    /// The body's content type is not one this endpoint reads (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An input is over a size, duration or resolution limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// An input could not be read as a video or image retake supports (422).
    #[error("{0}")]
    UnreadableMedia(String),
    /// Too many requests (429); retry after the given seconds.
    #[error("{detail}")]
    RateLimited {
        /// What happened.
        detail: String,
        /// Seconds to wait.
        retry_after_s: u64,
    },
    /// A media URL's server failed or could not be reached (502).
    #[error("{0}")]
    Upstream(String),
    /// A media URL's server was too slow (504).
    #[error("{0}")]
    UpstreamTimeout(String),
    /// The client took too long sending its request (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// Waiting for a result took longer than allowed (504).
    #[error("{0}")]
    Timeout(String),
    /// The generation failed while processing; the message is its failure reason (500).
    #[error("{0}")]
    ProcessingFailed(String),
    /// The work cannot be done by this build or configuration (501).
    #[error("{0}")]
    Unavailable(String),
    /// Something broke inside the server (500); the detail is logged, not blamed on the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A stable machine-readable code for the error (shown next to `detail`).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::BadRequest(_) => "bad_request",
            ServiceError::Unauthorized(_) => "unauthorized",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::InsufficientCredits { .. } => "insufficient_credits",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::UnsupportedMediaType(_) => "unsupported_media_type",
            ServiceError::TooLarge(_) => "too_large",
            ServiceError::UnreadableMedia(_) => "unreadable_media",
            ServiceError::RateLimited { .. } => "rate_limited",
            ServiceError::Upstream(_) => "upstream_failed",
            ServiceError::UpstreamTimeout(_) => "upstream_timeout",
            ServiceError::Timeout(_) => "timeout",
            ServiceError::RequestTimeout(_) => "request_timeout",
            ServiceError::ProcessingFailed(_) => "processing_failed",
            ServiceError::Unavailable(_) => "unavailable",
            ServiceError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InsufficientCredits { needed, available } => {
                ServiceError::InsufficientCredits {
                    needed,
                    available,
                    pricing: String::new(),
                }
            }
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            e @ (StoreError::AlreadyFinished { .. } | StoreError::IdempotencyConflict(_)) => {
                ServiceError::Conflict(e.to_string())
            }
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<crate::blobs::BlobError> for ServiceError {
    fn from(e: crate::blobs::BlobError) -> Self {
        match e {
            crate::blobs::BlobError::NotFound(key) => {
                ServiceError::NotFound(format!("the file `{key}` is gone from blob storage"))
            }
            crate::blobs::BlobError::Storage(m) => {
                ServiceError::Internal(format!("blob storage: {m}"))
            }
        }
    }
}

impl From<std::io::Error> for ServiceError {
    fn from(e: std::io::Error) -> Self {
        ServiceError::Internal(format!("I/O: {e}"))
    }
}

/// Shorthand for service results.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
