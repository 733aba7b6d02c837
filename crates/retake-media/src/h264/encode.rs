//! H.264 encoding with OpenH264: RGB frames in, Annex-B access units out.

use openh264::encoder::{
    Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;

use crate::color::{rgb_to_i420, ColorSpec, I420};
use crate::{MediaError, Result, RgbFrame};

/// Encoder settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeSettings {
    /// Frames per second (we always write 24).
    pub fps: u32,
    /// Target bits per pixel per frame; 0.12 gives about 2.6 Mb/s at 1280×720, 24 fps.
    pub bits_per_pixel: f32,
    /// A keyframe every this many frames, so players can seek.
    pub keyframe_interval: u32,
}

impl Default for EncodeSettings {
    fn default() -> Self {
        Self {
            fps: 24,
            bits_per_pixel: 0.12,
            keyframe_interval: 48,
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
