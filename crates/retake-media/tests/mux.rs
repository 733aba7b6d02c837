//! End-to-end checks of the MP4 writer: real OpenH264 video, plus AAC copied from a file
//! made by ffmpeg, muxed and then judged by ffprobe/ffmpeg and by reading the boxes back.

use std::path::Path;

use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, FrameType};
use openh264::formats::YUVBuffer;
use openh264::OpenH264API;
use retake_media::mux::{AudioTrackConfig, Mp4Writer, VideoTrackConfig};
use retake_media::MediaError;
use retake_testkit::{clip, ffmpeg_audio_mono, ffprobe_json, packet_hashes};

const W: u32 = 320;
const H: u32 = 240;
const FPS: u32 = 24;

fn video_cfg() -> VideoTrackConfig {
    VideoTrackConfig {
        width: W,
        height: H,
        fps: FPS,
    }
}

/// Encodes `n` frames of a moving gradient; returns each access unit and its keyframe flag.
fn encode_gradient(n: usize) -> Vec<(Vec<u8>, bool)> {
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(1_000_000))
        .max_frame_rate(FrameRate::from_hz(FPS as f32))
        .skip_frames(false);
    let mut enc = Encoder::with_api_config(OpenH264API::from_source(), config).unwrap();
    let (w, h) = (W as usize, H as usize);
    (0..n)
        .map(|i| {
            let mut yuv = vec![128u8; w * h * 3 / 2];
            for y in 0..h {
                for x in 0..w {
                    yuv[y * w + x] = ((x + y / 2 + i * 6) % 220 + 16) as u8;
                }
            }
            let bs = enc.encode(&YUVBuffer::from_vec(yuv, w, h)).unwrap();
            let key = matches!(bs.frame_type(), FrameType::IDR | FrameType::I);
            let mut au = Vec::new();
            bs.write_vec(&mut au);
            assert!(!au.is_empty(), "the encoder skipped frame {i}");
            (au, key)
        })
        .collect()
}

fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn f(v: &serde_json::Value) -> f64 {
    s(v).parse().unwrap_or_else(|_| panic!("not a number: {v}"))
}

fn stream<'a>(probe: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    probe["streams"]
        .as_array()
        .and_then(|a| a.iter().find(|st| st["codec_type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} stream in {probe}"))
}

/// Decodes the whole file with ffmpeg and fails on any error it reports.
fn decodes_cleanly(path: &Path) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("cannot run ffmpeg; install ffmpeg (`apt-get install ffmpeg`)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "ffmpeg decode: {err}"
    );
}

// ---- A tiny, independent MP4 box reader, just enough for these tests. ----

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// (type, payload, payload's offset in `b`) of each box laid end to end in `b`.
fn boxes(b: &[u8]) -> Vec<([u8; 4], &[u8], usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= b.len() {
        let mut size = u32_at(b, at) as usize;
        let mut header = 8;
        if size == 1 {
            size = u64_at(b, at + 8) as usize;
            header = 16;
        } else if size == 0 {
            size = b.len() - at;
        }
        let kind = b[at + 4..at + 8].try_into().unwrap();
        out.push((kind, &b[at + header..at + size], at + header));
        at += size;
    }
    assert_eq!(at, b.len(), "boxes do not tile their parent exactly");
    out
}

/// The payload of the first box along `path` (children of each, `skip` bytes into sample
/// entries and the like are handled by the caller).
fn find<'a>(b: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    let (_, payload, _) = boxes(b).into_iter().find(|(k, _, _)| k == *first)?;
    if rest.is_empty() {
        Some(payload)
    } else {
        find(payload, rest)
    }
}

/// The `trak` whose handler is `handler`.
fn trak<'a>(moov: &'a [u8], handler: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(moov)
        .into_iter()
        .filter(|(k, _, _)| k == b"trak")
        .map(|(_, p, _)| p)
        .find(|t| find(t, &[b"mdia", b"hdlr"]).is_some_and(|h| &h[8..12] == handler))
}

/// Reads an MPEG-4 descriptor at `at`: (tag, payload).
fn descriptor(b: &[u8], mut at: usize) -> (u8, &[u8]) {
    let tag = b[at];
    at += 1;
    let mut len = 0usize;
    loop {
        let byte = b[at];
        at += 1;
        len = (len << 7) | (byte & 0x7f) as usize;
        if byte & 0x80 == 0 {
            break;
        }
    }
    (tag, &b[at..at + len])
}

/// Sample-table view of one track: per-sample (file offset, size, duration) and sync flags.
struct Samples {
    offset: Vec<u64>,
    size: Vec<u32>,
    duration: Vec<u32>,
    sync: Option<Vec<u32>>,
}

fn samples(stbl: &[u8]) -> Samples {
    let stsz = find(stbl, &[b"stsz"]).unwrap();
    let count = u32_at(stsz, 8) as usize;
    let size: Vec<u32> = if u32_at(stsz, 4) != 0 {
        vec![u32_at(stsz, 4); count]
    } else {
        (0..count).map(|i| u32_at(stsz, 12 + 4 * i)).collect()
    };
    let stts = find(stbl, &[b"stts"]).unwrap();
    let mut duration = Vec::new();
    for e in 0..u32_at(stts, 4) as usize {
        let (n, d) = (u32_at(stts, 8 + 8 * e), u32_at(stts, 12 + 8 * e));
        duration.extend(std::iter::repeat_n(d, n as usize));
    }
    let chunks: Vec<u64> = if let Some(co) = find(stbl, &[b"stco"]) {
        (0..u32_at(co, 4) as usize)
            .map(|i| u32_at(co, 8 + 4 * i) as u64)
            .collect()
    } else {
        let co = find(stbl, &[b"co64"]).unwrap();
        (0..u32_at(co, 4) as usize)
            .map(|i| u64_at(co, 8 + 8 * i))
            .collect()
    };
    let stsc = find(stbl, &[b"stsc"]).unwrap();
    let runs: Vec<(usize, usize)> = (0..u32_at(stsc, 4) as usize)
        .map(|e| {
            (
                u32_at(stsc, 8 + 12 * e) as usize,
                u32_at(stsc, 12 + 12 * e) as usize,
            )
        })
        .collect();
    let mut offset = Vec::new();
    for (c, &start) in chunks.iter().enumerate() {
        let per = runs.iter().rev().find(|r| r.0 <= c + 1).unwrap().1;
        let mut at = start;
        for _ in 0..per {
            let i = offset.len();
            offset.push(at);
            at += size[i] as u64;
        }
    }
    assert_eq!(offset.len(), count, "stsc/stco do not cover stsz");
    assert_eq!(duration.len(), count, "stts does not cover stsz");
    let sync = find(stbl, &[b"stss"]).map(|b| {
        (0..u32_at(b, 4) as usize)
            .map(|i| u32_at(b, 8 + 4 * i))
            .collect()
    });
    Samples {
        offset,
        size,
        duration,
        sync,
    }
}

/// Edit list entries as (segment duration, media time).
fn edits(trak: &[u8]) -> Vec<(u64, i64)> {
    let elst = find(trak, &[b"edts", b"elst"]).unwrap();
    let v1 = elst[0] == 1;
    (0..u32_at(elst, 4) as usize)
        .map(|i| {
            if v1 {
                let at = 8 + 20 * i;
                (u64_at(elst, at), u64_at(elst, at + 8) as i64)
            } else {
                let at = 8 + 12 * i;
                (u32_at(elst, at) as u64, u32_at(elst, at + 4) as i32 as i64)
            }
        })
        .collect()
}

/// An AAC track read from an ffmpeg-made file: its configuration and its raw frames.
struct SourceAudio {
    cfg: AudioTrackConfig,
    frames: Vec<(Vec<u8>, u32)>,
}

fn read_source_audio(path: &Path) -> SourceAudio {
    let file = std::fs::read(path).unwrap();
    let moov = find(&file, &[b"moov"]).unwrap();
    let trak = trak(moov, b"soun").unwrap();
    let mdhd = find(trak, &[b"mdia", b"mdhd"]).unwrap();
    assert_eq!(mdhd[0], 0, "test parser reads version-0 mdhd only");
    let timescale = u32_at(mdhd, 12);
    let stbl = find(trak, &[b"mdia", b"minf", b"stbl"]).unwrap();
    let stsd = find(stbl, &[b"stsd"]).unwrap();
    let mp4a = find(&stsd[8..], &[b"mp4a"]).unwrap();
    let channels = u16_at(mp4a, 16);
    let esds = find(&mp4a[28..], &[b"esds"]).unwrap();
    let (tag, es) = descriptor(esds, 4);
    assert_eq!(tag, 3);
    assert_eq!(es[2], 0, "test parser expects no optional ES fields");
    let (tag, dcd) = descriptor(es, 3);
    assert_eq!(tag, 4);
    let (tag, dsi) = descriptor(dcd, 13);
    assert_eq!(tag, 5);
    let elst = edits(trak);
    let delay = elst.iter().take_while(|e| e.1 == -1).map(|e| e.0).sum();
    let skip = elst.iter().find(|e| e.1 >= 0).map_or(0, |e| e.1 as u64);
    let cfg = AudioTrackConfig {
        sample_rate: timescale,
        channels,
        decoder_specific_info: dsi.to_vec(),
        object_type_indication: dcd[0],
        buffer_size_db: u32::from_be_bytes([0, dcd[2], dcd[3], dcd[4]]),
        max_bitrate: u32_at(dcd, 5),
        avg_bitrate: u32_at(dcd, 9),
        skip_samples: skip,
        delay_ms: delay,
    };
    let t = samples(stbl);
    let frames = (0..t.size.len())
        .map(|i| {
            let at = t.offset[i] as usize;
            (file[at..at + t.size[i] as usize].to_vec(), t.duration[i])
        })
        .collect();
    SourceAudio { cfg, frames }
}

/// A 2 s AAC-in-MP4 tone, as the brief's source recipe makes it.
fn aac_source() -> std::path::PathBuf {
    clip(
        "mux-tone.m4a",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-f",
            "mp4",
        ],
    )
}

/// Muxes the video frames with `audio` interleaved by presentation time, as the app does.
fn mux_clip(path: &Path, video: &[(Vec<u8>, bool)], audio: Option<&SourceAudio>) {
    let mut w = Mp4Writer::create(path, video_cfg(), audio.map(|a| a.cfg.clone())).unwrap();
    let mut next_audio = 0;
    let mut audio_ticks = 0u64;
    let mut write_audio_until = |w: &mut Mp4Writer, until_s: f64| {
        let Some(a) = audio else { return };
        let rate = a.cfg.sample_rate as f64;
        let offset_s = a.cfg.delay_ms as f64 / 1000.0 - a.cfg.skip_samples as f64 / rate;
        while next_audio < a.frames.len() && audio_ticks as f64 / rate + offset_s < until_s {
            let (data, dur) = &a.frames[next_audio];
            w.write_audio(data, *dur).unwrap();
            audio_ticks += *dur as u64;
            next_audio += 1;
        }
    };
    for (i, (au, key)) in video.iter().enumerate() {
        write_audio_until(&mut w, i as f64 / FPS as f64);
        w.write_video(au, *key).unwrap();
    }
    write_audio_until(&mut w, f64::INFINITY);
    w.finish().unwrap();
}

fn top_level_order(path: &Path) -> Vec<String> {
    let file = std::fs::read(path).unwrap();
    boxes(&file)
        .iter()
        .map(|(k, _, _)| String::from_utf8_lossy(k).into_owned())
        .collect()
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn video_clip_plays_at_24_fps_with_moov_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    let frames = encode_gradient(48);
    assert!(frames[0].1, "OpenH264 starts with an IDR");
    mux_clip(&out, &frames, None);
    assert_eq!(leftovers(dir.path()), ["out.mp4"], "temporaries remain");

    assert_eq!(top_level_order(&out), ["ftyp", "moov", "mdat"]);

    let probe = ffprobe_json(&out, &["-show_streams", "-show_format"]);
    let v = stream(&probe, "video");
    assert_eq!(s(&v["codec_name"]), "h264");
    assert_eq!(v["width"], W);
    assert_eq!(v["height"], H);
    assert_eq!(s(&v["r_frame_rate"]), "24/1");
    assert_eq!(s(&v["avg_frame_rate"]), "24/1");
    assert_eq!(s(&v["nb_frames"]), "48");
    assert_eq!(s(&v["sample_aspect_ratio"]), "1:1");
    assert!((f(&v["duration"]) - 2.0).abs() < 1e-6, "{}", v["duration"]);
    assert!(f(&v["start_time"]).abs() < 1e-6, "{}", v["start_time"]);
    assert!((f(&probe["format"]["duration"]) - 2.0).abs() < 1e-6);
    assert_eq!(probe["streams"].as_array().unwrap().len(), 1);

    let tags = &ffprobe_json(&out, &["-show_entries", "format_tags"])["format"]["tags"];
    assert_eq!(s(&tags["major_brand"]), "isom");
    assert_eq!(s(&tags["minor_version"]), "512");
    assert_eq!(s(&tags["compatible_brands"]), "isomiso2avc1mp41");

    // Every frame decodes, and ffmpeg sees exactly the keyframes we flagged.
    decodes_cleanly(&out);
    let keys = ffprobe_json(
        &out,
        &["-select_streams", "v", "-show_entries", "packet=flags"],
    );
    let flagged: Vec<bool> = keys["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| s(&p["flags"]).starts_with('K'))
        .collect();
    let expected: Vec<bool> = frames.iter().map(|f| f.1).collect();
    assert_eq!(flagged, expected);
}

#[test]
fn aac_is_copied_bit_exactly_and_cut_at_the_video_end() {
    let src = aac_source();
    let audio = read_source_audio(&src);
    assert!(audio.cfg.skip_samples > 0, "ffmpeg's AAC has priming");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("with-audio.mp4");
    let frames = encode_gradient(48);
    mux_clip(&out, &frames, Some(&audio));
    assert_eq!(leftovers(dir.path()), ["with-audio.mp4"]);
    assert_eq!(top_level_order(&out), ["ftyp", "moov", "mdat"]);
    decodes_cleanly(&out);

    let probe = ffprobe_json(&out, &["-show_streams", "-show_format"]);
    let source = ffprobe_json(&src, &["-show_streams"]);
    let (a, sa) = (stream(&probe, "audio"), stream(&source, "audio"));
    assert_eq!(s(&a["codec_name"]), "aac");
    assert_eq!(a["sample_rate"], sa["sample_rate"]);
    assert_eq!(a["channels"], sa["channels"]);
    assert_eq!(a["profile"], sa["profile"]);
    // The priming is skipped by the edit list exactly as in the source.
    assert_eq!(s(&a["start_time"]), s(&sa["start_time"]));
    assert!(f(&a["start_time"]).abs() < 1e-6);
    assert!((f(&a["duration"]) - 2.0).abs() < 0.025, "{}", a["duration"]);
    // The audio, slightly longer than 2 s when padding is counted, must not lengthen the file.
    assert!((f(&probe["format"]["duration"]) - 2.0).abs() < 1e-6);
    let v = stream(&probe, "video");
    assert_eq!(s(&v["nb_frames"]), "48");
    assert_eq!(s(&v["avg_frame_rate"]), "24/1");

    let ours = packet_hashes(&out, "a");
    let theirs = packet_hashes(&src, "a");
    assert!(ours.len() > 80, "only {} audio packets", ours.len());
    assert_eq!(ours, theirs, "audio packets differ from the source");
    // And after the edit lists are applied, a player hears exactly what the source plays.
    assert_eq!(ffmpeg_audio_mono(&out), ffmpeg_audio_mono(&src));
}

#[test]
fn audio_delay_becomes_an_empty_edit() {
    let src = aac_source();
    let mut audio = read_source_audio(&src);
    audio.cfg.delay_ms = 500;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("delayed.mp4");
    mux_clip(&out, &encode_gradient(48), Some(&audio));
    decodes_cleanly(&out);

    let probe = ffprobe_json(&out, &["-show_streams", "-show_format"]);
    let a = stream(&probe, "audio");
    assert!(
        (f(&a["start_time"]) - 0.5).abs() < 1e-3,
        "{}",
        a["start_time"]
    );
    assert!((f(&probe["format"]["duration"]) - 2.0).abs() < 1e-6);

    let file = std::fs::read(&out).unwrap();
    let moov = find(&file, &[b"moov"]).unwrap();
    let skip = audio.cfg.skip_samples as i64;
    assert_eq!(
        edits(trak(moov, b"soun").unwrap()),
        [(500, -1), (1500, skip)]
    );
}

/// Annex-B with mixed start codes, an AUD and parameter sets, as fake but well-formed NALs
/// (`payload` must be non-zero: real NALs never end in a zero byte).
fn fake_au(key: bool, payload: u8) -> Vec<u8> {
    let mut au = vec![0, 0, 0, 1, 0x09, 0xf0];
    if key {
        au.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0x8c]);
        au.extend_from_slice(&[0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
    }
    au.extend_from_slice(&[0, 0, 1, if key { 0x65 } else { 0x41 }, payload, payload]);
    au
}

#[test]
fn samples_are_length_prefixed_and_tables_match() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fake.mp4");
    let mut w = Mp4Writer::create(&out, video_cfg(), None).unwrap();
    // 60 frames = 2.5 s: the 1 s chunk cap splits them into several chunks.
    for i in 0..60u8 {
        w.write_video(&fake_au(i % 30 == 0, i + 1), i % 30 == 0)
            .unwrap();
    }
    w.finish().unwrap();

    let file = std::fs::read(&out).unwrap();
    let moov = find(&file, &[b"moov"]).unwrap();
    let trak = trak(moov, b"vide").unwrap();
    let stbl = find(trak, &[b"mdia", b"minf", b"stbl"]).unwrap();
    let t = samples(stbl);
    assert_eq!(t.sync, Some(vec![1, 31]));
    assert!(t.duration.iter().all(|&d| d == 512));
    assert!(
        find(stbl, &[b"stsc"]).map(|b| u32_at(b, 4)).unwrap() >= 2,
        "chunks are capped"
    );
    for i in 0..60 {
        let at = t.offset[i] as usize;
        let sample = &file[at..at + t.size[i] as usize];
        let nal = if i % 30 == 0 { 0x65 } else { 0x41 };
        // AUD, SPS and PPS are gone; the slice keeps its bytes behind a 4-byte length.
        assert_eq!(
            sample,
            [0, 0, 0, 3, nal, i as u8 + 1, i as u8 + 1],
            "sample {i}"
        );
    }

    let mdhd = find(trak, &[b"mdia", b"mdhd"]).unwrap();
    assert_eq!((u32_at(mdhd, 12), u32_at(mdhd, 16)), (12288, 60 * 512));
    let tkhd = find(trak, &[b"tkhd"]).unwrap();
    assert_eq!(u32_at(tkhd, 20), 2500);
    assert_eq!((u32_at(tkhd, 76), u32_at(tkhd, 80)), (W << 16, H << 16));
    assert_eq!(edits(trak), [(2500, 0)]);
    let mvhd = find(moov, &[b"mvhd"]).unwrap();
    assert_eq!((u32_at(mvhd, 12), u32_at(mvhd, 16)), (1000, 2500));

    let stsd = find(stbl, &[b"stsd"]).unwrap();
    let avc1 = find(&stsd[8..], &[b"avc1"]).unwrap();
    assert_eq!((u16_at(avc1, 24), u16_at(avc1, 26)), (W as u16, H as u16));
    let avcc = find(&avc1[78..], &[b"avcC"]).unwrap();
    assert_eq!(
        avcc,
        [
            1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 5, 0x67, 0x42, 0xc0, 0x1e, 0x8c, 1, 0, 4, 0x68,
            0xce, 0x3c, 0x80
        ]
    );
    assert!(find(&avc1[78..], &[b"pasp"]).is_some());
}

#[test]
fn first_frame_must_be_a_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad.mp4");
    let mut w = Mp4Writer::create(&out, video_cfg(), None).unwrap();
    let err = w.write_video(&fake_au(false, 1), false).unwrap_err();
    assert!(matches!(err, MediaError::InvalidArgument(_)), "{err}");
    // A keyframe without parameter sets is refused too.
    let err = w.write_video(&[0, 0, 0, 1, 0x65, 1, 2], true).unwrap_err();
    assert!(matches!(err, MediaError::InvalidArgument(_)), "{err}");
    drop(w);
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn changed_parameter_sets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Mp4Writer::create(&dir.path().join("sps.mp4"), video_cfg(), None).unwrap();
    w.write_video(&fake_au(true, 1), true).unwrap();
    // The same SPS again is fine; a different one cannot live in one avcC.
    w.write_video(&fake_au(true, 2), true).unwrap();
    let mut changed = fake_au(true, 3);
    assert_eq!(changed[10..13], [0x67, 0x42, 0xc0]);
    changed[12] = 0x1f;
    let err = w.write_video(&changed, true).unwrap_err();
    assert!(matches!(err, MediaError::Encode(_)), "{err}");
}

#[test]
fn dropping_without_finish_leaves_nothing() {
    let src = aac_source();
    let audio = read_source_audio(&src);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cancelled.mp4");
    let mut w = Mp4Writer::create(&out, video_cfg(), Some(audio.cfg.clone())).unwrap();
    w.write_video(&fake_au(true, 1), true).unwrap();
    w.write_audio(&audio.frames[0].0, audio.frames[0].1)
        .unwrap();
    assert_eq!(
        leftovers(dir.path()).len(),
        1,
        "sample data streams to disk"
    );
    drop(w);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );

    // A finish that fails (nothing written) also leaves nothing behind.
    let w = Mp4Writer::create(&out, video_cfg(), None).unwrap();
    assert!(matches!(w.finish(), Err(MediaError::InvalidArgument(_))));
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.mp4");
    let zero = VideoTrackConfig {
        width: 0,
        height: 240,
        fps: 24,
    };
    assert!(Mp4Writer::create(&out, zero, None).is_err());
    let mut w = Mp4Writer::create(&out, video_cfg(), None).unwrap();
    assert!(w.write_audio(&[1, 2, 3], 1024).is_err(), "no audio track");
    drop(w);
    assert!(leftovers(dir.path()).is_empty());
}
