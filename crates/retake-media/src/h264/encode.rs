//! H.264 encoding with OpenH264: RGB frames in, Annex-B access units out.

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

/// Encoder settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeSettings {
    /// Frames per second (we always write 24).
    pub fps: u32,
    /// Target bits per pixel per frame; 0.12 gives about 2.6 Mb/s at 1280×720, 24 fps.
    pub bits_per_pixel: f32,
    /// A keyframe every this many frames, so players can seek.
    pub keyframe_interval: u32,
    /// Highest quantiser the rate control may use (12–51; lower is finer), a quality floor:
    /// where a frame needs more bits than `bits_per_pixel` gives to stay under it, it gets
    /// them, so detailed footage costs more bytes instead of losing the detail a user painted.
    /// 0 (the default) picks it from the frame size ([`EncodeSettings::quality_cap`]).
    pub max_qp: u8,
}

impl Default for EncodeSettings {
    fn default() -> Self {
        Self {
            fps: 24,
            bits_per_pixel: 0.12,
            keyframe_interval: 48,
            max_qp: 0,
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
        if frame.width() != self.width || frame.height() != self.height {
            return Err(MediaError::InvalidArgument(format!(
                "frame is {}x{} but the encoder was set up for {}x{}",
                frame.width(),
                frame.height(),
                self.width,
                self.height
            )));
        }
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
