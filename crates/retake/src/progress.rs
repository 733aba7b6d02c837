//! Progress bars on stderr, hidden with `--quiet` or when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A frame-count progress bar with rate and ETA.
pub fn frames_bar(total: usize, label: &str, quiet: bool) -> ProgressBar {
    count_bar(total, label, "frames", quiet)
}

/// A progress bar counting `unit`s, with rate and ETA.
pub fn count_bar(total: usize, label: &str, unit: &str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total as u64),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    let style = ProgressStyle::with_template(&format!(
        "{{msg:>10}} [{{bar:32}}] {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A spinner for a wait of unknown length (loading a model).
pub fn spinner(label: &str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_message(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
