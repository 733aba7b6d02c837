//! The `retake` command-line tool.

mod cli;
mod commands;
mod exit;
mod progress;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

use cli::{Cli, Command};
use exit::CliError;

fn main() {
    let cli = Cli::parse();
    let cancel = Arc::new(AtomicBool::new(false));
    // The service commands stop on Ctrl-C or SIGTERM through tokio's own signal handling.
    if !matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        let cancel = cancel.clone();
        // Without a handler, Ctrl-C would kill us before temporary files are removed.
        let _ = ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(exit::CANCELLED);
            }
        });
    }
    if let Err(e) = run(cli, &cancel) {
        eprintln!("error: {:#}", e.error);
        std::process::exit(e.code);
    }
}

fn run(cli: Cli, cancel: &AtomicBool) -> Result<(), CliError> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Probe { clip, json, limits } => {
            commands::probe::run(&clip, json, &limits.limits())
        }
        Command::Frame {
            clip,
            at,
            source_frame,
            output,
            json,
            limits,
        } => {
            let at = match source_frame {
                Some(n) => commands::frame::At::SourceFrame(n),
                None => commands::frame::At::Seconds(at),
            };
            commands::frame::run(&clip, at, &output, &limits.limits(), json, quiet)
        }
        Command::Modify {
            clip,
            first_frame,
            keyframes,
            prompt,
            look,
            diffusion,
            mode,
            model,
            seed,
            output,
            mute,
            json,
            limits,
            encoder,
        } => commands::modify::run(
            retake_pipeline::ModifyRequest {
                first_frame,
                keyframes,
                prompt,
                look: match look.look {
                    Some(name) => Some(commands::look::look_request(
                        name,
                        look.look_strength,
                        look.look_mask.as_deref(),
                        &look.hsl,
                    )?),
                    None if look.hsl.hue.is_some()
                        || look.hsl.saturation.is_some()
                        || look.hsl.lightness.is_some() =>
                    {
                        return Err(CliError::usage(anyhow::anyhow!(
                            "--hue, --saturation and --lightness go with --look recolour"
                        )))
                    }
                    None => None,
                },
                mode,
                profile: model,
                seed,
                mute,
                limits: limits.limits(),
                encode: encoder.settings(),
                ..retake_pipeline::ModifyRequest::new(clip, output)
            },
            &diffusion,
            json,
            quiet,
            cancel,
        ),
        Command::Look {
            image,
            look,
            strength,
            mask,
            hsl,
            output,
            json,
        } => {
            let request = commands::look::look_request(look, strength, mask.as_deref(), &hsl)?;
            commands::look::run(&image, &request, &output, json, quiet)
        }
        Command::Looks { json } => commands::look::list(json),
        Command::Models { model_dir, json } => commands::models::run(model_dir.as_deref(), json),
        Command::Eval {
            source,
            first_frame,
            output,
            suite,
            size,
            frames,
            mode,
            model,
            json,
            limits,
        } => match (suite, source, first_frame, output) {
            (true, ..) => commands::eval::suite(size.0, size.1, frames, mode, model, json, quiet),
            (false, Some(src), Some(first), Some(out)) => {
                commands::eval::clip(&src, &first, &out, json, &limits.limits(), quiet, cancel)
            }
            _ => Err(CliError::usage(anyhow::anyhow!(
                "give --source, --first-frame and --output, or --suite"
            ))),
        },
        Command::Convert {
            clip,
            output,
            mute,
            json,
            limits,
            encoder,
        } => commands::convert::run(
            &clip,
            &output,
            commands::convert::ConvertOptions {
                mute,
                json,
                encode: encoder.settings(),
            },
            &limits.limits(),
            quiet,
            cancel,
        ),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Worker(args) => commands::serve::run_worker(&args),
        Command::Keys(args) => commands::keys::run(&args),
        Command::Config(args) => commands::config::run(&args),
        Command::Migrate(args) => commands::migrate::run(&args),
    }
}
