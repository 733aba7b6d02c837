//! The service layer: what every API surface calls. Handlers parse and map errors; the
//! decisions (validation, pricing, ownership, credits) live here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use retake_media::{load_image, Limits, MediaError, VideoReader};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::auth;
use crate::blobs::{self, BlobError, BlobStore, Scratch};
use crate::catalogue::{Model, Surface};
use crate::config::{ServiceConfig, VideoLinks};
use crate::domain::{
    rfc3339_ms, Assets, FailureCode, Generation, ModifyVideoRequest, State, GENERATION_TYPE,
};
use crate::error::{Result, ServiceError};
use crate::fetch::Fetcher;
use crate::links::LinkSigner;
use crate::metrics::Metrics;
use crate::pipeline::{ClipPipeline, PROMPT_ONLY_NEEDS_MODEL};
use crate::pricing::{Credits, OutputSize};
use crate::ratelimit::RateLimiter;
use crate::store::{
    now_ms, Cancelled, CreditState, GenerationRecord, IdempotencyKey, KeyRecord, Store, StoreError,
    Submitted,
};
use crate::webhook::{WebhookEvent, WebhookSender};
use futures_util::FutureExt;
use retake_pipeline::{check_first_frame_shape, check_motion};

/// How a client presented its key: either header, or both with the same key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials<'a> {
    /// The `Authorization` header value (`Bearer <key>`).
    pub authorization: Option<&'a str>,
    /// The `x-api-key` header value (Segmind's style).
    pub api_key: Option<&'a str>,
}

impl Credentials<'_> {
    /// Whether no key header was sent at all.
    pub fn is_missing(&self) -> bool {
        self.authorization.is_none() && self.api_key.is_none()
    }
}

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

/// A page of generations (Luma's list response).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct GenerationList {
    /// The page, newest first.
    pub generations: Vec<Generation>,
    /// How many are on this page.
    pub count: usize,
    /// Whether more follow.
    pub has_more: bool,
    /// The limit used.
    pub limit: u32,
    /// The offset used.
    pub offset: u32,
}

/// Everything the handlers and workers share.
pub struct Service {
    pub(crate) config: ServiceConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// This process's folder for files on their way in or out of `blobs`.
    pub(crate) scratch: Scratch,
    pub(crate) fetcher: Fetcher,
    pub(crate) links: LinkSigner,
    pub(crate) pipeline: Arc<dyn ClipPipeline>,
    pub(crate) webhooks: WebhookSender,
    /// Wakes idle workers when a job is queued.
    pub(crate) wake: Arc<Notify>,
    /// Wakes synchronous waiters when a generation of this process settles.
    pub(crate) settled: Arc<Notify>,
    pub(crate) base_url: String,
    /// Limits every authenticated request per key.
    pub(crate) limiter: RateLimiter,
    /// Limits creates per key.
    pub(crate) submit_limiter: RateLimiter,
    pub(crate) metrics: Metrics,
    /// Cancel flags of the jobs this process's workers are running, by generation id.
    pub(crate) running: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

/// A scratch file that is removed when dropped (an input that failed its checks).
pub(crate) struct ScratchFile(pub(crate) PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn media_error(field: &str, e: MediaError) -> ServiceError {
    match e {
        MediaError::LimitExceeded(m) => ServiceError::TooLarge(format!("{field}: {m}")),
        MediaError::Io { .. } | MediaError::Stream(_) => ServiceError::Internal(e.to_string()),
        other => ServiceError::UnreadableMedia(format!("{field}: {other}")),
    }
}

/// Parses an id from a path; anything that is not a UUID is simply unknown.
pub fn parse_id(id: &str) -> Result<String> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| not_found(id))
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "no generation `{id}` for this key; list yours with GET /dream-machine/v1/generations"
    ))
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
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
    /// Checks a client's key and returns it.
    pub async fn authenticate(&self, credentials: Credentials<'_>) -> Result<KeyRecord> {
        let bearer = match credentials.authorization {
            Some(h) => Some(auth::bearer(Some(h))?),
            None => None,
        };
        let token = match (bearer, credentials.api_key.map(str::trim)) {
            // Two different keys: refuse rather than guess which one the client meant.
            (Some(a), Some(k)) if a != k => {
                return Err(ServiceError::Unauthorized(
                    "the Authorization and x-api-key headers carry different keys; send one key"
                        .into(),
                ))
            }
            (Some(a), _) => a,
            (None, Some(k)) => k,
            (None, None) => return Err(auth::bearer(None).err().unwrap_or_else(auth::invalid_key)),
        };
        let (id, secret) = auth::parse_token(token)?;
        let key = self.store.key(id).await?.ok_or_else(auth::invalid_key)?;
        if !auth::secret_matches(secret, &key.secret_hash) {
            return Err(auth::invalid_key());
        }
        if key.revoked {
            return Err(ServiceError::Unauthorized(
                "this API key was revoked; ask the operator for a new one".into(),
            ));
        }
        Ok(key)
    }

    /// Takes one request from the key's rate limit.
    pub fn check_rate(&self, key: &KeyRecord) -> Result<()> {
        self.limiter
            .check(&key.id)
            .map_err(|retry_after_s| ServiceError::RateLimited {
                detail: format!(
                    "this key is over its limit of {} requests a second (bursts of {}); \
                     retry after {retry_after_s} s, or ask the operator to raise \
                     `rate_limit_per_s`",
                    self.config.rate_limit_per_s, self.config.rate_limit_burst
                ),
                retry_after_s,
            })
    }

    pub(crate) fn check_submit_rate(&self, key: &KeyRecord) -> Result<()> {
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
            })
    }

    /// Available credits of a key.
    pub async fn credits(&self, key_id: &str) -> Result<Credits> {
        Ok(self
            .store
            .key(key_id)
            .await?
            .map(|k| k.available())
            .unwrap_or_default())
    }

    /// A fresh link to a completed generation's video, and when it expires (Unix s): an S3
    /// presigned URL with `video_links = "presigned"`, else one signed by the API.
    pub(crate) fn video_link(&self, g: &GenerationRecord) -> Option<(String, i64)> {
        let expires = now_ms() / 1000 + self.config.link_ttl.as_secs() as i64;
        if let (State::Completed, Some(blob)) = (&g.state, &g.output_blob) {
            if self.config.video_links == VideoLinks::Presigned {
                // Signing with fixed credentials is plain computation, so the future is ready
                // at once; a store that cannot sign gets the API's own link.
                let url = self
                    .blobs
                    .presigned_url(blob, self.config.link_ttl)
                    .now_or_never()
                    .flatten();
                if let Some(url) = url {
                    return Some((url, expires));
                }
            }
        }
        (g.state == State::Completed).then(|| {
            let url = format!(
                "{}/dream-machine/v1/generations/{}/video?{}",
                self.base_url,
                g.id,
                self.links.query(&g.id, expires)
            );
            (url, expires)
        })
    }

    /// The API view of a stored generation (with a fresh signed video link).
    pub fn view(&self, g: &GenerationRecord) -> Generation {
        let request =
            serde_json::from_str::<ModifyVideoRequest>(&g.request_json).unwrap_or_default();
        let video = self.video_link(g).map(|(url, _)| url);
        Generation {
            id: g.id.clone(),
            generation_type: GENERATION_TYPE.to_string(),
            state: g.state,
            failure_reason: g.failure_reason.clone(),
            created_at: rfc3339_ms(g.created_at),
            assets: Assets {
                video,
                ..Assets::default()
            },
            model: g.model.clone(),
            request,
            progress: if g.state == State::Completed {
                100
            } else {
                g.progress
            },
        }
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
        if let Some(upload) = url.strip_prefix(&upload_prefix) {
            let upload = uuid::Uuid::parse_str(upload).map_err(|_| {
                ServiceError::BadRequest(format!("{field}: `{url}` is not an upload URL"))
            })?;
            let from = blobs::upload_key(&caller.id, &upload.simple().to_string());
            return match self.blobs.get_file(&from, &tmp.0).await {
                Ok(()) => Ok(tmp),
                Err(BlobError::NotFound(_)) => Err(ServiceError::BadRequest(format!(
                    "{field}: no upload `{upload}` for this key; upload the file with POST /v1/uploads"
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
        let idempotency = match idempotency_key {
            None => None,
            Some(k) => {
                check_idempotency_key(k)?;
                let idem = IdempotencyKey {
                    key: k.to_string(),
                    request_hash: request_hash(&request)?,
                };
                // Most retries find their earlier create here, before anything is fetched.
                if let Some((hash, earlier)) = self.store.idempotent(&caller.id, k).await? {
                    if hash != idem.request_hash {
                        return Err(StoreError::IdempotencyConflict(idem.key).into());
                    }
                    return Ok(self.replayed(&earlier));
                }
                Some(idem)
            }
        };
        let catalogue = &self.config.catalogue;
        let valid = request.validate(self.config.max_prompt_chars, catalogue, surface)?;
        let model = catalogue
            .get(&valid.model)
            .ok_or_else(|| ServiceError::Internal(format!("model {} vanished", valid.model)))?;
        if valid.first_frame_url.is_none() && !self.pipeline.supports_prompt_only() {
            return Err(ServiceError::BadRequest(PROMPT_ONLY_NEEDS_MODEL.into()));
        }
        self.check_submit_rate(caller)?;
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
        request.prompt = valid.prompt.clone();
        request.model = Some(valid.model.clone());
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
            cost: model.settings.price.cost(OutputSize {
                width,
                height,
                frames,
            }),
            credit_state: CreditState::Reserved,
            callback_url: valid.callback_url.clone(),
        };
        match self.store.submit(record.clone(), idempotency).await {
            Ok(Submitted::Created) => {}
            Ok(Submitted::Replayed(earlier)) => {
                // A concurrent retry with the same key won the race; ours is dropped.
                blobs::remove_generation(self.blobs.as_ref(), &id).await;
                return Ok(self.replayed(&earlier));
            }
            Err(e) => {
                blobs::remove_generation(self.blobs.as_ref(), &id).await;
                return Err(match e.into() {
                    ServiceError::InsufficientCredits {
                        needed, available, ..
                    } => ServiceError::InsufficientCredits {
                        needed,
                        available,
                        pricing: format!("{}: {}", model.id, model.settings.price.describe()),
                    },
                    other => other,
                });
            }
        }
        self.wake.notify_one();
        tracing::info!(generation = %id, key = %caller.id, cost = %record.cost, "queued");
        Ok(Submission {
            generation: self.view(&record),
            id,
            replayed: false,
            record,
        })
    }

    fn replayed(&self, earlier: &GenerationRecord) -> Submission {
        Submission {
            generation: self.view(earlier),
            id: earlier.id.clone(),
            replayed: true,
            record: earlier.clone(),
        }
    }

    #[allow(clippy::type_complexity)]
    async fn submit_inner(
        &self,
        caller: &KeyRecord,
        id: &str,
        valid: &crate::domain::ValidRequest,
        model: &Model<'_>,
    ) -> Result<(u32, u32, u32, String, Option<String>)> {
        let media_blob = blobs::input_key(id, "media");
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
        .map_err(|e| media_error("media.url", e))?;
        if seconds > max_duration_s + 1e-6 {
            return Err(ServiceError::TooLarge(self.config.too_long(model, seconds)));
        }
        check_motion(source_frames, frames)
            .map_err(|m| ServiceError::UnreadableMedia(format!("media.url: {m}")))?;
        let frames = frames as u32;
        let first_frame = match &valid.first_frame_url {
            None => None,
            Some(url) => {
                let file = self
                    .fetch_input(caller, "first_frame.url", url, self.config.max_image_bytes)
                    .await?;
                let path = file.0.clone();
                let (kw, kh) = blocking(move || load_image(&path).map(|f| (f.width(), f.height())))
                    .await?
                    .map_err(|e| {
                        ServiceError::UnreadableMedia(format!(
                            "first_frame.url is not a PNG, JPEG or WebP image retake can read: {e}"
                        ))
                    })?;
                check_first_frame_shape(kw, kh, width, height)
                    .map_err(|m| ServiceError::BadRequest(format!("first_frame.url: {m}")))?;
                Some(file)
            }
        };
        // Both inputs are good: only now do they go to blob storage.
        self.store_input(media, &media_blob).await?;
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

    /// One generation of the caller's.
    pub async fn get(&self, caller: &KeyRecord, id: &str) -> Result<Generation> {
        Ok(self.view(&self.record(caller, id).await?))
    }

    /// One generation of the caller's, as stored.
    pub(crate) async fn record(&self, caller: &KeyRecord, id: &str) -> Result<GenerationRecord> {
        let id = parse_id(id)?;
        self.store
            .generation(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(&id))
    }

    /// A page of the caller's generations.
    pub async fn list(
        &self,
        caller: &KeyRecord,
        limit: u32,
        offset: u32,
    ) -> Result<GenerationList> {
        if !(1..=1000).contains(&limit) {
            return Err(ServiceError::BadRequest(format!(
                "limit is {limit}; use 1 to 1000"
            )));
        }
        let (rows, has_more) = self
            .store
            .list_generations(&caller.id, limit, offset)
            .await?;
        let generations: Vec<Generation> = rows.iter().map(|g| self.view(g)).collect();
        Ok(GenerationList {
            count: generations.len(),
            generations,
            has_more,
            limit,
            offset,
        })
    }

    /// Cancels a queued or dreaming generation of the caller's: it fails with a reason that
    /// says so, its credits are released, a worker running it stops.
    pub async fn cancel(&self, caller: &KeyRecord, id: &str) -> Result<Generation> {
        Ok(self.view(&self.cancel_record(caller, id).await?))
    }

    /// [`Service::cancel`], answering the record.
    pub(crate) async fn cancel_record(
        &self,
        caller: &KeyRecord,
        id: &str,
    ) -> Result<GenerationRecord> {
        let id = parse_id(id)?;
        let c = self
            .cancel_as(
                &caller.id,
                &id,
                "cancelled by the client; no credits were charged",
                FailureCode::Cancelled,
            )
            .await?;
        Ok(c.generation)
    }

    /// Cancels `id` of `key_id` with `reason`; used by the cancel endpoint and by the
    /// synchronous endpoint when it gives up.
    pub(crate) async fn cancel_as(
        &self,
        key_id: &str,
        id: &str,
        reason: &str,
        code: FailureCode,
    ) -> Result<Cancelled> {
        let c = self
            .store
            .cancel(key_id, id, reason, code)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => not_found(id),
                other => other.into(),
            })?;
        self.metrics.job_failed(code, None);
        if let Some(flag) = self.running.lock().ok().and_then(|r| r.get(id).cloned()) {
            flag.store(true, Ordering::Relaxed);
        }
        if !c.was_running {
            // A running job's worker still reads its inputs; it removes them when it stops.
            blobs::remove_inputs(self.blobs.as_ref(), id).await;
        }
        self.settled.notify_waiters();
        self.emit_webhook(&c.generation).await;
        tracing::info!(generation = %id, reason, "cancelled");
        Ok(c)
    }

    /// Waits until a generation of `key_id` is completed or failed, or `deadline` passes
    /// (then `None`). Woken by this process's workers; polls for workers elsewhere.
    pub(crate) async fn wait_settled(
        &self,
        key_id: &str,
        id: &str,
        deadline: Instant,
    ) -> Result<Option<GenerationRecord>> {
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let g = self
                .store
                .generation(key_id, id)
                .await?
                .ok_or_else(|| not_found(id))?;
            if g.state.is_terminal() {
                return Ok(Some(g));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let nap = (deadline - now).min(Duration::from_secs(1));
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// Deletes a generation (cancelling it if it runs) and its files.
    pub async fn delete(&self, caller: &KeyRecord, id: &str) -> Result<()> {
        let id = parse_id(id)?;
        let g = self
            .store
            .delete_generation(&caller.id, &id)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound(_) => not_found(&id),
                other => other.into(),
            })?;
        if let Some(flag) = self.running.lock().ok().and_then(|r| r.get(&id).cloned()) {
            flag.store(true, Ordering::Relaxed);
        }
        blobs::remove_generation(self.blobs.as_ref(), &g.id).await;
        tracing::info!(generation = %id, "deleted");
        Ok(())
    }

    /// The output blob key of a completed generation, if the caller may have it: either the
    /// owner's key or a valid signed link.
    pub async fn video_blob(
        &self,
        id: &str,
        caller: Option<&KeyRecord>,
        signed: Option<(i64, &str)>,
    ) -> Result<String> {
        let id = parse_id(id)?;
        let g = match (caller, signed) {
            (_, Some((expires, sig))) if self.links.verify(&id, expires, sig, now_ms() / 1000) => {
                self.store.generation_by_id(&id).await?
            }
            (Some(k), _) => self.store.generation(&k.id, &id).await?,
            (None, Some(_)) => {
                return Err(ServiceError::Forbidden(
                    "this video link expired or is not valid; GET the generation again for a fresh link"
                        .into(),
                ))
            }
            (None, None) => {
                return Err(auth::bearer(None).err().unwrap_or_else(auth::invalid_key));
            }
        };
        let g = g.ok_or_else(|| not_found(&id))?;
        match (&g.state, &g.output_blob) {
            (State::Completed, Some(blob)) => Ok(blob.clone()),
            _ => Err(ServiceError::NotFound(format!(
                "generation `{id}` has no video yet (state: {}); poll it until it is completed",
                g.state.as_str()
            ))),
        }
    }

    /// Queues the webhook for a generation's current state, if it has a callback.
    pub(crate) async fn emit_webhook(&self, g: &GenerationRecord) {
        let Some(url) = &g.callback_url else { return };
        let secret = match self.store.key(&g.key_id).await {
            Ok(Some(k)) => k.webhook_secret,
            _ => return,
        };
        // A generation is reported in the shape of the API its model belongs to.
        let body = match self.config.catalogue.get(&g.model).map(|m| m.surface) {
            Some(Surface::RunApi) => serde_json::to_string(&self.task_view(g)),
            Some(Surface::Agents) => serde_json::to_string(&self.edit_view(g)),
            _ => serde_json::to_string(&self.view(g)),
        };
        let body = match body {
            Ok(b) => b,
            Err(_) => return,
        };
        self.webhooks.send(WebhookEvent {
            generation: g.id.clone(),
            url: url.clone(),
            body,
            secret,
            terminal: g.state.is_terminal(),
        });
    }
}
