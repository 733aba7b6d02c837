//! Blobs on the local disk: inputs, outputs and uploads under the data folder.
//!
//! Keys are relative paths made only by this module from UUIDs, never from client input.
//! Everything is written to `tmp/` and renamed into place, so a reader never sees half a file.

use std::path::{Path, PathBuf};

use crate::error::ServiceError;

/// The blob folder.
#[derive(Clone, Debug)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    /// Opens (creating) the blob folders under `root`.
    pub fn open(root: &Path) -> Result<Self, ServiceError> {
        for sub in ["tmp", "inputs", "outputs", "uploads"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| {
                ServiceError::Internal(format!("cannot create {}: {e}", root.join(sub).display()))
            })?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The file behind a blob key.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// A fresh temporary path (same file system as the blobs, so rename is atomic).
    pub fn temp_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string())
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

    /// Moves a finished temporary file to `key`.
    pub async fn commit(&self, tmp: &Path, key: &str) -> Result<PathBuf, ServiceError> {
        let dest = self.path(key);
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(tmp, &dest).await?;
        Ok(dest)
    }

    /// Copies a blob to another key (for uploads referenced by a generation).
    pub async fn copy(&self, from: &str, to: &str) -> Result<PathBuf, ServiceError> {
        let tmp = self.temp_path();
        tokio::fs::copy(self.path(from), &tmp).await?;
        self.commit(&tmp, to).await
    }

    /// Removes everything a generation left (inputs and output); missing files are fine.
    pub async fn remove_generation(&self, generation: &str) {
        let _ = tokio::fs::remove_dir_all(self.root.join("inputs").join(generation)).await;
        let _ = tokio::fs::remove_file(self.path(&Self::output_key(generation))).await;
    }

    /// Removes a generation's inputs once it is finished (the output stays).
    pub async fn remove_inputs(&self, generation: &str) {
        let _ = tokio::fs::remove_dir_all(self.root.join("inputs").join(generation)).await;
    }

    /// Empties `tmp/` (at startup: leftovers of a crash).
    pub fn clear_tmp(&self) {
        if let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
