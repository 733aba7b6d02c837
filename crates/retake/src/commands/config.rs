//! `retake config`: prints the effective service configuration, and the loading shared by
//! `serve`, `worker` and `keys` (defaults, then the file, then `RETAKE_*` variables, then flags).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use retake_service::{LoadedConfig, ServiceConfig};

use crate::exit::CliError;

/// Where the configuration comes from.
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Configuration file (TOML); without it, ./retake.toml is read when it exists.
    #[arg(long, env = "RETAKE_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder: database, blobs, admin key (overrides `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `retake config` arguments.
#[derive(Args, Debug)]
pub struct ConfigCmdArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
}

/// The `RETAKE_*` variables of this process (others, and non-Unicode ones, are skipped).
fn retake_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with(retake_service::config::ENV_PREFIX))
        .collect()
}

/// Loads the configuration and applies `--data-dir`.
pub fn load(args: &ConfigArgs) -> Result<LoadedConfig, CliError> {
    let file = match &args.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from("retake.toml")).filter(|p| p.is_file()),
    };
    let mut loaded = ServiceConfig::load(file.as_deref(), retake_env())
        .map_err(|e| CliError::usage(anyhow!(e)))?;
    if let Some(d) = &args.data_dir {
        loaded.config.data_dir = d.clone();
        loaded
            .sources
            .origins
            .insert("data_dir".into(), "--data-dir".into());
    }
    Ok(loaded)
}

/// Prints the effective configuration.
pub fn run(args: &ConfigCmdArgs) -> Result<(), CliError> {
    let loaded = load(&args.config)?;
    if args.json {
        let json = serde_json::to_string_pretty(&loaded.config.masked())
            .map_err(|e| CliError::internal(anyhow!(e)))?;
        println!("{json}");
        return Ok(());
    }
    println!("# retake configuration in effect: defaults, then the file, then RETAKE_<SETTING>");
    println!("# environment variables, then flags. Every setting below can go in the file.");
    match &loaded.sources.file {
        Some(f) => println!("# file: {}", f.display()),
        None => println!("# file: none (pass --config FILE or create ./retake.toml)"),
    }
    print!("{}", loaded.config.to_toml(&loaded.sources));
    Ok(())
}
