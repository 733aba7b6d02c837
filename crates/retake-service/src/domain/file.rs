//! The Files API's shapes (`/agents/v1/files`, as the `luma-agents` SDK reads them). A file is
//! an upload record of its key's, with the Files API's own fields (state, purpose, name).

use serde::{Deserialize, Serialize};

/// Where a file is: `pending` until its bytes are in and checked, then `ready` (usable as a
/// `file_id`) or `failed` (`failure_reason` says why).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// Waiting for its bytes (a presigned upload before `complete`).
    Pending,
    /// Checked: an image or a clip retake can read.
    #[default]
    Ready,
    /// Its bytes are not what it says, or not readable.
    Failed,
}

impl FileState {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Ready => "ready",
            FileState::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(FileState::Pending),
            "ready" => Some(FileState::Ready),
            "failed" => Some(FileState::Failed),
            _ => None,
        }
    }
}

/// How a file is meant to be used: `input` (the subject, such as an edit's source) or
/// `reference` (guidance, such as an edited keyframe). retake accepts either anywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FilePurpose {
    /// The primary subject.
    #[default]
    Input,
    /// Style or content guidance.
    Reference,
}

impl FilePurpose {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            FilePurpose::Input => "input",
            FilePurpose::Reference => "reference",
        }
    }

    /// Reads a name (`input` or `reference`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "input" => Some(FilePurpose::Input),
            "reference" => Some(FilePurpose::Reference),
            _ => None,
        }
    }
}

/// A file in the caller's namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileObject {
    /// File id (a UUID), for `file_id` in a generation.
    pub id: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// What the bytes are (`video/mp4`, `image/png`, …): the declared type until the bytes are
    /// checked, then what they turned out to be.
    pub mime_type: String,
    /// `input` or `reference`.
    pub purpose: FilePurpose,
    /// Size in bytes (the declared size while `pending`).
    pub size_bytes: u64,
    /// Where it is.
    pub state: FileState,
    /// Always null: a deleted file is gone (404).
    pub deleted_at: Option<String>,
    /// When retake deletes it (RFC 3339, UTC).
    pub expires_at: Option<String>,
    /// Why it failed, and what to send instead.
    pub failure_reason: Option<String>,
    /// The name it was uploaded under.
    pub filename: Option<String>,
    /// The caller's opaque end-user tag, echoed.
    pub user_id: Option<String>,
}

/// Where to PUT a presigned upload's bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresignedUpload {
    /// When the URL stops working (RFC 3339, UTC).
    pub expires_at: String,
    /// Always `PUT`.
    pub method: String,
    /// Where to PUT exactly `size_bytes` bytes (signed for this one file; no API key needed).
    pub url: String,
    /// Headers to send with the PUT.
    pub headers: Option<std::collections::BTreeMap<String, String>>,
}

/// The answer of `POST /files`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateFileResponse {
    /// `file.id`.
    pub id: String,
    /// The file.
    pub file: FileObject,
    /// `file.state`.
    pub state: FileState,
    /// For a presigned (JSON) create: where to PUT the bytes before `complete`; null for a
    /// multipart create.
    pub upload: Option<PresignedUpload>,
}

/// A page of files, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileList {
    /// The page.
    pub data: Vec<FileObject>,
    /// Whether more follow.
    pub has_more: bool,
    /// Pass as `cursor` for the next page, when `has_more`.
    pub next_cursor: Option<String>,
}

/// The body of a presigned `POST /files` (JSON), or the text fields of a multipart one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFileRequest {
    /// What the bytes are: `video/mp4`, `video/quicktime`, `image/png`, `image/jpeg` or
    /// `image/webp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true)]
    pub mime_type: Option<String>,
    /// Exact size of the bytes, at most the server's limit for the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = true, minimum = 1)]
    pub size_bytes: Option<i64>,
    /// `input` (default) or `reference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<FilePurpose>)]
    pub purpose: Option<String>,
    /// The original name, kept (at most 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub filename: Option<String>,
    /// An opaque end-user tag, echoed (at most 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub user_id: Option<String>,
    /// When to delete it (RFC 3339), earlier than the server's own limit (`upload_ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}
