//! Storage seam: everything durable (keys, credits, generations, the job queue) goes through
//! [`Store`]. SQLite is the default (one machine); PostgreSQL serves several machines. One
//! test suite (`tests`) runs against both.

mod open;
mod postgres;
mod rows;
mod schema;
mod sqlite;
mod sqlite_copy;
#[cfg(test)]
mod tests;
mod uploads;

pub use open::{open, StoreLocation};
pub use postgres::{mask_url, PgStore};
pub use sqlite::SqliteStore;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;

pub use crate::domain::DeliveryState;
use crate::domain::{FailureCode, FilePurpose, FileState, State};
use crate::pricing::Credits;

/// What storage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key cannot cover the reservation.
    #[error("needs {needed} credits, {available} available")]
    InsufficientCredits {
        /// Cost asked for.
        needed: Credits,
        /// Available balance.
        available: Credits,
    },
    /// No such row (for this key).
    #[error("{0}")]
    NotFound(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// Stored data is not what this version expects.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The generation already reached a final state, so it cannot be cancelled.
    #[error("generation `{id}` is already {state}; there is nothing to cancel")]
    AlreadyFinished {
        /// The generation.
        id: String,
        /// Its final state.
        state: &'static str,
    },
    /// An idempotency key was used before with a different request.
    #[error("Idempotency-Key `{0}` was already used with a different request; send a new key for a new request")]
    IdempotencyConflict(String),
    /// The database aborted a transaction because of concurrent work (a deadlock or a
    /// serialization failure); stores retry these themselves a few times first.
    #[error("database busy with concurrent work: {0}; retry")]
    Contention(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// An API key as stored (no secret, only its hash).
#[derive(Clone, Debug)]
pub struct KeyRecord {
    /// Public id.
    pub id: String,
    /// Human label.
    pub name: String,
    /// SHA-256 of the secret part.
    pub secret_hash: Vec<u8>,
    /// Raw webhook signing secret.
    pub webhook_secret: Vec<u8>,
    /// Total balance.
    pub balance: Credits,
    /// Held for generations in flight.
    pub reserved: Credits,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Set once revoked.
    pub revoked: bool,
}

impl KeyRecord {
    /// Balance minus reservations.
    pub fn available(&self) -> Credits {
        Credits(self.balance.0 - self.reserved.0)
    }
}

/// Where a generation's credits stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditState {
    /// Held at submit.
    Reserved,
    /// Taken on success.
    Charged,
    /// Given back on failure or delete.
    Released,
}

/// A generation as stored.
#[derive(Clone, Debug)]
pub struct GenerationRecord {
    /// UUID.
    pub id: String,
    /// Owning key.
    pub key_id: String,
    /// Current state.
    pub state: State,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// The kind of failure.
    pub failure_code: Option<FailureCode>,
    /// Submit time, Unix ms.
    pub created_at: i64,
    /// When its state, progress or outcome last changed, Unix ms (the store sets it).
    pub updated_at: i64,
    /// The request as JSON (echoed back).
    pub request_json: String,
    /// Model name.
    pub model: String,
    /// 0–100.
    pub progress: u8,
    /// Blob key of the source clip.
    pub media_blob: String,
    /// Blob key of the edited first frame.
    pub first_frame_blob: Option<String>,
    /// Blob key of the output, once completed.
    pub output_blob: Option<String>,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Output frames.
    pub frames: u32,
    /// Price, reserved at submit.
    pub cost: Credits,
    /// Where the credits stand.
    pub credit_state: CreditState,
    /// Webhook target.
    pub callback_url: Option<String>,
    /// Delivery status of each webhook event sent for it, in the order they were first sent.
    pub webhooks: Vec<WebhookDelivery>,
}

/// The delivery of one webhook event (`dreaming`, `completed`, `failed`) of a generation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookDelivery {
    /// The generation state the event announced.
    pub event: String,
    /// Where delivery stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// What went wrong on the last failed attempt.
    pub last_error: Option<String>,
    /// When this changed, Unix ms.
    pub updated_at: i64,
}

/// An uploaded file, usable by its key as a media or first-frame URL until it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    /// UUID (hyphenated).
    pub id: String,
    /// Owning key.
    pub key_id: String,
    /// Blob key of the file.
    pub blob: String,
    /// Size in bytes.
    pub bytes: u64,
    /// What the content looks like (`video/mp4`, `image/png`, … or `application/octet-stream`).
    pub content_type: String,
    /// SHA-256 of the content (hex).
    pub sha256: String,
    /// Upload time, Unix ms.
    pub created_at: i64,
    /// When it is deleted, Unix ms.
    pub expires_at: i64,
    /// The Files API's state: `Pending` until a presigned upload's bytes are checked
    /// (uploads of `/v1/uploads` are `Ready` at once). Only a ready file may be used.
    pub state: FileState,
    /// The Files API's purpose (`Input` for `/v1/uploads`).
    pub purpose: FilePurpose,
    /// The name it was uploaded under.
    pub filename: Option<String>,
    /// The client's opaque end-user tag.
    pub user_id: Option<String>,
    /// Why its bytes failed their checks (state `Failed`).
    pub failure_reason: Option<String>,
}

/// Which of a key's uploads a listing shows (all, by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UploadFilter {
    /// Only uploads of this purpose.
    pub purpose: Option<FilePurpose>,
    /// Only uploads in this state.
    pub state: Option<FileState>,
}

/// What checking a pending upload's bytes found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOutcome {
    /// `Ready` or `Failed`.
    pub state: FileState,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// What the bytes are.
    pub content_type: String,
    /// SHA-256 of the bytes (hex; empty when they failed).
    pub sha256: String,
}

/// A job a worker holds a lease on.
#[derive(Clone, Debug)]
pub struct LeasedJob {
    /// The generation to make.
    pub generation: GenerationRecord,
    /// How many times the job has been leased, this time included.
    pub attempt: u32,
}

/// What a heartbeat learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Still ours; carry on.
    Held,
    /// Gone (deleted, or the lease expired and someone else took it): stop.
    Lost,
}

/// Outcome of a requeue sweep.
#[derive(Clone, Debug, Default)]
pub struct Requeued {
    /// Jobs put back in the queue.
    pub requeued: Vec<String>,
    /// Jobs that ran out of attempts and were failed (credits released).
    pub failed: Vec<GenerationRecord>,
}

/// An `Idempotency-Key` sent with a create, and a hash of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The client's key (1–255 visible ASCII characters).
    pub key: String,
    /// SHA-256 (hex) of the normalised request.
    pub request_hash: String,
}

/// What a submit did.
#[derive(Clone, Debug)]
pub enum Submitted {
    /// Stored, credits reserved, job queued.
    Created,
    /// The idempotency key was seen before with the same request: nothing new was made;
    /// this is the generation made then.
    Replayed(Box<GenerationRecord>),
}

/// What a cancel did.
#[derive(Clone, Debug)]
pub struct Cancelled {
    /// The generation, now failed with the cancel reason.
    pub generation: GenerationRecord,
    /// Whether a worker held it (the worker stops at its next check and cleans up).
    pub was_running: bool,
}

/// A queued job as copied between stores (a lease is not copied: the job is queued again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedJob {
    /// Runs so far.
    pub attempts: u32,
    /// When it was queued, Unix ms.
    pub enqueued_at: i64,
}

/// A generation with its job and idempotency keys, as `retake migrate` copies it.
#[derive(Clone, Debug)]
pub struct GenerationExport {
    /// The generation.
    pub record: GenerationRecord,
    /// Its job, while it is queued or running.
    pub job: Option<QueuedJob>,
    /// Idempotency keys that refer to it, with when each was first used (Unix ms).
    pub idempotency: Vec<(IdempotencyKey, i64)>,
}

/// Durable state of the service. All methods are atomic; implementations must make
/// `complete` and `fail` idempotent so credits are never charged or released twice.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Adds a key.
    async fn insert_key(&self, key: KeyRecord) -> StoreResult<()>;
    /// A key by public id (revoked keys included; the caller checks).
    async fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>>;
    /// All keys, oldest first.
    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>>;
    /// Revokes a key.
    async fn revoke_key(&self, id: &str) -> StoreResult<()>;
    /// Adds (or with a negative amount, removes) credits.
    async fn add_credits(&self, id: &str, amount: Credits) -> StoreResult<KeyRecord>;
    /// Reserves `generation.cost` from its key, stores the generation and queues its job,
    /// atomically. With an idempotency key seen before for this key, stores nothing and
    /// returns the earlier generation (or [`StoreError::IdempotencyConflict`] when the
    /// request differs).
    async fn submit(
        &self,
        generation: GenerationRecord,
        idempotency: Option<IdempotencyKey>,
    ) -> StoreResult<Submitted>;
    /// The request hash and generation an idempotency key of `key_id` was used for.
    async fn idempotent(
        &self,
        key_id: &str,
        key: &str,
    ) -> StoreResult<Option<(String, GenerationRecord)>>;
    /// A generation, whoever owns it (for workers and signed links).
    async fn generation_by_id(&self, id: &str) -> StoreResult<Option<GenerationRecord>>;
    /// A generation, only if `key_id` owns it.
    async fn generation(&self, key_id: &str, id: &str) -> StoreResult<Option<GenerationRecord>> {
        Ok(self
            .generation_by_id(id)
            .await?
            .filter(|g| g.key_id == key_id))
    }
    /// A key's generations, newest first, and whether more follow.
    async fn list_generations(
        &self,
        key_id: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<GenerationRecord>, bool)>;
    /// Fails a queued or dreaming generation of `key_id` with `reason` (code `code`),
    /// releasing its credits and removing its job; a worker holding it loses its lease.
    async fn cancel(
        &self,
        key_id: &str,
        id: &str,
        reason: &str,
        code: FailureCode,
    ) -> StoreResult<Cancelled>;
    /// Deletes a generation of `key_id` (releasing unspent credits); returns it.
    async fn delete_generation(&self, key_id: &str, id: &str) -> StoreResult<GenerationRecord>;
    /// Leases the oldest queued job to `worker` until now + `ttl_ms`, and marks it dreaming.
    async fn lease_job(&self, worker: &str, ttl_ms: i64) -> StoreResult<Option<LeasedJob>>;
    /// Extends a lease and records progress.
    async fn heartbeat(
        &self,
        id: &str,
        worker: &str,
        ttl_ms: i64,
        progress: u8,
    ) -> StoreResult<Lease>;
    /// Marks completed with its output and charges the reservation (once).
    async fn complete(
        &self,
        id: &str,
        worker: &str,
        output_blob: &str,
    ) -> StoreResult<Option<GenerationRecord>>;
    /// Marks failed and releases the reservation (once).
    async fn fail(
        &self,
        id: &str,
        worker: &str,
        reason: &str,
        code: FailureCode,
    ) -> StoreResult<Option<GenerationRecord>>;
    /// Requeues jobs whose lease expired; fails those out of attempts.
    async fn requeue_expired(&self, max_attempts: u32) -> StoreResult<Requeued>;
    /// Number of queued jobs.
    async fn queue_depth(&self) -> StoreResult<u64>;

    /// Starts waking `jobs` when any node queues a job and `settled` when any node settles a
    /// generation (stores shared between processes; the SQLite store has nothing to add to
    /// the process's own wake-ups and polling).
    fn listen(
        &self,
        _jobs: Arc<Notify>,
        _settled: Arc<Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        None
    }

    /// Up to `limit` generations with ids after `after` (`""` to start), in id order.
    async fn export_generations(
        &self,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<GenerationExport>>;
    /// Adds a key as it is, or overwrites the one with its id (balance and reservations
    /// included).
    async fn import_key(&self, key: KeyRecord) -> StoreResult<()>;
    /// Adds a generation as it is, with its job and idempotency keys; `false` (and nothing
    /// changed) when one with its id is already there.
    async fn import_generation(&self, generation: GenerationExport) -> StoreResult<bool>;
    /// The workers holding leases now (each owner once).
    async fn lease_owners(&self) -> StoreResult<Vec<String>>;
    /// Requeues the jobs leased by `owners` at once, without waiting for their leases to
    /// expire (the owners are known to be dead); fails those out of attempts.
    async fn requeue_leases_of(
        &self,
        owners: &[String],
        max_attempts: u32,
    ) -> StoreResult<Requeued>;
    /// Records how delivery of a generation's webhook event stands (replacing the earlier
    /// record of the same event). A generation that is gone is not an error.
    async fn record_webhook(&self, id: &str, delivery: WebhookDelivery) -> StoreResult<()>;
    /// Stores an upload record.
    async fn insert_upload(&self, upload: UploadRecord) -> StoreResult<()>;
    /// An upload, only if `key_id` owns it.
    async fn upload(&self, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>>;
    /// A key's uploads that pass `filter`, newest first, and whether more follow.
    async fn list_uploads(
        &self,
        key_id: &str,
        filter: &UploadFilter,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<UploadRecord>, bool)>;
    /// Records what checking a pending upload of `key_id`'s found (its state, type and
    /// hash), once: an upload no longer pending is left as it is. Returns the record as it
    /// now stands, `None` if there is none.
    async fn finish_upload(
        &self,
        key_id: &str,
        id: &str,
        outcome: FileOutcome,
    ) -> StoreResult<Option<UploadRecord>>;
    /// Deletes an upload record of `key_id`; returns it (its blob is the caller's to remove).
    async fn delete_upload(&self, key_id: &str, id: &str) -> StoreResult<Option<UploadRecord>>;
    /// Up to `limit` uploads that expired before `now_ms`, oldest first.
    async fn expired_uploads(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<UploadRecord>>;
}

/// Current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
