//! The storage settings: which database and blob store a configuration names, how video
//! links are made, and masking their secrets for `retake config`.

use serde::{Deserialize, Serialize};

use super::{ConfigError, ServiceConfig};
use crate::blobs::S3Settings;
use crate::store::{mask_url, StoreLocation};

/// How `assets.video` links are made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoLinks {
    /// Signed by the API with `link_secret`, served by the API.
    #[default]
    Signed,
    /// S3 presigned URLs, served by the bucket.
    Presigned,
}

/// Where blobs live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobLocation {
    /// `<data_dir>/blobs`.
    Local,
    /// An S3-compatible bucket.
    S3(S3Settings),
}

/// What `retake config` shows instead of a secret.
const MASK: &str = "***";

impl ServiceConfig {
    /// The database `database_url` names.
    pub fn store_location(&self) -> Result<StoreLocation, ConfigError> {
        StoreLocation::parse(self.database_url.as_deref(), &self.data_dir).map_err(|message| {
            ConfigError::Invalid {
                key: "database_url",
                message,
            }
        })
    }

    /// The blob store `blob_store` and the `s3_*` settings name.
    pub fn blob_location(&self) -> Result<BlobLocation, ConfigError> {
        let bad = |key: &'static str, message: String| ConfigError::Invalid { key, message };
        let spec = self.blob_store.trim();
        if spec == "local" {
            return Ok(BlobLocation::Local);
        }
        let (bucket, prefix) = S3Settings::parse_url(spec).map_err(|m| bad("blob_store", m))?;
        let path_style = match self.s3_addressing.as_str() {
            "path" => true,
            "virtual" => false,
            "auto" => self.s3_endpoint.is_some(),
            other => {
                return Err(bad(
                    "s3_addressing",
                    format!("`{other}` is not one of path, virtual, auto"),
                ))
            }
        };
        if let Some(e) = &self.s3_endpoint {
            let ok = url::Url::parse(e)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(bad(
                    "s3_endpoint",
                    format!("`{e}` is not an http(s) URL such as http://minio.internal:9000"),
                ));
            }
        }
        if self.s3_access_key_id.is_some() != self.s3_secret_access_key.is_some() {
            return Err(bad(
                "s3_secret_access_key",
                "set both s3_access_key_id and s3_secret_access_key, or neither (then the \
                 AWS_* environment variables are used)"
                    .into(),
            ));
        }
        Ok(BlobLocation::S3(S3Settings {
            bucket,
            prefix,
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
            path_style,
        }))
    }

    /// Checks the storage settings (part of `validate`).
    pub(super) fn validate_storage(&self) -> Result<(), ConfigError> {
        self.store_location()?;
        let blobs = self.blob_location()?;
        if self.video_links == VideoLinks::Presigned && blobs == BlobLocation::Local {
            return Err(ConfigError::Invalid {
                key: "video_links",
                message: "`presigned` needs an S3 bucket (`blob_store = \"s3://…\"`); use \
                          `signed` with the data folder"
                    .into(),
            });
        }
        if self.link_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(ConfigError::Invalid {
                key: "link_secret",
                message: "use at least 32 characters, e.g. the output of `openssl rand -hex 32`"
                    .into(),
            });
        }
        if !(1..=1000).contains(&self.database_pool) {
            return Err(ConfigError::Invalid {
                key: "database_pool",
                message: format!("{} connections; use 1 to 1000", self.database_pool),
            });
        }
        Ok(())
    }

    /// A copy with passwords and secrets replaced by `***` (for printing).
    pub fn masked(&self) -> Self {
        let mut c = self.clone();
        c.database_url = c.database_url.as_deref().map(mask_url);
        for secret in [&mut c.s3_secret_access_key, &mut c.link_secret] {
            if secret.is_some() {
                *secret = Some(MASK.into());
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<ServiceConfig, ConfigError> {
        let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        ServiceConfig::load(None, env).map(|l| l.config)
    }

    #[test]
    fn database_and_blob_store_are_read_and_secrets_masked() {
        let c = load(&[
            (
                "RETAKE_DATABASE_URL",
                "postgres://retake:hunter2@db:5432/retake",
            ),
            ("RETAKE_BLOB_STORE", "s3://media-bucket/retake/prod/"),
            ("RETAKE_S3_ENDPOINT", "http://minio:9000"),
            ("RETAKE_S3_ACCESS_KEY_ID", "AKIA1"),
            ("RETAKE_S3_SECRET_ACCESS_KEY", "s3cret"),
            ("RETAKE_LINK_SECRET", "0123456789abcdef0123456789abcdef"),
            ("RETAKE_VIDEO_LINKS", "presigned"),
        ])
        .unwrap();
        assert!(c.store_location().unwrap().is_shared());
        let BlobLocation::S3(s3) = c.blob_location().unwrap() else {
            panic!("not S3");
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("media-bucket", "retake/prod")
        );
        assert!(s3.path_style, "auto is path-style with an endpoint");
        let shown = c.to_toml(&Default::default());
        for secret in ["hunter2", "s3cret", "0123456789abcdef"] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
        assert!(
            shown.contains("postgres://retake:***@db:5432/retake"),
            "{shown}"
        );
        assert!(shown.contains("s3_access_key_id = \"AKIA1\""), "{shown}");
        let d = ServiceConfig::default();
        assert_eq!(
            d.store_location().unwrap(),
            StoreLocation::Sqlite(d.data_dir.join("retake.db"))
        );
        assert_eq!(d.blob_location().unwrap(), BlobLocation::Local);
    }

    #[test]
    fn storage_mistakes_say_what_to_write() {
        for (vars, want) in [
            (&[("RETAKE_DATABASE_URL", "mysql://x")][..], "postgres://"),
            (&[("RETAKE_BLOB_STORE", "gs://b")][..], "s3://BUCKET/PREFIX"),
            (&[("RETAKE_BLOB_STORE", "s3://A_B")][..], "bucket name"),
            (
                &[("RETAKE_VIDEO_LINKS", "presigned")][..],
                "needs an S3 bucket",
            ),
            (&[("RETAKE_VIDEO_LINKS", "public")][..], "video_links"),
            (&[("RETAKE_LINK_SECRET", "short")][..], "openssl rand"),
            (
                &[
                    ("RETAKE_BLOB_STORE", "s3://b-1"),
                    ("RETAKE_S3_ADDRESSING", "sideways"),
                ][..],
                "path, virtual, auto",
            ),
            (
                &[
                    ("RETAKE_BLOB_STORE", "s3://b-1"),
                    ("RETAKE_S3_ACCESS_KEY_ID", "k"),
                ][..],
                "set both",
            ),
            (
                &[
                    ("RETAKE_BLOB_STORE", "s3://b-1"),
                    ("RETAKE_S3_ENDPOINT", "minio:9000"),
                ][..],
                "http(s) URL",
            ),
        ] {
            let e = load(vars).unwrap_err().to_string();
            assert!(e.contains(want), "{vars:?}: {e}");
        }
    }
}
