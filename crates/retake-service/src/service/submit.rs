//! Creating a generation: validation, idempotent retries, the create rate, fetching and
//! probing the inputs, reserving credits and queueing the job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use retake_media::{load_image, Limit, Limits, MediaError, VideoReader};
use sha2::{Digest, Sha256};

use super::{redact_paths, ScratchFile, Service};
use crate::blobs;
use crate::catalogue::{Model, Surface};
use crate::domain::{Generation, ModifyVideoRequest, State, ValidRequest, GENERATION_TYPE};
use crate::error::{Result, ServiceError};
use crate::pipeline::{nothing_to_change, prompt_needs_model, LOOK_MASK};
use crate::pricing::OutputSize;
use crate::ratelimit::RateLimiter;
use crate::store::{
    now_ms, CreditState, GenerationRecord, IdempotencyKey, KeyRecord, StoreError, Submitted,
};
use retake_pipeline::{check_first_frame_shape, check_mask_shape, check_motion};

/// What a create did.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The generation.
    pub generation: Generation,
    /// Its id.
    pub id: String,
    /// True when an idempotency key matched an earlier create: nothing new was made.
    pub replayed: bool,
    /// As stored (for the surfaces that show it in their own shape).
    pub(crate) record: GenerationRecord,
}

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// One lock per (key, idempotency key) in use, so that retries of one create take turns:
/// a retry that races its original waits for it and then finds the generation it made,
/// instead of making (or being rate-limited for) a second one.
#[derive(Default)]
pub(crate) struct RetryTurns {
    locks: Mutex<HashMap<(String, String), Weak<Turn>>>,
}

/// The lock retries of one create take turns on.
type Turn = tokio::sync::Mutex<()>;

impl RetryTurns {
    async fn take(&self, key_id: &str, idem: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = match self.locks.lock() {
                Ok(l) => l,
                Err(p) => p.into_inner(),
            };
            locks.retain(|_, w| w.strong_count() > 0);
            let k = (key_id.to_string(), idem.to_string());
            match locks.get(&k).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(Turn::new(()));
                    locks.insert(k, Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }
}

/// A token taken from the create rate, given back unless the create is accepted: refused
/// requests and replays do not use up a key's creates.
pub(crate) struct CreateToken<'a> {
    limiter: &'a RateLimiter,
    key_id: &'a str,
    pub(crate) kept: bool,
}

impl Drop for CreateToken<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.limiter.refund(self.key_id);
        }
    }
}

/// The error a client sees for a media file that could not be used: the field is named,
/// a server path never is.
pub(crate) fn media_error(field: &str, e: MediaError) -> ServiceError {
    match e {
        MediaError::LimitExceeded { limit, message } => {
            let raise = match limit {
                Limit::Duration => ", or ask the operator to raise `max_duration_s`",
                Limit::FileSize => ", or ask the operator to raise `max_bytes`",
                Limit::InputSide => ", or ask the operator to raise `max_input_side`",
                Limit::MinSide => "",
            };
            ServiceError::TooLarge(format!("{field}: {message}{raise}"))
        }
        MediaError::Io { .. } | MediaError::Stream(_) => ServiceError::Internal(e.to_string()),
        MediaError::Image { reason, .. } => {
            ServiceError::UnreadableMedia(format!("{field}: {reason}"))
        }
        other => ServiceError::UnreadableMedia(format!("{field}: {other}")),
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("blocking task failed: {e}")))
}

/// What a generation of `model` making `out` costs: the one price every create reserves and
/// every quote shows.
pub(crate) fn price_of(model: &Model<'_>, out: OutputSize) -> crate::pricing::Credits {
    model.settings.price.cost(out)
}

/// SHA-256 (hex) of a request's normalised JSON, to recognise an idempotent replay.
fn request_hash(request: &ModifyVideoRequest) -> Result<String> {
    let json = serde_json::to_vec(request).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

pub(crate) fn check_idempotency_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters \
             without spaces, such as a UUID"
        )))
    }
}

impl Service {
    /// Takes a token from the key's create rate (given back when the create fails).
    pub(crate) fn take_create_token<'a>(&'a self, key: &'a KeyRecord) -> Result<CreateToken<'a>> {
        self.submit_limiter
            .check(&key.id)
            .map_err(|retry_after_s| ServiceError::RateLimited {
                detail: format!(
                    "this key is over its limit of {} new generations a minute (bursts of \
                     {}); retry after {retry_after_s} s, or ask the operator to raise \
                     `submit_limit_per_min`",
                    self.config.submit_limit_per_min, self.config.submit_limit_burst
                ),
                retry_after_s,
            })?;
        Ok(CreateToken {
            limiter: &self.submit_limiter,
            key_id: &key.id,
            kept: false,
        })
    }

    /// Fetches one input (URL or own upload) into a scratch file, which the caller checks
    /// and then stores with [`Service::store_input`] (or drops).
    pub(crate) async fn fetch_input(
        &self,
        caller: &KeyRecord,
        field: &str,
        url: &str,
        max_bytes: u64,
    ) -> Result<ScratchFile> {
        let tmp = ScratchFile(self.scratch.file());
        let upload_prefix = format!("{}/v1/uploads/", self.base_url);
        if let Some(upload) = url.trim().strip_prefix(&upload_prefix) {
            let from = self
                .upload_blob(caller, upload)
                .await
                .map_err(|e| match e {
                    ServiceError::NotFound(m) => ServiceError::NotFound(format!("{field}: {m}")),
                    other => other,
                })?;
            return match self.blobs.get_file(&from, &tmp.0).await {
                Ok(()) => Ok(tmp),
                Err(blobs::BlobError::NotFound(_)) => Err(ServiceError::NotFound(format!(
                    "{field}: the upload `{upload}` is gone; upload the file again with POST \
                     /v1/uploads"
                ))),
                Err(e) => Err(e.into()),
            };
        }
        self.fetcher.download(field, url, &tmp.0, max_bytes).await?;
        Ok(tmp)
    }

    /// Moves a checked input into blob storage.
    pub(crate) async fn store_input(&self, file: ScratchFile, key: &str) -> Result<()> {
        let path = file.0.clone();
        std::mem::forget(file);
        Ok(self.blobs.put_file(&path, key).await?)
    }

    /// Checks what a request asks for against what this server can do.
    pub(crate) async fn check_request(&self, valid: &ValidRequest) -> Result<()> {
        let has_model = self.pipeline.supports_prompt_only();
        // An edited first frame or a built-in look is enough on any server; a prompt alone
        // needs a model.
        let given = valid.first_frame_url.is_some() || valid.look.is_some();
        match (given, &valid.prompt) {
            (true, _) => {}
            (false, None) => return Err(ServiceError::BadRequest(nothing_to_change(has_model))),
            (false, Some(_)) if !has_model => {
                return Err(ServiceError::BadRequest(prompt_needs_model()))
            }
            (false, Some(_)) => {}
        }
        if let Some(url) = &valid.callback_url {
            self.fetcher.check_resolved("callback_url", url).await?;
        }
        Ok(())
    }

    /// Validates, fetches and probes the inputs, reserves the credits and queues the job.
    /// With an `idempotency_key` used before by this key for the same request, returns the
    /// generation made then and makes nothing new.
    ///
    /// `surface` is the API the request came in on: it accepts only its own catalogue models.
    pub async fn submit(
        &self,
        caller: &KeyRecord,
        surface: Surface,
        mut request: ModifyVideoRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Submission> {
        let (idempotency, _turn) = match idempotency_key {
            None => (None, None),
            Some(k) => {
                check_idempotency_key(k)?;
                let turn = self.retry_turns.take(&caller.id, k).await;
                let idem = IdempotencyKey {
                    key: k.to_string(),
                    request_hash: request_hash(&request)?,
                };
                // Retries find their earlier create here, before anything is fetched.
                if let Some((hash, earlier)) = self.store.idempotent(&caller.id, k).await? {
                    if hash != idem.request_hash {
                        return Err(StoreError::IdempotencyConflict(idem.key).into());
                    }
                    return Ok(self.replayed(&earlier));
                }
                (Some(idem), Some(turn))
            }
        };
        let catalogue = &self.config.catalogue;
        let valid = request.validate(self.config.max_prompt_chars, catalogue, surface)?;
        let model = catalogue
            .get(&valid.model)
            .ok_or_else(|| ServiceError::Internal(format!("model {} vanished", valid.model)))?;
        self.check_request(&valid).await?;
        let mut token = self.take_create_token(caller)?;
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let result = self.submit_inner(caller, &id, &valid, &model).await;
        let (width, height, frames, media_blob, first_frame_blob) = match result {
            Ok(v) => v,
            Err(e) => {
                blobs::remove_generation(self.blobs.as_ref(), &id).await;
                return Err(e);
            }
        };
        request.generation_type = Some(GENERATION_TYPE.into());
        request.mode = Some(valid.mode.name().into());
        request.model = Some(valid.model.clone());
        request.prompt = valid.prompt.clone();
        request.look = valid.look.as_ref().map(|l| l.to_json());
        let now = now_ms();
        let record = GenerationRecord {
            id: id.clone(),
            key_id: caller.id.clone(),
            state: State::Queued,
            failure_reason: None,
            failure_code: None,
            created_at: now,
            updated_at: now,
            request_json: serde_json::to_string(&request)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            model: valid.model.clone(),
            progress: 0,
            media_blob,
            first_frame_blob,
            output_blob: None,
            width,
            height,
            frames,
            cost: price_of(
                &model,
                OutputSize {
                    width,
                    height,
                    frames,
                },
            ),
            credit_state: CreditState::Reserved,
            callback_url: valid.callback_url.clone(),
            webhooks: Vec::new(),
        };
        if let Some(earlier) = self.enqueue(&record, idempotency, &model).await? {
            // A retry on another API node won the race; ours is dropped.
            return Ok(self.replayed(&earlier));
        }
        token.kept = true;
        self.wake.notify_one();
        tracing::info!(generation = %id, key = %caller.id, cost = %record.cost, "queued");
        Ok(Submission {
            generation: self.view(&record),
            id,
            replayed: false,
            record,
        })
    }

    /// Stores a new generation and queues its job. When an idempotent retry won the race
    /// (on any node), returns the generation it made; the new one's files are removed then,
    /// and on any failure. Refused credits name the model's pricing.
    pub(crate) async fn enqueue(
        &self,
        record: &GenerationRecord,
        idempotency: Option<IdempotencyKey>,
        model: &Model<'_>,
    ) -> Result<Option<GenerationRecord>> {
        match self.store.submit(record.clone(), idempotency).await {
            Ok(Submitted::Created) => Ok(None),
            Ok(Submitted::Replayed(earlier)) => {
                blobs::remove_generation(self.blobs.as_ref(), &record.id).await;
                Ok(Some(*earlier))
            }
            Err(e) => {
                blobs::remove_generation(self.blobs.as_ref(), &record.id).await;
                Err(match e.into() {
                    ServiceError::InsufficientCredits {
                        needed, available, ..
                    } => ServiceError::InsufficientCredits {
                        needed,
                        available,
                        pricing: format!("{}: {}", model.id, model.settings.price.describe()),
                    },
                    other => other,
                })
            }
        }
    }

    pub(crate) fn replayed(&self, earlier: &GenerationRecord) -> Submission {
        Submission {
            generation: self.view(earlier),
            id: earlier.id.clone(),
            replayed: true,
            record: earlier.clone(),
        }
    }

    /// Fetches the request's clip and probes it against the model's limits: the scratch
    /// file and the output's width, height and frame count (what the price is computed
    /// from). Creates and quotes both go through here, so a quote is what a create charges.
    pub(crate) async fn probe_media(
        &self,
        caller: &KeyRecord,
        valid: &ValidRequest,
        model: &Model<'_>,
    ) -> Result<(ScratchFile, OutputSize)> {
        let limits = self.config.limits_for(model);
        let max_duration_s = limits.max_duration_s;
        // The clip's length is checked below, against the model's limit, with a message
        // that names the model.
        let open_limits = Limits {
            max_duration_s: f64::MAX,
            ..limits
        };
        let media = self
            .fetch_input(caller, "media.url", &valid.media_url, limits.max_file_bytes)
            .await?;
        let media_path = media.0.clone();
        let (width, height, source_frames, frames, seconds) = blocking(move || {
            VideoReader::open(&media_path, &open_limits).map(|r| {
                let (w, h) = r.output_size();
                let v = &r.info().video;
                (w, h, v.frame_count, r.frame_count(), v.duration_s)
            })
        })
        .await?
        .map_err(|e| self.input_error("media.url", &media.0, e))?;
        if seconds > max_duration_s + 1e-6 {
            return Err(ServiceError::TooLarge(self.config.too_long(model, seconds)));
        }
        check_motion(source_frames, frames)
            .map_err(|m| ServiceError::UnreadableMedia(format!("media.url: {m}")))?;
        let out = OutputSize {
            width,
            height,
            frames: frames as u32,
        };
        Ok((media, out))
    }

    #[allow(clippy::type_complexity)]
    async fn submit_inner(
        &self,
        caller: &KeyRecord,
        id: &str,
        valid: &ValidRequest,
        model: &Model<'_>,
    ) -> Result<(u32, u32, u32, String, Option<String>)> {
        let media_blob = blobs::input_key(id, "media");
        let (media, out) = self.probe_media(caller, valid, model).await?;
        let OutputSize {
            width,
            height,
            frames,
        } = out;
        let first_frame = match &valid.first_frame_url {
            None => None,
            Some(url) => {
                let file = self
                    .fetch_input(caller, "first_frame.url", url, self.config.max_image_bytes)
                    .await?;
                let path = file.0.clone();
                let (kw, kh) = blocking(move || load_image(&path).map(|f| (f.width(), f.height())))
                    .await?
                    .map_err(|e| self.input_error("first_frame.url", &file.0, e))?;
                check_first_frame_shape(kw, kh, width, height)
                    .map_err(|m| ServiceError::BadRequest(format!("first_frame.url: {m}")))?;
                Some(file)
            }
        };
        let mask = match valid.look.as_ref().and_then(|l| l.mask_url.as_deref()) {
            None => None,
            Some(url) => {
                let field = "look.mask.url";
                let max = self.config.max_image_bytes;
                let file = self.fetch_input(caller, field, url, max).await?;
                let path = file.0.clone();
                let (mw, mh) = blocking(move || load_image(&path).map(|f| (f.width(), f.height())))
                    .await?
                    .map_err(|e| self.input_error(field, &file.0, e))?;
                check_mask_shape(mw, mh, width, height)
                    .map_err(|m| ServiceError::BadRequest(format!("{field}: {m}")))?;
                Some(file)
            }
        };
        // Every input is good: only now do they go to blob storage.
        self.store_input(media, &media_blob).await?;
        if let Some(file) = mask {
            self.store_input(file, &blobs::input_key(id, LOOK_MASK))
                .await?;
        }
        let first_frame_blob = match first_frame {
            None => None,
            Some(file) => {
                let key = blobs::input_key(id, "first_frame");
                self.store_input(file, &key).await?;
                Some(key)
            }
        };
        Ok((width, height, frames, media_blob, first_frame_blob))
    }

    /// [`media_error`], with the input's scratch file named by its field and any other path
    /// inside the data folder that slipped into a message taken out.
    fn input_error(&self, field: &str, file: &std::path::Path, e: MediaError) -> ServiceError {
        let clean = |m: String| {
            let m = m.replace(&*file.to_string_lossy(), field);
            redact_paths(&m, &self.config.data_dir, field)
        };
        match media_error(field, e) {
            ServiceError::UnreadableMedia(m) => ServiceError::UnreadableMedia(clean(m)),
            ServiceError::TooLarge(m) => ServiceError::TooLarge(clean(m)),
            other => other,
        }
    }
}
