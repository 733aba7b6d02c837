//! Service configuration: one struct, defaults in code; the CLI fills it from flags and env.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use retake_media::Limits;

use crate::fetch::FetchConfig;

/// Everything `retake serve` can be told. [`ServiceConfig::default`] works on a fresh machine.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Folder for the SQLite database, blobs and the server's secrets.
    pub data_dir: PathBuf,
    /// Address to listen on (default `127.0.0.1:8787`).
    pub bind: SocketAddr,
    /// Base URL clients reach the server at (for asset links); default `http://{bind}`.
    pub public_url: Option<String>,
    /// Price in credits per million output pixels (pixels × frames).
    pub price_per_mpx: f64,
    /// Limits on accepted clips (duration, bytes, input side, output size).
    pub limits: Limits,
    /// Longest accepted prompt, in characters.
    pub max_prompt_chars: usize,
    /// Largest accepted first-frame image, in bytes.
    pub max_image_bytes: u64,
    /// How media and callback URLs are fetched (allow-list, timeouts).
    pub fetch: FetchConfig,
    /// In-process workers; 0 runs an API-only node.
    pub workers: usize,
    /// How long a worker's lease lasts without a heartbeat.
    pub lease_ttl: Duration,
    /// How often an idle worker looks for work (it is also woken on submit).
    pub poll_interval: Duration,
    /// Runs of one job before it is failed for good (a crash mid-job counts as a run).
    pub max_attempts: u32,
    /// How long signed asset links stay valid.
    pub link_ttl: Duration,
    /// Webhook deliveries attempted per event before giving up.
    pub webhook_attempts: u32,
    /// Wait before the first webhook retry; doubles each time.
    pub webhook_backoff: Duration,
    /// Credits a newly created admin key starts with.
    pub admin_credits: f64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("retake-data"),
            bind: SocketAddr::from(([127, 0, 0, 1], 8787)),
            public_url: None,
            price_per_mpx: crate::pricing::DEFAULT_PRICE_PER_MPX,
            limits: Limits::default(),
            max_prompt_chars: 2000,
            max_image_bytes: 20_000_000,
            fetch: FetchConfig::default(),
            workers: 1,
            lease_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            max_attempts: 3,
            link_ttl: Duration::from_secs(3600),
            webhook_attempts: 6,
            webhook_backoff: Duration::from_secs(1),
            admin_credits: 1000.0,
        }
    }
}

impl ServiceConfig {
    /// The base URL used in asset links, without a trailing slash.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }
}
