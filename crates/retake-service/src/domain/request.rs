//! The modify-video request as clients send it, and its validation.

use retake_engine::Mode;
use serde::{Deserialize, Serialize};

use super::look::{parse_look, ValidLook};
use crate::catalogue::{id_list, Catalogue, Surface};
use crate::error::ServiceError;

/// A media reference: `{"url": "..."}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaRef {
    /// Where the file is: an `http(s)://` URL, or an upload URL of this server.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1)]
    pub url: Option<String>,
}

/// The mode names, for the API schema (the request keeps the string, to word its own error).
#[derive(Serialize, utoipa::ToSchema)]
#[allow(non_camel_case_types, dead_code)]
pub enum ModeName {
    /// Closest to the source.
    adhere_1,
    /// Close to the source.
    adhere_2,
    /// Close to the source, a little freer.
    adhere_3,
    /// Balanced.
    flex_1,
    /// Balanced, freer.
    flex_2,
    /// Balanced, freest.
    flex_3,
    /// Bold.
    reimagine_1,
    /// Bolder.
    reimagine_2,
    /// Boldest.
    reimagine_3,
}

/// The model names, for the API schema.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub enum ModelName {
    /// The quality profile.
    #[serde(rename = "ray-2")]
    Ray2,
    /// The fast profile.
    #[serde(rename = "ray-flash-2")]
    RayFlash2,
    /// Only in the `request` echo of a task made on RunAPI's surface
    /// (`/api/v1/luma/modify_video`); a create here refuses it.
    #[serde(rename = "luma-modify-video")]
    LumaModifyVideo,
    /// Only in the `request` echo of an edit made on `/agents/v1`; a create here refuses it.
    #[serde(rename = "ray-3.2")]
    Ray32,
}

/// The one generation type, for the API schema.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(non_camel_case_types, dead_code)]
pub enum GenerationTypeName {
    /// Modify a video.
    modify_video,
}

/// The body of `POST /generations/video/modify`, read leniently so that every mistake gets
/// our own message, and echoed back as the generation's `request`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModifyVideoRequest {
    /// Must be `modify_video` when given.
    #[serde(default)]
    #[schema(value_type = Option<GenerationTypeName>)]
    pub generation_type: Option<String>,
    /// The source clip.
    #[serde(default)]
    #[schema(required = true, value_type = MediaRef)]
    pub media: Option<MediaRef>,
    /// The edited first frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame: Option<MediaRef>,
    /// `adhere_1` … `reimagine_3`; default `adhere_1` (the same on every surface).
    #[serde(default)]
    #[schema(value_type = Option<ModeName>)]
    pub mode: Option<String>,
    /// `ray-2` (default) or `ray-flash-2` (`luma-modify-video` in the echo of a RunAPI task).
    #[serde(default)]
    #[schema(value_type = Option<ModelName>)]
    pub model: Option<String>,
    /// What to change (at most `max_prompt_chars`, 2000 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub prompt: Option<String>,
    /// Where to POST the generation on dreaming, completed and failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// retake's extension: a built-in look (no model needed), applied to the first frame
    /// (the one sent, or the clip's own) and carried through the clip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<super::look::LookValue>)]
    pub look: Option<serde_json::Value>,
}

/// A request that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidRequest {
    /// Source clip URL.
    pub media_url: String,
    /// Edited first frame URL.
    pub first_frame_url: Option<String>,
    /// The mode.
    pub mode: Mode,
    /// The model's id, one the catalogue has for the surface the request came in on.
    pub model: String,
    /// The prompt (trimmed; empty becomes `None`).
    pub prompt: Option<String>,
    /// Webhook target.
    pub callback_url: Option<String>,
    /// The built-in look.
    pub look: Option<ValidLook>,
}

/// The mode of a request that names none, on every API surface (Segmind's documented
/// default; the CLI's own default is `flex_1`).
pub const DEFAULT_MODE: &str = "adhere_1";

/// The model of a request that names none.
pub const DEFAULT_MODEL: &str = "ray-2";

const MODES: &str =
    "adhere_1, adhere_2, adhere_3, flex_1, flex_2, flex_3, reimagine_1, reimagine_2, reimagine_3";

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

pub(crate) fn check_url(field: &str, url: &str) -> Result<(), ServiceError> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(())
    } else {
        Err(bad(format!(
            "{field} must be an http:// or https:// URL (or an upload URL from POST /v1/uploads); got `{}`",
            truncate(url, 80)
        )))
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

impl ModifyVideoRequest {
    /// Parses a JSON body, with a message that says what is wrong with it.
    pub fn from_json(body: &[u8]) -> Result<Self, ServiceError> {
        serde_json::from_slice(body).map_err(|e| {
            bad(format!(
                "the body must be a JSON object like {{\"generation_type\": \"modify_video\", \
                 \"media\": {{\"url\": \"https://…/clip.mp4\"}}, \"mode\": \"flex_1\", \
                 \"model\": \"ray-2\"}}; it could not be read: {e}"
            ))
        })
    }

    /// Checks every field; `max_prompt_chars` caps the prompt, and `model` must be one of the
    /// catalogue's models for `surface`.
    pub fn validate(
        &self,
        max_prompt_chars: usize,
        catalogue: &Catalogue,
        surface: Surface,
    ) -> Result<ValidRequest, ServiceError> {
        if let Some(t) = &self.generation_type {
            if t != crate::domain::GENERATION_TYPE {
                return Err(bad(format!(
                    "generation_type is `{t}`; this endpoint only does `modify_video`"
                )));
            }
        }
        let media_url = self
            .media
            .as_ref()
            .and_then(|m| m.url.clone())
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                bad("media.url is required: the URL of the source clip (MP4 or MOV, H.264)")
            })?;
        check_url("media.url", &media_url)?;
        let first_frame_url = match &self.first_frame {
            None => None,
            Some(f) => match f.url.as_deref().map(str::trim) {
                Some(u) if !u.is_empty() => {
                    check_url("first_frame.url", u)?;
                    Some(u.to_string())
                }
                _ => {
                    return Err(bad(
                        "first_frame.url is empty; give the URL of the edited first frame \
                         (PNG, JPEG or WebP) or leave out first_frame",
                    ))
                }
            },
        };
        let mode_name = self.mode.as_deref().unwrap_or(DEFAULT_MODE);
        let mode = mode_name.parse::<Mode>().map_err(|_| {
            bad(format!(
                "mode `{}` is unknown; use one of {MODES}",
                truncate(mode_name, 40)
            ))
        })?;
        let models = id_list(catalogue.ids_on(surface));
        let model = match self
            .model
            .as_deref()
            .map(str::trim)
            .unwrap_or(DEFAULT_MODEL)
        {
            m if catalogue.get_on(surface, m).is_some() => m.to_string(),
            other => {
                return Err(bad(format!(
                    "model `{}` is unknown here; use {models}",
                    truncate(other, 40)
                )))
            }
        };
        let prompt = self
            .prompt
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        if let Some(p) = prompt {
            let n = p.chars().count();
            if n > max_prompt_chars {
                return Err(bad(format!(
                    "prompt is {n} characters; the limit is {max_prompt_chars} — shorten it"
                )));
            }
        }
        let callback_url = match self.callback_url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => {
                check_url("callback_url", u)?;
                Some(u.to_string())
            }
            _ => None,
        };
        let look = self.look.as_ref().map(parse_look).transpose()?;
        Ok(ValidRequest {
            look,
            media_url: media_url.trim().to_string(),
            first_frame_url,
            mode,
            model,
            prompt: prompt.map(str::to_string),
            callback_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> Result<ValidRequest, String> {
        ModifyVideoRequest::from_json(json.as_bytes())
            .and_then(|r| r.validate(20, &Catalogue::default(), Surface::Luma))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_the_sdk_shape() {
        let v = req(
            r#"{"generation_type":"modify_video","media":{"url":"https://x/a.mp4"},
            "first_frame":{"url":"https://x/f.png"},"mode":"reimagine_3","model":"ray-flash-2",
            "prompt":" neon ","callback_url":"http://hook/x"}"#,
        )
        .unwrap();
        assert_eq!(v.mode, Mode::Reimagine3);
        assert_eq!(v.model, "ray-flash-2");
        assert_eq!(v.prompt.as_deref(), Some("neon"));
        assert_eq!(v.first_frame_url.as_deref(), Some("https://x/f.png"));
    }

    #[test]
    fn mode_and_model_default_the_same_everywhere() {
        let v =
            req(r#"{"media":{"url":"https://x/a.mp4"},"first_frame":{"url":"https://x/f.png"}}"#)
                .unwrap();
        assert_eq!(v.mode, Mode::Adhere1);
        assert_eq!(v.model, "ray-2");
    }

    #[test]
    fn every_mistake_says_what_to_fix() {
        let base = r#""media":{"url":"https://x/a.mp4"},"mode":"flex_1","model":"ray-2""#;
        let cases = [
            ("{}".to_string(), "media.url is required"),
            ("[1]".to_string(), "must be a JSON object"),
            (
                format!(r#"{{{base},"generation_type":"video"}}"#),
                "only does `modify_video`",
            ),
            (
                r#"{"media":{"url":"file:///etc/passwd"},"mode":"flex_1","model":"ray-2"}"#
                    .to_string(),
                "http:// or https://",
            ),
            (
                r#"{"media":{"url":"https://x"},"mode":"wild","model":"ray-2"}"#.to_string(),
                "mode `wild` is unknown",
            ),
            (
                r#"{"media":{"url":"https://x"},"mode":"flex_1","model":"ray-3"}"#.to_string(),
                "model `ray-3` is unknown here; use `ray-2` or `ray-flash-2`",
            ),
            (
                format!(
                    r#"{{"media":{{"url":"https://x"}},"mode":"flex_1","model":"{}"}}"#,
                    "luma-modify-video"
                ),
                "model `luma-modify-video` is unknown here",
            ),
            (
                format!(r#"{{{base},"prompt":"{}"}}"#, "a".repeat(21)),
                "prompt is 21 characters; the limit is 20",
            ),
            (
                format!(r#"{{{base},"first_frame":{{}}}}"#),
                "first_frame.url is empty",
            ),
            (
                format!(r#"{{{base},"callback_url":"ftp://x"}}"#),
                "callback_url must be",
            ),
        ];
        for (body, want) in cases {
            let e = req(&body).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
    }
}
