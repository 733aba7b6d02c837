//! What `/agents/v1` answers: a generation in the `luma-agents` SDK's shape (with retake's
//! extra fields, which the SDK keeps), and the part of a stored request only an edit has.

use retake_engine::Controls;
use retake_media::Resolution;
use serde::{Deserialize, Serialize};

use super::{FailureCode, ModifyVideoRequest, State};

/// Where a generation is: queued → processing → completed | failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EditState {
    /// Waiting for a worker.
    Queued,
    /// A worker is making it.
    Processing,
    /// The output is ready: `output[0].url`.
    Completed,
    /// It failed: `failure_code` and `failure_reason` say why; nothing was charged.
    Failed,
}

impl EditState {
    /// The name shown.
    pub fn as_str(self) -> &'static str {
        match self {
            EditState::Queued => "queued",
            EditState::Processing => "processing",
            EditState::Completed => "completed",
            EditState::Failed => "failed",
        }
    }
}

impl From<State> for EditState {
    fn from(s: State) -> Self {
        match s {
            State::Queued => EditState::Queued,
            State::Dreaming => EditState::Processing,
            State::Completed => EditState::Completed,
            State::Failed => EditState::Failed,
        }
    }
}

/// The SDK's failure codes that retake's failures map to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EditFailureCode {
    /// An input turned out damaged while it was processed.
    CorruptInput,
    /// The request needs something this server does not have (a diffusion model).
    InvalidRequest,
    /// Processing failed, crashed, timed out or was cancelled; `failure_reason` says which.
    GenerationFailed,
}

impl From<FailureCode> for EditFailureCode {
    fn from(c: FailureCode) -> Self {
        match c {
            FailureCode::Input => EditFailureCode::CorruptInput,
            FailureCode::Unavailable => EditFailureCode::InvalidRequest,
            FailureCode::Processing
            | FailureCode::Storage
            | FailureCode::Crashed
            | FailureCode::Cancelled
            | FailureCode::Timeout => EditFailureCode::GenerationFailed,
        }
    }
}

/// One output of a completed generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EditOutput {
    /// Always `video`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A signed link to the MP4 (it expires after `link_ttl`; GET the generation again for a
    /// fresh one).
    pub url: String,
}

/// retake's extension: the output retake makes, and how it chose it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EditVideo {
    /// The output's tier (`360p` … `1080p`): the smallest whose shorter side holds the
    /// output's; what the generation is priced at.
    #[schema(value_type = super::ResolutionName)]
    pub resolution: String,
    /// The tier the request asked for (`720p` when it named none); `null` for generations
    /// made on the other APIs.
    #[schema(value_type = Option<super::ResolutionName>)]
    pub requested_resolution: Option<String>,
    /// Output width, pixels.
    pub width: u32,
    /// Output height, pixels.
    pub height: u32,
    /// Output frames (at 24 fps).
    pub frames: u32,
    /// Always 24.
    pub fps: u32,
    /// Output duration, seconds (the source's).
    pub duration_s: f64,
    /// Whether the source was scaled up to reach the tier (`video.upscale`).
    pub upscaled: bool,
    /// Why the output is not the tier asked for, when it is not.
    pub note: Option<String>,
}

/// A generation as `/agents/v1` shows it (any generation of the key, whichever API made it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EditGeneration {
    /// Its id (a UUID; the same id works on the other APIs).
    pub id: String,
    /// When it was submitted (RFC 3339, UTC).
    pub created_at: String,
    /// The model.
    pub model: String,
    /// Where it is.
    pub state: EditState,
    /// Always `video_edit`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Why it failed, as a code.
    pub failure_code: Option<EditFailureCode>,
    /// Why it failed, and what to change.
    pub failure_reason: Option<String>,
    /// The output video, once completed.
    pub output: Option<Vec<EditOutput>>,
    /// retake's extension: how far along it is, 0–100.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: u8,
    /// retake's extension: the output it makes.
    pub video: EditVideo,
    /// retake's extension: the mode it runs in (`video.edit.strength`, or the one
    /// `auto_controls` picked).
    #[schema(value_type = Option<super::ModeName>)]
    pub strength: Option<String>,
    /// retake's extension: whether retake picked the mode.
    pub auto_controls: bool,
    /// retake's extension: the output frame each keyframe was placed on, in the order given.
    pub keyframe_frames: Vec<usize>,
    /// retake's extension: what it costs, in credits (held while it runs, charged when it
    /// completes, released when it fails).
    pub cost: f64,
}

/// A page of generations, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EditGenerationList {
    /// The page.
    pub data: Vec<EditGeneration>,
    /// Whether more follow.
    pub has_more: bool,
    /// Pass as `cursor` for the next page, when `has_more`.
    pub next_cursor: Option<String>,
}

/// What an edit adds to its stored request: written by the service, read by the worker and
/// the views, never taken from a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditSpec {
    /// Source frame of each keyframe image, in the order given (image *n* is the input blob
    /// `keyframe-n`).
    #[serde(default)]
    pub keyframes: Vec<usize>,
    /// The output frame each keyframe falls on.
    #[serde(default)]
    pub keyframe_frames: Vec<usize>,
    /// The tier asked for (or the default).
    pub resolution: Resolution,
    /// Scale a smaller source up to the tier.
    #[serde(default)]
    pub upscale: bool,
    /// Whether retake picked the mode.
    #[serde(default)]
    pub auto_mode: bool,
    /// The controls, as the engine's dials.
    #[serde(default, skip_serializing_if = "Controls::is_neutral")]
    pub controls: Controls,
    /// The source's (display) size, for the report.
    pub source_width: u32,
    /// The source's (display) height.
    pub source_height: u32,
}

/// A generation's request as stored: the Luma-shaped request every API echoes, plus an
/// edit's own part (which the other APIs' views do not read).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredRequest {
    /// The request in the shape of `POST /dream-machine/v1/generations/video/modify`.
    #[serde(flatten)]
    pub request: ModifyVideoRequest,
    /// What an edit made on `/agents/v1` adds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "retake_edit"
    )]
    pub edit: Option<EditSpec>,
}

impl StoredRequest {
    /// Reads a stored request (an unreadable one is an empty request).
    pub fn parse(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_edit_reads_back_and_the_luma_view_ignores_its_part() {
        let stored = StoredRequest {
            request: ModifyVideoRequest {
                mode: Some("flex_1".into()),
                model: Some("ray-3.2".into()),
                ..ModifyVideoRequest::default()
            },
            edit: Some(EditSpec {
                keyframes: vec![0, 30],
                keyframe_frames: vec![0, 24],
                resolution: Resolution::P1080,
                upscale: false,
                auto_mode: true,
                controls: Controls {
                    structure: Some(0.25),
                    trajectory: None,
                },
                source_width: 1280,
                source_height: 720,
            }),
        };
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(StoredRequest::parse(&json), stored);
        let luma: ModifyVideoRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(luma, stored.request);
        // A legacy request is a stored request without an edit.
        let legacy = serde_json::to_string(&stored.request).unwrap();
        assert_eq!(StoredRequest::parse(&legacy).edit, None);
    }

    #[test]
    fn failures_map_to_the_sdks_codes() {
        assert_eq!(
            EditFailureCode::from(FailureCode::Input),
            EditFailureCode::CorruptInput
        );
        assert_eq!(
            serde_json::to_value(EditFailureCode::from(FailureCode::Crashed)).unwrap(),
            "generation_failed"
        );
        assert_eq!(EditState::from(State::Dreaming), EditState::Processing);
    }
}
