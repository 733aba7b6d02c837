//! Video edits on Luma's current API (`/agents/v1`, what the `luma-agents` SDK calls): the
//! request's source and keyframes are fetched (a URL, base64 data, a file of the Files API,
//! an earlier output), checked and stored; then the edit is a generation like any other —
//! the same credits, queue, workers and webhooks, visible on the other APIs too.

use std::path::Path;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use retake_media::{load_image, Limits, Resolution, VideoReader, OUTPUT_FPS};
use retake_pipeline::{check_first_frame_shape, check_motion, place_keyframes, KeyframeAt};
use sha2::{Digest, Sha256};

use crate::blobs;
use crate::catalogue::Model;
use crate::domain::{
    rfc3339_ms, EditFailureCode, EditGeneration, EditGenerationList, EditOutput, EditRequest,
    EditSpec, EditVideo, InputRef, MediaRef, ModifyVideoRequest, State, StoredRequest, ValidEdit,
    GENERATION_TYPE,
};
use crate::error::{Result, ServiceError};
use crate::pricing::OutputSize;
use crate::service::{
    blocking, check_idempotency_key, media_error, price_of, ScratchFile, Service, Submission,
};
use crate::store::{now_ms, CreditState, GenerationRecord, IdempotencyKey, KeyRecord};

/// What a file must be to be used where it is referred to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A clip.
    Video,
    /// An edited frame.
    Image,
}

/// Standard base64, padded or not (clients differ).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe base64, padded or not.
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes `text` (base64, line breaks allowed) into `dest`, refusing more than `max` bytes.
fn decode_base64(field: &str, text: &str, dest: &Path, max: u64) -> Result<u64> {
    let clean: String;
    let text = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        clean = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        clean.as_str()
    } else {
        text
    };
    let estimate = text.len() as u64 / 4 * 3;
    if estimate > max + 3 {
        return Err(ServiceError::TooLarge(format!(
            "{field} is about {:.1} MB decoded; the limit is {:.1} MB — send it through the Files \
             API (POST /agents/v1/files) or as a URL",
            estimate as f64 / 1e6,
            max as f64 / 1e6
        )));
    }
    let bytes = BASE64
        .decode(text)
        .or_else(|_| BASE64_URL.decode(text))
        .map_err(|e| {
            ServiceError::BadRequest(format!(
                "{field} is not valid base64 ({e}); send the file's bytes base64-encoded"
            ))
        })?;
    if bytes.len() as u64 > max {
        return Err(ServiceError::TooLarge(format!(
            "{field} is {:.1} MB decoded; the limit is {:.1} MB — send it through the Files API \
             (POST /agents/v1/files) or as a URL",
            bytes.len() as f64 / 1e6,
            max as f64 / 1e6
        )));
    }
    std::fs::write(dest, &bytes)?;
    Ok(bytes.len() as u64)
}

/// SHA-256 (hex) of an edit request, to recognise an idempotent replay.
fn request_hash(body: &EditRequest) -> Result<String> {
    let json = serde_json::to_vec(body).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What the inputs of an edit came to, once fetched, checked and stored.
struct Inputs {
    width: u32,
    height: u32,
    frames: u32,
    source_width: u32,
    source_height: u32,
    media_blob: String,
    first_frame_blob: Option<String>,
    keyframe_frames: Vec<usize>,
}

/// An edit's source, fetched and probed (not yet stored).
pub(crate) struct ProbedSource {
    /// The clip, in a scratch file.
    pub(crate) media: ScratchFile,
    /// What the edit makes: the size at the requested tier and the frame count.
    pub(crate) out: OutputSize,
    source_width: u32,
    source_height: u32,
    keyframe_frames: Vec<usize>,
}

/// The blob of a generation's keyframe image `n`.
pub(crate) fn keyframe_key(generation: &str, n: usize) -> String {
    blobs::input_key(generation, &format!("keyframe-{n}"))
}

impl Service {
    /// Fetches one referenced input into a scratch file (checked by the caller).
    async fn fetch_ref(
        &self,
        caller: &KeyRecord,
        field: &str,
        r: &InputRef,
        kind: Kind,
        max_bytes: u64,
    ) -> Result<ScratchFile> {
        match r {
            // An upload URL that is not the caller's is a mistake in the request here.
            InputRef::Url(url) => self
                .fetch_input(caller, &format!("{field}.url"), url, max_bytes)
                .await
                .map_err(|e| match e {
                    ServiceError::NotFound(m) => ServiceError::BadRequest(m),
                    other => other,
                }),
            InputRef::Data { data, .. } => {
                let tmp = ScratchFile(self.scratch.file());
                let (f, d, p) = (format!("{field}.data"), data.clone(), tmp.0.clone());
                blocking(move || decode_base64(&f, &d, &p, max_bytes)).await??;
                Ok(tmp)
            }
            InputRef::File(id) => {
                let tmp = ScratchFile(self.scratch.file());
                self.file_into(caller, &format!("{field}.file_id"), id, kind, &tmp.0)
                    .await?;
                Ok(tmp)
            }
            InputRef::Generation(id) => {
                let field = format!("{field}.generation_id");
                let g = self
                    .store
                    .generation(&caller.id, id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::BadRequest(format!(
                            "{field}: no generation `{id}` for this key; chain off one of your own \
                             completed generations"
                        ))
                    })?;
                let blob = match (&g.state, &g.output_blob) {
                    (State::Completed, Some(b)) => b.clone(),
                    (state, _) => {
                        return Err(ServiceError::BadRequest(format!(
                            "{field}: generation `{id}` is {}, not completed; poll it until it \
                             is completed, then chain off it",
                            crate::domain::EditState::from(*state).as_str()
                        )))
                    }
                };
                let tmp = ScratchFile(self.scratch.file());
                self.blobs.get_file(&blob, &tmp.0).await?;
                Ok(tmp)
            }
        }
    }

    /// Fetches an edited frame and checks it is an image of the clip's shape.
    async fn fetch_image(
        &self,
        caller: &KeyRecord,
        field: &str,
        r: &InputRef,
        width: u32,
        height: u32,
    ) -> Result<ScratchFile> {
        let file = self
            .fetch_ref(caller, field, r, Kind::Image, self.config.max_image_bytes)
            .await?;
        let path = file.0.clone();
        let (kw, kh) = blocking(move || load_image(&path).map(|f| (f.width(), f.height())))
            .await?
            .map_err(|e| {
                ServiceError::UnreadableMedia(format!(
                    "{field} is not a PNG, JPEG or WebP image retake can read: {e}"
                ))
            })?;
        check_first_frame_shape(kw, kh, width, height).map_err(|m| {
            ServiceError::BadRequest(format!(
                "{field}: {}",
                m.replacen("the first frame", "the image", 1)
            ))
        })?;
        Ok(file)
    }

    /// Fetches the edit's source and probes it at the requested tier: the scratch file, the
    /// output it makes and where the keyframes land. Creates and quotes both go through
    /// here, so a quote is what a create charges.
    pub(crate) async fn probe_edit_source(
        &self,
        caller: &KeyRecord,
        valid: &ValidEdit,
        model: &Model<'_>,
    ) -> Result<ProbedSource> {
        let limits = Limits {
            output_cap: valid.resolution.cap(valid.upscale),
            ..self.config.limits_for(model)
        };
        // The clip's length is checked below against the model's limit, with a message that
        // names the model.
        let open_limits = Limits {
            max_duration_s: f64::MAX,
            ..limits
        };
        let media = self
            .fetch_ref(
                caller,
                "source",
                &valid.source,
                Kind::Video,
                limits.max_file_bytes,
            )
            .await?;
        let path = media.0.clone();
        let indexes: Vec<KeyframeAt> = valid
            .keyframes
            .iter()
            .map(|(i, _)| KeyframeAt::SourceFrame(*i))
            .collect();
        let with_start = valid.start_frame.is_some();
        let probed = blocking(move || {
            VideoReader::open(&path, &open_limits).map(|r| {
                let (w, h) = r.output_size();
                let v = &r.info().video;
                let placed = place_keyframes(&r, &indexes, with_start);
                (
                    (w, h),
                    (v.display_width, v.display_height),
                    (v.frame_count, r.frame_count(), v.duration_s),
                    placed,
                )
            })
        })
        .await?
        .map_err(|e| media_error("source", e))?;
        let ((width, height), (source_width, source_height), counts, placed) = probed;
        let (source_frames, frames, seconds) = counts;
        if seconds > limits.max_duration_s + 1e-6 {
            return Err(ServiceError::TooLarge(
                self.config
                    .too_long(model, seconds)
                    .replacen("media.url", "source", 1),
            ));
        }
        check_motion(source_frames, frames)
            .map_err(|m| ServiceError::UnreadableMedia(format!("source: {m}")))?;
        let keyframe_frames = placed
            .map_err(|m| ServiceError::BadRequest(format!("video.edit.keyframe_indexes: {m}")))?;
        Ok(ProbedSource {
            media,
            out: OutputSize {
                width,
                height,
                frames: frames as u32,
            },
            source_width,
            source_height,
            keyframe_frames,
        })
    }

    /// Fetches, probes and checks every input, then stores them under generation `id`.
    async fn edit_inputs(
        &self,
        caller: &KeyRecord,
        id: &str,
        valid: &ValidEdit,
        model: &Model<'_>,
    ) -> Result<Inputs> {
        let ProbedSource {
            media,
            out,
            source_width,
            source_height,
            keyframe_frames,
        } = self.probe_edit_source(caller, valid, model).await?;
        let (width, height) = (out.width, out.height);
        let start = match &valid.start_frame {
            None => None,
            Some(r) => Some(
                self.fetch_image(caller, "video.start_frame", r, width, height)
                    .await?,
            ),
        };
        let mut images = Vec::with_capacity(valid.keyframes.len());
        for (n, (_, r)) in valid.keyframes.iter().enumerate() {
            let field = format!("video.edit.keyframes[{n}]");
            images.push(self.fetch_image(caller, &field, r, width, height).await?);
        }
        // Every input is good: only now do they go to blob storage.
        let media_blob = blobs::input_key(id, "media");
        self.store_input(media, &media_blob).await?;
        let first_frame_blob = match start {
            None => None,
            Some(file) => {
                let key = blobs::input_key(id, "first_frame");
                self.store_input(file, &key).await?;
                Some(key)
            }
        };
        for (n, file) in images.into_iter().enumerate() {
            self.store_input(file, &keyframe_key(id, n)).await?;
        }
        Ok(Inputs {
            width,
            height,
            frames: out.frames,
            source_width,
            source_height,
            media_blob,
            first_frame_blob,
            keyframe_frames,
        })
    }

    /// Refuses an edit with nothing to change on this server (no edited frame, and no prompt
    /// or no model for one).
    pub(crate) fn check_edit(&self, valid: &ValidEdit) -> Result<()> {
        let edited = valid.keyframes.len() + usize::from(valid.start_frame.is_some());
        if edited == 0 {
            let why = match (&valid.prompt, self.pipeline.supports_prompt_only()) {
                (None, _) => {
                    "nothing to change: send edited frames in video.edit.keyframes (with their \
                     source frames in video.edit.keyframe_indexes), or a prompt"
                }
                (Some(_), false) => {
                    "this server has no diffusion model, so a prompt alone cannot restyle the \
                     clip; send edited frames in video.edit.keyframes (export them with `retake \
                     frame CLIP --source-frame N`), or ask the operator to set `model_dir`"
                }
                (Some(_), true) => "",
            };
            if !why.is_empty() {
                return Err(ServiceError::BadRequest(why.into()));
            }
        }
        Ok(())
    }

    /// Creates a video edit: checks the request, fetches and checks its inputs, reserves the
    /// model's price and queues it. With an `idempotency_key` this key used before for the
    /// same request, answers the generation made then and makes nothing new.
    pub async fn submit_edit(
        &self,
        caller: &KeyRecord,
        body: EditRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Submission> {
        let idempotency = match idempotency_key {
            None => None,
            Some(k) => {
                check_idempotency_key(k)?;
                let idem = IdempotencyKey {
                    key: k.to_string(),
                    request_hash: request_hash(&body)?,
                };
                if let Some((hash, earlier)) = self.store.idempotent(&caller.id, k).await? {
                    if hash != idem.request_hash {
                        return Err(crate::store::StoreError::IdempotencyConflict(idem.key).into());
                    }
                    return Ok(self.replayed(&earlier));
                }
                Some(idem)
            }
        };
        let catalogue = &self.config.catalogue;
        let valid = body.validate(
            self.config.max_prompt_chars,
            catalogue,
            self.config.max_resolution,
        )?;
        let model = catalogue
            .get(&valid.model)
            .ok_or_else(|| ServiceError::Internal(format!("model {} vanished", valid.model)))?;
        self.check_edit(&valid)?;
        let mut token = self.take_create_token(caller)?;
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let inputs = match self.edit_inputs(caller, &id, &valid, &model).await {
            Ok(v) => v,
            Err(e) => {
                blobs::remove_generation(self.blobs.as_ref(), &id).await;
                return Err(e);
            }
        };
        let stored = StoredRequest {
            request: ModifyVideoRequest {
                generation_type: Some(GENERATION_TYPE.into()),
                media: match &valid.source {
                    InputRef::Url(u) => Some(MediaRef {
                        url: Some(u.clone()),
                    }),
                    _ => None,
                },
                first_frame: match &valid.start_frame {
                    Some(InputRef::Url(u)) => Some(MediaRef {
                        url: Some(u.clone()),
                    }),
                    _ => None,
                },
                mode: Some(valid.mode.name().into()),
                look: None,
                model: Some(valid.model.clone()),
                prompt: valid.prompt.clone(),
                callback_url: valid.callback_url.clone(),
            },
            edit: Some(EditSpec {
                keyframes: valid.keyframes.iter().map(|(i, _)| *i).collect(),
                keyframe_frames: inputs.keyframe_frames,
                resolution: valid.resolution,
                upscale: valid.upscale,
                auto_mode: valid.auto_mode,
                controls: valid.controls,
                source_width: inputs.source_width,
                source_height: inputs.source_height,
            }),
        };
        let now = now_ms();
        let record = GenerationRecord {
            id: id.clone(),
            key_id: caller.id.clone(),
            state: State::Queued,
            failure_reason: None,
            failure_code: None,
            created_at: now,
            updated_at: now,
            request_json: serde_json::to_string(&stored)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            model: valid.model.clone(),
            progress: 0,
            media_blob: inputs.media_blob,
            first_frame_blob: inputs.first_frame_blob,
            output_blob: None,
            width: inputs.width,
            height: inputs.height,
            frames: inputs.frames,
            cost: price_of(
                &model,
                OutputSize {
                    width: inputs.width,
                    height: inputs.height,
                    frames: inputs.frames,
                },
            ),
            credit_state: CreditState::Reserved,
            callback_url: valid.callback_url.clone(),
            webhooks: Vec::new(),
        };
        if let Some(earlier) = self.enqueue(&record, idempotency, &model).await? {
            return Ok(self.replayed(&earlier));
        }
        token.kept = true;
        self.wake.notify_one();
        tracing::info!(generation = %id, key = %caller.id, cost = %record.cost, "edit queued");
        Ok(Submission {
            generation: self.view(&record),
            id,
            replayed: false,
            record,
        })
    }

    /// A generation in the `/agents/v1` shape (with a fresh signed video link once completed).
    pub fn edit_view(&self, g: &GenerationRecord) -> EditGeneration {
        let stored = StoredRequest::parse(&g.request_json);
        let spec = stored.edit.as_ref();
        let tier = Resolution::of_size(g.width, g.height);
        let upscaled =
            spec.is_some_and(|s| g.width.min(g.height) > s.source_width.min(s.source_height));
        let note = spec.and_then(|s| {
            let short = g.width.min(g.height);
            (short < s.resolution.short_side() && !s.upscale).then(|| {
                format!(
                    "the source is {}x{}, smaller than {}; it was kept at {}x{} (send \
                     video.upscale: true to scale it up)",
                    s.source_width, s.source_height, s.resolution, g.width, g.height
                )
            })
        });
        EditGeneration {
            id: g.id.clone(),
            created_at: rfc3339_ms(g.created_at),
            model: g.model.clone(),
            state: g.state.into(),
            kind: "video_edit".into(),
            failure_code: (g.state == State::Failed).then(|| {
                g.failure_code
                    .map(EditFailureCode::from)
                    .unwrap_or(EditFailureCode::GenerationFailed)
            }),
            failure_reason: g.failure_reason.clone(),
            output: self.video_link(g).map(|(url, _)| {
                vec![EditOutput {
                    kind: "video".into(),
                    url,
                }]
            }),
            progress: if g.state == State::Completed {
                100
            } else {
                g.progress
            },
            video: EditVideo {
                resolution: tier.name().into(),
                requested_resolution: spec.map(|s| s.resolution.name().to_string()),
                width: g.width,
                height: g.height,
                frames: g.frames,
                fps: OUTPUT_FPS,
                duration_s: g.frames as f64 / OUTPUT_FPS as f64,
                upscaled,
                note,
            },
            strength: stored.request.mode.clone(),
            auto_controls: spec.is_some_and(|s| s.auto_mode),
            keyframe_frames: spec.map(|s| s.keyframe_frames.clone()).unwrap_or_default(),
            cost: g.cost.as_f64(),
        }
    }

    /// One generation of the caller's, in the `/agents/v1` shape.
    pub async fn edit(&self, caller: &KeyRecord, id: &str) -> Result<EditGeneration> {
        Ok(self.edit_view(&self.record(caller, id).await?))
    }

    /// A page of the caller's generations, newest first; `cursor` is the `next_cursor` of
    /// the page before.
    pub async fn list_edits(
        &self,
        caller: &KeyRecord,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<EditGenerationList> {
        if !(1..=100).contains(&limit) {
            return Err(ServiceError::BadRequest(format!(
                "limit is {limit}; use 1 to 100"
            )));
        }
        let offset = match cursor {
            None => 0,
            Some(c) => c.parse::<u32>().map_err(|_| {
                ServiceError::BadRequest(format!(
                    "cursor `{}` is not one this server gave; pass next_cursor from the page \
                     before, or leave it out",
                    c.chars().take(40).collect::<String>()
                ))
            })?,
        };
        let (rows, has_more) = self
            .store
            .list_generations(&caller.id, limit, offset)
            .await?;
        Ok(EditGenerationList {
            data: rows.iter().map(|g| self.edit_view(g)).collect(),
            has_more,
            next_cursor: has_more.then(|| (offset + limit).to_string()),
        })
    }

    /// Cancels a queued or processing generation of the caller's (retake's extension).
    pub async fn cancel_edit(&self, caller: &KeyRecord, id: &str) -> Result<EditGeneration> {
        Ok(self.edit_view(&self.cancel_record(caller, id).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_read_padded_or_not_and_limited() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        assert_eq!(
            decode_base64("source.data", "aGVsbG8=", &p, 100).unwrap(),
            5
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        assert_eq!(decode_base64("f", "aGVs\nbG8", &p, 100).unwrap(), 5);
        assert_eq!(decode_base64("f", "-_8", &p, 100).unwrap(), 2, "url-safe");
        let e = decode_base64("source.data", "not base64!", &p, 100)
            .unwrap_err()
            .to_string();
        assert!(e.contains("source.data is not valid base64"), "{e}");
        let e = decode_base64("source.data", &"QUFB".repeat(100), &p, 100).unwrap_err();
        assert!(
            matches!(e, ServiceError::TooLarge(ref m) if m.contains("the limit is 0.0 MB") && m.contains("Files API")),
            "{e}"
        );
    }
}
