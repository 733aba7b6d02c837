//! The first frame of an output is the frame the user edited: it must come back from the
//! encoder close to what went in, at small sizes too (issue 14). Real footage (two of the
//! benchmark's clips, at their own sizes) with a badge painted on frame 0, written and read
//! back as `retake modify` does.

use retake_media::{EncodeSettings, EncoderKind, Limits};

mod common;

use common::{badged_round_trip, clip, Badge};

/// Writes the first 12 frames of a clip with `settings`, frame 0 badged; returns the PSNR of
/// frame 0 read back, and the file size.
fn first_frame(name: &str, settings: EncodeSettings) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let at = Badge {
        x: 0.26,
        y: 0.82,
        r: 0.04,
    };
    let (p, _) = badged_round_trip(&clip(name), &Limits::default(), settings, &at, &out);
    (p, std::fs::metadata(&out).unwrap().len())
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
