//! H.264 encoding: RGB frames in, Annex-B access units out. OpenH264 (always built) or, with
//! the `ffmpeg` feature, libx264 ([`super::x264`]); [`EncoderKind`] picks one at run time.

use openh264::encoder::{
    Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;

use crate::color::{rgb_to_i420, ColorSpec, I420};
use crate::{MediaError, Result, RgbFrame};

/// The lowest quantiser OpenH264's rate control takes (below it, it silently falls back to its
/// default range of 12–42, whatever the maximum asked for).
const MIN_QP: u8 = 12;

/// A quantiser cap as OpenH264 takes it.
fn qp_cap(qp: u8) -> u8 {
    qp.clamp(MIN_QP, 51)
}

/// Which H.264 encoder writes the output. The default is x264 (4:2:0) in a build with the
/// `ffmpeg` feature and OpenH264 otherwise: both play in every browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum EncoderKind {
    /// OpenH264, Constrained Baseline, 4:2:0: always built, plays everywhere.
    #[serde(rename = "openh264")]
    OpenH264,
    /// libx264, High profile, 4:2:0, quality-targeted: plays everywhere (`ffmpeg` feature).
    #[serde(rename = "x264")]
    X264,
    /// libx264, High 4:4:4 Predictive: full colour resolution, so a painted edge keeps its
    /// colour at small sizes, but most browsers (Firefox, Safari) and OpenH264 itself do not
    /// decode it (`ffmpeg` feature).
    #[serde(rename = "x264-444")]
    X264Yuv444,
}

impl Default for EncoderKind {
    fn default() -> Self {
        if cfg!(feature = "ffmpeg") {
            EncoderKind::X264
        } else {
            EncoderKind::OpenH264
        }
    }
}

impl EncoderKind {
    /// Every encoder by its name.
    pub const ALL: [EncoderKind; 3] = [
        EncoderKind::OpenH264,
        EncoderKind::X264,
        EncoderKind::X264Yuv444,
    ];

    /// The name a user gives (`openh264`, `x264`, `x264-444`).
    pub fn name(self) -> &'static str {
        match self {
            EncoderKind::OpenH264 => "openh264",
            EncoderKind::X264 => "x264",
            EncoderKind::X264Yuv444 => "x264-444",
        }
    }

    /// Whether this build has the encoder.
    pub fn is_built(self) -> bool {
        self == EncoderKind::OpenH264 || cfg!(feature = "ffmpeg")
    }

    /// `Ok` when this build has the encoder; otherwise an error that says how to get it.
    pub fn check_built(self) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        Err(MediaError::InvalidArgument(format!(
            "the {} encoder is not in this build of retake: it needs the `ffmpeg` feature \
             (`cargo build --release --features ffmpeg` with Debian's FFmpeg development \
             packages; see the README's \"Encoders\"), or use `--encoder openh264`",
            self.name()
        )))
    }
}

impl std::fmt::Display for EncoderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for EncoderKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown encoder '{s}': use openh264, x264 or x264-444"))
    }
}

/// Encoder settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeSettings {
    /// Which encoder.
    pub encoder: EncoderKind,
    /// Frames per second (we always write 24).
    pub fps: u32,
    /// OpenH264 only: target bits per pixel per frame; 0.12 gives about 2.6 Mb/s at
    /// 1280×720, 24 fps (x264 targets quality: [`EncodeSettings::x264_quality`]).
    pub bits_per_pixel: f32,
    /// A keyframe every this many frames, so players can seek.
    pub keyframe_interval: u32,
    /// OpenH264 only: highest quantiser the rate control may use (12–51; lower is finer), a
    /// quality floor:
    /// where a frame needs more bits than `bits_per_pixel` gives to stay under it, it gets
    /// them, so detailed footage costs more bytes instead of losing the detail a user painted.
    /// 0 (the default) picks it from the frame size ([`EncodeSettings::quality_cap`]).
    pub max_qp: u8,
    /// x264 only: its constant rate factor for the clip (lower is finer); 0 (the default)
    /// picks it from the frame size ([`EncodeSettings::x264_quality`]).
    pub crf: f32,
    /// x264 only: the fixed quantiser of frame 0, the edited frame (0: from the frame size).
    pub first_qp: u8,
}

impl Default for EncodeSettings {
    fn default() -> Self {
        Self {
            fps: 24,
            bits_per_pixel: 0.12,
            keyframe_interval: 48,
            max_qp: 0,
            encoder: EncoderKind::default(),
            crf: 0.0,
            first_qp: 0,
        }
    }
}

impl EncodeSettings {
    /// The quantiser cap for `width`×`height` frames: `max_qp`, or when that is 0 one that
    /// keeps an edited first frame at about 40 dB PSNR. Small frames need a finer quantiser
    /// (each pixel of a painted edge is a larger share of the picture) and cost few bytes
    /// either way; from 640×480 up the bit rate alone nearly gets there. Measured in
    /// BENCHMARKS.md ("Output fidelity"); without a cap OpenH264 uses up to 42.
    pub fn quality_cap(&self, width: u32, height: u32) -> u8 {
        if self.max_qp != 0 {
            return qp_cap(self.max_qp);
        }
        let px = width as u64 * height as u64;
        if px <= 320 * 240 {
            16
        } else if px <= 640 * 480 {
            20
        } else {
            22
        }
    }

    /// x264's rate factor for the clip and quantiser for frame 0 at `width`×`height`:
    /// `crf` and `first_qp` where set, otherwise what keeps frame 0 at 40 dB PSNR or more
    /// where the chroma format allows it (measured in BENCHMARKS.md, "Output fidelity"). 4:2:0
    /// cannot get there below 640×480 whatever the quantiser (a painted edge's colour is
    /// halved in both directions); there frame 0 gets the finest quantiser that still pays.
    pub fn x264_quality(&self, width: u32, height: u32) -> (f32, u8) {
        let px = width as u64 * height as u64;
        let full_chroma = self.encoder == EncoderKind::X264Yuv444;
        let (crf, first_qp) = match (px, full_chroma) {
            (..=76_800, false) => (16.0, 12),
            (..=76_800, true) => (16.0, 14),
            (..=307_200, false) => (18.0, 12),
            (..=307_200, true) => (18.0, 16),
            (_, false) => (20.0, 16),
            (_, true) => (20.0, 18),
        };
        let crf = if self.crf > 0.0 { self.crf } else { crf };
        let first_qp = if self.first_qp > 0 {
            self.first_qp.min(51)
        } else {
            first_qp
        };
        (crf, first_qp)
    }

    /// x264's speed preset: `veryfast` encodes 720p at about OpenH264's speed, 3–4× faster
    /// than `medium`; frame 0 has a fixed quantiser, so the preset changes its size, not its
    /// fidelity.
    pub fn x264_preset(&self) -> &'static str {
        "veryfast"
    }
}

/// A coded frame: Annex-B bytes and whether it is a keyframe.
pub(crate) struct Packet {
    pub data: Vec<u8>,
    pub key: bool,
}

/// The encoder a writer drives, whichever it is.
pub(crate) enum VideoEncoder {
    OpenH264(Box<H264Encoder>),
    #[cfg(feature = "ffmpeg")]
    X264(Box<super::x264::X264Encoder>),
}

impl VideoEncoder {
    /// Starts the encoder `settings.encoder` names, or says why this build has none.
    pub fn new(width: u32, height: u32, settings: EncodeSettings) -> Result<Self> {
        settings.encoder.check_built()?;
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(MediaError::InvalidArgument(format!(
                "the encoder needs even, non-zero dimensions, got {width}x{height}"
            )));
        }
        match settings.encoder {
            #[cfg(feature = "ffmpeg")]
            EncoderKind::X264 | EncoderKind::X264Yuv444 => Ok(VideoEncoder::X264(Box::new(
                super::x264::X264Encoder::new(width, height, settings)?,
            ))),
            _ => Ok(VideoEncoder::OpenH264(Box::new(H264Encoder::new(
                width, height, settings,
            )?))),
        }
    }

    /// Encodes one frame; the coded frames ready now are appended to `out`.
    pub fn encode(&mut self, frame: &RgbFrame, out: &mut Vec<Packet>) -> Result<()> {
        match self {
            VideoEncoder::OpenH264(e) => {
                let mut data = Vec::new();
                let key = e.encode(frame, &mut data)?;
                out.push(Packet { data, key });
                Ok(())
            }
            #[cfg(feature = "ffmpeg")]
            VideoEncoder::X264(e) => e.encode(frame, out),
        }
    }

    /// Ends the stream; frames the encoder still holds are appended to `out`.
    pub fn finish(&mut self, out: &mut Vec<Packet>) -> Result<()> {
        match self {
            VideoEncoder::OpenH264(_) => {
                let _ = out;
                Ok(())
            }
            #[cfg(feature = "ffmpeg")]
            VideoEncoder::X264(e) => e.finish(out),
        }
    }

    /// The name written into the file's sample description.
    pub fn label(&self) -> &'static str {
        match self {
            VideoEncoder::OpenH264(_) => "retake (OpenH264)",
            #[cfg(feature = "ffmpeg")]
            VideoEncoder::X264(_) => "retake (x264)",
        }
    }
}

/// An H.264 encoder for one output size.
pub struct H264Encoder {
    inner: Encoder,
    width: u32,
    height: u32,
    yuv: I420,
}

impl H264Encoder {
    /// Starts an encoder for frames of exactly `width`×`height` (both even).
    pub fn new(width: u32, height: u32, settings: EncodeSettings) -> Result<Self> {
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(MediaError::InvalidArgument(format!(
                "the encoder needs even, non-zero dimensions, got {width}x{height}"
            )));
        }
        let bitrate =
            (width as f64 * height as f64 * settings.fps as f64 * settings.bits_per_pixel as f64)
                .clamp(100_000.0, 50_000_000.0) as u32;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get().min(4))
            .unwrap_or(1) as u16;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(openh264::encoder::BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(settings.fps as f32))
            .skip_frames(false)
            .qp(QpRange::new(MIN_QP, settings.quality_cap(width, height)))
            .complexity(Complexity::Medium)
            .intra_frame_period(IntraFramePeriod::from_num_frames(
                settings.keyframe_interval.max(1),
            ))
            .num_threads(threads)
            .vui(VuiConfig::bt709());
        let mut inner = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MediaError::Encode(format!("cannot start the encoder: {e}")))?;
        // OpenH264 logs warnings to stderr while it initialises (on the first frame), before
        // the wrapper lowers its trace level; lower it now, as ffmpeg does. Failures still
        // come back as error codes.
        let mut level = openh264_sys2::WELS_LOG_QUIET as std::ffi::c_int;
        // SAFETY: the encoder is live, and the option takes a pointer to an int that OpenH264
        // reads during the call.
        unsafe {
            inner.raw_api().set_option(
                openh264_sys2::ENCODER_OPTION_TRACE_LEVEL,
                (&raw mut level).cast(),
            );
        }
        Ok(Self {
            inner,
            width,
            height,
            yuv: I420 {
                width: 0,
                height: 0,
                data: Vec::new(),
            },
        })
    }

    /// Encodes one frame, replacing `out` with its Annex-B bytes; returns whether it is a
    /// keyframe.
    pub fn encode(&mut self, frame: &RgbFrame, out: &mut Vec<u8>) -> Result<bool> {
        check_frame_size(frame, self.width, self.height)?;
        rgb_to_i420(frame, ColorSpec::OUTPUT, &mut self.yuv);
        let (w, h) = (self.width as usize, self.height as usize);
        let (y, c) = self.yuv.data.split_at(w * h);
        let (u, v) = c.split_at((w / 2) * (h / 2));
        let src = YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        let bits = self
            .inner
            .encode(&src)
            .map_err(|e| MediaError::Encode(e.to_string()))?;
        let kind = bits.frame_type();
        out.clear();
        bits.write_vec(out);
        if out.is_empty() || matches!(kind, FrameType::Skip | FrameType::Invalid) {
            return Err(MediaError::Encode(format!(
                "the encoder produced no data for a frame (frame type {kind:?})"
            )));
        }
        Ok(kind == FrameType::IDR)
    }
}

/// Refuses a frame whose size is not the one the encoder was set up for (both encoders).
pub(super) fn check_frame_size(frame: &RgbFrame, width: u32, height: u32) -> Result<()> {
    if frame.width() != width || frame.height() != height {
        return Err(MediaError::InvalidArgument(format!(
            "frame is {}x{} but the encoder was set up for {}x{}",
            frame.width(),
            frame.height(),
            width,
            height
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoder_refuses_a_frame_of_another_size() {
        let mut kinds = vec![EncoderKind::OpenH264];
        if cfg!(feature = "ffmpeg") {
            kinds.extend([EncoderKind::X264, EncoderKind::X264Yuv444]);
        }
        for encoder in kinds {
            let settings = EncodeSettings {
                encoder,
                ..EncodeSettings::default()
            };
            let mut e = VideoEncoder::new(64, 48, settings).unwrap();
            let err = e
                .encode(&RgbFrame::filled(32, 32, [0, 0, 0]), &mut Vec::new())
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid argument: frame is 32x32 but the encoder was set up for 64x48",
                "{encoder:?}"
            );
        }
    }
}
