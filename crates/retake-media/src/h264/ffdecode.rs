//! H.264 decoding with FFmpeg (the optional `ffmpeg` feature), for the 8-bit progressive
//! streams OpenH264 cannot read: 4:4:4 (what `--encoder x264-444` writes) and 4:2:2.

use ffmpeg_next as ff;

use super::decode::Picture;
use crate::{MediaError, Result};

fn decode_error(what: &str, e: ff::Error) -> MediaError {
    MediaError::Decode(format!("FFmpeg: {what}: {e}"))
}

/// An FFmpeg H.264 decoder fed with Annex-B access units.
pub(crate) struct FfDecoder {
    inner: ff::decoder::Video,
    frame: ff::frame::Video,
}

impl FfDecoder {
    pub fn new() -> Result<Self> {
        super::x264::quiet_ffmpeg();
        let codec = ff::decoder::find(ff::codec::Id::H264)
            .ok_or_else(|| MediaError::Decode("this FFmpeg has no H.264 decoder".into()))?;
        let inner = ff::codec::context::Context::new_with_codec(codec)
            .decoder()
            .video()
            .map_err(|e| decode_error("cannot start the decoder", e))?;
        Ok(Self {
            inner,
            frame: ff::frame::Video::empty(),
        })
    }

    /// Decodes one access unit tagged `tag`; pictures that come out (in display order) are
    /// appended to `out`.
    pub fn decode(&mut self, annexb: &[u8], tag: u64, out: &mut Vec<Picture>) -> Result<()> {
        let mut packet = ff::Packet::copy(annexb);
        packet.set_pts(Some(tag as i64));
        packet.set_dts(Some(tag as i64));
        let sent = self.inner.send_packet(&packet);
        self.drain(out)?;
        sent.map_err(|e| decode_error("a frame could not be decoded", e))
    }

    /// Drains the pictures still held for reordering.
    pub fn flush(&mut self, out: &mut Vec<Picture>) {
        if self.inner.send_eof().is_ok() {
            // A damaged tail has been reported frame by frame already.
            let _ = self.drain(out);
        }
    }

    fn drain(&mut self, out: &mut Vec<Picture>) -> Result<()> {
        while self.inner.receive_frame(&mut self.frame).is_ok() {
            out.push(self.picture()?);
        }
        Ok(())
    }

    fn picture(&self) -> Result<Picture> {
        let f = &self.frame;
        let shift = match f.format() {
            ff::format::Pixel::YUV420P | ff::format::Pixel::YUVJ420P => (1, 1),
            ff::format::Pixel::YUV422P | ff::format::Pixel::YUVJ422P => (1, 0),
            ff::format::Pixel::YUV444P | ff::format::Pixel::YUVJ444P => (0, 0),
            other => {
                return Err(MediaError::UnsupportedCodec(format!(
                    "H.264 decoded to pixel format {other:?}, which retake does not convert"
                )))
            }
        };
        let (w, h) = (f.width() as usize, f.height() as usize);
        let (cw, ch) = (w.div_ceil(1 << shift.0), h.div_ceil(1 << shift.1));
        let copy = |i: usize, pw: usize, ph: usize| {
            let (stride, data) = (f.stride(i), f.data(i));
            let mut plane = Vec::with_capacity(pw * ph);
            for r in 0..ph {
                plane.extend_from_slice(&data[r * stride..r * stride + pw]);
            }
            plane
        };
        Ok(Picture {
            tag: f.pts().or(f.timestamp()).unwrap_or(0).max(0) as u64,
            width: w,
            height: h,
            chroma_shift: shift,
            y: copy(0, w, h),
            u: copy(1, cw, ch),
            v: copy(2, cw, ch),
        })
    }
}
