//! Blob storage: inputs, outputs and uploads, behind one trait with two implementations — a
//! folder on the local disk ([`LocalBlobs`], one machine) and an S3-compatible bucket
//! ([`S3Blobs`], several machines). Files move in and out as streams: a large object is never
//! held in memory whole.
//!
//! Keys are relative paths made only by this module from UUIDs, never from client input.

mod local;
mod s3;
mod scratch;

use std::ops::Range;
use std::path::Path;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use local::LocalBlobs;
pub use s3::{S3Blobs, S3Settings};
pub use scratch::Scratch;

/// What blob storage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No object under that key.
    #[error("no blob `{0}`")]
    NotFound(String),
    /// The storage refused or failed; the message says what to check.
    #[error("{0}")]
    Storage(String),
}

impl From<std::io::Error> for BlobError {
    fn from(e: std::io::Error) -> Self {
        BlobError::Storage(format!("I/O: {e}"))
    }
}

/// Shorthand for blob results.
pub type BlobResult<T> = Result<T, BlobError>;

/// The bytes of a blob, as they arrive.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Where inputs, outputs and uploads are kept. Every method is safe to call from several
/// processes and machines at once; an object appears whole or not at all.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the local file `src` under `key`, replacing any object there; `src` is consumed
    /// (moved or removed) whether or not this succeeds.
    async fn put_file(&self, src: &Path, key: &str) -> BlobResult<()>;
    /// Writes the object `key` to the local file `dest` (created or replaced).
    async fn get_file(&self, key: &str, dest: &Path) -> BlobResult<()>;
    /// The object's size in bytes, or `None` when there is none.
    async fn head(&self, key: &str) -> BlobResult<Option<u64>>;
    /// The object's bytes, or only those in `range` (end exclusive, within the size).
    async fn read(&self, key: &str, range: Option<Range<u64>>) -> BlobResult<ByteStream>;
    /// Copies an object to another key.
    async fn copy(&self, from: &str, to: &str) -> BlobResult<()>;
    /// Removes an object; a missing one is fine.
    async fn delete(&self, key: &str) -> BlobResult<()>;
    /// Removes every object whose key starts with `prefix/` (a folder); returns how many.
    async fn delete_prefix(&self, prefix: &str) -> BlobResult<u64>;
    /// Every object under the folder `prefix` (however deep), as key and size.
    async fn list(&self, prefix: &str) -> BlobResult<Vec<(String, u64)>>;
    /// Every key under `prefix` with when it was last written (the sweepers' age test).
    async fn list_dated(&self, prefix: &str) -> BlobResult<Vec<(String, std::time::SystemTime)>>;
    /// Writes, reads back and removes a small object: at start, so a wrong endpoint, bucket,
    /// credentials or permissions stop the start with a clear message instead of failing
    /// the first job.
    async fn check(&self) -> BlobResult<()>;
    /// Where the blobs are, for messages (no secrets).
    fn describe(&self) -> String;
    /// A URL that serves `key` without credentials until `expires_in` runs out, when the
    /// store can make one (S3 presigned URLs); `None` otherwise.
    async fn presigned_url(&self, _key: &str, _expires_in: std::time::Duration) -> Option<String> {
        None
    }
}

/// Blob key of a generation's input (`media` or `first_frame`).
pub fn input_key(generation: &str, name: &str) -> String {
    format!("inputs/{generation}/{name}")
}

/// Blob key of a generation's output video.
pub fn output_key(generation: &str) -> String {
    format!("outputs/{generation}.mp4")
}

/// Blob key of an upload.
pub fn upload_key(key_id: &str, upload: &str) -> String {
    format!("uploads/{key_id}/{upload}")
}

/// Removes everything a generation left (inputs and output); failures are logged, since
/// nothing waits on them.
pub async fn remove_generation(blobs: &dyn BlobStore, generation: &str) {
    remove_inputs(blobs, generation).await;
    if let Err(e) = blobs.delete(&output_key(generation)).await {
        tracing::warn!(generation, "cannot remove the output: {e}");
    }
}

/// Removes a generation's inputs once it is finished (the output stays).
pub async fn remove_inputs(blobs: &dyn BlobStore, generation: &str) {
    if let Err(e) = blobs.delete_prefix(&format!("inputs/{generation}")).await {
        tracing::warn!(generation, "cannot remove the inputs: {e}");
    }
}

#[cfg(test)]
mod tests;
