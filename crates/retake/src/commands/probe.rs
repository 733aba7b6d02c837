//! `retake probe`: what a clip is.

use std::path::Path;

use retake_media::{probe, Limits, ProbeInfo};

use crate::exit::{input_error, CliError};

/// Runs the probe and prints it.
pub fn run(clip: &Path, json: bool, limits: &Limits) -> Result<(), CliError> {
    crate::exit::require_file(clip)?;
    let info = probe(clip, limits.output_cap).map_err(input_error)?;
    if json {
        let text = serde_json::to_string_pretty(&info).map_err(|e| CliError::internal(e.into()))?;
        println!("{text}");
    } else {
        print!("{}", describe(&info, limits));
    }
    Ok(())
}

/// The human-readable report.
pub fn describe(info: &ProbeInfo, limits: &Limits) -> String {
    let v = &info.video;
    let mut s = String::new();
    let mut line = |k: &str, val: String| s.push_str(&format!("{k:<10} {val}\n"));
    line(
        "container",
        format!(
            "{:?} (brand {}), {:.2} MB, {:.2} s, {} kb/s",
            info.container,
            info.major_brand.trim(),
            info.file_size as f64 / 1e6,
            info.duration_s,
            info.bit_rate / 1000
        ),
    );
    let profile = match (&v.profile, &v.level) {
        (Some(p), Some(l)) => format!(" {p}@{l}"),
        _ => String::new(),
    };
    line(
        "video",
        format!(
            "{}{profile}, {}x{}{}, {:.3} fps{}, {} frames, {:.2} s, {} kb/s{}",
            v.codec,
            v.width,
            v.height,
            if v.rotation != 0 {
                format!(
                    " rotated {}° → {}x{}",
                    v.rotation, v.display_width, v.display_height
                )
            } else {
                String::new()
            },
            v.fps,
            if v.variable_frame_rate {
                " (variable)"
            } else {
                ""
            },
            v.frame_count,
            v.duration_s,
            v.bit_rate / 1000,
            if v.b_frames { ", B-frames" } else { "" },
        ),
    );
    match &info.audio {
        Some(a) => line(
            "audio",
            format!(
                "{}, {} ch, {} Hz, {:.2} s, {} kb/s — {}",
                a.codec,
                a.channels,
                a.sample_rate,
                a.duration_s,
                a.bit_rate / 1000,
                if a.passthrough {
                    "copied unchanged"
                } else {
                    "cannot be copied; output will be silent"
                }
            ),
        ),
        None => line("audio", "none".into()),
    }
    line(
        "output",
        format!(
            "{}x{} at {} fps, {} frames",
            info.output.width, info.output.height, info.output.fps, info.output.frames
        ),
    );
    let mut problems = Vec::new();
    if let Some(u) = &v.unsupported {
        problems.push(format!("cannot decode: {u}"));
    }
    for check in [
        limits.check_duration(v.duration_s),
        limits.check_dimensions(v.width, v.height),
        limits.check_file_size(info.file_size),
    ] {
        if let Err(e) = check {
            problems.push(e.to_string());
        }
    }
    if problems.is_empty() {
        line("status", "ready".into());
    } else {
        for p in problems {
            line("status", p);
        }
    }
    s
}
