//! `retake migrate`: copies a single-machine install into PostgreSQL (and an S3 bucket) for
//! several machines; resumable, and checked at the end.

use anyhow::anyhow;
use clap::Args;
use retake_service::migrate::{migrate, open_target};
use retake_service::store::mask_url;

use super::config::{load, ConfigArgs};
use crate::exit::CliError;

/// `retake migrate` arguments.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The PostgreSQL database to copy into: postgres://USER:PASSWORD@HOST:PORT/DATABASE.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Also copy the files into this bucket: s3://BUCKET/PREFIX (with the s3_* settings).
    #[arg(long, value_name = "S3_URL")]
    pub blobs: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the migration.
pub fn run(args: &MigrateArgs) -> Result<(), CliError> {
    let loaded = load(&args.config)?;
    let config = loaded.config;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(anyhow!(e)))?;
    let quiet = args.json;
    let report = rt.block_on(async {
        let target = open_target(&config, &args.to, args.blobs.as_deref())
            .await
            .map_err(|e| CliError::usage(anyhow!(e)))?;
        migrate(&config, &target, &|line: &str| {
            if !quiet {
                eprintln!("retake: {line}");
            }
        })
        .await
        .map_err(|e| CliError::internal(anyhow!(e)))
    })?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::internal(anyhow!(e)))?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "copied {} keys, {} generations ({} were already there) and {} files ({:.1} MB; {} were \
         already there); the copy matches the source.",
        report.keys,
        report.generations_copied,
        report.generations_present,
        report.files_copied,
        report.bytes_copied as f64 / 1e6,
        report.files_present
    );
    println!(
        "next: on every node set database_url = \"{}\"",
        mask_url(&args.to)
    );
    match &args.blobs {
        Some(b) => println!("      and blob_store = \"{b}\" (with the same s3_* settings)"),
        None => println!(
            "      the files stay in {} (pass --blobs s3://… to move them for several machines)",
            config.data_dir.join("blobs").display()
        ),
    }
    Ok(())
}
