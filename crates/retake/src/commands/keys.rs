//! `retake keys`: create, list, revoke API keys and add credits, directly in the configured
//! database (the data folder's SQLite file, or PostgreSQL with `database_url`).

use anyhow::anyhow;
use clap::{Args, Subcommand};
use retake_service::{Admin, ServiceError};

use super::config::{load, ConfigArgs};
use crate::exit::CliError;

/// `retake keys` arguments.
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// What to do with keys.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a key; its token is printed once and only its hash is kept.
    Create {
        /// A label for the key.
        #[arg(long, default_value = "key")]
        name: String,
        /// Credits it starts with.
        #[arg(long, default_value_t = 0.0)]
        credits: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys (no secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: it stops working at once.
    Revoke {
        /// The key's id (the part after `rtk_`, as `list` shows it).
        id: String,
    },
    /// Add credits to a key (a negative amount removes them).
    Credit {
        /// The key's id.
        id: String,
        /// Credits to add.
        #[arg(long, allow_hyphen_values = true)]
        credits: f64,
    },
}

fn service_error(e: ServiceError) -> CliError {
    match e {
        ServiceError::BadRequest(_) | ServiceError::NotFound(_) => CliError::usage(anyhow!(e)),
        other => CliError::internal(anyhow!(other)),
    }
}

fn json(v: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| CliError::internal(anyhow!(e)))?;
    println!("{text}");
    Ok(())
}

/// Runs a keys subcommand.
pub fn run(args: &KeysArgs) -> Result<(), CliError> {
    let loaded = load(&args.config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(anyhow!(e)))?;
    rt.block_on(run_async(args, &loaded.config))
}

async fn run_async(
    args: &KeysArgs,
    config: &retake_service::ServiceConfig,
) -> Result<(), CliError> {
    let admin = Admin::open(config).await.map_err(service_error)?;
    match &args.command {
        KeysCommand::Create {
            name,
            credits,
            json: as_json,
        } => {
            let k = admin
                .create_key(name, *credits)
                .await
                .map_err(service_error)?;
            if *as_json {
                return json(&k);
            }
            println!(
                "created key {} ({:?}) with {:.2} credits",
                k.id, k.name, k.credits
            );
            println!("token (shown only now; send it as `Authorization: Bearer <token>` or `x-api-key`):");
            println!("{}", k.token);
            println!(
                "webhook signing secret (Standard Webhooks): {}",
                k.webhook_secret
            );
        }
        KeysCommand::List { json: as_json } => {
            let keys = admin.list_keys().await.map_err(service_error)?;
            if *as_json {
                return json(&keys);
            }
            println!(
                "{:<14} {:<16} {:>12} {:>10} {:<25} state",
                "id", "name", "available", "reserved", "created"
            );
            for k in keys {
                println!(
                    "{:<14} {:<16} {:>12.2} {:>10.2} {:<25} {}",
                    k.id,
                    k.name,
                    k.available,
                    k.reserved,
                    k.created_at,
                    if k.revoked { "revoked" } else { "active" }
                );
            }
        }
        KeysCommand::Revoke { id } => {
            admin.revoke_key(id).await.map_err(service_error)?;
            println!("revoked key {id}");
        }
        KeysCommand::Credit { id, credits } => {
            let k = admin
                .add_credits(id, *credits)
                .await
                .map_err(service_error)?;
            println!(
                "key {} now has {:.2} credits available ({:.2} held by generations in flight)",
                k.id, k.available, k.reserved
            );
        }
    }
    Ok(())
}
