//! The `Generation` object, exactly as the Luma API (and its `lumaai` SDK) shapes it.

use serde::{Deserialize, Serialize};

use super::ModifyVideoRequest;

/// The `generation_type` of everything this service makes.
pub const GENERATION_TYPE: &str = "modify_video";

/// Where a generation is in its life: queued → dreaming → completed | failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a worker.
    Queued,
    /// A worker is processing it.
    Dreaming,
    /// The output video is ready.
    Completed,
    /// It failed; `failure_reason` says why.
    Failed,
}

impl State {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Dreaming => "dreaming",
            State::Completed => "completed",
            State::Failed => "failed",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(State::Queued),
            "dreaming" => Some(State::Dreaming),
            "completed" => Some(State::Completed),
            "failed" => Some(State::Failed),
            _ => None,
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Completed | State::Failed)
    }
}

/// The generation's outputs (Luma's `assets`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assets {
    /// URL of the output video, once completed.
    pub video: Option<String>,
    /// Unused here; kept for the SDK's shape.
    pub image: Option<String>,
    /// Unused here; kept for the SDK's shape.
    pub progress_video: Option<String>,
}

/// Where one webhook event of a generation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Being tried, or waiting for a retry.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; the event was given up.
    Failed,
}

/// How the webhook of one event went (a retake extension of the Generation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookStatus {
    /// The state the event announced: `dreaming`, `completed` or `failed`.
    pub event: String,
    /// `pending`, `delivered` or `failed` (given up after `webhook_attempts`).
    pub status: DeliveryState,
    /// Deliveries tried so far.
    pub attempts: u32,
    /// Why the last attempt failed (the receiver's status, or the connection error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When this last changed (RFC 3339, UTC).
    pub updated_at: String,
}

/// A generation as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Generation {
    /// Its id (a UUID).
    pub id: String,
    /// Always `modify_video`.
    pub generation_type: String,
    /// Where it is.
    pub state: State,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// When it was submitted (RFC 3339, UTC).
    pub created_at: String,
    /// Its outputs.
    pub assets: Assets,
    /// The model asked for.
    pub model: String,
    /// The request, echoed.
    pub request: ModifyVideoRequest,
    /// How far along it is, 0–100 (an extra field the SDKs ignore).
    #[schema(minimum = 0, maximum = 100)]
    pub progress: u8,
    /// Credits it costs: held while it runs, charged when it completes, released when it
    /// fails (an extra field the SDKs ignore).
    #[serde(default)]
    #[schema(minimum = 0.0)]
    pub cost: f64,
    /// With a `callback_url`: how delivery of each webhook event went, so a receiver that
    /// missed one can tell (an extra field the SDKs ignore).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookStatus>,
}

/// Formats a Unix time in milliseconds as RFC 3339 UTC with milliseconds.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_serialize_lowercase() {
        for s in [
            State::Queued,
            State::Dreaming,
            State::Completed,
            State::Failed,
        ] {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::from(s.as_str()))
            );
        }
        assert!(State::Failed.is_terminal() && !State::Dreaming.is_terminal());
    }

    #[test]
    fn created_at_is_rfc3339_utc() {
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
