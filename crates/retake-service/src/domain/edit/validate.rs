//! Validation of an edit request: every field checked, with a message that names it and
//! says what to send; the controls mapped onto the engine's dials; `auto_controls`' rule.

use retake_engine::{Controls, Mode};
use retake_media::Resolution;
use serde_json::Value;

use super::{
    EditControls, EditRequest, InputRef, MediaSource, ValidEdit, DEFAULT_RESOLUTION,
    MAX_EDIT_KEYFRAMES,
};
use crate::catalogue::{id_list, Catalogue, Surface};
use crate::error::ServiceError;

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

const MODES: &str =
    "adhere_1, adhere_2, adhere_3, flex_1, flex_2, flex_3, reimagine_1, reimagine_2, reimagine_3";

const VIDEO_TYPES: [&str; 2] = ["video/mp4", "video/quicktime"];
const IMAGE_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];

/// What kind of file a reference must name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Video,
    Image,
}

fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

/// Checks one media reference at `field`.
fn input_ref(field: &str, r: &MediaSource, expect: Expect) -> Result<InputRef, ServiceError> {
    let given: Vec<&str> = [
        ("url", r.url.is_some()),
        ("data", r.data.is_some()),
        ("file_id", r.file_id.is_some()),
        ("generation_id", r.generation_id.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(n, _)| n)
    .collect();
    let what = match expect {
        Expect::Video => "the source video",
        Expect::Image => "an image (PNG, JPEG or WebP)",
    };
    match given.as_slice() {
        [] => {
            return Err(bad(format!(
                "{field} needs one of url, data (with media_type), file_id or generation_id: \
                 {what}"
            )))
        }
        [_] => {}
        [a, b, ..] => {
            return Err(bad(format!(
                "{field} has both {a} and {b}; give exactly one of url, data, file_id or \
                 generation_id"
            )))
        }
    }
    let allowed: &[&str] = match expect {
        Expect::Video => &VIDEO_TYPES,
        Expect::Image => &IMAGE_TYPES,
    };
    let media_type = match r.media_type.as_deref().map(lower) {
        None => None,
        Some(t) if allowed.contains(&t.as_str()) => Some(t),
        Some(t) => {
            let hint = match (expect, t.starts_with("image/"), t.starts_with("video/")) {
                (Expect::Video, true, _) => {
                    " (an edit's source is a video; edited frames go in video.edit.keyframes)"
                }
                (Expect::Image, _, true) => " (keyframes are images of single frames)",
                _ => "",
            };
            return Err(bad(format!(
                "{field}.media_type is `{}`; use {}{hint}",
                truncate(&t, 40),
                allowed.join(" or ")
            )));
        }
    };
    if let Some(url) = &r.url {
        let u = url.trim();
        let l = u.to_ascii_lowercase();
        if !(l.starts_with("http://") || l.starts_with("https://")) {
            return Err(bad(format!(
                "{field}.url must be an http:// or https:// URL (or an upload URL); got `{}`",
                truncate(u, 80)
            )));
        }
        if expect == Expect::Video && media_type.is_none() {
            return Err(bad(format!(
                "{field}.media_type is required with {field}.url: send `video/mp4` (or \
                 `video/quicktime`)"
            )));
        }
        return Ok(InputRef::Url(u.to_string()));
    }
    if let Some(data) = &r.data {
        let Some(media_type) = media_type else {
            return Err(bad(format!(
                "{field}.media_type is required with {field}.data: send {}",
                allowed.join(" or ")
            )));
        };
        // A data URL's header is allowed; the rest must be base64.
        let body = match data.trim_start().strip_prefix("data:") {
            Some(rest) => match rest.split_once(',') {
                Some((head, b)) if head.ends_with(";base64") => b,
                _ => {
                    return Err(bad(format!(
                        "{field}.data is a data: URL without `;base64,`; send the file as base64"
                    )))
                }
            },
            None => data.as_str(),
        };
        if body.trim().is_empty() {
            return Err(bad(format!(
                "{field}.data is empty; send the file as base64"
            )));
        }
        return Ok(InputRef::Data {
            data: body.to_string(),
            media_type,
        });
    }
    let uuid = |name: &str, v: &str| {
        uuid::Uuid::parse_str(v.trim())
            .map(|u| u.hyphenated().to_string())
            .map_err(|_| {
                bad(format!(
                    "{field}.{name} `{}` is not an id retake made (a UUID)",
                    truncate(v, 60)
                ))
            })
    };
    if let Some(f) = &r.file_id {
        return Ok(InputRef::File(uuid("file_id", f)?));
    }
    match (&r.generation_id, expect) {
        (Some(g), Expect::Video) => Ok(InputRef::Generation(uuid("generation_id", g)?)),
        _ => Err(bad(format!(
            "{field}.generation_id cannot be a keyframe: retake's generations are videos; send \
             the edited frame as url, data or file_id"
        ))),
    }
}

fn refuse_if(set: bool, msg: &str) -> Result<(), ServiceError> {
    if set {
        Err(bad(msg))
    } else {
        Ok(())
    }
}

fn unit(field: &str, v: Option<f64>) -> Result<Option<f64>, ServiceError> {
    match v {
        Some(x) if !(x.is_finite() && (0.0..=1.0).contains(&x)) => {
            Err(bad(format!("{field} is {x}; use a number from 0 to 1")))
        }
        other => Ok(other),
    }
}

/// The controls as the engine's two dials (the mapping the README documents).
fn controls(c: &EditControls) -> Result<Controls, ServiceError> {
    let p = "video.edit.controls";
    if c.face.as_ref().and_then(|f| f.enabled) == Some(true) {
        return Err(bad(format!(
            "{p}.face.enabled: retake cannot detect faces, so it cannot condition on them; \
             leave face out (or set enabled to false)"
        )));
    }
    // Each structural signal asks for some hold on the source's structure; the strongest wins,
    // and a signal turned off asks for none.
    let mut structure: Option<f32> = None;
    let mut ask = |v: f64| structure = Some(structure.unwrap_or(0.0).max(v as f32));
    if let Some(d) = &c.depth {
        let blur = unit(&format!("{p}.depth.blur"), d.blur)?;
        ask(match (d.enabled, blur) {
            (Some(false), _) => 0.0,
            (_, Some(b)) => 1.0 - b,
            _ => 0.5,
        });
    }
    if let Some(n) = &c.normals {
        let aug = unit(&format!("{p}.normals.augmentation"), n.augmentation)?;
        ask(match (n.enabled, aug) {
            (Some(false), _) => 0.0,
            (_, Some(a)) => 1.0 - a,
            _ => 0.5,
        });
    }
    if let Some(pose) = &c.pose {
        let strength = match pose.strength.as_deref().map(lower).as_deref() {
            None => 0.5,
            Some("precise") => 0.75,
            Some("coarse") => 0.25,
            Some(other) => {
                return Err(bad(format!(
                    "{p}.pose.strength is `{}`; use precise or coarse",
                    truncate(other, 30)
                )))
            }
        };
        ask(if pose.enabled == Some(false) {
            0.0
        } else {
            strength
        });
    }
    let trajectory = match &c.trajectory {
        None => None,
        Some(t) => {
            let sparsity = unit(&format!("{p}.trajectory.sparsity"), t.sparsity)?;
            match (t.enabled, sparsity) {
                (Some(false), _) => Some(0.0),
                (_, Some(s)) => Some(1.0 - s as f32),
                _ => None,
            }
        }
    };
    Ok(Controls {
        structure,
        trajectory,
    })
}

/// The mode `auto_controls` picks: several edited frames pin the look all along, so the
/// output stays close to the source between them (`adhere_2`); one edited frame is carried
/// with the default balance (`flex_1`); a prompt alone lets the restyled keyframes lead
/// (`flex_2`).
pub fn auto_mode(edited_frames: usize) -> Mode {
    match edited_frames {
        0 => Mode::Flex2,
        1 => Mode::Flex1,
        _ => Mode::Adhere2,
    }
}

impl EditRequest {
    /// Parses a JSON body, with a message that says what is wrong with it.
    pub fn from_json(body: &[u8]) -> Result<Self, ServiceError> {
        serde_json::from_slice::<Value>(body)
            .and_then(|v| match v {
                Value::Object(_) => serde_json::from_value(v),
                _ => Err(serde::de::Error::custom("expected a JSON object")),
            })
            .map_err(|e| {
                bad(format!(
                    "the body must be a JSON object like {{\"type\": \"video_edit\", \"model\": \
                     \"ray-3.2\", \"prompt\": \"…\", \"source\": {{\"url\": \"https://…/clip.mp4\", \
                     \"media_type\": \"video/mp4\"}}}}; it could not be read: {e}"
                ))
            })
    }

    /// Checks every field that can be checked without the files; `max_prompt_chars` caps the
    /// prompt, `model` must be one of the catalogue's for this API, and `max_resolution` caps
    /// the tier.
    pub fn validate(
        &self,
        max_prompt_chars: usize,
        catalogue: &Catalogue,
        max_resolution: Resolution,
    ) -> Result<ValidEdit, ServiceError> {
        match self.kind.as_deref().map(str::trim) {
            Some("video_edit") => {}
            None => {
                return Err(bad(
                    "type is required: retake edits videos, so send `video_edit` with a source \
                     video",
                ))
            }
            Some(other) => {
                return Err(bad(format!(
                    "type `{}` is not served: retake edits video only — send type `video_edit` \
                     with a source video (image, video, video_reframe and layering generations \
                     are not available here)",
                    truncate(other, 30)
                )))
            }
        }
        let models = id_list(catalogue.ids_on(Surface::Agents));
        let model = match self.model.as_deref().map(str::trim) {
            None => catalogue
                .ids_on(Surface::Agents)
                .first()
                .map(|m| m.to_string())
                .ok_or_else(|| bad("this server has no model for video edits"))?,
            Some(m) if catalogue.get_on(Surface::Agents, m).is_some() => m.to_string(),
            Some(other) => {
                return Err(bad(format!(
                    "model `{}` does not edit video here; use {models}",
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
        refuse_if(
            self.aspect_ratio.is_some(),
            "aspect_ratio: an edit keeps the source's aspect ratio; leave aspect_ratio out (crop \
             the source first to change it)",
        )?;
        refuse_if(
            self.image_ref.as_ref().is_some_and(|v| !v.is_null()),
            "image_ref: reference images are not supported for video edits; put edited frames in \
             video.edit.keyframes",
        )?;
        refuse_if(
            self.layering.as_ref().is_some_and(|v| !v.is_null()),
            "layering is for type `layering`; retake edits video only",
        )?;
        refuse_if(
            self.output_format.is_some(),
            "output_format is for images; an edit's output is always MP4 (H.264)",
        )?;
        if let Some(style) = &self.style {
            refuse_if(
                lower(style) != "auto",
                "style: only `auto` is available for video edits; describe the look in the prompt",
            )?;
        }
        refuse_if(
            self.web_search == Some(true),
            "web_search is not available here; leave it out (or false)",
        )?;
        let source = self
            .source
            .as_ref()
            .ok_or_else(|| {
                bad("source is required: the video to edit, as {\"url\": …, \"media_type\": \"video/mp4\"}, {\"data\": …}, {\"file_id\": …} or {\"generation_id\": …}")
            })
            .and_then(|s| input_ref("source", s, Expect::Video))?;
        let video = self.video.clone().unwrap_or_default();
        refuse_if(
            video.duration.as_ref().is_some_and(|v| !v.is_null()),
            "video.duration: an edit keeps the source's duration; leave duration out",
        )?;
        refuse_if(
            video.end_frame.as_ref().is_some_and(|v| !v.is_null()),
            "video.end_frame is for type `video`; for an edit, put the edited last frame in \
             video.edit.keyframes with its index in video.edit.keyframe_indexes",
        )?;
        refuse_if(
            video.hdr == Some(true) || video.exr_export == Some(true),
            "video.hdr / video.exr_export: HDR output is not available here; leave them out",
        )?;
        refuse_if(
            video.looping == Some(true),
            "video.loop is for type `video`; an edit follows its source",
        )?;
        refuse_if(
            video.keyframes.as_ref().is_some_and(|v| !v.is_null())
                || video
                    .keyframe_indexes
                    .as_ref()
                    .is_some_and(|v| !v.is_null()),
            "video.keyframes and video.keyframe_indexes are for type `video`; an edit's keyframes \
             go in video.edit.keyframes and video.edit.keyframe_indexes",
        )?;
        refuse_if(
            video.source_position.as_ref().is_some_and(|v| !v.is_null()),
            "video.source_position is for type `video_reframe`; retake edits video only",
        )?;
        let resolution = match video.resolution.as_deref() {
            None => DEFAULT_RESOLUTION.min(max_resolution),
            Some(r) => {
                let r = r
                    .parse::<Resolution>()
                    .map_err(|e| bad(format!("video.resolution: {e}")))?;
                if r > max_resolution {
                    return Err(bad(format!(
                        "video.resolution {r} is above this server's highest tier, \
                         {max_resolution}; ask for {max_resolution} or lower (the operator sets \
                         max_resolution)"
                    )));
                }
                r
            }
        };
        let upscale = video.upscale.unwrap_or(false);
        refuse_if(
            upscale && video.resolution.is_none(),
            "video.upscale needs video.resolution: say which tier to scale up to",
        )?;
        let start_frame = match &video.start_frame {
            None => None,
            Some(s) => Some(input_ref("video.start_frame", s, Expect::Image)?),
        };
        let edit = video.edit.clone().unwrap_or_default();
        let images = edit.keyframes.clone().unwrap_or_default();
        let indexes = edit.keyframe_indexes.clone().unwrap_or_default();
        if images.len() != indexes.len() {
            return Err(bad(format!(
                "video.edit.keyframes has {} entries but video.edit.keyframe_indexes has {}; give \
                 one source frame index per keyframe",
                images.len(),
                indexes.len()
            )));
        }
        if images.len() > MAX_EDIT_KEYFRAMES {
            return Err(bad(format!(
                "video.edit.keyframes has {} entries; the most is {MAX_EDIT_KEYFRAMES}",
                images.len()
            )));
        }
        if start_frame.is_some() && !images.is_empty() {
            return Err(bad(
                "video.start_frame and video.edit.keyframes cannot both be given; put the first \
                 frame in video.edit.keyframes at index 0",
            ));
        }
        let mut keyframes = Vec::with_capacity(images.len());
        for (i, (img, &index)) in images.iter().zip(&indexes).enumerate() {
            if index < 0 {
                return Err(bad(format!(
                    "video.edit.keyframe_indexes[{i}] is {index}; indexes are source frames \
                     counted from 0"
                )));
            }
            if let Some(j) = indexes[..i].iter().position(|&o| o == index) {
                return Err(bad(format!(
                    "video.edit.keyframe_indexes[{j}] and [{i}] are both {index}; each keyframe \
                     needs its own frame"
                )));
            }
            let r = input_ref(&format!("video.edit.keyframes[{i}]"), img, Expect::Image)?;
            keyframes.push((index as usize, r));
        }
        let edited = keyframes.len() + usize::from(start_frame.is_some());
        let strength = match edit.strength.as_deref() {
            None => None,
            Some(s) => Some(s.parse::<Mode>().map_err(|_| {
                bad(format!(
                    "video.edit.strength `{}` is unknown; use one of {MODES}",
                    truncate(s, 30)
                ))
            })?),
        };
        let engine_controls = match &edit.controls {
            None => Controls::default(),
            Some(c) => controls(c)?,
        };
        let manual = strength.is_some() || edit.controls.is_some();
        let (mode, auto_mode) = match (edit.auto_controls, manual) {
            (Some(true), true) => {
                return Err(bad(
                    "video.edit.auto_controls is true but strength or controls are given too; \
                     either let retake choose (leave strength and controls out) or set them \
                     yourself (leave auto_controls out)",
                ))
            }
            (Some(true), false) | (None, false) => (auto_mode(edited), true),
            _ => (strength.unwrap_or_default(), false),
        };
        let callback_url = match self.callback_url.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => {
                let l = u.to_ascii_lowercase();
                if !(l.starts_with("http://") || l.starts_with("https://")) {
                    return Err(bad(format!(
                        "callback_url must be an http:// or https:// URL; got `{}`",
                        truncate(u, 80)
                    )));
                }
                Some(u.to_string())
            }
            _ => None,
        };
        Ok(ValidEdit {
            prompt: prompt.map(str::to_string),
            model,
            source,
            start_frame,
            keyframes,
            resolution,
            resolution_requested: video.resolution.is_some(),
            upscale,
            mode,
            auto_mode,
            controls: engine_controls,
            callback_url,
        })
    }
}
