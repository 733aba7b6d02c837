//! `retake serve` (HTTP API with in-process workers, or API only) and `retake worker`
//! (workers only, sharing the data folder with API nodes).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;
use retake_pipeline::{resolve_model, DiffusionEngine};
use retake_service::{Admin, ClipPipeline, MediaPipeline, ServiceConfig, ShutdownSignal};

use super::config::{load, ConfigArgs};
use crate::exit::CliError;

/// `retake serve` arguments.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address to listen on, e.g. 0.0.0.0:8787 (overrides `bind`).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Serve the API only; `retake worker` processes on the same data folder run the jobs.
    #[arg(long, conflicts_with = "workers")]
    pub no_workers: bool,
    /// In-process workers (overrides `workers`).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

/// `retake worker` arguments.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Workers in this process (overrides `workers`; at least 1).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

fn internal(e: impl Into<anyhow::Error>) -> CliError {
    CliError::internal(e.into())
}

fn init_logging(config: &ServiceConfig) {
    let level = config
        .log
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(internal)
}

/// The clip pipeline, with the diffusion model loaded once for all workers when one is set.
fn pipeline(config: &ServiceConfig) -> Result<Arc<dyn ClipPipeline>, CliError> {
    let mut p = MediaPipeline::new(config.limits());
    // The `encoder` setting (RETAKE_ENCODER, as for `retake modify`), or the build's default.
    if let Some(kind) = config
        .encoder_kind()
        .map_err(|e| CliError::usage(e.into()))?
    {
        p.options.encode.encoder = kind;
    }
    if let Some(dir) = &config.model_dir {
        let folder = resolve_model(dir, config.diffusion_model.as_deref())
            .map_err(|e| CliError::usage(anyhow!("model_dir: {e}")))?;
        if config.workers == 0 {
            // An API node: the workers load the model; this node only accepts the requests.
            p.prompts_run_elsewhere = true;
            return Ok(Arc::new(p));
        }
        eprintln!("retake: loading the diffusion model {}", folder.display());
        let options = config
            .diffusion_options()
            .map_err(|e| CliError::usage(e.into()))?;
        let engine = DiffusionEngine::load(&folder, options)
            .map_err(|e| CliError::usage(anyhow!("model_dir: {e}")))?;
        p.diffusion = Some(Arc::new(engine));
    }
    Ok(Arc::new(p))
}

/// On a database without keys: makes the admin key and says, once, how to read it.
async fn first_start(config: &ServiceConfig) -> Result<(), CliError> {
    let admin = Admin::open(config).await.map_err(internal)?;
    if let Some(path) = admin
        .ensure_admin_key(config.admin_credits)
        .await
        .map_err(internal)?
    {
        eprintln!(
            "retake: first start: created an admin API key with {} credits.\n\
             retake: read it with `cat {}` (only you can read that file); clients send its \
             `token` as `Authorization: Bearer <token>` or `x-api-key: <token>`.\n\
             retake: make more keys with `retake keys create --credits N`.",
            config.admin_credits,
            path.display()
        );
    }
    Ok(())
}

/// Runs the service until Ctrl-C or SIGTERM.
pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let mut loaded = load(&args.config)?;
    let config = &mut loaded.config;
    if let Some(b) = args.bind {
        config.bind = b;
    }
    if let Some(w) = args.workers {
        config.workers = w;
    }
    if args.no_workers {
        config.workers = 0;
    }
    config.validate().map_err(|e| CliError::usage(anyhow!(e)))?;
    init_logging(config);
    let config = config.clone();
    runtime()?.block_on(async move {
        first_start(&config).await?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| {
                CliError::usage(anyhow!(
                    "cannot listen on {}: {e} — pick another address with --bind or RETAKE_BIND",
                    config.bind
                ))
            })?;
        let (workers, data) = (config.workers, config.data_dir.clone());
        let pipeline = pipeline(&config)?;
        let mut signal = ShutdownSignal::install().map_err(internal)?;
        let server = retake_service::start(config, pipeline, listener)
            .await
            .map_err(internal)?;
        eprintln!(
            "retake: serving {} ({} in-process worker{}, data in {}); Ctrl-C stops",
            server.base_url(),
            workers,
            if workers == 1 { "" } else { "s" },
            data.display()
        );
        signal.recv().await;
        eprintln!("retake: stopping");
        server.shutdown().await;
        Ok(())
    })
}

/// Runs workers until Ctrl-C or SIGTERM.
pub fn run_worker(args: &WorkerArgs) -> Result<(), CliError> {
    let mut loaded = load(&args.config)?;
    let config = &mut loaded.config;
    if let Some(w) = args.workers {
        config.workers = w;
    }
    config.workers = config.workers.max(1);
    config.validate().map_err(|e| CliError::usage(anyhow!(e)))?;
    init_logging(config);
    let config = config.clone();
    runtime()?.block_on(async move {
        let (workers, data) = (config.workers, config.data_dir.clone());
        let pipeline = pipeline(&config)?;
        let mut signal = ShutdownSignal::install().map_err(internal)?;
        let running = retake_service::start_workers(config, pipeline)
            .await
            .map_err(internal)?;
        eprintln!(
            "retake: {workers} worker{} on {}; Ctrl-C stops",
            if workers == 1 { "" } else { "s" },
            data.display()
        );
        signal.recv().await;
        eprintln!("retake: stopping");
        running.shutdown().await;
        Ok(())
    })
}
