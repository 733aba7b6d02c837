//! The service layer: what every API surface calls. Handlers parse and map errors; the
//! decisions (validation, pricing, ownership, credits) live here.

use std::path::PathBuf;
use std::sync::Arc;

use retake_media::{load_image, MediaError, VideoReader};
use tokio::sync::Notify;

use crate::auth;
use crate::blobs::Blobs;
use crate::config::ServiceConfig;
use crate::domain::{rfc3339_ms, Assets, Generation, ModifyVideoRequest, State, GENERATION_TYPE};
use crate::error::{Result, ServiceError};
use crate::fetch::Fetcher;
use crate::links::LinkSigner;
use crate::pipeline::{ClipPipeline, PROMPT_ONLY_NEEDS_MODEL};
use crate::pricing::{self, Credits};
use crate::store::{now_ms, CreditState, GenerationRecord, KeyRecord, Store};
use crate::webhook::{WebhookEvent, WebhookSender};
use retake_pipeline::{check_first_frame_shape, check_motion};

/// A page of generations (Luma's list response).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
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

/// A stored upload, usable as `media.url` or `first_frame.url` by the same key.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Upload {
    /// Upload id.
    pub id: String,
    /// URL to put in a request.
    pub url: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Everything the handlers and workers share.
pub struct Service {
    pub(crate) config: ServiceConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Blobs,
    pub(crate) fetcher: Fetcher,
    pub(crate) links: LinkSigner,
    pub(crate) pipeline: Arc<dyn ClipPipeline>,
    pub(crate) webhooks: WebhookSender,
    /// Wakes idle workers when a job is queued.
    pub(crate) wake: Notify,
    pub(crate) base_url: String,
}

fn media_error(field: &str, e: MediaError) -> ServiceError {
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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("blocking task failed: {e}")))
}

impl Service {
    /// Checks an `Authorization` header value and returns the key.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<KeyRecord> {
        let token = auth::bearer(header)?;
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

    /// Available credits of a key.
    pub async fn credits(&self, key_id: &str) -> Result<Credits> {
        Ok(self
            .store
            .key(key_id)
            .await?
            .map(|k| k.available())
            .unwrap_or_default())
    }

    /// The API view of a stored generation (with a fresh signed video link).
    pub fn view(&self, g: &GenerationRecord) -> Generation {
        let request =
            serde_json::from_str::<ModifyVideoRequest>(&g.request_json).unwrap_or_default();
        let video = (g.state == State::Completed).then(|| {
            let expires = now_ms() / 1000 + self.config.link_ttl.as_secs() as i64;
            format!(
                "{}/dream-machine/v1/generations/{}/video?{}",
                self.base_url,
                g.id,
                self.links.query(&g.id, expires)
            )
        });
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
        if let Some(upload) = url.strip_prefix(&upload_prefix) {
            let upload = uuid::Uuid::parse_str(upload).map_err(|_| {
                ServiceError::BadRequest(format!("{field}: `{url}` is not an upload URL"))
            })?;
            let from = Blobs::upload_key(&caller.id, &upload.simple().to_string());
            if !self.blobs.path(&from).is_file() {
                return Err(ServiceError::BadRequest(format!(
                    "{field}: no upload `{upload}` for this key; upload the file with POST /v1/uploads"
                )));
            }
            return self.blobs.copy(&from, blob_key).await;
        }
        let tmp = self.blobs.temp_path();
        self.fetcher.download(field, url, &tmp, max_bytes).await?;
        self.blobs.commit(&tmp, blob_key).await
    }

    /// Validates, fetches and probes the inputs, reserves the credits and queues the job.
    pub async fn submit(&self, caller: &KeyRecord, body: &[u8]) -> Result<Generation> {
        let mut request = ModifyVideoRequest::from_json(body)?;
        let valid = request.validate(self.config.max_prompt_chars)?;
        if valid.first_frame_url.is_none() && !self.pipeline.supports_prompt_only() {
            return Err(ServiceError::BadRequest(PROMPT_ONLY_NEEDS_MODEL.into()));
        }
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
        request.prompt = valid.prompt.clone();
        let record = GenerationRecord {
            id: id.clone(),
            key_id: caller.id.clone(),
            state: State::Queued,
            failure_reason: None,
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
        };
        if let Err(e) = self.store.submit(record.clone()).await {
            self.blobs.remove_generation(&id).await;
            return Err(e.into());
        }
        self.wake.notify_one();
        tracing::info!(generation = %id, key = %caller.id, cost = %record.cost, "queued");
        Ok(self.view(&record))
    }

    #[allow(clippy::type_complexity)]
    async fn submit_inner(
        &self,
        caller: &KeyRecord,
        id: &str,
        valid: &crate::domain::ValidRequest,
    ) -> Result<(u32, u32, u32, String, Option<String>)> {
        let media_blob = Blobs::input_key(id, "media");
        let limits = self.config.limits;
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
        .map_err(|e| media_error("media.url", e))?;
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
                    .map_err(|e| {
                        ServiceError::UnreadableMedia(format!(
                            "first_frame.url is not a PNG, JPEG or WebP image retake can read: {e}"
                        ))
                    })?;
                check_first_frame_shape(kw, kh, width, height)
                    .map_err(|m| ServiceError::BadRequest(format!("first_frame.url: {m}")))?;
                Some(key)
            }
        };
        Ok((width, height, frames, media_blob, first_frame_blob))
    }

    /// One generation of the caller's.
    pub async fn get(&self, caller: &KeyRecord, id: &str) -> Result<Generation> {
        let id = parse_id(id)?;
        let g = self
            .store
            .generation(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        Ok(self.view(&g))
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
        self.blobs.remove_generation(&g.id).await;
        tracing::info!(generation = %id, "deleted");
        Ok(())
    }

    /// The output file of a completed generation, if the caller may have it: either the
    /// owner's key or a valid signed link.
    pub async fn video_file(
        &self,
        id: &str,
        caller: Option<&KeyRecord>,
        signed: Option<(i64, &str)>,
    ) -> Result<PathBuf> {
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
            (State::Completed, Some(blob)) => Ok(self.blobs.path(blob)),
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
        let body = match serde_json::to_string(&self.view(g)) {
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

    /// Where an upload's bytes go, and its public record.
    pub(crate) fn new_upload(&self, caller: &KeyRecord) -> (String, Upload) {
        let id = uuid::Uuid::new_v4();
        let key = Blobs::upload_key(&caller.id, &id.simple().to_string());
        let upload = Upload {
            id: id.hyphenated().to_string(),
            url: format!("{}/v1/uploads/{}", self.base_url, id.hyphenated()),
            bytes: 0,
        };
        (key, upload)
    }
}
