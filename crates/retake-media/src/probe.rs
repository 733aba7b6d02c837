//! What a clip is: container, streams, timing and the output retake would make of it.

use std::path::Path;

use serde::Serialize;

use crate::demux::{Codec, Container, Demuxer, VideoTrack};
use crate::h264::sps::{parse_avcc, parse_sps};
use crate::retime::{output_frame_count, OUTPUT_FPS};
use crate::transform::{output_size, SizeCap};
use crate::{MediaError, Result};

/// Everything `retake probe` reports.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeInfo {
    /// MP4 or MOV.
    pub container: Container,
    /// The `ftyp` major brand.
    pub major_brand: String,
    /// File size in bytes.
    pub file_size: u64,
    /// Longest stream duration, seconds.
    pub duration_s: f64,
    /// Overall bit rate, bits per second.
    pub bit_rate: u64,
    /// The video stream.
    pub video: VideoInfo,
    /// The audio stream, if any.
    pub audio: Option<AudioInfo>,
    /// What retake would write for this clip.
    pub output: OutputInfo,
}

/// The video stream.
#[derive(Clone, Debug, Serialize)]
pub struct VideoInfo {
    /// Codec name, e.g. `h264`, or the sample entry's code for others.
    pub codec: String,
    /// H.264 profile name.
    pub profile: Option<String>,
    /// H.264 level, e.g. `3.1`.
    pub level: Option<String>,
    /// Stored (coded, cropped) width.
    pub width: u32,
    /// Stored height.
    pub height: u32,
    /// Clockwise rotation a player applies: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Width as displayed (after rotation).
    pub display_width: u32,
    /// Height as displayed.
    pub display_height: u32,
    /// Average frames per second.
    pub fps: f64,
    /// Whether frame durations vary (variable frame rate).
    pub variable_frame_rate: bool,
    /// Number of frames.
    pub frame_count: usize,
    /// Duration in seconds.
    pub duration_s: f64,
    /// Video bit rate, bits per second.
    pub bit_rate: u64,
    /// Whether the stream has B-frames (presentation order differs from decode order).
    pub b_frames: bool,
    /// Why retake cannot decode this stream, if it cannot.
    pub unsupported: Option<String>,
}

/// The audio stream.
#[derive(Clone, Debug, Serialize)]
pub struct AudioInfo {
    /// Codec name: `aac`, `mp3` or the sample entry's code.
    pub codec: String,
    /// Channel count.
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Duration in seconds (after encoder priming).
    pub duration_s: f64,
    /// Bit rate, bits per second.
    pub bit_rate: u64,
    /// Whether retake copies it into the output unchanged (AAC) or drops it.
    pub passthrough: bool,
}

/// The output retake would write.
#[derive(Clone, Debug, Serialize)]
pub struct OutputInfo {
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Output frame rate (always 24).
    pub fps: u32,
    /// Output frame count.
    pub frames: usize,
}

/// Timing facts computed from a video track's samples.
pub(crate) struct VideoTiming {
    pub(crate) duration_s: f64,
    pub(crate) fps: f64,
    pub(crate) variable: bool,
    pub(crate) b_frames: bool,
}

pub(crate) fn video_timing(v: &VideoTrack) -> VideoTiming {
    let ts = v.timescale.max(1) as f64;
    let mut pts: Vec<i64> = v.samples.iter().map(|s| s.pts).collect();
    let b_frames = pts.windows(2).any(|w| w[1] < w[0]);
    pts.sort_unstable();
    let end = v
        .samples
        .iter()
        .map(|s| s.pts + s.duration as i64)
        .max()
        .unwrap_or(0);
    let start = pts.first().copied().unwrap_or(0);
    let duration_s = (end - start).max(0) as f64 / ts;
    let fps = if duration_s > 0.0 {
        v.samples.len() as f64 / duration_s
    } else {
        0.0
    };
    let deltas: Vec<i64> = pts.windows(2).map(|w| w[1] - w[0]).collect();
    let variable = match (deltas.iter().min(), deltas.iter().max()) {
        (Some(&lo), Some(&hi)) => hi as f64 > lo.max(1) as f64 * 1.05 + 1.0,
        _ => false,
    };
    VideoTiming {
        duration_s,
        fps,
        variable,
        b_frames,
    }
}

/// Probes a file. Reports unsupported codecs in `video.unsupported` rather than failing, so
/// users can see what they have; fails only when there is no readable video at all.
pub fn probe(path: &Path, cap: SizeCap) -> Result<ProbeInfo> {
    let demux = Demuxer::open(path)?;
    probe_demuxer(&demux, cap)
}

pub(crate) fn probe_demuxer(demux: &Demuxer, cap: SizeCap) -> Result<ProbeInfo> {
    let v = demux.video().ok_or(MediaError::NoVideoStream)?;
    if v.samples.is_empty() {
        return Err(MediaError::Corrupt("the video stream has no frames".into()));
    }
    let timing = video_timing(v);
    let video_bytes: u64 = v.samples.iter().map(|s| s.size as u64).sum();
    let (mut width, mut height) = (v.width, v.height);
    let (codec, profile, level, unsupported) = match &v.codec {
        Codec::H264 { avcc } => {
            // A configuration that does not parse is damage, not an unsupported codec.
            let sps = parse_avcc(avcc).and_then(|c| parse_sps(&c.sps[0]))?;
            if sps.width > 0 && sps.height > 0 {
                width = sps.width;
                height = sps.height;
            }
            (
                "h264".to_string(),
                Some(sps.profile_name()),
                Some(sps.level_name()),
                sps.unsupported_reason(),
            )
        }
        Codec::Other(code) => (
            code.clone(),
            None,
            None,
            Some(unsupported_codec_message(code)),
        ),
    };
    let (dw, dh) = if v.rotation % 180 == 90 {
        (height, width)
    } else {
        (width, height)
    };
    let audio = demux.audio().map(|a| {
        let bytes: u64 = a.samples.iter().map(|s| s.size as u64).sum();
        let duration_s = a.duration_s();
        AudioInfo {
            codec: match (a.fourcc.as_str(), a.object_type_indication) {
                ("mp4a", Some(0x40)) => "aac".into(),
                ("mp4a", Some(0x6b)) | (".mp3", _) => "mp3".into(),
                (code, _) => code.trim().to_string(),
            },
            channels: a.channels,
            sample_rate: a.sample_rate,
            duration_s,
            bit_rate: rate(bytes, duration_s),
            passthrough: a.is_aac(),
        }
    });
    let duration_s = timing
        .duration_s
        .max(audio.as_ref().map_or(0.0, |a| a.duration_s));
    let (ow, oh) = output_size(dw, dh, cap);
    Ok(ProbeInfo {
        container: demux.container(),
        major_brand: demux.major_brand().to_string(),
        file_size: demux.file_size(),
        duration_s,
        bit_rate: rate(demux.file_size(), duration_s),
        video: VideoInfo {
            codec,
            profile,
            level,
            width,
            height,
            rotation: v.rotation,
            display_width: dw,
            display_height: dh,
            fps: timing.fps,
            variable_frame_rate: timing.variable,
            frame_count: v.samples.len(),
            duration_s: timing.duration_s,
            bit_rate: rate(video_bytes, timing.duration_s),
            b_frames: timing.b_frames,
            unsupported,
        },
        audio,
        output: OutputInfo {
            width: ow,
            height: oh,
            fps: OUTPUT_FPS,
            frames: output_frame_count(timing.duration_s),
        },
    })
}

fn rate(bytes: u64, seconds: f64) -> u64 {
    if seconds > 0.0 {
        (bytes as f64 * 8.0 / seconds).round() as u64
    } else {
        0
    }
}

/// Names a codec we cannot decode and says what to do.
pub(crate) fn unsupported_codec_message(code: &str) -> String {
    let name = match code {
        "hvc1" | "hev1" => "HEVC/H.265",
        "vp09" => "VP9",
        "av01" => "AV1",
        "vp08" => "VP8",
        "mp4v" => "MPEG-4 Part 2",
        "apcn" | "apch" | "apcs" | "apco" | "ap4h" | "ap4x" => "Apple ProRes",
        "jpeg" | "mjpa" | "mjpb" => "Motion JPEG",
        other => other,
    };
    format!(
        "{name} ('{code}'); retake reads H.264 — convert it with e.g. \
         `ffmpeg -i in.mp4 -c:v libx264 -pix_fmt yuv420p -c:a copy out.mp4`"
    )
}
