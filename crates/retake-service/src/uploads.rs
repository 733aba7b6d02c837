//! Uploads: files a client sends so requests can refer to them without a public URL. Each is
//! a blob and a record of its key's, reachable at `{base_url}/v1/uploads/{id}` by that key
//! only, listed and deleted like generations, and removed `upload_ttl` after it was made.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::blobs;
use crate::domain::{rfc3339_ms, FilePurpose, FileState};
use crate::error::{Result, ServiceError};
use crate::service::{parse_uuid, Service};
use crate::store::{now_ms, KeyRecord, UploadFilter, UploadRecord};

/// A stored upload, usable as `media.url` or `first_frame.url` by the same key.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Upload {
    /// Upload id.
    pub id: String,
    /// URL to put in a request.
    pub url: String,
    /// Size in bytes.
    pub bytes: u64,
    /// What the content looks like: `video/mp4`, `video/quicktime`, `image/png`,
    /// `image/jpeg`, `image/webp`, else `application/octet-stream` (checked again when used).
    pub content_type: String,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// When it was uploaded (RFC 3339, UTC).
    pub created_at: String,
    /// When it will be deleted (RFC 3339, UTC).
    pub expires_at: String,
}

/// A page of uploads.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UploadList {
    /// The page, newest first.
    pub uploads: Vec<Upload>,
    /// How many are on this page.
    pub count: usize,
    /// Whether more follow.
    pub has_more: bool,
    /// The limit used.
    pub limit: u32,
    /// The offset used.
    pub offset: u32,
}

/// What the first bytes of a file say it is (the pipeline checks it properly when used).
pub fn sniff(head: &[u8]) -> &'static str {
    let at = |i: usize, s: &[u8]| head.get(i..i + s.len()) == Some(s);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if at(0, b"\xff\xd8\xff") {
        "image/jpeg"
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if at(4, b"ftypqt") {
        "video/quicktime"
    } else if at(4, b"ftyp") || at(4, b"moov") || at(4, b"mdat") || at(4, b"free") {
        "video/mp4"
    } else {
        "application/octet-stream"
    }
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "no upload `{id}` for this key (uploads are kept for a limited time; list yours with \
         GET /v1/uploads)"
    ))
}

impl Service {
    /// The API view of an upload record.
    pub fn upload_view(&self, u: &UploadRecord) -> Upload {
        Upload {
            id: u.id.clone(),
            url: format!("{}/v1/uploads/{}", self.base_url, u.id),
            bytes: u.bytes,
            content_type: u.content_type.clone(),
            sha256: u.sha256.clone(),
            created_at: rfc3339_ms(u.created_at),
            expires_at: rfc3339_ms(u.expires_at),
        }
    }

    /// Starts an upload of the caller's, written in chunks with the clip byte cap.
    pub(crate) async fn begin_upload(&self, caller: &KeyRecord) -> Result<UploadWriter> {
        let id = uuid::Uuid::new_v4();
        let tmp = self.scratch.file();
        let file = tokio::fs::File::create(&tmp).await?;
        Ok(UploadWriter {
            id: id.hyphenated().to_string(),
            key_id: caller.id.clone(),
            blob_key: blobs::upload_key(&caller.id, &id.simple().to_string()),
            bytes: 0,
            head: Vec::new(),
            hash: Sha256::new(),
            file: Some(file),
            tmp,
            max: self.config.max_bytes,
        })
    }

    /// One upload of the caller's.
    pub async fn get_upload(&self, caller: &KeyRecord, id: &str) -> Result<Upload> {
        let id = parse_uuid(id).ok_or_else(|| not_found(id))?;
        let u = self
            .store
            .upload(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        Ok(self.upload_view(&u))
    }

    /// A page of the caller's uploads, newest first.
    pub async fn list_uploads(
        &self,
        caller: &KeyRecord,
        limit: u32,
        offset: u32,
    ) -> Result<UploadList> {
        if !(1..=1000).contains(&limit) {
            return Err(ServiceError::BadRequest(format!(
                "limit is {limit}; use 1 to 1000"
            )));
        }
        let (rows, has_more) = self
            .store
            .list_uploads(&caller.id, &UploadFilter::default(), limit, offset)
            .await?;
        let uploads: Vec<Upload> = rows.iter().map(|u| self.upload_view(u)).collect();
        Ok(UploadList {
            count: uploads.len(),
            uploads,
            has_more,
            limit,
            offset,
        })
    }

    /// Deletes an upload of the caller's (generations that used it keep their own copy).
    pub async fn delete_upload(&self, caller: &KeyRecord, id: &str) -> Result<()> {
        let id = parse_uuid(id).ok_or_else(|| not_found(id))?;
        let u = self
            .store
            .delete_upload(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        if let Err(e) = self.blobs.delete(&u.blob).await {
            tracing::warn!(upload = %id, "cannot remove the upload's file: {e}");
        }
        tracing::info!(upload = %id, key = %caller.id, "upload deleted");
        Ok(())
    }

    /// The record of an upload of the caller's that is ready to use.
    pub(crate) async fn upload_record(&self, caller: &KeyRecord, id: &str) -> Result<UploadRecord> {
        let id = parse_uuid(id).ok_or_else(|| not_found(id))?;
        let u = self
            .store
            .upload(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(&id))?;
        // A Files API file is usable once its bytes are in and checked.
        if u.state != FileState::Ready {
            return Err(ServiceError::BadRequest(format!(
                "upload `{id}` is a file that is {} (see GET /agents/v1/files/{id}); only a \
                 ready file can be used",
                u.state.as_str()
            )));
        }
        Ok(u)
    }

    /// The blob of an upload URL's upload, if it is the caller's.
    pub(crate) async fn upload_blob(&self, caller: &KeyRecord, id: &str) -> Result<String> {
        Ok(self.upload_record(caller, id).await?.blob)
    }

    /// Removes an upload (the synchronous endpoint's files, once copied into a generation).
    pub(crate) async fn remove_upload(&self, caller: &KeyRecord, upload: &Upload) {
        if let Err(e) = self.delete_upload(caller, &upload.id).await {
            tracing::warn!(upload = %upload.id, "could not remove an upload: {e}");
        }
    }

    /// Deletes uploads past their `expires_at` (run now and then by the sweeper).
    pub(crate) async fn sweep_uploads(&self) {
        loop {
            let expired = match self.store.expired_uploads(now_ms(), 100).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!("listing expired uploads failed: {e}");
                    break;
                }
            };
            for u in &expired {
                if let Err(e) = self.blobs.delete(&u.blob).await {
                    tracing::warn!(upload = %u.id, "cannot remove an expired upload's file: {e}");
                    continue;
                }
                if let Err(e) = self.store.delete_upload(&u.key_id, &u.id).await {
                    tracing::error!(upload = %u.id, "deleting an expired upload failed: {e}");
                    return;
                }
            }
            if expired.len() < 100 {
                break;
            }
        }
        self.sweep_orphan_uploads().await;
    }

    /// Upload files without a record (from before records were kept, or a crash between
    /// storing the file and recording it) are deleted once they are older than `upload_ttl`.
    async fn sweep_orphan_uploads(&self) {
        let ttl = self.config.upload_ttl;
        let files = match self.blobs.list_dated("uploads").await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("listing uploads for the sweep failed: {e}");
                return;
            }
        };
        for (blob, modified) in files {
            let old = modified.elapsed().is_ok_and(|age| age > ttl);
            if !old {
                continue;
            }
            // uploads/<key id>/<upload id, simple form>
            let mut parts = blob.split('/').skip(1);
            let (Some(key_id), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            let recorded = match parse_uuid(name) {
                Some(id) => matches!(self.store.upload(key_id, &id).await, Ok(Some(_)) | Err(_)),
                None => false,
            };
            if !recorded {
                tracing::info!(blob = %blob, "removing an unrecorded upload");
                if let Err(e) = self.blobs.delete(&blob).await {
                    tracing::warn!(blob = %blob, "cannot remove an unrecorded upload: {e}");
                }
            }
        }
    }
}

/// An upload being written; [`UploadWriter::finish`] makes it usable, dropping it unfinished
/// leaves only a temporary file that the next start clears.
pub(crate) struct UploadWriter {
    id: String,
    key_id: String,
    blob_key: String,
    bytes: u64,
    head: Vec<u8>,
    hash: Sha256,
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    max: u64,
}

impl UploadWriter {
    /// Appends a chunk; fails once the total passes the byte cap.
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.bytes += chunk.len() as u64;
        if self.bytes > self.max {
            return Err(ServiceError::TooLarge(format!(
                "the upload is over the {:.1} MB limit — compress or trim it",
                self.max as f64 / 1e6
            )));
        }
        if self.head.len() < 16 {
            let take = (16 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hash.update(chunk);
        match &mut self.file {
            Some(f) => Ok(f.write_all(chunk).await?),
            None => Err(ServiceError::Internal("upload already finished".into())),
        }
    }

    /// Makes the upload usable and records it; an empty one is refused.
    pub(crate) async fn finish(mut self, svc: &Service) -> Result<Upload> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        if self.bytes == 0 {
            return Err(ServiceError::BadRequest(
                "the upload is empty; send the file's bytes".into(),
            ));
        }
        svc.blobs.put_file(&self.tmp, &self.blob_key).await?;
        let created_at = now_ms();
        let record = UploadRecord {
            id: self.id.clone(),
            key_id: self.key_id.clone(),
            blob: self.blob_key.clone(),
            bytes: self.bytes,
            content_type: sniff(&self.head).to_string(),
            sha256: format!("{:x}", std::mem::take(&mut self.hash).finalize()),
            created_at,
            expires_at: created_at.saturating_add(svc.config.upload_ttl.as_millis() as i64),
            state: FileState::Ready,
            purpose: FilePurpose::Input,
            filename: None,
            user_id: None,
            failure_reason: None,
        };
        if let Err(e) = svc.store.insert_upload(record.clone()).await {
            let _ = svc.blobs.delete(&self.blob_key).await;
            return Err(e.into());
        }
        Ok(svc.upload_view(&record))
    }
}

impl Drop for UploadWriter {
    fn drop(&mut self) {
        // Gone already once stored; left over when the upload was refused or cut off.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_recognised_by_its_first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nxxxx"), "image/png");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), "image/jpeg");
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), "video/mp4");
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  "), "video/quicktime");
        assert_eq!(sniff(b"hello"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
    }
}
