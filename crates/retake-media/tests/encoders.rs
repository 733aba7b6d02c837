//! The encoder choice (issue 14, "Output fidelity"). Without the `ffmpeg` feature, asking for
//! x264 is a clear error. With it (`cargo test -p retake-media --features ffmpeg --test
//! encoders`), x264 writes an H.264 MP4 at 24 fps that retake's own reader reads back, frame 0
//! (a real clip's first frame with a painted badge) at 40 dB PSNR or more: 4:4:4 at every size,
//! 4:2:0 at large ones, and the source's audio copied unchanged.

use retake_media::{EncodeSettings, EncoderKind};

#[cfg(not(feature = "ffmpeg"))]
#[test]
fn x264_without_the_feature_says_how_to_get_it() {
    use retake_media::{MediaError, VideoWriter};
    assert_eq!(EncoderKind::default(), EncoderKind::OpenH264);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    for kind in [EncoderKind::X264, EncoderKind::X264Yuv444] {
        assert!(!kind.is_built());
        let settings = EncodeSettings {
            encoder: kind,
            ..EncodeSettings::default()
        };
        let Err(MediaError::InvalidArgument(message)) =
            VideoWriter::create(&out, 64, 64, None, settings)
        else {
            panic!("{kind}: the writer started without the ffmpeg feature");
        };
        assert!(message.contains("`ffmpeg` feature"), "{message}");
        assert!(message.contains("--encoder openh264"), "{message}");
        assert!(!out.exists(), "a file was left at {}", out.display());
    }
    assert!(EncoderKind::OpenH264.is_built());
    assert_eq!(
        "x264-444".parse::<EncoderKind>(),
        Ok(EncoderKind::X264Yuv444)
    );
    let unknown = "h265".parse::<EncoderKind>().unwrap_err();
    assert!(unknown.contains("openh264, x264 or x264-444"), "{unknown}");
}

#[cfg(feature = "ffmpeg")]
mod common;

#[cfg(feature = "ffmpeg")]
mod with_ffmpeg {
    use super::common::{badged_round_trip, clip, Badge};
    use super::*;
    use retake_media::{
        probe, transcode, Limits, MediaError, SizeCap, TranscodeOptions, VideoReader,
    };
    use retake_testkit::{args, clip_from, packet_hashes, scratch};
    use std::sync::atomic::AtomicBool;

    /// Writes 12 frames of `name` at `cap` with `encoder`, frame 0 badged; reads the file back
    /// with retake's reader. Returns frame 0's PSNR and the file's probe.
    fn round_trip(
        name: &str,
        cap: SizeCap,
        encoder: EncoderKind,
    ) -> (f64, retake_media::ProbeInfo) {
        let limits = Limits {
            output_cap: cap,
            ..Limits::default()
        };
        let out = scratch(&format!("{name}-{}x{}-{encoder}.mp4", cap.long, cap.short));
        let settings = EncodeSettings {
            encoder,
            ..EncodeSettings::default()
        };
        let at = Badge {
            x: 0.26,
            y: 0.8,
            r: 0.05,
        };
        let (p, frames) = badged_round_trip(&clip(name), &limits, settings, &at, &out);
        let info = probe(&out, SizeCap::default()).unwrap();
        let (w, h) = (info.video.width, info.video.height);
        assert_eq!(frames, 12, "{name} {w}x{h} {encoder}: frames read back");
        std::fs::remove_file(&out).ok();
        (p, info)
    }

    fn cap(long: u32, short: u32, upscale: bool) -> SizeCap {
        SizeCap {
            long,
            short,
            upscale,
        }
    }

    #[test]
    fn x264_is_the_default_with_the_feature() {
        assert_eq!(EncoderKind::default(), EncoderKind::X264);
        assert!(EncoderKind::X264Yuv444.is_built());
    }

    #[test]
    fn the_edited_first_frame_comes_back_at_40_db() {
        // 160x120 (box, scaled down), 176x144 (carphone as it is), 960x720 (box, scaled up).
        let sizes = [
            ("box", cap(160, 120, false), false),
            ("carphone", cap(1280, 720, false), false),
            ("box", cap(1280, 720, true), true),
        ];
        for (name, cap, large) in sizes {
            let (full, info) = round_trip(name, cap, EncoderKind::X264Yuv444);
            let v = &info.video;
            eprintln!(
                "{name} {}x{} x264-444: frame 0 at {full:.2} dB",
                v.width, v.height
            );
            assert!(
                full >= 40.0,
                "{name} {}x{}: {full:.2} dB",
                v.width,
                v.height
            );
            assert_eq!(v.fps, 24.0);
            assert_eq!(v.frame_count, 12);
            assert_eq!(v.profile.as_deref(), Some("High 4:4:4 Predictive"));
            assert!(!v.b_frames);

            let (yuv420, info) = round_trip(name, cap, EncoderKind::X264);
            let v = &info.video;
            eprintln!(
                "{name} {}x{} x264: frame 0 at {yuv420:.2} dB",
                v.width, v.height
            );
            assert_eq!(v.profile.as_deref(), Some("High"));
            assert_eq!(v.fps, 24.0);
            assert!(v.unsupported.is_none());
            if large {
                assert!(
                    yuv420 >= 40.0,
                    "{name} {}x{}: {yuv420:.2} dB",
                    v.width,
                    v.height
                );
            }
            // Full chroma is what small sizes need: it must beat 4:2:0 clearly there.
            assert!(
                full >= yuv420 + 1.0,
                "{name}: 4:4:4 {full:.2} vs 4:2:0 {yuv420:.2}"
            );
        }
    }

    #[test]
    fn x264_keeps_the_source_audio() {
        let src = clip_from(
            "x264-audio.mp4",
            &[
                args(&[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=size=160x120:rate=30:duration=2",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440:sample_rate=48000:duration=2",
                ]),
                args(&[
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
                ]),
            ],
        );
        for encoder in [EncoderKind::X264, EncoderKind::X264Yuv444] {
            let out = scratch(&format!("x264-audio-out-{encoder}.mp4"));
            let reader = VideoReader::open(&src, &Limits::default()).unwrap();
            let report = transcode::<MediaError, _>(
                reader,
                &out,
                TranscodeOptions {
                    encode: EncodeSettings {
                        encoder,
                        ..EncodeSettings::default()
                    },
                    mute: false,
                },
                |_, f| Ok(f),
                &mut |_, _| {},
                &AtomicBool::new(false),
            )
            .unwrap();
            assert!(report.audio_copied, "{encoder}");
            assert_eq!(report.frames, 48, "{encoder}");
            let a = packet_hashes(&src, "a");
            let b = packet_hashes(&out, "a");
            assert!(!b.is_empty(), "{encoder}: no audio in the output");
            assert_eq!(&b[..], &a[..b.len()], "{encoder}: audio packets differ");
            let info = probe(&out, SizeCap::default()).unwrap();
            assert_eq!(info.video.frame_count, 48);
            assert!((info.video.duration_s - 2.0).abs() < 1e-6);
            std::fs::remove_file(&out).ok();
        }
    }
}
