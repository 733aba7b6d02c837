//! The service layer: what every API surface calls. Handlers parse and map errors; the
//! decisions (validation, pricing, ownership, credits) live here.

mod quote;
mod submit;

pub use quote::{Quote, QuoteRequest};

pub use submit::Submission;
pub(crate) use submit::{blocking, check_idempotency_key, media_error, price_of};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::auth;
use crate::blobs::{self, BlobStore, Scratch};
use crate::catalogue::Surface;
use crate::config::{ServiceConfig, VideoLinks};
use crate::domain::{
    rfc3339_ms, Assets, FailureCode, Generation, ModifyVideoRequest, State, WebhookStatus,
    GENERATION_TYPE,
};
use crate::error::{Result, ServiceError};
use crate::fetch::Fetcher;
use crate::links::LinkSigner;
use crate::metrics::Metrics;
use crate::pipeline::ClipPipeline;
use crate::pricing::Credits;
use crate::ratelimit::RateLimiter;
use crate::store::{
    now_ms, Cancelled, DeliveryState, GenerationRecord, KeyRecord, Store, StoreError,
};
use crate::webhook::{WebhookEvent, WebhookSender};
use futures_util::FutureExt;

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
    pub(crate) metrics: Arc<Metrics>,
    /// Retries of one create (same key and Idempotency-Key) run one at a time.
    pub(crate) retry_turns: submit::RetryTurns,
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

/// Parses an id from a path; anything that is not a UUID is simply unknown.
pub fn parse_id(id: &str) -> Result<String> {
    parse_uuid(id).ok_or_else(|| not_found(id))
}

/// A UUID from a path or URL, hyphenated, or `None` when it is not one.
pub fn parse_uuid(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// Takes server paths out of a message meant for a client: the input file's own path
/// becomes the field it came from, and anything else under the data folder `<data>`.
pub(crate) fn redact_paths(message: &str, data_dir: &Path, field: &str) -> String {
    let dir = data_dir.to_string_lossy();
    if dir.is_empty() || !message.contains(dir.as_ref()) {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(dir.as_ref()) {
        out.push_str(&rest[..at]);
        // The path runs to the next whitespace or quote or a `: ` separator.
        let tail = &rest[at..];
        let after = &tail[dir.len()..];
        let end = dir.len()
            + after
                .find(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '`')
                .unwrap_or(after.len());
        let path = tail[..end].trim_end_matches([':', ',', ';', ')']);
        out.push_str(
            if path.contains("/inputs/") || path.contains("/uploads/") || path.contains("/scratch")
            {
                field
            } else {
                "<data>"
            },
        );
        rest = &tail[path.len()..];
    }
    out.push_str(rest);
    out
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "no generation `{id}` for this key; list yours with GET /dream-machine/v1/generations"
    ))
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
            cost: g.cost.as_f64(),
            webhooks: g
                .webhooks
                .iter()
                .map(|w| WebhookStatus {
                    event: w.event.clone(),
                    status: w.state,
                    attempts: w.attempts,
                    last_error: w.last_error.clone(),
                    updated_at: rfc3339_ms(w.updated_at),
                })
                .collect(),
        }
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
                let g = self.store.generation_by_id(&id).await?;
                if let Some(g) = &g {
                    // A revoked key's links stop working with it.
                    let revoked = self.store.key(&g.key_id).await?.is_none_or(|k| k.revoked);
                    if revoked {
                        return Err(ServiceError::Forbidden(
                            "this video link no longer works: the API key that made it was \
                             revoked"
                                .into(),
                        ));
                    }
                }
                g
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

    /// Queues the webhook for a generation's current state, if it has a callback and that
    /// event was not delivered already (a job run again after a crash announces `dreaming`
    /// once).
    pub(crate) async fn emit_webhook(&self, g: &GenerationRecord) {
        let Some(url) = &g.callback_url else { return };
        let event = g.state.as_str();
        let delivered = g
            .webhooks
            .iter()
            .any(|w| w.event == event && w.state == DeliveryState::Delivered);
        if delivered {
            return;
        }
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
            event: event.to_string(),
            url: url.clone(),
            body,
            secret,
            terminal: g.state.is_terminal(),
        });
    }
}
