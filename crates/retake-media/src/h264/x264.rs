//! H.264 encoding with libx264 through FFmpeg (the optional `ffmpeg` feature): RGB frames in,
//! Annex-B access units out, for the same muxer OpenH264's output goes through.
//!
//! Rate control is quality-targeted: a constant rate factor for the clip, and a fixed, finer
//! quantiser for frame 0, the frame the user edited (x264's `zones`). No B-frames, so frames
//! come out in the order they went in (the muxer writes pts = dts).

use std::sync::Once;

use ffmpeg_next as ff;

use super::encode::{check_frame_size, EncodeSettings, EncoderKind, Packet};
use crate::color::{rgb_to_i420, rgb_to_i444, ColorSpec, I420};
use crate::{MediaError, Result, RgbFrame};

/// Quieten FFmpeg's log (libx264 prints its settings and statistics at `info`); errors still
/// come back as return codes.
pub(crate) fn quiet_ffmpeg() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| ff::util::log::set_level(ff::util::log::Level::Error));
}

fn encode_error(what: &str, e: ff::Error) -> MediaError {
    MediaError::Encode(format!("x264: {what}: {e}"))
}

/// An x264 encoder for one output size.
pub(crate) struct X264Encoder {
    inner: ff::encoder::Video,
    frame: ff::frame::Video,
    full_chroma: bool,
    width: u32,
    height: u32,
    next_pts: i64,
    yuv420: I420,
    yuv444: Vec<u8>,
    packet: ff::Packet,
}

impl X264Encoder {
    /// Starts an encoder for `width`×`height` frames (both even).
    pub fn new(width: u32, height: u32, settings: EncodeSettings) -> Result<Self> {
        quiet_ffmpeg();
        let full_chroma = settings.encoder == EncoderKind::X264Yuv444;
        let codec = ff::encoder::find_by_name("libx264").ok_or_else(|| {
            MediaError::Encode(
                "this FFmpeg has no libx264 encoder; install Debian's libavcodec59 with \
                 libx264 (`apt-get install libavcodec-dev libx264-164`) or use \
                 `--encoder openh264`"
                    .into(),
            )
        })?;
        let mut enc = ff::codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| encode_error("cannot set up the encoder", e))?;
        let pixel = if full_chroma {
            ff::format::Pixel::YUV444P
        } else {
            ff::format::Pixel::YUV420P
        };
        let fps = settings.fps.max(1) as i32;
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(pixel);
        enc.set_time_base(ff::Rational::new(1, fps));
        enc.set_frame_rate(Some(ff::Rational::new(fps, 1)));
        enc.set_gop(settings.keyframe_interval.max(1));
        enc.set_max_b_frames(0);
        enc.set_colorspace(ff::color::Space::BT709);
        enc.set_color_range(ff::color::Range::MPEG);
        enc.set_color_primaries(ff::color::Primaries::BT709);
        enc.set_color_transfer_characteristic(ff::color::TransferCharacteristic::BT709);
        let (crf, first_qp) = settings.x264_quality(width, height);
        let mut options = ff::Dictionary::new();
        options.set("preset", settings.x264_preset());
        options.set("profile", if full_chroma { "high444" } else { "high" });
        options.set("crf", &format!("{crf:.1}"));
        // Frame 0 is the user's edited frame: a fixed quantiser keeps its detail whatever the
        // rate control would give an intra frame. B-frames off: the muxer writes pts = dts.
        // Scene cuts may add keyframes, which the muxer marks as sync samples.
        options.set(
            "x264-params",
            &format!(
                "zones=0,0,q={first_qp}:bframes=0:min-keyint={}",
                settings.keyframe_interval.clamp(1, 24)
            ),
        );
        let inner = enc
            .open_with(options)
            .map_err(|e| encode_error("cannot start the encoder", e))?;
        Ok(Self {
            inner,
            frame: ff::frame::Video::new(pixel, width, height),
            full_chroma,
            width,
            height,
            next_pts: 0,
            yuv420: I420 {
                width: 0,
                height: 0,
                data: Vec::new(),
            },
            yuv444: Vec::new(),
            packet: ff::Packet::empty(),
        })
    }

    /// Sends one frame; coded frames that are ready are appended to `out` (x264 holds a few
    /// frames for its look-ahead, so the first ones come out later).
    pub fn encode(&mut self, frame: &RgbFrame, out: &mut Vec<Packet>) -> Result<()> {
        check_frame_size(frame, self.width, self.height)?;
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = if self.full_chroma {
            rgb_to_i444(frame, ColorSpec::OUTPUT, &mut self.yuv444);
            (w, h)
        } else {
            rgb_to_i420(frame, ColorSpec::OUTPUT, &mut self.yuv420);
            (w / 2, h / 2)
        };
        let planes: &[u8] = if self.full_chroma {
            &self.yuv444
        } else {
            &self.yuv420.data
        };
        let (y, c) = planes.split_at(w * h);
        let (u, v) = c.split_at(cw * ch);
        for (i, (src, pw, ph)) in [(y, w, h), (u, cw, ch), (v, cw, ch)]
            .into_iter()
            .enumerate()
        {
            let stride = self.frame.stride(i);
            let dst = self.frame.data_mut(i);
            for row in 0..ph {
                dst[row * stride..row * stride + pw].copy_from_slice(&src[row * pw..][..pw]);
            }
        }
        self.frame.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.inner
            .send_frame(&self.frame)
            .map_err(|e| encode_error("a frame was refused", e))?;
        self.drain(out)
    }

    /// Ends the stream: the frames still held come out into `out`.
    pub fn finish(&mut self, out: &mut Vec<Packet>) -> Result<()> {
        self.inner
            .send_eof()
            .map_err(|e| encode_error("cannot end the stream", e))?;
        self.drain(out)
    }

    fn drain(&mut self, out: &mut Vec<Packet>) -> Result<()> {
        loop {
            match self.inner.receive_packet(&mut self.packet) {
                Ok(()) => {
                    let data = self.packet.data().unwrap_or_default().to_vec();
                    if data.is_empty() {
                        return Err(MediaError::Encode("x264 produced an empty frame".into()));
                    }
                    out.push(Packet {
                        data,
                        key: self.packet.is_key(),
                    });
                }
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(ff::Error::Eof) => return Ok(()),
                Err(e) => return Err(encode_error("encoding failed", e)),
            }
        }
    }
}
