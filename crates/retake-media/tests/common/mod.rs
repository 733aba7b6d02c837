//! Shared by the encoder tests: the benchmark's real clips, with a badge painted on frame 0 as
//! a user would, written and read back as `retake modify` does.

use retake_media::{EncodeSettings, Limits, RgbFrame, VideoReader, VideoWriter};
use std::path::{Path, PathBuf};

/// A clip of the real-footage benchmark (`bench/footage/clips`).
pub fn clip(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../bench/footage/clips/{name}.mp4"))
}

/// Where the badge goes: its centre and radius as fractions of the frame's width and height
/// (the radius of the width).
pub struct Badge {
    pub x: f32,
    pub y: f32,
    pub r: f32,
}

/// A yellow badge with a red centre, as a user would paint one.
fn paint(f: &mut RgbFrame, at: &Badge) {
    let (w, h) = (f.width() as usize, f.height() as usize);
    let (cx, cy, r) = (w as f32 * at.x, h as f32 * at.y, w as f32 * at.r);
    for y in 0..h {
        for x in 0..w {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d <= r {
                let c = if d <= r * 0.4 {
                    [200, 30, 30]
                } else {
                    [250, 210, 30]
                };
                f.data_mut()[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&c);
            }
        }
    }
}

/// Writes the first 12 frames of `clip` (read with `limits`) to `out` with `settings`, frame
/// 0 badged at `at`; reads the file back with retake's reader. Returns the PSNR of frame 0
/// against what went in, and how many frames came back.
pub fn badged_round_trip(
    clip: &Path,
    limits: &Limits,
    settings: EncodeSettings,
    at: &Badge,
    out: &Path,
) -> (f64, usize) {
    let mut reader = VideoReader::open(clip, limits).unwrap();
    let (w, h) = reader.output_size();
    let mut writer = VideoWriter::create(out, w, h, None, settings).unwrap();
    let mut first = None;
    for i in 0..12 {
        let mut f = reader.next_frame().unwrap().unwrap();
        if i == 0 {
            paint(&mut f, at);
            first = Some(f.clone());
        }
        writer.push(&f).unwrap();
    }
    writer.finish().unwrap();
    let mut back = VideoReader::open(out, limits).unwrap();
    let frame0 = back.next_frame().unwrap().unwrap();
    let mut frames = 1;
    while back.next_frame().unwrap().is_some() {
        frames += 1;
    }
    let first = first.unwrap();
    (retake_testkit::psnr(frame0.data(), first.data()), frames)
}
