//! Blobs in a folder on the local disk (the single-machine default). Objects are written
//! to a temporary name beside their place and renamed into it, so a reader never sees half
//! a file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{BlobError, BlobResult, BlobStore, ByteStream};

/// The blob folder.
#[derive(Clone, Debug)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Opens (creating) the blob folder `root`.
    pub fn open(root: &Path) -> BlobResult<Self> {
        std::fs::create_dir_all(root).map_err(|e| {
            BlobError::Storage(format!(
                "cannot create the blob folder {}: {e}",
                root.display()
            ))
        })?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn temp_beside(dest: &Path) -> PathBuf {
        let name = format!(".tmp-{}", uuid::Uuid::new_v4().simple());
        dest.with_file_name(name)
    }

    async fn parent_of(&self, dest: &Path) -> BlobResult<()> {
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        Ok(())
    }
}

fn not_found(key: &str, e: std::io::Error) -> BlobError {
    if e.kind() == std::io::ErrorKind::NotFound {
        BlobError::NotFound(key.to_string())
    } else {
        e.into()
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put_file(&self, src: &Path, key: &str) -> BlobResult<()> {
        let dest = self.path(key);
        self.parent_of(&dest).await?;
        // A rename when the scratch folder is on the same file system (the usual layout);
        // else a copy to a temporary name beside the object, then a rename.
        if tokio::fs::rename(src, &dest).await.is_ok() {
            return Ok(());
        }
        let tmp = Self::temp_beside(&dest);
        let copied = tokio::fs::copy(src, &tmp).await;
        let _ = tokio::fs::remove_file(src).await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e.into());
        }
        tokio::fs::rename(&tmp, &dest).await?;
        Ok(())
    }

    async fn get_file(&self, key: &str, dest: &Path) -> BlobResult<()> {
        let src = self.path(key);
        let _ = tokio::fs::remove_file(dest).await;
        // Objects are never changed in place, so a hard link is as good as a copy.
        if tokio::fs::hard_link(&src, dest).await.is_ok() {
            return Ok(());
        }
        tokio::fs::copy(&src, dest)
            .await
            .map_err(|e| not_found(key, e))?;
        Ok(())
    }

    async fn head(&self, key: &str) -> BlobResult<Option<u64>> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn read(&self, key: &str, range: Option<Range<u64>>) -> BlobResult<ByteStream> {
        let mut file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(|e| not_found(key, e))?;
        let stream: ByteStream = match range {
            None => tokio_util::io::ReaderStream::new(file).boxed(),
            Some(r) => {
                file.seek(std::io::SeekFrom::Start(r.start)).await?;
                let len = r.end.saturating_sub(r.start);
                tokio_util::io::ReaderStream::new(file.take(len)).boxed()
            }
        };
        Ok(stream)
    }

    async fn copy(&self, from: &str, to: &str) -> BlobResult<()> {
        let dest = self.path(to);
        self.parent_of(&dest).await?;
        let tmp = Self::temp_beside(&dest);
        if let Err(e) = tokio::fs::copy(self.path(from), &tmp).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(not_found(from, e));
        }
        tokio::fs::rename(&tmp, &dest).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> BlobResult<u64> {
        let dir = self.path(prefix.trim_end_matches('/'));
        let mut count = 0;
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let Ok(mut entries) = tokio::fs::read_dir(&d).await else {
                continue;
            };
            while let Some(e) = entries.next_entry().await? {
                if e.file_type().await?.is_dir() {
                    stack.push(e.path());
                } else {
                    count += 1;
                }
            }
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(count),
        }
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut stack = vec![self.path(prefix.trim_end_matches('/'))];
        while let Some(d) = stack.pop() {
            let Ok(mut entries) = tokio::fs::read_dir(&d).await else {
                continue;
            };
            while let Some(e) = entries.next_entry().await? {
                let meta = e.metadata().await?;
                if meta.is_dir() {
                    stack.push(e.path());
                } else if !e.file_name().to_string_lossy().starts_with(".tmp-") {
                    if let Ok(rel) = e.path().strip_prefix(&self.root) {
                        out.push((rel.to_string_lossy().into_owned(), meta.len()));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn list_dated(&self, prefix: &str) -> BlobResult<Vec<(String, std::time::SystemTime)>> {
        let mut out = Vec::new();
        for (key, _) in self.list(prefix).await? {
            if let Ok(meta) = tokio::fs::metadata(self.path(&key)).await {
                out.push((key, meta.modified()?));
            }
        }
        Ok(out)
    }

    async fn check(&self) -> BlobResult<()> {
        let probe = self
            .root
            .join(format!(".check-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&probe, b"retake").await.map_err(|e| {
            BlobError::Storage(format!(
                "cannot write to the blob folder {}: {e} — give this user write access or \
                 point `data_dir` elsewhere",
                self.root.display()
            ))
        })?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }
}
