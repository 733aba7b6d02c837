//! Luma's current generation request (`POST /agents/v1/generations`, what the `luma-agents`
//! SDK sends) for `type: "video_edit"`, read leniently so every mistake gets our own message,
//! and its validation into a [`ValidEdit`] (in `validate`, where it is also decided how the
//! request's controls become engine parameters and how `auto_controls` picks a mode, as the
//! README's "Luma agents API" section documents).

use retake_engine::{Controls, Mode};
use retake_media::Resolution;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod validate;

pub use validate::auto_mode;

#[cfg(test)]
use crate::catalogue::Catalogue;

/// The most keyframes one edit takes.
pub const MAX_EDIT_KEYFRAMES: usize = retake_pipeline::MAX_KEYFRAMES;

/// The output tier of an edit that names none.
pub const DEFAULT_RESOLUTION: Resolution = Resolution::P720;

/// A media reference (the SDK's `ImageRef`): exactly one of `url`, `data`, `file_id` or
/// `generation_id`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaSource {
    /// An `http(s)://` URL (or an upload URL of this server). A video source needs
    /// `media_type` (`video/mp4` or `video/quicktime`) with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub url: Option<String>,
    /// The file itself, base64 (a `data:` URL prefix is allowed); needs `media_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub data: Option<String>,
    /// What the file is: `video/mp4`, `video/quicktime`, `image/png`, `image/jpeg`,
    /// `image/webp` (the content decides in the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// A file of this key's from the Files API (`POST /agents/v1/files`), in state `ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// A completed generation of this key's, whose output video is the source (chaining an
    /// edit off an earlier one). Not for keyframes: retake makes videos, not images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
}

/// Depth (scene geometry) conditioning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepthControl {
    /// Off: the source's structure is held only by the other signals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 0–1; higher allows more geometric freedom (holds structure less).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub blur: Option<f64>,
}

/// Face-identity conditioning. retake cannot detect faces, so it can only be left off.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaceControl {
    /// Only `false` (or left out) is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Surface-normals conditioning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NormalsControl {
    /// Off: the source's structure is held only by the other signals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 0–1; higher allows more reinterpretation of surfaces (holds structure less).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub augmentation: Option<f64>,
}

/// Pose strengths, for the API schema.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(non_camel_case_types, dead_code)]
pub enum PoseStrength {
    /// Hold shapes closely.
    precise,
    /// Hold shapes loosely.
    coarse,
}

/// Pose (skeleton) conditioning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoseControl {
    /// Off: the source's structure is held only by the other signals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `precise` or `coarse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PoseStrength>)]
    pub strength: Option<String>,
}

/// Motion-trajectory conditioning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrajectoryControl {
    /// Off: matches are free to leave the source's motion tracks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// 0–1; higher uses fewer motion anchors (holds the tracks less).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub sparsity: Option<f64>,
}

/// Per-signal controls (see the README for what each does to the engine).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditControls {
    /// Depth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<DepthControl>,
    /// Faces (only off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<FaceControl>,
    /// Surface normals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normals: Option<NormalsControl>,
    /// Pose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pose: Option<PoseControl>,
    /// Motion trajectory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<TrajectoryControl>,
}

/// `video.edit`: how the edit follows the source, and its keyframes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditOptions {
    /// `adhere_1` … `reimagine_3` (the same modes as the other APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::ModeName>)]
    pub strength: Option<String>,
    /// Let retake pick the mode from the request (the default when neither `strength` nor
    /// `controls` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_controls: Option<bool>,
    /// Per-signal controls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<EditControls>,
    /// Edited frames (images), each pinned to the source frame at the same position of
    /// `keyframe_indexes`; up to 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 64)]
    pub keyframes: Option<Vec<MediaSource>>,
    /// Source frame of each keyframe, counted from 0 at the source's own frame rate: unique,
    /// inside the clip, as many as `keyframes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 64)]
    pub keyframe_indexes: Option<Vec<i64>>,
}

/// The resolution tier names, for the API schema.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub enum ResolutionName {
    /// Shorter side 360 px.
    #[serde(rename = "360p")]
    P360,
    /// Shorter side 540 px.
    #[serde(rename = "540p")]
    P540,
    /// Shorter side 720 px (the default).
    #[serde(rename = "720p")]
    P720,
    /// Shorter side 1080 px.
    #[serde(rename = "1080p")]
    P1080,
}

/// `video`: output settings and the edit's conditioning. Fields Luma has for other
/// generation types are read only to refuse them with a message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoOptions {
    /// Output tier: the output's shorter side (aspect kept). Default `720p`; a smaller
    /// source keeps its size unless `upscale` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<ResolutionName>)]
    pub resolution: Option<String>,
    /// retake's extension: scale a source smaller than `resolution` up to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upscale: Option<bool>,
    /// The edit's conditioning and keyframes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<EditOptions>,
    /// An edited first frame (the single-keyframe case; not with `edit.keyframes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_frame: Option<MediaSource>,
    /// Not for edits (the output keeps the source's duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub duration: Option<Value>,
    /// Not for edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub end_frame: Option<Value>,
    /// Not supported (`false` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr: Option<bool>,
    /// Not supported (`false` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exr_export: Option<bool>,
    /// Not for edits (`false` only).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "loop")]
    pub looping: Option<bool>,
    /// Not for edits: keyframes of an edit go in `edit.keyframes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub keyframes: Option<Value>,
    /// Not for edits: `edit.keyframe_indexes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<i64>>)]
    pub keyframe_indexes: Option<Value>,
    /// Not for edits (reframing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub source_position: Option<Value>,
}

/// The generation types, for the API schema; only `video_edit` is served.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(non_camel_case_types, dead_code)]
pub enum EditTypeName {
    /// Edit a video (the only type retake makes).
    video_edit,
    /// Refused: retake edits video only.
    image,
    /// Refused: retake edits video only.
    image_edit,
    /// Refused: retake edits video only.
    video,
    /// Refused: retake edits video only.
    video_reframe,
    /// Refused: retake edits video only.
    layering,
}

/// The model ids of this API, for the API schema.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub enum EditModelName {
    /// Luma's current video model.
    #[serde(rename = "ray-3.2")]
    Ray32,
}

/// The body of `POST /agents/v1/generations`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// What to change, in words (the SDK always sends it; empty or left out when keyframes
    /// set the look).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub prompt: Option<String>,
    /// `video_edit`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(required = true, value_type = EditTypeName)]
    pub kind: Option<String>,
    /// `ray-3.2` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<EditModelName>)]
    pub model: Option<String>,
    /// The source video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true)]
    pub source: Option<MediaSource>,
    /// Output settings and the edit's conditioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoOptions>,
    /// retake's extension: where to POST the generation when it starts, completes and fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// An opaque tag for your end user; kept with nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Not for edits (the output keeps the source's aspect ratio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Not supported (reference images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub image_ref: Option<Value>,
    /// Not for edits (images only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub layering: Option<Value>,
    /// Not for edits (images only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// `auto` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Not supported (`false` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
}

/// Where an input comes from, once its reference is checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputRef {
    /// An `http(s)://` URL or an upload URL of this server.
    Url(String),
    /// Base64 bytes (not yet decoded) and their declared type.
    Data {
        /// The base64 text, without a `data:` prefix.
        data: String,
        /// The declared type.
        media_type: String,
    },
    /// A file of the caller's (a hyphenated UUID).
    File(String),
    /// A completed generation of the caller's (a hyphenated UUID).
    Generation(String),
}

/// An edit request that passed validation (everything but what needs the files).
#[derive(Clone, Debug, PartialEq)]
pub struct ValidEdit {
    /// The prompt (trimmed; empty becomes `None`).
    pub prompt: Option<String>,
    /// The model's id.
    pub model: String,
    /// The source video.
    pub source: InputRef,
    /// An edited first frame (`video.start_frame`).
    pub start_frame: Option<InputRef>,
    /// Keyframes: (source frame, image), in the order given.
    pub keyframes: Vec<(usize, InputRef)>,
    /// The output tier.
    pub resolution: Resolution,
    /// Whether the request named the tier.
    pub resolution_requested: bool,
    /// Scale a smaller source up to the tier.
    pub upscale: bool,
    /// The mode.
    pub mode: Mode,
    /// Whether retake picked the mode (`auto_controls`).
    pub auto_mode: bool,
    /// The controls, as the engine's two dials.
    pub controls: Controls,
    /// Webhook target.
    pub callback_url: Option<String>,
}

#[cfg(test)]
mod tests;
