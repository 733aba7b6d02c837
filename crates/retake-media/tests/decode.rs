//! Clips made by an independent encoder (ffmpeg + x264), decoded by us and checked against
//! ffmpeg's own decode of the same file.

use std::path::Path;

use retake_media::demux::{Codec, Demuxer};
use retake_media::h264::decode::H264Decoder;
use retake_media::{probe, Limits, SizeCap, VideoReader};
use retake_testkit::{args, clip_from, ffmpeg_luma_frames, pattern, psnr, tone};

/// Luma PSNR our decode must reach against ffmpeg's. OpenH264 is bit-exact on most streams;
/// B-frame streams differ by rounding only (≈58 dB seen); anything under 45 dB is a real bug.
const MIN_LUMA_PSNR: f64 = 45.0;

/// Decodes every frame of the first video track with our decoder, in presentation order.
fn our_luma_frames(path: &Path) -> (usize, usize, Vec<Vec<u8>>) {
    let mut demux = Demuxer::open(path).unwrap();
    let video = demux.video().unwrap().clone();
    let Codec::H264 { avcc } = &video.codec else {
        panic!("not H.264")
    };
    let mut dec = H264Decoder::new(avcc).unwrap();
    let mut pics = Vec::new();
    let mut buf = Vec::new();
    for (i, s) in video.samples.iter().enumerate() {
        demux.read_sample(s, &mut buf).unwrap();
        dec.decode(&buf, i as u64, &mut pics).unwrap();
    }
    dec.flush(&mut pics);
    // Order by presentation time via the tag → sample mapping.
    pics.sort_by_key(|p| video.samples[p.tag as usize].pts);
    let (w, h) = (pics[0].width, pics[0].height);
    (w, h, pics.into_iter().map(|p| p.y).collect())
}

fn check_against_ffmpeg(path: &Path, expect_frames: usize) {
    let (w, h, ours) = our_luma_frames(path);
    let theirs = ffmpeg_luma_frames(path, w, h);
    assert_eq!(ours.len(), expect_frames, "our frame count");
    assert_eq!(theirs.len(), expect_frames, "ffmpeg frame count");
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        let p = psnr(a, b);
        assert!(p >= MIN_LUMA_PSNR, "frame {i}: luma PSNR {p:.1} dB");
    }
}

fn x264(name: &str, profile: &str, extra: &[&str], fps: &str, seconds: f64) -> std::path::PathBuf {
    let mut enc = args(&[
        "-c:v",
        "libx264",
        "-profile:v",
        profile,
        "-pix_fmt",
        "yuv420p",
    ]);
    enc.extend(args(extra));
    clip_from(name, &[pattern("320x240", fps, seconds), enc])
}

#[test]
fn baseline_profile_matches_ffmpeg() {
    let p = x264("baseline.mp4", "baseline", &[], "24", 1.0);
    let info = probe(&p, SizeCap::default()).unwrap();
    assert_eq!(info.video.profile.as_deref(), Some("Constrained Baseline"));
    assert!(!info.video.b_frames);
    check_against_ffmpeg(&p, 24);
}

#[test]
fn main_profile_with_b_frames_matches_ffmpeg() {
    let p = x264("main-b.mp4", "main", &["-bf", "3"], "25", 1.2);
    let info = probe(&p, SizeCap::default()).unwrap();
    assert_eq!(info.video.profile.as_deref(), Some("Main"));
    assert!(info.video.b_frames, "x264 with -bf 3 should write B-frames");
    assert!(
        (info.video.fps - 25.0).abs() < 0.01,
        "fps {}",
        info.video.fps
    );
    check_against_ffmpeg(&p, 30);
}

#[test]
fn high_profile_with_b_pyramid_and_8x8_matches_ffmpeg() {
    let p = x264(
        "high-b.mp4",
        "high",
        &[
            "-bf",
            "3",
            "-b-pyramid",
            "normal",
            "-x264-params",
            "8x8dct=1:cabac=1",
        ],
        "30",
        1.0,
    );
    let info = probe(&p, SizeCap::default()).unwrap();
    assert_eq!(info.video.profile.as_deref(), Some("High"));
    assert_eq!(info.video.frame_count, 30);
    check_against_ffmpeg(&p, 30);
}

#[test]
fn odd_size_is_cropped_like_ffmpeg() {
    let p = clip_from(
        "odd.mp4",
        &[
            pattern("321x241", "24", 0.5),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    // yuv420p needs even sizes; x264 pads and crops, ffmpeg rounds the input down.
    let info = probe(&p, SizeCap::default()).unwrap();
    let (w, h) = (info.video.width, info.video.height);
    let (dw, dh, frames) = our_luma_frames(&p);
    assert_eq!((dw as u32, dh as u32), (w, h));
    assert_eq!(frames.len(), 12);
    check_against_ffmpeg(&p, 12);
}

#[test]
fn thirty_fps_five_seconds_decodes_like_ffmpeg_and_retimes_to_120_frames() {
    let p = x264("thirty.mp4", "high", &[], "30", 5.0);
    check_against_ffmpeg(&p, 150);
    let mut reader = VideoReader::open(&p, &Limits::default()).unwrap();
    assert_eq!(reader.frame_count(), 120);
    let mut n = 0;
    while let Some(f) = reader.next_frame().unwrap() {
        assert_eq!((f.width(), f.height()), (320, 240));
        n += 1;
    }
    assert_eq!(n, 120);
}

/// Every output frame of a clip, read from the start.
fn all_frames(p: &Path) -> Vec<retake_media::RgbFrame> {
    let reader = VideoReader::open(p, &Limits::default()).unwrap();
    reader.map(|f| f.unwrap()).collect()
}

#[test]
fn seeking_gives_the_frames_reading_from_the_start_gives() {
    // 30 fps with B-frames and an IDR frame every 12 frames (x264 closes its GOPs by
    // default): a seek decodes from the last IDR frame at or before the wanted time.
    let p = x264(
        "seek-closed.mp4",
        "high",
        &["-g", "12", "-bf", "2"],
        "30",
        2.0,
    );
    let all = all_frames(&p);
    assert_eq!(all.len(), 48);
    let mut reader = VideoReader::open(&p, &Limits::default()).unwrap();
    for index in [47, 0, 1, 9, 10, 24, 30, 46] {
        let passed = reader.seek(index).unwrap();
        // Output frame k shows source frame round(k * 30 / 24); IDR frames are at 0, 12, 24…
        let source = (index as f64 * 30.0 / 24.0).round() as usize;
        assert_eq!(passed, source / 12 * 12, "output frame {index}");
        let f = reader.next_frame().unwrap().unwrap();
        assert!(f == all[index], "output frame {index} differs after a seek");
        if index + 1 < all.len() {
            let g = reader.next_frame().unwrap().unwrap();
            assert!(
                g == all[index + 1],
                "the frame after {index} differs after a seek"
            );
        }
    }
    let err = reader.seek(48).unwrap_err().to_string();
    assert!(
        err.contains("past the clip's last frame") && err.contains("0 to 47"),
        "{err}"
    );
    // Reading on to the end after a seek gives the rest, and no complaint of lost frames.
    reader.seek(40).unwrap();
    let rest: Vec<_> = (&mut reader).map(|f| f.unwrap()).collect();
    assert!(rest == all[40..], "the frames after a seek to 40");
}

#[test]
fn frames_picked_in_any_order_are_the_frames_reading_from_the_start_gives() {
    // Forwards within a GOP (read on), forwards past an IDR frame (seek), backwards (seek),
    // the same frame twice, and the last.
    for (name, extra) in [
        ("seek-closed.mp4", &["-g", "12", "-bf", "2"][..]),
        ("seek-one-idr.mp4", &["-g", "300", "-bf", "2"][..]),
    ] {
        let p = x264(name, "high", extra, "30", 2.0);
        let all = all_frames(&p);
        let mut reader = VideoReader::open(&p, &Limits::default()).unwrap();
        for index in [3, 4, 6, 30, 31, 47, 2, 2, 40, 0, 47] {
            let f = reader.frame_at(index).unwrap();
            assert!(f == all[index], "{name}: output frame {index}");
        }
        let err = reader.frame_at(48).unwrap_err().to_string();
        assert!(err.contains("0 to 47"), "{err}");
    }
}

#[test]
fn seeking_in_an_open_gop_stream_starts_from_an_idr_frame() {
    // Open GOPs: the later I frames are not IDR frames, and the B frames after them in
    // decoding order are shown before them and refer back across them. Decoding cannot start
    // at those I frames, so the seek goes back to the clip's one IDR frame.
    let p = x264(
        "seek-open.mp4",
        "high",
        &["-g", "12", "-bf", "2", "-x264-params", "open-gop=1"],
        "30",
        2.0,
    );
    let all = all_frames(&p);
    let mut reader = VideoReader::open(&p, &Limits::default()).unwrap();
    for index in [40, 20, 5] {
        assert_eq!(reader.seek(index).unwrap(), 0, "output frame {index}");
        let f = reader.next_frame().unwrap().unwrap();
        assert!(f == all[index], "output frame {index} differs after a seek");
    }
}

#[test]
fn retiming_picks_the_nearest_source_frame() {
    // Each source frame's brightness encodes its index: 8 * (n mod 28) + 16.
    let p = clip_from(
        "counter30.mp4",
        &[
            args(&[
                "-f",
                "lavfi",
                "-i",
                "nullsrc=size=64x64:rate=30:duration=3,geq=lum='16+8*mod(N\\,28)':cb=128:cr=128",
            ]),
            args(&["-c:v", "libx264", "-crf", "4", "-pix_fmt", "yuv420p"]),
        ],
    );
    let mut reader = VideoReader::open(&p, &Limits::default()).unwrap();
    assert_eq!(reader.frame_count(), 72);
    let mut k = 0usize;
    while let Some(f) = reader.next_frame().unwrap() {
        let mean = f.data().iter().step_by(3).map(|&v| v as f64).sum::<f64>()
            / (f.width() * f.height()) as f64;
        // Our RGB is from BT.601 studio range: recover the luma code, then the counter.
        let luma = mean * 219.0 / 255.0 + 16.0;
        let counter = ((luma - 16.0) / 8.0).round() as i64;
        let t = k as f64 / 24.0;
        // The source frame nearest in time, modulo the counter's period.
        let nearest = (t * 30.0).round() as i64;
        let lo = ((t - 0.5 / 30.0) * 30.0 - 1e-6).ceil() as i64;
        let hi = ((t + 0.5 / 30.0) * 30.0 + 1e-6).floor() as i64;
        let ok = (lo..=hi).any(|n| n.rem_euclid(28) == counter);
        assert!(
            ok,
            "output {k} (t={t:.3}) shows source #{counter} (mod 28), expected {nearest}"
        );
        k += 1;
    }
    assert_eq!(k, 72);
}

#[test]
fn variable_frame_rate_is_detected_decoded_like_ffmpeg_and_retimed() {
    // Drop frames unevenly and keep the original timestamps: a VFR stream.
    let p = clip_from(
        "vfr.mp4",
        &[
            pattern("160x120", "30", 2.0),
            args(&[
                "-vf",
                "select='not(between(n\\,10\\,19))'",
                "-fps_mode",
                "vfr",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
            ]),
        ],
    );
    let info = probe(&p, SizeCap::default()).unwrap();
    assert!(info.video.variable_frame_rate, "{:?}", info.video);
    assert_eq!(info.video.frame_count, 50);
    assert!(
        (info.video.duration_s - 2.0).abs() < 0.05,
        "{}",
        info.video.duration_s
    );
    check_against_ffmpeg(&p, 50);
    let reader = VideoReader::open(&p, &Limits::default()).unwrap();
    assert_eq!(reader.frame_count(), 48);
    assert_eq!(reader.count(), 48);
}

#[test]
fn rotated_phone_clip_comes_out_upright() {
    // A landscape-stored clip flagged to display rotated 90° clockwise, as phones write.
    let src = clip_from(
        "rot-src.mp4",
        &[
            args(&[
                "-f", "lavfi", "-i",
                "color=c=blue:size=320x240:rate=24:duration=0.5,drawbox=x=0:y=0:w=80:h=60:color=red:t=fill",
            ]),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let rotated = clip_from(
        "rot90.mp4",
        &[
            args(&["-i", &src.to_string_lossy()]),
            args(&["-c", "copy", "-metadata:s:v:0", "rotate=90"]),
        ],
    );
    let info = probe(&rotated, SizeCap::default()).unwrap();
    // ffprobe reports the display matrix's counter-clockwise angle; ours is clockwise.
    let side = retake_testkit::ffprobe_json(&rotated, &["-show_streams", "-select_streams", "v"]);
    let ccw = side["streams"][0]["side_data_list"][0]["rotation"]
        .as_i64()
        .expect("ffprobe reports a rotation");
    assert_eq!(
        info.video.rotation as i64,
        (360 - ccw).rem_euclid(360),
        "{:?}",
        info.video
    );
    assert!(info.video.rotation % 180 == 90);
    assert_eq!(
        (info.video.display_width, info.video.display_height),
        (240, 320)
    );
    let frame = VideoReader::open(&rotated, &Limits::default())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!((frame.width(), frame.height()), (240, 320));
    // ffmpeg's player-style decode (autorotate on) is the reference for where the box lands.
    let reference = retake_testkit::ffmpeg_rgb_frames(&rotated, 240, 320, "");
    let red = |data: &[u8], w: u32, x: u32, y: u32| {
        let i = ((y * w + x) * 3) as usize;
        data[i] > 150 && data[i + 2] < 100
    };
    let mut agree = 0;
    let mut total = 0;
    for y in (0..320).step_by(8) {
        for x in (0..240).step_by(8) {
            total += 1;
            if red(frame.data(), 240, x, y) == red(&reference[0], 240, x, y) {
                agree += 1;
            }
        }
    }
    assert!(
        agree * 100 >= total * 97,
        "only {agree}/{total} samples agree with ffmpeg"
    );
    // The box must have left the top-left corner: the frame really was turned.
    assert!(!red(frame.data(), 240, 10, 10));
}

#[test]
fn aac_audio_is_probed_and_the_video_decodes_like_ffmpeg() {
    let p = clip_from(
        "with-aac.mp4",
        &[
            pattern("160x120", "24", 2.0),
            tone(2.0),
            args(&[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "96k",
                "-shortest",
            ]),
        ],
    );
    let info = probe(&p, SizeCap::default()).unwrap();
    let a = info.audio.expect("audio stream");
    assert_eq!(a.codec, "aac");
    assert_eq!((a.channels, a.sample_rate), (1, 48000));
    assert!((a.duration_s - 2.0).abs() < 0.05, "{}", a.duration_s);
    assert!(a.passthrough);
    // The audio track does not disturb the video's decode.
    check_against_ffmpeg(&p, 48);
}

#[test]
fn mov_container_is_read() {
    let p = clip_from(
        "clip.mov",
        &[
            pattern("160x120", "24", 0.5),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let info = probe(&p, SizeCap::default()).unwrap();
    assert_eq!(format!("{:?}", info.container), "Mov");
    check_against_ffmpeg(&p, 12);
}

#[test]
fn large_input_is_scaled_to_the_cap() {
    let p = clip_from(
        "big.mp4",
        &[
            pattern("1920x1080", "24", 0.25),
            args(&[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ]),
        ],
    );
    let mut reader = VideoReader::open(&p, &Limits::default()).unwrap();
    assert_eq!(reader.output_size(), (1280, 720));
    let f = reader.next_frame().unwrap().unwrap();
    assert_eq!((f.width(), f.height()), (1280, 720));
}
