//! Key administration for the `retake keys` command and first start, through the [`Store`]
//! trait, so it works on whichever database `database_url` names.

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth;
use crate::config::ServiceConfig;
use crate::error::{Result, ServiceError};
use crate::pricing::Credits;
use crate::store::{now_ms, KeyRecord, Store};

/// A key just made. The token is shown once; only its hash is stored.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CreatedKey {
    /// Public id.
    pub id: String,
    /// Label.
    pub name: String,
    /// What clients send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Secret to verify webhook signatures with (Standard Webhooks `whsec_…`).
    pub webhook_secret: String,
    /// Starting credits.
    pub credits: f64,
}

/// A key as listed (no secrets).
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeyInfo {
    /// Public id.
    pub id: String,
    /// Label.
    pub name: String,
    /// Credits not spent or held.
    pub available: f64,
    /// Credits held for running generations.
    pub reserved: f64,
    /// Created, RFC 3339.
    pub created_at: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl From<&KeyRecord> for KeyInfo {
    fn from(k: &KeyRecord) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            available: k.available().as_f64(),
            reserved: k.reserved.as_f64(),
            created_at: crate::domain::rfc3339_ms(k.created_at),
            revoked: k.revoked,
        }
    }
}

/// Admin access to the keys in the configured database.
pub struct Admin {
    store: Arc<dyn Store>,
    data_dir: PathBuf,
}

impl Admin {
    /// Opens the configured database (creating and migrating it as needed).
    pub async fn open(config: &ServiceConfig) -> Result<Self> {
        Ok(Self {
            store: crate::server::open_store(config).await?,
            data_dir: config.data_dir.clone(),
        })
    }

    /// Admin access to an open store (`data_dir` is where `ensure_admin_key` writes).
    pub fn with_store(store: Arc<dyn Store>, data_dir: PathBuf) -> Self {
        Self { store, data_dir }
    }

    /// Makes a key with `credits` to spend.
    pub async fn create_key(&self, name: &str, credits: f64) -> Result<CreatedKey> {
        if !credits.is_finite() || credits < 0.0 {
            return Err(ServiceError::BadRequest(format!(
                "credits must be 0 or more; got {credits}"
            )));
        }
        let k = auth::new_key()?;
        self.store
            .insert_key(KeyRecord {
                id: k.id.clone(),
                name: name.to_string(),
                secret_hash: k.secret_hash.to_vec(),
                webhook_secret: k.webhook_secret.clone(),
                balance: Credits::from_f64(credits),
                reserved: Credits(0),
                created_at: now_ms(),
                revoked: false,
            })
            .await?;
        Ok(CreatedKey {
            id: k.id,
            name: name.to_string(),
            token: k.token,
            webhook_secret: auth::webhook_secret_string(&k.webhook_secret),
            credits: Credits::from_f64(credits).as_f64(),
        })
    }

    /// All keys.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self
            .store
            .list_keys()
            .await?
            .iter()
            .map(KeyInfo::from)
            .collect())
    }

    /// Revokes a key by id.
    pub async fn revoke_key(&self, id: &str) -> Result<()> {
        Ok(self.store.revoke_key(id).await?)
    }

    /// Adds credits (negative removes) and returns the key.
    pub async fn add_credits(&self, id: &str, amount: f64) -> Result<KeyInfo> {
        if !amount.is_finite() {
            return Err(ServiceError::BadRequest("credits must be a number".into()));
        }
        Ok(KeyInfo::from(
            &self
                .store
                .add_credits(id, Credits::from_f64(amount))
                .await?,
        ))
    }

    /// On first start (no keys at all): makes an `admin` key and writes it, owner-readable
    /// only, to `<data_dir>/admin-key.json`. Returns that path when it did.
    pub async fn ensure_admin_key(&self, credits: f64) -> Result<Option<PathBuf>> {
        if !self.store.list_keys().await?.is_empty() {
            return Ok(None);
        }
        let key = self.create_key("admin", credits).await?;
        // With a shared database nothing else may have made the data folder yet.
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            ServiceError::Internal(format!("cannot create {}: {e}", self.data_dir.display()))
        })?;
        let path = self.data_dir.join("admin-key.json");
        let json =
            serde_json::to_vec_pretty(&key).map_err(|e| ServiceError::Internal(e.to_string()))?;
        crate::server::write_private(&path, &json)?;
        Ok(Some(path))
    }
}
