//! A corpus of bad inputs: every one must give a clean error that says what is wrong.

use std::path::{Path, PathBuf};

use retake_media::{probe, Limits, MediaError, SizeCap, VideoReader};
use retake_testkit::{args, clip_from, pattern, tone};

fn good_clip() -> PathBuf {
    clip_from(
        "good.mp4",
        &[
            pattern("160x120", "24", 1.0),
            args(&[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
            ]),
        ],
    )
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = retake_testkit::scratch(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Opens the clip for decoding and reads every frame; returns the error it must produce.
fn open_and_read(path: &Path) -> MediaError {
    match VideoReader::open(path, &Limits::default()) {
        Err(e) => e,
        Ok(mut r) => loop {
            match r.next_frame() {
                Err(e) => break e,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("{} decoded without error", path.display()),
            }
        },
    }
}

fn assert_error(path: &Path, needle: &str) -> MediaError {
    let e = open_and_read(path);
    let msg = e.to_string();
    assert!(
        msg.contains(needle),
        "{}: expected {needle:?} in {msg:?}",
        path.display()
    );
    e
}

#[test]
fn zero_byte_file() {
    let p = write("empty.mp4", b"");
    assert!(matches!(assert_error(&p, "empty"), MediaError::Empty));
}

#[test]
fn garbage_file() {
    let p = write("garbage.mp4", &[0x5a; 4096]);
    assert!(matches!(
        assert_error(&p, "does not start like an MP4"),
        MediaError::NotAVideo(_)
    ));
}

#[test]
fn image_with_a_video_extension() {
    let png = retake_testkit::scratch("tiny.png");
    retake_testkit::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:size=32x32:duration=0.04",
        "-frames:v",
        "1",
        &png.to_string_lossy(),
    ]);
    let p = write("really-a-png.mp4", &std::fs::read(&png).unwrap());
    assert_error(&p, "not a video retake can read");
}

#[test]
fn truncated_files() {
    let bytes = std::fs::read(good_clip()).unwrap();
    // moov first (faststart): cutting into the middle of mdat loses frame data.
    let p = write("trunc-half.mp4", &bytes[..bytes.len() / 2]);
    assert_error(&p, "truncated");
    // Cut inside the moov itself.
    let p = write("trunc-head.mp4", &bytes[..200]);
    assert_error(&p, "truncated");
    // A recording whose moov was never written (moov at the end, cut off).
    let late = clip_from(
        "moov-last.mp4",
        &[
            pattern("160x120", "24", 1.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let b = std::fs::read(&late).unwrap();
    let p = write("no-moov.mp4", &b[..b.len() * 3 / 4]);
    let e = open_and_read(&p).to_string();
    assert!(e.contains("truncated") || e.contains("interrupted"), "{e}");
}

#[test]
fn audio_only_file_has_no_video_stream() {
    let p = clip_from("audio-only.m4a", &[tone(1.0), args(&["-c:a", "aac"])]);
    assert!(matches!(
        assert_error(&p, "no video stream"),
        MediaError::NoVideoStream
    ));
}

#[test]
fn unsupported_codecs_are_named() {
    let hevc = clip_from(
        "hevc.mp4",
        &[
            pattern("160x120", "24", 0.5),
            args(&[
                "-c:v",
                "libx265",
                "-x265-params",
                "log-level=none",
                "-tag:v",
                "hvc1",
            ]),
        ],
    );
    assert_error(&hevc, "HEVC/H.265");
    let vp9 = clip_from(
        "vp9.mp4",
        &[
            pattern("160x120", "24", 0.5),
            args(&["-c:v", "libvpx-vp9", "-b:v", "200k"]),
        ],
    );
    assert_error(&vp9, "VP9");
    let hi10 = clip_from(
        "high10.mp4",
        &[
            pattern("160x120", "24", 0.5),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p10le"]),
        ],
    );
    assert_error(&hi10, "10-bit");
    let interlaced = clip_from(
        "interlaced.mp4",
        &[
            pattern("160x120", "24", 0.5),
            args(&[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-flags",
                "+ildct+ilme",
            ]),
        ],
    );
    assert_error(&interlaced, "interlaced");
    // Probe still describes what it cannot decode.
    let info = probe(&hevc, SizeCap::default()).unwrap();
    assert!(info.video.unsupported.unwrap().contains("HEVC"));
}

#[test]
fn limits_are_enforced_with_actionable_messages() {
    let long = clip_from(
        "long.mp4",
        &[
            pattern("64x64", "24", 11.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let e = assert_error(&long, "the limit is 10 s");
    assert!(e.to_string().contains("11.0 s"), "{e}");
    let limits = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    let e = VideoReader::open(&good_clip(), &limits)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("limit is 0.0 MB") || e.contains("max_file_bytes"),
        "{e}"
    );
    let wide = clip_from(
        "too-wide.mp4",
        &[
            pattern("4112x16", "24", 0.1),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    assert_error(&wide, "largest accepted side is 4096");
    let tiny = clip_from(
        "tiny.mp4",
        &[
            pattern("8x8", "24", 0.2),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    assert_error(&tiny, "at least 16x16");
}

/// Finds `moov` → … → `stsz`/`stco` style boxes by naive scanning, for corruption tests.
fn find_box(bytes: &[u8], kind: &[u8; 4]) -> Option<usize> {
    bytes.windows(4).position(|w| w == kind).map(|p| p - 4)
}

#[test]
fn forged_tables_and_headers_fail_cleanly() {
    let bytes = std::fs::read(good_clip()).unwrap();
    // A sample size table that claims billions of entries.
    let mut b = bytes.clone();
    let stsz = find_box(&b, b"stsz").unwrap();
    b[stsz + 16..stsz + 20].copy_from_slice(&u32::MAX.to_be_bytes());
    let p = write("forged-stsz.mp4", &b);
    assert_error(&p, "damaged or truncated");
    // Chunk offsets pointing far past the end of the file.
    let mut b = bytes.clone();
    let stco = find_box(&b, b"stco").unwrap();
    let n = u32::from_be_bytes(b[stco + 12..stco + 16].try_into().unwrap()) as usize;
    for i in 0..n {
        let at = stco + 16 + 4 * i;
        b[at..at + 4].copy_from_slice(&0x7fff_0000u32.to_be_bytes());
    }
    let p = write("forged-stco.mp4", &b);
    assert_error(&p, "truncated");
    // A box size larger than the file.
    let mut b = bytes.clone();
    let moov = find_box(&b, b"moov").unwrap();
    b[moov..moov + 4].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    let p = write("forged-moov-size.mp4", &b);
    assert_error(&p, "damaged or truncated");
    // A damaged H.264 configuration record.
    let mut b = bytes;
    let avcc = find_box(&b, b"avcC").unwrap();
    for v in &mut b[avcc + 8..avcc + 20] {
        *v = 0xff;
    }
    let p = write("forged-avcc.mp4", &b);
    let e = open_and_read(&p);
    assert!(matches!(e, MediaError::Corrupt(_)), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("damaged") && e.contains("avcC"), "{e}");
    assert!(
        !e.contains("unsupported"),
        "damage is not an unsupported codec: {e}"
    );
}

#[test]
fn corrupt_nal_units_mid_stream() {
    let clip = clip_from(
        "for-corruption.mp4",
        &[
            pattern("160x120", "24", 2.0),
            args(&[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-g",
                "12",
                "-movflags",
                "+faststart",
            ]),
        ],
    );
    let demux = retake_media::demux::Demuxer::open(&clip).unwrap();
    let samples = demux.video().unwrap().samples.clone();
    let bytes = std::fs::read(&clip).unwrap();
    // Light damage: scribble over the middle of two non-key frames. We decode what can be
    // decoded and fill the gaps, so the output keeps its full frame count.
    let mut b = bytes.clone();
    for s in samples.iter().filter(|s| !s.sync).skip(5).take(2) {
        let start = s.offset as usize + 8;
        let end = (s.offset + s.size as u64) as usize;
        for (i, v) in b[start..end].iter_mut().enumerate() {
            *v = (i * 37 % 251) as u8;
        }
    }
    let p = write("corrupt-light.mp4", &b);
    let mut r = VideoReader::open(&p, &Limits::default()).unwrap();
    let mut n = 0;
    while r.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 48);
    // Heavy damage: every frame scribbled over. This must fail cleanly, saying so.
    let mut b = bytes;
    for s in &samples {
        let start = s.offset as usize + 5;
        let end = (s.offset + s.size as u64) as usize;
        for (i, v) in b[start..end].iter_mut().enumerate() {
            *v = (i * 91 % 253) as u8;
        }
    }
    let p = write("corrupt-heavy.mp4", &b);
    let e = open_and_read(&p).to_string();
    assert!(e.contains("none of the 48 frames could be decoded"), "{e}");
}

/// Writes H.264 syntax: fixed-width fields and Exp-Golomb codes, then the RBSP stop bit and
/// emulation prevention, giving a NAL unit's bytes after its header.
#[derive(Default)]
struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    fn u(&mut self, n: u32, v: u64) -> &mut Self {
        for i in (0..n).rev() {
            self.bits.push((v >> i) & 1 == 1);
        }
        self
    }
    /// ue(v): `len` zeros, then v + 1 in `len + 1` bits.
    fn ue(&mut self, v: u64) -> &mut Self {
        let len = 63 - (v + 1).leading_zeros();
        self.u(len, 0).u(len + 1, v + 1)
    }
    fn nal(&mut self, header: u8) -> Vec<u8> {
        self.bits.push(true);
        while !self.bits.len().is_multiple_of(8) {
            self.bits.push(false);
        }
        let rbsp: Vec<u8> = self
            .bits
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |b, &bit| b << 1 | bit as u8))
            .collect();
        let mut out = vec![header];
        let mut zeros = 0;
        for b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            out.push(b);
            zeros = if b == 0 { zeros + 1 } else { 0 };
        }
        out
    }
}

/// A Constrained Baseline SPS for a picture of `mbs_w`×`mbs_h` macroblocks (16 px each).
fn sps(mbs_w: u64, mbs_h: u64) -> Vec<u8> {
    BitWriter::default()
        .u(8, 66) // profile_idc: Baseline
        .u(8, 0xC0) // constraint_set0/1: Constrained Baseline
        .u(8, 31) // level 3.1
        .ue(0) // seq_parameter_set_id
        .ue(0) // log2_max_frame_num_minus4
        .ue(2) // pic_order_cnt_type
        .ue(1) // max_num_ref_frames
        .u(1, 0) // gaps_in_frame_num_value_allowed_flag
        .ue(mbs_w - 1)
        .ue(mbs_h - 1)
        .u(1, 1) // frame_mbs_only_flag
        .u(1, 1) // direct_8x8_inference_flag
        .u(1, 0) // frame_cropping_flag
        .u(1, 0) // vui_parameters_present_flag
        .nal(0x67)
}

/// An MP4 whose track header says 160×120 but whose SPS (the header the decoder believes)
/// describes a picture of `mbs_w`×`mbs_h` macroblocks; its one frame is junk.
fn clip_claiming(name: &str, mbs_w: u64, mbs_h: u64) -> PathBuf {
    let pps = BitWriter::default()
        .ue(0) // pic_parameter_set_id
        .ue(0) // seq_parameter_set_id
        .u(1, 0) // entropy_coding_mode_flag: CAVLC
        .u(1, 0) // bottom_field_pic_order_in_frame_present_flag
        .ue(0) // num_slice_groups_minus1
        .ue(0) // num_ref_idx_l0_default_active_minus1
        .ue(0) // num_ref_idx_l1_default_active_minus1
        .u(1, 0) // weighted_pred_flag
        .u(2, 0) // weighted_bipred_idc
        .ue(0) // pic_init_qp_minus26 (se 0)
        .ue(0) // pic_init_qs_minus26 (se 0)
        .ue(0) // chroma_qp_index_offset (se 0)
        .u(1, 1) // deblocking_filter_control_present_flag
        .u(1, 0) // constrained_intra_pred_flag
        .u(1, 0) // redundant_pic_cnt_present_flag
        .nal(0x68);
    let mut au = Vec::new();
    for nal in [
        sps(mbs_w, mbs_h),
        pps,
        vec![0x65, 0x88, 0x84, 0x00, 0x33, 0xff],
    ] {
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(&nal);
    }
    let path = retake_testkit::scratch(name);
    let video = retake_media::mux::VideoTrackConfig {
        width: 160,
        height: 120,
        fps: 24,
    };
    let mut w = retake_media::mux::Mp4Writer::create(&path, video, None).unwrap();
    w.write_video(&au, true).unwrap();
    w.finish().unwrap();
    path
}

#[test]
fn huge_dimensions_in_the_sps_are_refused_before_decoding() {
    // The writer is sound: a 10×8-macroblock SPS makes a clip that opens as 160×128.
    let fine = clip_claiming("sps-fine.mp4", 10, 8);
    let info = probe(&fine, SizeCap::default()).unwrap();
    assert_eq!((info.video.width, info.video.height), (160, 128));

    // 131072×65536 pixels: the probe describes what the header claims; opening it for
    // decoding refuses it before any memory is spent on it.
    let huge = clip_claiming("sps-huge.mp4", 8192, 4096);
    let info = probe(&huge, SizeCap::default()).unwrap();
    assert_eq!((info.video.width, info.video.height), (131072, 65536));
    assert_error(&huge, "largest accepted side is 4096");

    // Sizes past any integer type a decoder uses: still a clean error, not an overflow.
    for (w, h) in [(1u64 << 31, 2), (2, 1 << 31), (1 << 40, 1 << 40)] {
        let p = clip_claiming("sps-absurd.mp4", w, h);
        let e = open_and_read(&p).to_string();
        assert!(
            e.contains("largest accepted side") || e.contains("damaged"),
            "{w}x{h} macroblocks: {e}"
        );
    }
}

/// The clips the demuxer fuzz target starts from: MP4 and MOV, with and without audio,
/// B-frames, rotation.
fn fuzz_seed_clips() -> Vec<PathBuf> {
    let small = |name: &str, extra: &[&str]| {
        let mut a = vec!["-c:v", "libx264", "-pix_fmt", "yuv420p"];
        a.extend_from_slice(extra);
        clip_from(name, &[pattern("64x48", "24", 0.5), args(&a)])
    };
    vec![
        good_clip(),
        small("fuzz-bframes.mp4", &["-bf", "2", "-g", "6"]),
        small("fuzz-rotated.mp4", &["-metadata:s:v", "rotate=90"]),
        small("fuzz.mov", &["-f", "mov"]),
        clip_from(
            "fuzz-audio.mp4",
            &[
                pattern("64x48", "24", 0.5),
                tone(0.5),
                args(&[
                    "-c:v",
                    "libx264",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-shortest",
                ]),
            ],
        ),
    ]
}

fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    retake_testkit::mutate::corpus_files(&dir)
        .into_iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

#[test]
fn the_demuxer_and_parameter_set_fuzz_targets_survive_a_bounded_run() {
    let clips: Vec<Vec<u8>> = fuzz_seed_clips()
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let mut seeds = clips.clone();
    seeds.extend(regressions("mp4"));
    let r = retake_testkit::mutate::run(
        "mp4",
        &seeds,
        retake_testkit::mutate::budget(),
        retake_media::fuzzing::mp4,
    );
    assert!(r.execs > seeds.len() as u64, "{r:?}");
    // The parameter sets: each clip's avcC record (first byte 0 picks it), and its SPS.
    let mut params = Vec::new();
    for c in &clips {
        let at = find_box(c, b"avcC").unwrap();
        let size = u32::from_be_bytes(c[at..at + 4].try_into().unwrap()) as usize;
        let avcc = &c[at + 8..at + size];
        params.push([&[0u8][..], avcc].concat());
        let sps_len = u16::from_be_bytes([avcc[6], avcc[7]]) as usize;
        params.push([&[1u8][..], &avcc[8..8 + sps_len]].concat());
    }
    params.extend(regressions("h264_params"));
    let r = retake_testkit::mutate::run(
        "h264_params",
        &params,
        retake_testkit::mutate::budget(),
        retake_media::fuzzing::h264_params,
    );
    assert!(r.execs > params.len() as u64, "{r:?}");
}
