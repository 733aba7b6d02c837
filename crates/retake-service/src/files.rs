//! The Files API (`/agents/v1/files`): files a key stores once and refers to by id, as an
//! edit's source or keyframes. A file is an upload record (the same records as
//! `/v1/uploads`: one notion of "a file a key stored") with the Files API's state, purpose and
//! name. Two ways in: the bytes inline in a multipart create (checked at once), or a JSON
//! create that answers a signed PUT link; the PUT stores the bytes and `complete` checks them
//! (`pending` → `ready` | `failed`).

use std::collections::BTreeMap;
use std::path::Path;

use retake_media::Limits;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::blobs;
use crate::domain::{
    rfc3339_ms, CreateFileRequest, CreateFileResponse, FileList, FileObject, FilePurpose,
    FileState, PresignedUpload,
};
use crate::edits::Kind;

mod check;

use crate::error::{Result, ServiceError};
use crate::service::{blocking, ScratchFile, Service};
use crate::store::{now_ms, FileOutcome, KeyRecord, UploadFilter, UploadRecord};
use check::{check_bytes, kind_name, kind_of, TYPES};

fn bad(msg: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest(msg.into())
}

fn not_found(field: Option<&str>, id: &str) -> ServiceError {
    match field {
        // Inside a create: the request is what is wrong.
        Some(f) => bad(format!(
            "{f}: no file `{id}` for this key; upload it with POST /agents/v1/files (a file \
             works for the key that uploaded it only)"
        )),
        None => ServiceError::NotFound(format!(
            "no file `{id}` for this key (list yours with GET /agents/v1/files)"
        )),
    }
}

/// A file id as stored (hyphenated UUID), or `None` when it cannot be one.
fn file_id(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// A file's bytes being written to a scratch file, capped and hashed.
pub(crate) struct FileWriter {
    tmp: ScratchFile,
    file: tokio::fs::File,
    bytes: u64,
    max: u64,
    hash: Sha256,
}

impl FileWriter {
    /// Appends a chunk; fails once the total passes the cap.
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.bytes += chunk.len() as u64;
        if self.bytes > self.max {
            return Err(ServiceError::TooLarge(format!(
                "the file is over {} bytes, the most it may be here",
                self.max
            )));
        }
        self.hash.update(chunk);
        Ok(self.file.write_all(chunk).await?)
    }

    async fn finish(mut self) -> Result<(ScratchFile, u64, String)> {
        self.file.flush().await?;
        let sha = self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((self.tmp, self.bytes, sha))
    }
}

/// The fields of a create, checked.
struct NewFile {
    mime: String,
    kind: Kind,
    size: Option<u64>,
    purpose: FilePurpose,
    filename: Option<String>,
    user_id: Option<String>,
    expires_at: i64,
}

impl Service {
    /// The largest file of `kind` this server takes.
    fn file_cap(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Video => self.config.max_bytes,
            Kind::Image => self.config.max_image_bytes,
        }
    }

    /// The longest a file is kept.
    fn file_ttl_ms(&self) -> i64 {
        i64::try_from(self.config.upload_ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Checks a create's fields; `size_required` for the presigned mode.
    fn new_file(&self, r: &CreateFileRequest, size_required: bool) -> Result<NewFile> {
        let names = TYPES.map(|(t, _)| t).join(", ");
        let mime = r
            .mime_type
            .as_deref()
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .ok_or_else(|| bad(format!("mime_type is required: one of {names}")))?;
        let kind = kind_of(&mime).ok_or_else(|| {
            bad(format!(
                "mime_type `{}` is not a type retake reads; use one of {names}",
                mime.chars().take(60).collect::<String>()
            ))
        })?;
        let mime = if mime == "image/jpg" {
            "image/jpeg".into()
        } else {
            mime
        };
        let size = match r.size_bytes {
            None if size_required => {
                return Err(bad(
                    "size_bytes is required: the exact size of the bytes you will PUT",
                ))
            }
            None => None,
            Some(n) if n < 1 => {
                return Err(bad(format!(
                    "size_bytes is {n}; send the exact size of the file (at least 1 byte)"
                )))
            }
            Some(n) => Some(n as u64),
        };
        let cap = self.file_cap(kind);
        if let Some(n) = size.filter(|n| *n > cap) {
            return Err(ServiceError::TooLarge(format!(
                "size_bytes is {n}; {} files may be at most {cap} bytes here",
                mime
            )));
        }
        let purpose = match r.purpose.as_deref() {
            None => FilePurpose::default(),
            Some(p) => FilePurpose::parse(p).ok_or_else(|| {
                bad(format!(
                    "purpose `{}` is unknown; use input or reference",
                    p.chars().take(30).collect::<String>()
                ))
            })?,
        };
        let text = |name: &str, v: &Option<String>, max: usize| match v {
            Some(s) if s.chars().count() > max => Err(bad(format!(
                "{name} is {} characters; the most is {max}",
                s.chars().count()
            ))),
            Some(s) if !s.trim().is_empty() => Ok(Some(s.clone())),
            _ => Ok(None),
        };
        let filename = text("filename", &r.filename, 255)?;
        let user_id = text("user_id", &r.user_id, 256)?;
        let now = now_ms();
        let latest = now.saturating_add(self.file_ttl_ms());
        let expires_at = match r.expires_at.as_deref() {
            None => latest,
            Some(t) => {
                let at = humantime::parse_rfc3339_weak(t.trim())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .and_then(|d| i64::try_from(d.as_millis()).ok())
                    .ok_or_else(|| {
                        bad(format!(
                            "expires_at `{}` is not an RFC 3339 time such as \
                             2030-01-01T00:00:00Z",
                            t.chars().take(40).collect::<String>()
                        ))
                    })?;
                if at <= now {
                    return Err(bad("expires_at is in the past; send a later time or none"));
                }
                at.min(latest)
            }
        };
        Ok(NewFile {
            mime,
            kind,
            size,
            purpose,
            filename,
            user_id,
            expires_at,
        })
    }

    /// The API view of a file.
    pub fn file_view(&self, u: &UploadRecord) -> FileObject {
        FileObject {
            id: u.id.clone(),
            created_at: rfc3339_ms(u.created_at),
            mime_type: u.content_type.clone(),
            purpose: u.purpose,
            size_bytes: u.bytes,
            state: u.state,
            deleted_at: None,
            expires_at: Some(rfc3339_ms(u.expires_at)),
            failure_reason: u.failure_reason.clone(),
            filename: u.filename.clone(),
            user_id: u.user_id.clone(),
        }
    }

    /// Starts writing a multipart create's bytes (the fields may come after them).
    pub(crate) async fn begin_file(&self) -> Result<FileWriter> {
        let tmp = ScratchFile(self.scratch.file());
        let file = tokio::fs::File::create(&tmp.0).await?;
        Ok(FileWriter {
            tmp,
            file,
            bytes: 0,
            max: self.config.max_bytes.max(self.config.max_image_bytes),
            hash: Sha256::new(),
        })
    }

    /// A multipart create: the fields and the bytes, checked at once (ready or a 4xx).
    pub(crate) async fn create_file_inline(
        &self,
        caller: &KeyRecord,
        fields: CreateFileRequest,
        bytes: Option<FileWriter>,
    ) -> Result<CreateFileResponse> {
        let new = self.new_file(&fields, false)?;
        let writer = bytes.ok_or_else(|| {
            bad(
                "the form has no `file` part; send the bytes in it, or create the file with a \
                 JSON body to get an upload URL",
            )
        })?;
        let (tmp, size, sha) = writer.finish().await?;
        if size == 0 {
            return Err(bad("the `file` part is empty; send the file's bytes"));
        }
        let cap = self.file_cap(new.kind);
        if size > cap {
            return Err(ServiceError::TooLarge(format!(
                "the file is {size} bytes; {} files may be at most {cap} bytes here",
                new.mime
            )));
        }
        if let Some(n) = new.size.filter(|n| *n != size) {
            return Err(bad(format!(
                "size_bytes is {n} but the `file` part has {size} bytes; send the exact size"
            )));
        }
        let (path, declared, limits) = (tmp.0.clone(), new.mime.clone(), self.file_limits());
        let found = blocking(move || check_bytes(&path, &declared, &limits))
            .await?
            .map_err(|why| ServiceError::UnreadableMedia(format!("file: {why}")))?;
        let id = uuid::Uuid::new_v4();
        let blob = blobs::upload_key(&caller.id, &id.simple().to_string());
        self.store_input(tmp, &blob).await?;
        let record = UploadRecord {
            id: id.hyphenated().to_string(),
            key_id: caller.id.clone(),
            blob,
            bytes: size,
            content_type: found,
            sha256: sha,
            created_at: now_ms(),
            expires_at: new.expires_at,
            state: FileState::Ready,
            purpose: new.purpose,
            filename: new.filename,
            user_id: new.user_id,
            failure_reason: None,
        };
        if let Err(e) = self.store.insert_upload(record.clone()).await {
            let _ = self.blobs.delete(&record.blob).await;
            return Err(e.into());
        }
        tracing::info!(file = %record.id, key = %caller.id, bytes = size, "file stored");
        let file = self.file_view(&record);
        Ok(CreateFileResponse {
            id: file.id.clone(),
            state: file.state,
            file,
            upload: None,
        })
    }

    /// A presigned create: a pending record and a signed PUT link for its bytes.
    pub async fn create_file_presigned(
        &self,
        caller: &KeyRecord,
        fields: CreateFileRequest,
    ) -> Result<CreateFileResponse> {
        let new = self.new_file(&fields, true)?;
        let id = uuid::Uuid::new_v4();
        let record = UploadRecord {
            id: id.hyphenated().to_string(),
            key_id: caller.id.clone(),
            blob: blobs::upload_key(&caller.id, &id.simple().to_string()),
            bytes: new.size.unwrap_or(0),
            content_type: new.mime.clone(),
            sha256: String::new(),
            created_at: now_ms(),
            expires_at: new.expires_at,
            state: FileState::Pending,
            purpose: new.purpose,
            filename: new.filename,
            user_id: new.user_id,
            failure_reason: None,
        };
        self.store.insert_upload(record.clone()).await?;
        let expires = now_ms() / 1000 + self.config.link_ttl.as_secs() as i64;
        let url = format!(
            "{}/agents/v1/files/{}/content?key={}&{}",
            self.base_url,
            record.id,
            caller.id,
            self.links.file_query(&caller.id, &record.id, expires)
        );
        let file = self.file_view(&record);
        Ok(CreateFileResponse {
            id: file.id.clone(),
            state: file.state,
            file,
            upload: Some(PresignedUpload {
                expires_at: rfc3339_ms(expires * 1000),
                method: "PUT".into(),
                url,
                headers: Some(BTreeMap::from([("Content-Type".to_string(), new.mime)])),
            }),
        })
    }

    /// Checks a presigned PUT's link and answers the pending file it is for.
    pub(crate) async fn file_for_put(
        &self,
        key_id: &str,
        id: &str,
        expires: i64,
        sig: &str,
    ) -> Result<UploadRecord> {
        let denied = || {
            ServiceError::Forbidden(
                "this upload link is not valid or has expired; create the file again for a \
                 fresh one"
                    .into(),
            )
        };
        let id = file_id(id).ok_or_else(denied)?;
        if !self
            .links
            .verify_file(key_id, &id, expires, sig, now_ms() / 1000)
        {
            return Err(denied());
        }
        let u = self
            .store
            .upload(key_id, &id)
            .await?
            .ok_or_else(|| not_found(None, &id))?;
        if u.state != FileState::Pending {
            return Err(ServiceError::Conflict(format!(
                "file `{id}` is {} already; its bytes cannot change (create a new file)",
                u.state.as_str()
            )));
        }
        Ok(u)
    }

    /// A writer for a presigned PUT's bytes, capped at the declared size.
    pub(crate) async fn begin_put(&self, declared: u64) -> Result<FileWriter> {
        let mut w = self.begin_file().await?;
        w.max = declared;
        Ok(w)
    }

    /// Stores a presigned PUT's bytes (exactly the declared size) for `complete` to check.
    pub(crate) async fn finish_put(&self, u: &UploadRecord, writer: FileWriter) -> Result<()> {
        let (tmp, size, _) = writer.finish().await?;
        if size != u.bytes {
            return Err(bad(format!(
                "the PUT carried {size} bytes but size_bytes was {}; send exactly that many \
                 (or create the file again with the right size)",
                u.bytes
            )));
        }
        self.store_input(tmp, &u.blob).await
    }

    /// Checks a presigned file's bytes: `pending` → `ready` or `failed`. A file already
    /// checked is answered as it is.
    pub async fn complete_file(&self, caller: &KeyRecord, id: &str) -> Result<FileObject> {
        let id = file_id(id).ok_or_else(|| not_found(None, id))?;
        let u = self
            .store
            .upload(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(None, &id))?;
        if u.state != FileState::Pending {
            return Ok(self.file_view(&u));
        }
        let tmp = ScratchFile(self.scratch.file());
        match self.blobs.head(&u.blob).await? {
            None => {
                return Err(ServiceError::Conflict(format!(
                    "file `{id}` has no bytes yet; PUT them to the upload URL from its create, \
                     then complete it"
                )))
            }
            Some(_) => self.blobs.get_file(&u.blob, &tmp.0).await?,
        }
        let (path, declared, limits) = (tmp.0.clone(), u.content_type.clone(), self.file_limits());
        let checked = blocking(move || {
            let sha = std::fs::read(&path)
                .map(|b| {
                    Sha256::digest(&b)
                        .iter()
                        .map(|x| format!("{x:02x}"))
                        .collect()
                })
                .unwrap_or_default();
            check_bytes(&path, &declared, &limits).map(|t| (t, sha))
        })
        .await?;
        let outcome = match checked {
            Ok((content_type, sha256)) => FileOutcome {
                state: FileState::Ready,
                failure_reason: None,
                content_type,
                sha256,
            },
            Err(why) => {
                let _ = self.blobs.delete(&u.blob).await;
                FileOutcome {
                    state: FileState::Failed,
                    failure_reason: Some(why),
                    content_type: u.content_type.clone(),
                    sha256: String::new(),
                }
            }
        };
        let done = self
            .store
            .finish_upload(&caller.id, &id, outcome)
            .await?
            .ok_or_else(|| not_found(None, &id))?;
        tracing::info!(file = %id, state = done.state.as_str(), "file checked");
        Ok(self.file_view(&done))
    }

    /// One file of the caller's.
    pub async fn get_file(&self, caller: &KeyRecord, id: &str) -> Result<FileObject> {
        let id = file_id(id).ok_or_else(|| not_found(None, id))?;
        let u = self
            .store
            .upload(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(None, &id))?;
        Ok(self.file_view(&u))
    }

    /// A page of the caller's files, newest first, optionally of one purpose or state.
    pub async fn list_files(
        &self,
        caller: &KeyRecord,
        filter: UploadFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<FileList> {
        if !(1..=100).contains(&limit) {
            return Err(bad(format!("limit is {limit}; use 1 to 100")));
        }
        let offset = match cursor {
            None => 0,
            Some(c) => c.parse::<u32>().map_err(|_| {
                bad(format!(
                    "cursor `{}` is not one this server gave; pass next_cursor from the page \
                     before, or leave it out",
                    c.chars().take(40).collect::<String>()
                ))
            })?,
        };
        let (rows, has_more) = self
            .store
            .list_uploads(&caller.id, &filter, limit, offset)
            .await?;
        Ok(FileList {
            data: rows.iter().map(|u| self.file_view(u)).collect(),
            has_more,
            next_cursor: has_more.then(|| (offset + limit).to_string()),
        })
    }

    /// Deletes a file of the caller's (generations that used it keep their own copy).
    pub async fn delete_file(&self, caller: &KeyRecord, id: &str) -> Result<()> {
        let id = file_id(id).ok_or_else(|| not_found(None, id))?;
        let u = self
            .store
            .delete_upload(&caller.id, &id)
            .await?
            .ok_or_else(|| not_found(None, &id))?;
        if let Err(e) = self.blobs.delete(&u.blob).await {
            tracing::warn!(file = %id, "could not remove a deleted file's bytes: {e}");
        }
        tracing::info!(file = %id, key = %caller.id, "file deleted");
        Ok(())
    }

    /// Copies file `id` of the caller's into `dest`, if it is ready and of `kind`; `field`
    /// names it in the request for the messages.
    pub(crate) async fn file_into(
        &self,
        caller: &KeyRecord,
        field: &str,
        id: &str,
        kind: Kind,
        dest: &Path,
    ) -> Result<()> {
        let u = match file_id(id) {
            Some(id) => self.store.upload(&caller.id, &id).await?,
            None => None,
        }
        .ok_or_else(|| not_found(Some(field), id))?;
        match u.state {
            FileState::Ready => {}
            FileState::Pending => {
                return Err(bad(format!(
                    "{field}: file `{id}` is pending; PUT its bytes to its upload URL and POST \
                     /agents/v1/files/{id}/complete first"
                )))
            }
            FileState::Failed => {
                return Err(bad(format!(
                    "{field}: file `{id}` failed its checks ({}); upload another",
                    u.failure_reason.as_deref().unwrap_or("no reason kept")
                )))
            }
        }
        let is = kind_of(&u.content_type);
        if is.is_some() && is != Some(kind) {
            return Err(bad(format!(
                "{field}: file `{id}` is {} ({}), but {} is needed here",
                is.map(kind_name).unwrap_or("something else"),
                u.content_type,
                kind_name(kind)
            )));
        }
        Ok(self.blobs.get_file(&u.blob, dest).await?)
    }

    /// The limits a file's clip is checked against (its length is the model's to judge).
    fn file_limits(&self) -> Limits {
        Limits {
            max_duration_s: f64::MAX,
            ..self.config.limits()
        }
    }
}
