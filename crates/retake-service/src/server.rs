//! Starting and stopping the server: store, blobs, workers, sweeper, webhooks, HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::blobs::{BlobStore, LocalBlobs, S3Blobs, Scratch};
use crate::config::{BlobLocation, ServiceConfig, VideoLinks};
use crate::error::{Result, ServiceError};
use crate::fetch::Fetcher;
use crate::links::LinkSigner;
use crate::metrics::Metrics;
use crate::pipeline::ClipPipeline;
use crate::ratelimit::RateLimiter;
use crate::service::Service;
use crate::store::{Store, StoreError};
use crate::webhook::{self, WebhookPolicy};

/// File names inside the data folder.
const SECRET_FILE: &str = "server.secret";
const BLOB_DIR: &str = "blobs";
/// Scratch files live beside the local blobs, so storing one is a rename.
const SCRATCH_DIR: &str = "blobs/tmp";

/// A start-up error about storage: says which setting to fix.
fn storage_error(setting: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unavailable(format!("{setting}: {e}"))
}

/// Opens the store `config` names (`database_url`, else the data folder's SQLite file),
/// migrating it to this build's schema.
pub async fn open_store(config: &ServiceConfig) -> Result<Arc<dyn Store>> {
    let location = config
        .store_location()
        .map_err(|e| ServiceError::BadRequest(e.to_string()))?;
    crate::store::open(&location, config.database_pool)
        .await
        .map_err(|e| match e {
            StoreError::Corrupt(m) => storage_error("database_url", m),
            other => storage_error("database_url", other),
        })
}

/// Opens the blob store `config` names and checks that it can be written.
pub async fn open_blobs(config: &ServiceConfig) -> Result<Arc<dyn BlobStore>> {
    let location = config
        .blob_location()
        .map_err(|e| ServiceError::BadRequest(e.to_string()))?;
    let blobs: Arc<dyn BlobStore> = match location {
        BlobLocation::Local => Arc::new(
            LocalBlobs::open(&config.data_dir.join(BLOB_DIR))
                .map_err(|e| storage_error("data_dir", e))?,
        ),
        BlobLocation::S3(s) => {
            Arc::new(S3Blobs::new(s).map_err(|e| storage_error("blob_store", e))?)
        }
    };
    blobs
        .check()
        .await
        .map_err(|e| storage_error("blob_store", e))?;
    Ok(blobs)
}

/// The link-signing secret: `link_secret` when set (it must be, with a shared database, so
/// every node signs alike), else one made on first start in the data folder.
fn link_secret(config: &ServiceConfig, shared: bool) -> Result<Vec<u8>> {
    if let Some(s) = &config.link_secret {
        return Ok(s.as_bytes().to_vec());
    }
    if shared && config.video_links == VideoLinks::Signed {
        return Err(storage_error(
            "link_secret",
            "with a shared database every API node and worker must sign video links alike; \
             set the same `link_secret` (RETAKE_LINK_SECRET) on every node, e.g. the output \
             of `openssl rand -hex 32`",
        ));
    }
    load_secret(&config.data_dir)
}

/// The data folder's link-signing secret, made on first start and kept owner-readable only.
fn load_secret(data_dir: &Path) -> Result<Vec<u8>> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        ServiceError::Internal(format!("cannot create {}: {e}", data_dir.display()))
    })?;
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

/// Tells the jobs this process runs to stop; their leases run out and they run again later.
fn stop_running_jobs(svc: &Service) {
    if let Ok(running) = svc.running.lock() {
        for flag in running.values() {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A running server; dropping it does not stop it, [`RunningServer::shutdown`] does.
pub struct RunningServer {
    svc: Arc<Service>,
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

    /// Stops accepting requests and stops the jobs in progress (they run again on the next
    /// start, or on another worker, once their leases run out).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        stop_running_jobs(&self.svc);
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

/// Opens the store and blobs and builds the shared service (no tasks started yet).
pub(crate) async fn build(
    config: ServiceConfig,
    pipeline: Arc<dyn ClipPipeline>,
    bound: SocketAddr,
) -> Result<(Arc<Service>, Vec<JoinHandle<()>>)> {
    let shared = config
        .store_location()
        .map_err(|e| ServiceError::BadRequest(e.to_string()))?
        .is_shared();
    let links = LinkSigner::new(link_secret(&config, shared)?);
    let store = open_store(&config).await?;
    let blobs = open_blobs(&config).await?;
    let scratch = Scratch::open(&config.data_dir.join(SCRATCH_DIR)).map_err(|e| {
        storage_error(
            "data_dir",
            format!(
                "cannot make a scratch folder in {}: {e}",
                config.data_dir.display()
            ),
        )
    })?;
    let fetcher = Fetcher::new(&config.fetch())?;
    let metrics = Arc::new(Metrics::default());
    let (webhooks, webhook_task) = webhook::start(
        fetcher.clone(),
        WebhookPolicy {
            attempts: config.webhook_attempts,
            backoff: config.webhook_backoff,
            timeout: config.webhook_timeout,
        },
        webhook::WebhookLog {
            store: store.clone(),
            metrics: metrics.clone(),
        },
    );
    let svc = Arc::new(Service {
        links,
        store,
        blobs,
        scratch,
        fetcher,
        pipeline,
        webhooks,
        wake: Arc::new(Notify::new()),
        settled: Arc::new(Notify::new()),
        base_url: config.base_url(bound),
        limiter: RateLimiter::new(config.rate_limit_per_s, config.rate_limit_burst),
        submit_limiter: RateLimiter::new(
            config.submit_limit_per_min / 60.0,
            config.submit_limit_burst,
        ),
        metrics,
        retry_turns: Default::default(),
        running: Mutex::new(HashMap::new()),
        config,
    });
    // Jobs whose worker died with an earlier process on this machine come back at once;
    // expired leases of any machine too, before anyone leases.
    crate::worker::reclaim_dead_leases(&svc).await;
    crate::worker::requeue_once(&svc).await;
    let mut tasks = vec![webhook_task];
    tasks.extend(svc.store.listen(svc.wake.clone(), svc.settled.clone()));
    Ok((svc, tasks))
}

/// Starts `svc.config.workers` workers and the requeue sweeper.
fn spawn_workers(svc: &Arc<Service>, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    if svc.config.workers > 0 {
        crate::priority::lower_rayon_pool();
    }
    let mut tasks = Vec::new();
    for i in 0..svc.config.workers {
        // Unique per process start, so a restarted server never mistakes an old lease for
        // its own; the host and pid let the next start on this machine see it is dead.
        let id = crate::worker::worker_id(i);
        tasks.push(tokio::spawn(crate::worker::run(
            svc.clone(),
            id,
            stop.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::worker::sweep(
        svc.clone(),
        stop.clone(),
    )));
    tasks
}

/// Starts everything on an already bound listener (tests bind `127.0.0.1:0`): the HTTP API
/// and `config.workers` in-process workers (0 makes an API-only node).
pub async fn start(
    config: ServiceConfig,
    pipeline: Arc<dyn ClipPipeline>,
    listener: TcpListener,
) -> Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (svc, mut tasks) = build(config, pipeline, addr).await?;
    let base_url = svc.base_url.clone();
    let (stop, stop_rx) = watch::channel(false);
    tasks.extend(spawn_workers(&svc, &stop_rx));
    let app = crate::api::router(svc.clone());
    let limits = crate::transport::ConnLimits::from_config(&svc.config);
    let http = tokio::spawn(crate::transport::serve(listener, app, limits, stop_rx));
    tracing::info!(%addr, "retake service listening");
    Ok(RunningServer {
        svc,
        addr,
        base_url,
        stop,
        tasks,
        http,
    })
}

/// Workers without an HTTP API (`retake worker`), sharing the data folder with API nodes.
pub struct RunningWorkers {
    svc: Arc<Service>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningWorkers {
    /// Stops taking new jobs and stops the jobs in progress.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        stop_running_jobs(&self.svc);
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Starts `config.workers` workers (at least one) on the data folder, without HTTP. Asset
/// links in their webhooks use `public_url` (or `http://{bind}`), so point it at the API.
pub async fn start_workers(
    mut config: ServiceConfig,
    pipeline: Arc<dyn ClipPipeline>,
) -> Result<RunningWorkers> {
    config.workers = config.workers.max(1);
    let bind = config.bind;
    let (svc, mut tasks) = build(config, pipeline, bind).await?;
    let (stop, stop_rx) = watch::channel(false);
    tasks.extend(spawn_workers(&svc, &stop_rx));
    tracing::info!(workers = svc.config.workers, "retake workers running");
    Ok(RunningWorkers { svc, stop, tasks })
}

/// Ctrl-C and, on Unix, SIGTERM (what service managers send), listened for from the moment
/// it is made, so a signal that comes right after start-up is not missed.
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Starts listening (inside a tokio runtime).
    pub fn install() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves at the first signal.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Binds `config.bind` and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: ServiceConfig, pipeline: Arc<dyn ClipPipeline>) -> Result<()> {
    let listener = TcpListener::bind(config.bind).await.map_err(|e| {
        ServiceError::Internal(format!(
            "cannot listen on {}: {e} — pick another address with --bind or RETAKE_BIND",
            config.bind
        ))
    })?;
    let mut signal = ShutdownSignal::install()?;
    let server = start(config, pipeline, listener).await?;
    signal.recv().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
