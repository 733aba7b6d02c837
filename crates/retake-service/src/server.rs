//! Starting and stopping the server: store, blobs, workers, sweeper, webhooks, HTTP.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::blobs::Blobs;
use crate::config::ServiceConfig;
use crate::error::{Result, ServiceError};
use crate::fetch::Fetcher;
use crate::links::LinkSigner;
use crate::pipeline::ClipPipeline;
use crate::service::Service;
use crate::store::{SqliteStore, Store};
use crate::webhook::{self, WebhookPolicy};

/// File names inside the data folder.
pub(crate) const DB_FILE: &str = "retake.db";
const SECRET_FILE: &str = "server.secret";
const BLOB_DIR: &str = "blobs";

/// Opens the SQLite store of a data folder (creating the folder).
pub fn open_store(data_dir: &Path) -> Result<SqliteStore> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        ServiceError::Internal(format!("cannot create {}: {e}", data_dir.display()))
    })?;
    Ok(SqliteStore::open(&data_dir.join(DB_FILE))?)
}

/// The server's link-signing secret, made on first start and kept owner-readable only.
fn load_secret(data_dir: &Path) -> Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(s) = std::fs::read(&path) {
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    let secret = crate::auth::random_bytes::<32>()?.to_vec();
    let tmp = data_dir.join(format!("{SECRET_FILE}.tmp"));
    write_private(&tmp, &secret)?;
    std::fs::rename(&tmp, &path)?;
    Ok(secret)
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// A running server; dropping it does not stop it, [`RunningServer::shutdown`] does.
pub struct RunningServer {
    addr: SocketAddr,
    base_url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    http: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use (e.g. `http://127.0.0.1:8787`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Stops accepting requests and lets workers finish their current job's step.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.http.await;
        for t in self.tasks {
            t.abort();
        }
    }

    /// Runs until the HTTP server stops (it stops on [`RunningServer::shutdown`] only).
    pub async fn wait(self) -> Result<()> {
        self.http
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .map_err(ServiceError::from)
    }
}

/// Starts everything on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn start(
    config: ServiceConfig,
    pipeline: Arc<dyn ClipPipeline>,
    listener: TcpListener,
) -> Result<RunningServer> {
    let addr = listener.local_addr()?;
    let store = open_store(&config.data_dir)?;
    let store: Arc<dyn Store> = Arc::new(store);
    let blobs = Blobs::open(&config.data_dir.join(BLOB_DIR))?;
    blobs.clear_tmp();
    let fetcher = Fetcher::new(&config.fetch)?;
    let (webhooks, webhook_task) = webhook::start(
        fetcher.clone(),
        WebhookPolicy {
            attempts: config.webhook_attempts,
            backoff: config.webhook_backoff,
            timeout: Duration::from_secs(15),
        },
    );
    let base_url = config.base_url(addr);
    let svc = Arc::new(Service {
        links: LinkSigner::new(load_secret(&config.data_dir)?),
        store,
        blobs,
        fetcher,
        pipeline,
        webhooks,
        wake: Notify::new(),
        base_url: base_url.clone(),
        config,
    });
    // Jobs whose worker died with the last process come back before anyone leases.
    crate::worker::requeue_once(&svc).await;
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = vec![webhook_task];
    for i in 0..svc.config.workers {
        // Unique per process start, so a restarted server never mistakes an old lease for its own.
        let id = format!("worker-{i}-{}", uuid::Uuid::new_v4().simple());
        tasks.push(tokio::spawn(crate::worker::run(
            svc.clone(),
            id,
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::worker::sweep(
        svc.clone(),
        stop_rx.clone(),
    )));
    let app = crate::api::router(svc);
    let mut http_stop = stop_rx;
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%addr, "retake service listening");
    Ok(RunningServer {
        addr,
        base_url,
        stop,
        tasks,
        http,
    })
}

/// Binds `config.bind` and serves until Ctrl-C.
pub async fn serve(config: ServiceConfig, pipeline: Arc<dyn ClipPipeline>) -> Result<()> {
    let listener = TcpListener::bind(config.bind).await.map_err(|e| {
        ServiceError::Internal(format!(
            "cannot listen on {}: {e} — pick another address with --bind",
            config.bind
        ))
    })?;
    let server = start(config, pipeline, listener).await?;
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
