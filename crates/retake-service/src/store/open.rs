//! Which store a configuration names (`database_url`), and opening it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{mask_url, PgStore, SqliteStore, Store, StoreError, StoreResult};

/// The SQLite file inside a data folder, used when `database_url` is not set.
pub const DB_FILE: &str = "retake.db";

/// Where the state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file (one machine).
    Sqlite(PathBuf),
    /// A PostgreSQL database (several machines), by URL.
    Postgres(String),
}

impl StoreLocation {
    /// Reads `database_url`: `sqlite:PATH` (relative to the working folder), `postgres://…`
    /// or `postgresql://…`; `None` is the SQLite file in `data_dir`.
    pub fn parse(url: Option<&str>, data_dir: &Path) -> Result<Self, String> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Self::Sqlite(data_dir.join(DB_FILE)));
        };
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(
                    "`sqlite:` needs a file, such as sqlite:/var/lib/retake/retake.db".into(),
                );
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        Err(format!(
            "`{}` is neither sqlite:PATH nor postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            mask_url(url)
        ))
    }

    /// Whether several machines can share it.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// The location for messages, without a password.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite:{}", p.display()),
            Self::Postgres(u) => mask_url(u),
        }
    }
}

/// Opens (creating and migrating as needed) the store at `location`; `pool` is the most
/// PostgreSQL connections this process opens.
pub async fn open(location: &StoreLocation, pool: usize) -> StoreResult<Arc<dyn Store>> {
    match location {
        StoreLocation::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Database(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| StoreError::Database(format!("opening the database: {e}")))??;
            Ok(Arc::new(store))
        }
        StoreLocation::Postgres(url) => Ok(Arc::new(PgStore::open(url, pool).await?)),
    }
}
