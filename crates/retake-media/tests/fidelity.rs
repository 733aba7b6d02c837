//! The first frame of an output is the frame the user edited: it must come back from the
//! encoder close to what went in, at small sizes too (issue 14). Real footage (two of the
//! benchmark's clips, at their own sizes) with a badge painted on frame 0, written and read
//! back as `retake modify` does.

use retake_media::{EncodeSettings, EncoderKind, Limits, RgbFrame, VideoReader, VideoWriter};
use std::path::PathBuf;

fn clip(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../bench/footage/clips/{name}.mp4"))
}

fn psnr(a: &RgbFrame, b: &RgbFrame) -> f64 {
    let mse = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.data().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

/// A yellow badge with a red centre, as a user would paint one.
fn badge(f: &mut RgbFrame, cx: f32, cy: f32, r: f32) {
    let (w, h) = (f.width() as usize, f.height() as usize);
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

/// Writes the first 12 frames of a clip with `settings`, frame 0 badged; returns the PSNR of
/// frame 0 read back, and the file size.
fn first_frame(name: &str, settings: EncodeSettings) -> (f64, u64) {
    let limits = Limits::default();
    let mut reader = VideoReader::open(&clip(name), &limits).unwrap();
    let (w, h) = reader.output_size();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let mut writer = VideoWriter::create(&out, w, h, None, settings).unwrap();
    let mut first = None;
    for i in 0..12 {
        let mut f = reader.next_frame().unwrap().unwrap();
        if i == 0 {
            badge(&mut f, w as f32 * 0.26, h as f32 * 0.82, w as f32 * 0.04);
            first = Some(f.clone());
        }
        writer.push(&f).unwrap();
    }
    writer.finish().unwrap();
    let bytes = std::fs::metadata(&out).unwrap().len();
    let back = VideoReader::open(&out, &limits)
        .unwrap()
        .next_frame()
        .unwrap()
        .unwrap();
    (psnr(&back, &first.unwrap()), bytes)
}

#[test]
fn an_edited_first_frame_survives_the_encoder() {
    let openh264 = EncodeSettings {
        encoder: EncoderKind::OpenH264,
        ..EncodeSettings::default()
    };
    let old = EncodeSettings {
        max_qp: 42, // what OpenH264 used before the quality cap
        ..openh264
    };
    // 176x144 and 480x360.
    for (name, floor) in [("carphone", 36.5), ("box", 38.0)] {
        let (now, bytes) = first_frame(name, openh264);
        let (before, old_bytes) = first_frame(name, old);
        eprintln!(
            "{name}: first frame {now:.2} dB ({bytes} bytes), {before:.2} dB with the old cap \
             ({old_bytes} bytes)"
        );
        assert!(now >= floor, "{name}: {now:.2} dB < {floor} dB");
        assert!(now >= before + 2.0, "{name}: {now:.2} vs {before:.2} dB");
    }
}
