//! Round trips through our writer: what goes in must come out, checked by ffmpeg.

use std::sync::atomic::AtomicBool;

use retake_media::{
    transcode, EncodeSettings, Limits, MediaError, RgbFrame, TranscodeOptions, VideoReader,
    VideoWriter,
};
use retake_testkit::{
    args, clip_from, ffmpeg_audio_mono, ffmpeg_rgb_frames, ffprobe_json, packet_hashes, pattern,
    psnr, scratch,
};

/// PSNR our encode must keep against the frames that went in, at default settings on a
/// smooth moving pattern. Measured ≈ 40 dB; 34 dB leaves room for encoder tuning, not bugs.
const MIN_ROUNDTRIP_PSNR: f64 = 34.0;

fn moving_frame(w: u32, h: u32, t: u32) -> RgbFrame {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let xs = x + 3 * t;
            data.push(((xs * 255) / (w + 300)) as u8);
            data.push(((y * 255) / h) as u8);
            data.push((128.0 + 100.0 * ((xs as f32 / 17.0).sin() * (y as f32 / 23.0).cos())) as u8);
        }
    }
    RgbFrame::from_raw(w, h, data).unwrap()
}

fn box_order(path: &std::path::Path) -> Vec<String> {
    let b = std::fs::read(path).unwrap();
    let mut pos = 0;
    let mut kinds = Vec::new();
    while pos + 8 <= b.len() {
        let size = u32::from_be_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
        kinds.push(String::from_utf8_lossy(&b[pos + 4..pos + 8]).into_owned());
        if size < 8 {
            break;
        }
        pos += size;
    }
    kinds
}

#[test]
fn frames_survive_encode_and_mux() {
    let (w, h) = (320, 240);
    let out = scratch("rt.mp4");
    let frames: Vec<RgbFrame> = (0..36).map(|t| moving_frame(w, h, t)).collect();
    let mut writer = VideoWriter::create(&out, w, h, None, EncodeSettings::default()).unwrap();
    for f in &frames {
        writer.push(f).unwrap();
    }
    assert!(!out.exists(), "the output must not appear before finish");
    writer.finish().unwrap();
    let order = box_order(&out);
    let moov = order.iter().position(|k| k == "moov").unwrap();
    let mdat = order.iter().position(|k| k == "mdat").unwrap();
    assert!(
        moov < mdat,
        "moov must come before mdat for streaming: {order:?}"
    );
    let v = ffprobe_json(&out, &["-show_streams", "-show_format", "-count_frames"]);
    let s = &v["streams"][0];
    assert_eq!(s["codec_name"], "h264");
    assert_eq!(s["pix_fmt"], "yuv420p");
    assert_eq!(s["r_frame_rate"], "24/1");
    assert_eq!(s["avg_frame_rate"], "24/1");
    assert_eq!(s["nb_read_frames"], "36");
    assert_eq!(s["color_space"], "bt709");
    let dur: f64 = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((dur - 1.5).abs() < 1e-3, "duration {dur}");
    // ffmpeg's decode (it converts with the BT.709 matrix we signal) against what went in.
    let decoded = ffmpeg_rgb_frames(&out, w, h, "scale=in_color_matrix=bt709:out_range=full");
    assert_eq!(decoded.len(), 36);
    for (i, (a, b)) in frames.iter().zip(&decoded).enumerate() {
        let p = psnr(a.data(), b);
        assert!(p >= MIN_ROUNDTRIP_PSNR, "frame {i}: {p:.1} dB");
    }
    // Our own reader gets the same frames back.
    let mut reader = VideoReader::open(&out, &Limits::default()).unwrap();
    assert_eq!(reader.frame_count(), 36);
    let first = reader.next_frame().unwrap().unwrap();
    assert!(psnr(first.data(), frames[0].data()) >= MIN_ROUNDTRIP_PSNR);
}

#[test]
fn a_writer_dropped_before_finish_leaves_nothing() {
    let out = scratch("dropped.mp4");
    let mut writer = VideoWriter::create(&out, 64, 64, None, EncodeSettings::default()).unwrap();
    writer.push(&moving_frame(64, 64, 0)).unwrap();
    drop(writer);
    assert!(!out.exists());
    let dir = out.parent().unwrap();
    let name = out.file_name().unwrap().to_string_lossy().into_owned();
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(&name))
        .collect();
    assert!(left.is_empty(), "temporaries left behind: {left:?}");
}

/// A clip with a white flash on the video and a beep on the audio, both at exactly 1.000 s.
fn flash_and_beep(fps: &str) -> std::path::PathBuf {
    clip_from(
        &format!("sync-{fps}.mp4"),
        &[
            args(&[
                "-f", "lavfi", "-i",
                &format!("color=c=black:size=160x120:rate={fps}:duration=3,geq=lum='if(gte(T\\,1)*lt(T\\,1.2)\\,235\\,16)':cb=128:cr=128"),
                "-f", "lavfi", "-i",
                "aevalsrc='if(gte(t\\,1)*lt(t\\,1.2)\\,0.8*sin(2*PI*1000*t)\\,0)':s=48000:d=3",
            ]),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "2", "-c:a", "aac", "-b:a", "128k"]),
        ],
    )
}

fn first_loud_sample(samples: &[f32]) -> f64 {
    samples
        .iter()
        .position(|s| s.abs() > 0.2)
        .expect("no beep found") as f64
        / 48000.0
}

#[test]
fn audio_is_copied_bit_exact_and_stays_in_sync() {
    for fps in ["30", "25"] {
        let src = flash_and_beep(fps);
        let out = scratch(&format!("sync-out-{fps}.mp4"));
        let reader = VideoReader::open(&src, &Limits::default()).unwrap();
        let mut flash_frame = None;
        let report = transcode::<MediaError, _>(
            reader,
            &out,
            TranscodeOptions::default(),
            |i, f| {
                let mean = f.data().iter().map(|&v| v as u64).sum::<u64>() / f.data().len() as u64;
                if mean > 128 && flash_frame.is_none() {
                    flash_frame = Some(i);
                }
                Ok(f)
            },
            &mut |_, _| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        assert!(report.audio_copied);
        assert_eq!(report.frames, 72);
        // Bit-exact: same packet sizes and hashes as the source.
        let a = packet_hashes(&src, "a");
        let b = packet_hashes(&out, "a");
        assert!(!a.is_empty());
        assert_eq!(&b[..], &a[..b.len()], "audio packets differ");
        assert!(
            b.len() + 2 >= a.len(),
            "lost audio packets: {} of {}",
            b.len(),
            a.len()
        );
        // Sync: the beep starts when it did in the source (ffmpeg decodes both, applying
        // the edit lists), and lines up with the flash within one output frame.
        let t_src = first_loud_sample(&ffmpeg_audio_mono(&src));
        let t_out = first_loud_sample(&ffmpeg_audio_mono(&out));
        assert!((t_src - 1.0).abs() < 0.005, "source beep at {t_src}");
        assert!(
            (t_out - t_src).abs() < 0.002,
            "{fps} fps: beep moved from {t_src:.4} to {t_out:.4}"
        );
        let flash = flash_frame.expect("no flash") as f64 / 24.0;
        assert!(
            (flash - t_out).abs() <= 1.0 / 24.0,
            "flash at {flash:.3}, beep at {t_out:.3}"
        );
        let v = ffprobe_json(&out, &["-show_streams"]);
        let audio = v["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["codec_type"] == "audio")
            .unwrap()
            .clone();
        let start: f64 = audio["start_time"].as_str().unwrap().parse().unwrap();
        assert!(start.abs() < 1e-3, "audio start_time {start}");
        let dur: f64 = audio["duration"].as_str().unwrap().parse().unwrap();
        assert!((dur - 3.0).abs() < 0.03, "audio duration {dur}");
    }
}

#[test]
fn cancelling_leaves_no_output() {
    let src = clip_from(
        "cancel-src.mp4",
        &[
            pattern("160x120", "24", 2.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let out = scratch("cancelled.mp4");
    let cancel = AtomicBool::new(false);
    let reader = VideoReader::open(&src, &Limits::default()).unwrap();
    let err = transcode::<MediaError, _>(
        reader,
        &out,
        TranscodeOptions::default(),
        |i, f| {
            if i == 10 {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(f)
        },
        &mut |_, _| {},
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, MediaError::Cancelled));
    assert!(!out.exists());
}
