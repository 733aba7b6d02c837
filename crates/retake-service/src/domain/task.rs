//! RunAPI's task shape: the body of `POST /api/v1/luma/modify_video`, read into the same
//! modify-video request every surface makes, and the `Task` a generation is shown as there.

use serde::{Deserialize, Serialize};

use super::{MediaRef, ModeName, ModifyVideoRequest, GENERATION_TYPE};
use crate::error::ServiceError;

/// The mode a task runs in when the request names none (as on Segmind's and Replicate's pages).
pub const DEFAULT_TASK_MODE: &str = "adhere_1";

/// A media reference written either as a URL or as Luma's `{"url": "…"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum UrlOrRef {
    /// `"https://…"`.
    Url(String),
    /// `{"url": "https://…"}`.
    Ref(MediaRef),
}

impl UrlOrRef {
    fn url(self) -> Option<String> {
        match self {
            UrlOrRef::Url(u) => Some(u),
            UrlOrRef::Ref(r) => r.url,
        }
    }
}

/// The RunAPI model id, for the API schema.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub enum TaskModelName {
    /// Luma's Modify Video, billed per call.
    #[serde(rename = "luma-modify-video")]
    LumaModifyVideo,
}

/// The body of `POST /api/v1/luma/modify_video`. The canonical fields are `model`, `prompt`,
/// `source_video_url`, `first_frame_url`, `mode` and `callback_url`; the other surfaces'
/// spellings of the two inputs are read too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskRequest {
    /// `luma-modify-video`.
    #[serde(default)]
    #[schema(required = true, value_type = TaskModelName)]
    pub model: Option<String>,
    /// What to change (at most `max_prompt_chars`, 2000 by default).
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub prompt: Option<String>,
    /// URL of the source clip (MP4 or MOV, H.264), or an upload URL of this server.
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    pub source_video_url: Option<String>,
    /// The same as `source_video_url` (Segmind's name).
    #[serde(default)]
    pub video_url: Option<String>,
    /// The same as `source_video_url`, as a URL or `{"url": …}`.
    #[serde(default)]
    pub video: Option<UrlOrRef>,
    /// The same as `source_video_url`, as Luma's `{"url": …}`.
    #[serde(default)]
    pub media: Option<UrlOrRef>,
    /// URL of the edited first frame (PNG, JPEG or WebP).
    #[serde(default)]
    pub first_frame_url: Option<String>,
    /// The same as `first_frame_url`, as a URL or Luma's `{"url": …}`.
    #[serde(default)]
    pub first_frame: Option<UrlOrRef>,
    /// `adhere_1` (default) … `reimagine_3`.
    #[serde(default)]
    #[schema(value_type = Option<ModeName>)]
    pub mode: Option<String>,
    /// Where to POST the task when it starts processing, completes and fails.
    #[serde(default)]
    pub callback_url: Option<String>,
}

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

/// The one URL an input was given as, whichever of its spellings were used; two spellings
/// naming different files is a mistake worth a message rather than a guess.
fn one_of(input: &str, given: Vec<(&str, Option<String>)>) -> Result<Option<String>, ServiceError> {
    let given: Vec<(&str, String)> = given
        .into_iter()
        .filter_map(|(field, v)| Some((field, v?.trim().to_string())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(_, first), rest @ ..] => match rest.iter().find(|(_, v)| v != first) {
            None => Ok(Some(first.clone())),
            Some((other, _)) => Err(bad(format!(
                "{} and {other} name different files; send the {input} once",
                given[0].0
            ))),
        },
    }
}

impl TaskRequest {
    /// Parses a JSON body, with a message that says what is wrong with it.
    pub fn from_json(body: &[u8]) -> Result<Self, ServiceError> {
        // An object only: serde would otherwise read a JSON array field by field.
        serde_json::from_slice::<serde_json::Value>(body)
            .and_then(|v| match v {
                serde_json::Value::Object(_) => serde_json::from_value(v),
                other => Err(serde::de::Error::custom(format!(
                    "expected an object, got {}",
                    match other {
                        serde_json::Value::Array(_) => "an array",
                        serde_json::Value::String(_) => "a string",
                        serde_json::Value::Number(_) => "a number",
                        serde_json::Value::Bool(_) => "a boolean",
                        _ => "null",
                    }
                ))),
            })
            .map_err(|e| {
                bad(format!(
                    "the body must be a JSON object like {{\"model\": \"luma-modify-video\", \
                 \"prompt\": \"…\", \"source_video_url\": \"https://…/clip.mp4\", \
                 \"first_frame_url\": \"https://…/frame.png\"}}; it could not be read: {e}"
                ))
            })
    }

    /// The modify-video request this task asks for (the model is checked with the rest when
    /// the service validates it).
    pub fn into_modify(self) -> Result<ModifyVideoRequest, ServiceError> {
        let media = one_of(
            "source video",
            vec![
                ("source_video_url", self.source_video_url),
                ("video_url", self.video_url),
                ("video", self.video.and_then(UrlOrRef::url)),
                ("media", self.media.and_then(UrlOrRef::url)),
            ],
        )?
        .ok_or_else(|| {
            bad(
                "source_video_url is required: the URL of the source clip (MP4 or MOV, H.264), \
                 or an upload URL from POST /v1/uploads",
            )
        })?;
        let first_frame = one_of(
            "first frame",
            vec![
                ("first_frame_url", self.first_frame_url),
                ("first_frame", self.first_frame.and_then(UrlOrRef::url)),
            ],
        )?;
        Ok(ModifyVideoRequest {
            generation_type: Some(GENERATION_TYPE.into()),
            media: Some(MediaRef { url: Some(media) }),
            first_frame: first_frame.map(|u| MediaRef { url: Some(u) }),
            mode: Some(
                self.mode
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_TASK_MODE.into()),
            ),
            model: self.model,
            prompt: self.prompt,
            callback_url: self.callback_url,
            // RunAPI's task has no look field; its requests are plain Modify Video ones.
            look: None,
        })
    }
}

/// Where a task is: pending → processing → completed | failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for a worker.
    Pending,
    /// A worker is making it.
    Processing,
    /// The video is ready: `output.video_url`.
    Completed,
    /// It failed or was cancelled: `error` says why; nothing was charged.
    Failed,
}

/// Why a task failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskError {
    /// `input`, `unavailable`, `processing`, `storage`, `crashed`, `cancelled` or `timeout`.
    pub code: String,
    /// What went wrong and what to change.
    pub message: String,
}

/// A completed task's video.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskOutput {
    /// A signed link to the MP4; GET the task again for a fresh one.
    pub video_url: String,
    /// When `video_url` stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// The inputs a task was made from, under this surface's names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskInput {
    /// The source clip.
    pub source_video_url: Option<String>,
    /// The edited first frame.
    pub first_frame_url: Option<String>,
    /// The prompt.
    pub prompt: Option<String>,
    /// The mode.
    pub mode: Option<String>,
}

impl From<&ModifyVideoRequest> for TaskInput {
    fn from(r: &ModifyVideoRequest) -> Self {
        TaskInput {
            source_video_url: r.media.as_ref().and_then(|m| m.url.clone()),
            first_frame_url: r.first_frame.as_ref().and_then(|m| m.url.clone()),
            prompt: r.prompt.clone(),
            mode: r.mode.clone(),
        }
    }
}

/// A generation as RunAPI's task API shows it (any generation of the key, whichever surface
/// made it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    /// Its id (a UUID; the same id works under `/dream-machine/v1/generations`).
    pub task_id: String,
    /// The model it runs.
    pub model: String,
    /// Where it is.
    pub status: TaskStatus,
    /// How far along it is, 0–100.
    #[schema(minimum = 0, maximum = 100)]
    pub progress: u8,
    /// Why it failed, once failed.
    pub error: Option<TaskError>,
    /// The video, once completed.
    pub output: Option<TaskOutput>,
    /// What it costs, in credits: held while it runs, charged when it completes, released
    /// when it fails.
    pub cost: f64,
    /// `reserved`, `charged` or `released`.
    pub credit_state: String,
    /// What it was asked to do.
    pub input: TaskInput,
    /// Poll this for its status.
    pub poll_url: String,
    /// When it was submitted (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modify(json: serde_json::Value) -> Result<ModifyVideoRequest, String> {
        TaskRequest::from_json(json.to_string().as_bytes())
            .and_then(TaskRequest::into_modify)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_canonical_fields_and_every_spelling_of_the_inputs_are_read() {
        let r = modify(serde_json::json!({
            "model": "luma-modify-video", "prompt": "fog",
            "source_video_url": "https://x/a.mp4", "first_frame_url": "https://x/f.png",
        }))
        .unwrap();
        assert_eq!(r.media.unwrap().url.as_deref(), Some("https://x/a.mp4"));
        assert_eq!(
            r.first_frame.unwrap().url.as_deref(),
            Some("https://x/f.png")
        );
        assert_eq!(r.mode.as_deref(), Some(DEFAULT_TASK_MODE));
        assert_eq!(r.model.as_deref(), Some("luma-modify-video"));
        for body in [
            serde_json::json!({"video_url": "https://x/a.mp4", "first_frame": "https://x/f.png"}),
            serde_json::json!({"video": "https://x/a.mp4", "first_frame": {"url": "https://x/f.png"}}),
            serde_json::json!({"media": {"url": "https://x/a.mp4"}, "first_frame_url": "https://x/f.png",
                               "source_video_url": "https://x/a.mp4"}),
        ] {
            let r = modify(body.clone()).unwrap();
            assert_eq!(
                r.media.unwrap().url.as_deref(),
                Some("https://x/a.mp4"),
                "{body}"
            );
            assert_eq!(
                r.first_frame.unwrap().url.as_deref(),
                Some("https://x/f.png"),
                "{body}"
            );
        }
    }

    #[test]
    fn a_missing_or_doubly_given_input_is_named() {
        let e =
            modify(serde_json::json!({"model": "luma-modify-video", "prompt": "..."})).unwrap_err();
        assert!(e.contains("source_video_url is required"), "{e}");
        let e = modify(serde_json::json!({"source_video_url": "https://x/a.mp4",
                                          "video_url": "https://x/b.mp4"}))
        .unwrap_err();
        assert!(
            e.contains("source_video_url and video_url name different files"),
            "{e}"
        );
        let e = modify(serde_json::json!({"source_video_url": "https://x/a.mp4",
            "first_frame_url": "https://x/f.png", "first_frame": {"url": "https://x/g.png"}}))
        .unwrap_err();
        assert!(e.contains("send the first frame once"), "{e}");
        let e = modify(serde_json::json!(["x"])).unwrap_err();
        assert!(e.contains("must be a JSON object"), "{e}");
    }
}
