//! Uploads: files a client sends so requests can refer to them without a public URL. Each is
//! a blob of its key's, reachable at `{base_url}/v1/uploads/{id}` by that key only.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;

use crate::blobs::{self, BlobStore};
use crate::error::{Result, ServiceError};
use crate::service::Service;
use crate::store::KeyRecord;

/// A stored upload, usable as `media.url` or `first_frame.url` by the same key.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Upload {
    /// Upload id.
    pub id: String,
    /// URL to put in a request.
    pub url: String,
    /// Size in bytes.
    pub bytes: u64,
}

impl Service {
    /// Starts an upload of the caller's, written in chunks with the clip byte cap.
    pub(crate) async fn begin_upload(&self, caller: &KeyRecord) -> Result<UploadWriter> {
        let id = uuid::Uuid::new_v4();
        let tmp = self.scratch.file();
        let file = tokio::fs::File::create(&tmp).await?;
        Ok(UploadWriter {
            blob_key: blobs::upload_key(&caller.id, &id.simple().to_string()),
            upload: Upload {
                id: id.hyphenated().to_string(),
                url: format!("{}/v1/uploads/{}", self.base_url, id.hyphenated()),
                bytes: 0,
            },
            file: Some(file),
            tmp,
            max: self.config.max_bytes,
        })
    }

    /// Removes an upload (the synchronous endpoint's files, once copied into a generation).
    pub(crate) async fn remove_upload(&self, caller: &KeyRecord, upload: &Upload) {
        if let Ok(u) = uuid::Uuid::parse_str(&upload.id) {
            let key = blobs::upload_key(&caller.id, &u.simple().to_string());
            if let Err(e) = self.blobs.delete(&key).await {
                tracing::warn!(upload = %upload.id, "cannot remove the upload: {e}");
            }
        }
    }
}

/// An upload being written; [`UploadWriter::finish`] makes it usable, dropping it unfinished
/// leaves only a temporary file that the next start clears.
pub(crate) struct UploadWriter {
    blob_key: String,
    upload: Upload,
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    max: u64,
}

impl UploadWriter {
    /// Appends a chunk; fails once the total passes the byte cap.
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.upload.bytes += chunk.len() as u64;
        if self.upload.bytes > self.max {
            return Err(ServiceError::TooLarge(format!(
                "the upload is over the {:.1} MB limit — compress or trim it",
                self.max as f64 / 1e6
            )));
        }
        match &mut self.file {
            Some(f) => Ok(f.write_all(chunk).await?),
            None => Err(ServiceError::Internal("upload already finished".into())),
        }
    }

    /// Makes the upload usable; an empty one is refused.
    pub(crate) async fn finish(mut self, blobs: &dyn BlobStore) -> Result<Upload> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
        }
        if self.upload.bytes == 0 {
            return Err(ServiceError::BadRequest(
                "the upload is empty; send the file's bytes".into(),
            ));
        }
        blobs.put_file(&self.tmp, &self.blob_key).await?;
        Ok(self.upload.clone())
    }
}

impl Drop for UploadWriter {
    fn drop(&mut self) {
        // Gone already once stored; left over when the upload was refused or cut off.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
