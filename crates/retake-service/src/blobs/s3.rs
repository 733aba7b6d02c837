//! Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage, …) through the
//! `object_store` crate: uploads go up in 8 MiB parts (multipart past that size) straight from
//! the file, downloads and ranged reads stream, so no object is held in memory whole.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig,
};
use tokio::io::AsyncWriteExt;

use super::{BlobError, BlobResult, BlobStore, ByteStream};

/// Size of one part of a multipart upload, and of the upload buffer.
const PART: usize = 8 * 1024 * 1024;

/// How to reach the bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing slash; may be empty).
    pub prefix: String,
    /// Endpoint URL of a self-hosted server (`http://minio:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when unsure; most self-hosted servers ignore it).
    pub region: String,
    /// Access key id; `None` takes it from the environment (`AWS_ACCESS_KEY_ID`, …).
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`: what
    /// self-hosted servers expect.
    pub path_style: bool,
}

impl S3Settings {
    /// Reads `s3://bucket/prefix`.
    pub fn parse_url(url: &str) -> Result<(String, String), String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            format!("`{url}` is not an s3://BUCKET/PREFIX URL (or `local` for the data folder)")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(format!(
                "`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, `-` or `.`)"
            ));
        }
        Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
    }
}

/// An S3-compatible bucket.
#[derive(Clone)]
pub struct S3Blobs {
    store: Arc<AmazonS3>,
    settings: S3Settings,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl S3Blobs {
    /// Builds the client (nothing is sent until the first call; [`BlobStore::check`] tests
    /// the connection).
    pub fn new(settings: S3Settings) -> BlobResult<Self> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300)),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 4,
                retry_timeout: Duration::from_secs(20),
            });
        if let Some(e) = &settings.endpoint {
            b = b
                .with_endpoint(e.trim_end_matches('/'))
                .with_allow_http(e.starts_with("http://"));
        }
        if let Some(k) = &settings.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &settings.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let store = b
            .build()
            .map_err(|e| BlobError::Storage(format!("the S3 settings are not usable: {e}")))?;
        Ok(Self {
            store: Arc::new(store),
            settings,
        })
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.settings.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.settings.prefix))
        }
    }

    fn where_(&self) -> String {
        let endpoint = self
            .settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("AWS S3 ({})", self.settings.region));
        format!("bucket `{}` at {endpoint}", self.settings.bucket)
    }

    /// Turns an `object_store` error into one that says what to check.
    fn err(&self, what: &str, e: object_store::Error) -> BlobError {
        let text = error_chain(&e);
        if let object_store::Error::NotFound { path, .. } = &e {
            if !text.contains("NoSuchBucket") {
                return BlobError::NotFound(path.clone());
            }
        }
        let hint = if text.contains("NoSuchBucket") {
            format!(
                "the bucket does not exist; create `{}` (e.g. `aws s3 mb s3://{}`) or fix \
                 `blob_store`",
                self.settings.bucket, self.settings.bucket
            )
        } else if text.contains("InvalidAccessKeyId")
            || text.contains("SignatureDoesNotMatch")
            || text.contains("InvalidToken")
            || matches!(e, object_store::Error::Unauthenticated { .. })
        {
            "the credentials were refused; check `s3_access_key_id` and \
             `s3_secret_access_key` (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
                .to_string()
        } else if text.contains("AccessDenied")
            || matches!(e, object_store::Error::PermissionDenied { .. })
        {
            "access denied; these credentials need s3:PutObject, s3:GetObject, \
             s3:DeleteObject and s3:ListBucket on the bucket"
                .to_string()
        } else if text.contains("onnect")
            || text.contains("dns error")
            || text.contains("timed out")
            || text.contains("error sending request")
        {
            "cannot reach the server; check `s3_endpoint` and that this machine may reach it"
                .to_string()
        } else {
            "the server refused the request".to_string()
        };
        BlobError::Storage(format!("{what} on {}: {hint} ({text})", self.where_()))
    }
}

/// An error and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put_file(&self, src: &Path, key: &str) -> BlobResult<()> {
        let result = async {
            let mut file = tokio::fs::File::open(src).await?;
            let mut w = BufWriter::with_capacity(self.store.clone(), self.path(key), PART);
            let copied = tokio::io::copy(&mut file, &mut w).await;
            let finished = match copied {
                Ok(_) => w.shutdown().await,
                Err(e) => Err(e),
            };
            if let Err(e) = finished {
                let _ = w.abort().await;
                return Err(BlobError::Storage(format!(
                    "storing `{key}` on {}: {}",
                    self.where_(),
                    error_chain(&e)
                )));
            }
            Ok(())
        }
        .await;
        let _ = tokio::fs::remove_file(src).await;
        result
    }

    async fn get_file(&self, key: &str, dest: &Path) -> BlobResult<()> {
        let got = self
            .store
            .get(&self.path(key))
            .await
            .map_err(|e| self.err("reading", e))?;
        let mut stream = got.into_stream();
        let mut file = tokio::fs::File::create(dest).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err("reading", e))?;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(())
    }

    async fn head(&self, key: &str) -> BlobResult<Option<u64>> {
        match self.store.head(&self.path(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("looking up", e)),
        }
    }

    async fn read(&self, key: &str, range: Option<Range<u64>>) -> BlobResult<ByteStream> {
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&self.path(key), opts)
            .await
            .map_err(|e| self.err("reading", e))?;
        Ok(got
            .into_stream()
            .map_err(|e| std::io::Error::other(error_chain(&e)))
            .boxed())
    }

    async fn copy(&self, from: &str, to: &str) -> BlobResult<()> {
        self.store
            .copy(&self.path(from), &self.path(to))
            .await
            .map_err(|e| self.err("copying", e))
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("deleting", e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> BlobResult<u64> {
        let folder = self.path(prefix.trim_end_matches('/'));
        let listed = self
            .store
            .list(Some(&folder))
            .map_ok(|m| m.location)
            .boxed();
        let mut deleted = self.store.delete_stream(listed);
        let mut count = 0;
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) => count += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err("deleting", e)),
            }
        }
        Ok(count)
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<(String, u64)>> {
        let folder = self.path(prefix.trim_end_matches('/'));
        let skip = if self.settings.prefix.is_empty() {
            0
        } else {
            self.settings.prefix.len() + 1
        };
        let mut out: Vec<(String, u64)> = self
            .store
            .list(Some(&folder))
            .map_ok(|m| (m.location.as_ref()[skip..].to_string(), m.size))
            .try_collect()
            .await
            .map_err(|e| self.err("listing", e))?;
        out.sort();
        Ok(out)
    }

    async fn list_dated(&self, prefix: &str) -> BlobResult<Vec<(String, std::time::SystemTime)>> {
        let folder = self.path(prefix.trim_end_matches('/'));
        let skip = if self.settings.prefix.is_empty() {
            0
        } else {
            self.settings.prefix.len() + 1
        };
        let mut out: Vec<(String, std::time::SystemTime)> = self
            .store
            .list(Some(&folder))
            .map_ok(|m| {
                (
                    m.location.as_ref()[skip..].to_string(),
                    m.last_modified.into(),
                )
            })
            .try_collect()
            .await
            .map_err(|e| self.err("listing", e))?;
        out.sort();
        Ok(out)
    }

    async fn check(&self) -> BlobResult<()> {
        let probe = format!(".retake-check/{}", uuid::Uuid::new_v4().simple());
        let path = self.path(&probe);
        self.store
            .put(&path, bytes::Bytes::from_static(b"retake").into())
            .await
            .map_err(|e| self.err("writing a test object", e))?;
        let back = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.err("reading a test object back", e))?
            .bytes()
            .await
            .map_err(|e| self.err("reading a test object back", e))?;
        self.store
            .delete(&path)
            .await
            .map_err(|e| self.err("deleting a test object", e))?;
        if back.as_ref() != b"retake" {
            return Err(BlobError::Storage(format!(
                "{} gave back other bytes than were written; is `s3_endpoint` an S3 server?",
                self.where_()
            )));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let prefix = if self.settings.prefix.is_empty() {
            String::new()
        } else {
            format!(", prefix `{}`", self.settings.prefix)
        };
        format!("{}{prefix}", self.where_())
    }

    async fn presigned_url(&self, key: &str, expires_in: Duration) -> Option<String> {
        self.store
            .signed_url(reqwest::Method::GET, &self.path(key), expires_in)
            .await
            .ok()
            .map(|u| u.to_string())
    }
}
