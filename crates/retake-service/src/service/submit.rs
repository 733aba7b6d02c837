//! Creating a generation: validation, idempotent retries, the create rate, fetching and
//! probing the inputs, reserving credits and queueing the job.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use retake_media::{load_image, Limit, MediaError, VideoReader};
use sha2::{Digest, Sha256};

use super::{redact_paths, Service};
use crate::blobs::Blobs;
use crate::domain::{Generation, ModifyVideoRequest, State, ValidRequest, GENERATION_TYPE};
use crate::error::{Result, ServiceError};
use crate::pipeline::{nothing_to_change, prompt_needs_model};
use crate::pricing;
use crate::ratelimit::RateLimiter;
use crate::store::{
    now_ms, CreditState, GenerationRecord, IdempotencyKey, KeyRecord, StoreError, Submitted,
};
use retake_pipeline::{check_first_frame_shape, check_motion};

/// What a create did.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The generation.
    pub generation: Generation,
    /// Its id.
    pub id: String,
    /// True when an idempotency key matched an earlier create: nothing new was made.
    pub replayed: bool,
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
struct CreateToken<'a> {
    limiter: &'a RateLimiter,
    key_id: &'a str,
    kept: bool,
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
pub(super) fn media_error(field: &str, e: MediaError) -> ServiceError {
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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("blocking task failed: {e}")))
}

/// SHA-256 (hex) of a request's normalised JSON, to recognise an idempotent replay.
fn request_hash(request: &ModifyVideoRequest) -> Result<String> {
    let json = serde_json::to_vec(request).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn check_idempotency_key(key: &str) -> Result<()> {
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
    fn take_create_token<'a>(&'a self, key: &'a KeyRecord) -> Result<CreateToken<'a>> {
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

    /// Fetches one input (URL or own upload) into `key` in the blob store.
    async fn fetch_input(
        &self,
        caller: &KeyRecord,
        field: &str,
        url: &str,
        blob_key: &str,
        max_bytes: u64,
    ) -> Result<PathBuf> {
        let upload_prefix = format!("{}/v1/uploads/", self.base_url);
        if let Some(upload) = url.trim().strip_prefix(&upload_prefix) {
            let from = self
                .upload_blob(caller, upload)
                .await
                .map_err(|e| match e {
                    ServiceError::NotFound(m) => ServiceError::NotFound(format!("{field}: {m}")),
                    other => other,
                })?;
            return self.blobs.copy(&from, blob_key).await;
        }
        let tmp = self.blobs.temp_path();
        self.fetcher.download(field, url, &tmp, max_bytes).await?;
        self.blobs.commit(&tmp, blob_key).await
    }

    /// Checks what a request asks for against what this server can do.
    async fn check_request(&self, valid: &ValidRequest) -> Result<()> {
        let has_model = self.pipeline.supports_prompt_only();
        match (&valid.first_frame_url, &valid.prompt) {
            (Some(_), _) => {}
            (None, None) => return Err(ServiceError::BadRequest(nothing_to_change(has_model))),
            (None, Some(_)) if !has_model => {
                return Err(ServiceError::BadRequest(prompt_needs_model()))
            }
            (None, Some(_)) => {}
        }
        if let Some(url) = &valid.callback_url {
            self.fetcher.check_resolved("callback_url", url).await?;
        }
        Ok(())
    }

    /// Validates, fetches and probes the inputs, reserves the credits and queues the job.
    /// With an `idempotency_key` used before by this key for the same request, returns the
    /// generation made then and makes nothing new.
    pub async fn submit(
        &self,
        caller: &KeyRecord,
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
        let valid = request.validate(self.config.max_prompt_chars)?;
        self.check_request(&valid).await?;
        let mut token = self.take_create_token(caller)?;
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let result = self.submit_inner(caller, &id, &valid).await;
        let (width, height, frames, media_blob, first_frame_blob) = match result {
            Ok(v) => v,
            Err(e) => {
                self.blobs.remove_generation(&id).await;
                return Err(e);
            }
        };
        request.generation_type = Some(GENERATION_TYPE.into());
        request.mode = Some(valid.mode.name().into());
        request.model = Some(valid.model.name().into());
        request.prompt = valid.prompt.clone();
        let record = GenerationRecord {
            id: id.clone(),
            key_id: caller.id.clone(),
            state: State::Queued,
            failure_reason: None,
            failure_code: None,
            created_at: now_ms(),
            request_json: serde_json::to_string(&request)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            model: valid.model.name().into(),
            progress: 0,
            media_blob,
            first_frame_blob,
            output_blob: None,
            width,
            height,
            frames,
            cost: pricing::cost(width, height, frames as usize, self.config.price_per_mpx),
            credit_state: CreditState::Reserved,
            callback_url: valid.callback_url.clone(),
            webhooks: Vec::new(),
        };
        match self.store.submit(record.clone(), idempotency).await {
            Ok(Submitted::Created) => {}
            Ok(Submitted::Replayed(earlier)) => {
                // A retry on another API node won the race; ours is dropped.
                self.blobs.remove_generation(&id).await;
                return Ok(self.replayed(&earlier));
            }
            Err(e) => {
                self.blobs.remove_generation(&id).await;
                return Err(e.into());
            }
        }
        token.kept = true;
        self.wake.notify_one();
        tracing::info!(generation = %id, key = %caller.id, cost = %record.cost, "queued");
        Ok(Submission {
            generation: self.view(&record),
            id,
            replayed: false,
        })
    }

    fn replayed(&self, earlier: &GenerationRecord) -> Submission {
        Submission {
            generation: self.view(earlier),
            id: earlier.id.clone(),
            replayed: true,
        }
    }

    #[allow(clippy::type_complexity)]
    async fn submit_inner(
        &self,
        caller: &KeyRecord,
        id: &str,
        valid: &ValidRequest,
    ) -> Result<(u32, u32, u32, String, Option<String>)> {
        let media_blob = Blobs::input_key(id, "media");
        let limits = self.config.limits();
        let media_path = self
            .fetch_input(
                caller,
                "media.url",
                &valid.media_url,
                &media_blob,
                limits.max_file_bytes,
            )
            .await?;
        let (width, height, source_frames, frames) = blocking(move || {
            VideoReader::open(&media_path, &limits).map(|r| {
                let (w, h) = r.output_size();
                (w, h, r.info().video.frame_count, r.frame_count())
            })
        })
        .await?
        .map_err(|e| self.input_error("media.url", e))?;
        check_motion(source_frames, frames)
            .map_err(|m| ServiceError::UnreadableMedia(format!("media.url: {m}")))?;
        let frames = frames as u32;
        let first_frame_blob = match &valid.first_frame_url {
            None => None,
            Some(url) => {
                let key = Blobs::input_key(id, "first_frame");
                let path = self
                    .fetch_input(
                        caller,
                        "first_frame.url",
                        url,
                        &key,
                        self.config.max_image_bytes,
                    )
                    .await?;
                let (kw, kh) = blocking(move || load_image(&path).map(|f| (f.width(), f.height())))
                    .await?
                    .map_err(|e| self.input_error("first_frame.url", e))?;
                check_first_frame_shape(kw, kh, width, height)
                    .map_err(|m| ServiceError::BadRequest(format!("first_frame.url: {m}")))?;
                Some(key)
            }
        };
        Ok((width, height, frames, media_blob, first_frame_blob))
    }

    /// [`media_error`], with any path inside the data folder that slipped into a message
    /// taken out.
    fn input_error(&self, field: &str, e: MediaError) -> ServiceError {
        match media_error(field, e) {
            ServiceError::UnreadableMedia(m) => {
                ServiceError::UnreadableMedia(redact_paths(&m, &self.config.data_dir, field))
            }
            ServiceError::TooLarge(m) => {
                ServiceError::TooLarge(redact_paths(&m, &self.config.data_dir, field))
            }
            other => other,
        }
    }
}
