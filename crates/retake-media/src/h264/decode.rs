//! H.264 decoding with OpenH264 (or, with the `ffmpeg` feature, FFmpeg for the 4:4:4 and
//! 4:2:2 streams OpenH264 cannot read), keeping each picture's identity through B-frame
//! reordering.

use std::ptr::null_mut;

use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::OpenH264API;
use openh264_sys2::{
    SBufferInfo, DECODER_OPTION_ERROR_CON_IDC, DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER,
};

use super::sps::{parse_avcc, parse_sps, Sps};
use crate::{MediaError, Result};

/// One decoded picture in tight I420 layout.
pub struct Picture {
    /// The tag passed with the sample this picture came from (we use the sample index).
    pub tag: u64,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Chroma subsampling as shifts: (1, 1) for 4:2:0, (1, 0) for 4:2:2, (0, 0) for 4:4:4.
    pub chroma_shift: (u32, u32),
    /// Luma plane, `width * height`.
    pub y: Vec<u8>,
    /// Cb plane, [`Picture::chroma_width`] by `ceil(height / 2^chroma_shift.1)`.
    pub u: Vec<u8>,
    /// Cr plane, same size as `u`.
    pub v: Vec<u8>,
}

impl Picture {
    /// Chroma plane width.
    pub fn chroma_width(&self) -> usize {
        self.width.div_ceil(1 << self.chroma_shift.0)
    }
}

/// The library that decodes.
enum Backend {
    OpenH264(Box<Decoder>),
    #[cfg(feature = "ffmpeg")]
    Ffmpeg(Box<super::ffdecode::FfDecoder>),
}

/// An H.264 decoder fed with MP4 samples (length-prefixed NAL units).
pub struct H264Decoder {
    inner: Backend,
    length_size: usize,
    /// SPS and PPS as Annex-B, sent before the first sample.
    header: Vec<u8>,
    header_sent: bool,
    sps: Sps,
    annexb: Vec<u8>,
}

impl H264Decoder {
    /// Creates a decoder from an `avcC` record, refusing streams OpenH264 cannot decode.
    pub fn new(avcc: &[u8]) -> Result<Self> {
        let config = parse_avcc(avcc)?;
        let (sps_list, pps_list, length_size) = (config.sps, config.pps, config.length_size);
        let sps = parse_sps(&sps_list[0])?;
        if let Some(reason) = sps.unsupported_reason() {
            return Err(MediaError::UnsupportedCodec(reason));
        }
        let mut header = Vec::new();
        for nal in sps_list.iter().chain(&pps_list) {
            header.extend_from_slice(&[0, 0, 0, 1]);
            header.extend_from_slice(nal);
        }
        #[cfg(feature = "ffmpeg")]
        if sps.needs_ffmpeg() {
            return Ok(Self {
                inner: Backend::Ffmpeg(Box::new(super::ffdecode::FfDecoder::new()?)),
                length_size,
                header,
                header_sent: false,
                sps,
                annexb: Vec::new(),
            });
        }
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let mut inner = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MediaError::Decode(format!("cannot start the decoder: {e}")))?;
        // Error concealment off: a damaged frame is reported and dropped rather than shown
        // with garbage blocks; the retimer fills the gap from a neighbouring frame.
        let mut ec: i32 = 0;
        // SAFETY: the option id and pointer type match OpenH264's documented signature.
        unsafe {
            inner
                .raw_api()
                .set_option(DECODER_OPTION_ERROR_CON_IDC, (&raw mut ec).cast());
        }
        Ok(Self {
            inner: Backend::OpenH264(Box::new(inner)),
            length_size,
            header,
            header_sent: false,
            sps,
            annexb: Vec::new(),
        })
    }

    /// Whether an MP4 sample holds an IDR picture (NAL unit type 5): one that nothing before
    /// it in decoding order is needed for, so decoding can start there.
    pub fn is_idr(&self, sample: &[u8]) -> bool {
        nal_units(sample, self.length_size)
            .map_while(Result::ok)
            .any(|nal| nal.first().is_some_and(|&header| header & 0x1f == 5))
    }

    /// The stream's sequence parameters.
    pub fn sps(&self) -> &Sps {
        &self.sps
    }

    /// Decodes one sample. Pictures that come out (possibly of earlier samples, in display
    /// order) are appended to `out`. An `Err` means this sample was damaged; decoding can go on.
    pub fn decode(&mut self, sample: &[u8], tag: u64, out: &mut Vec<Picture>) -> Result<()> {
        self.annexb.clear();
        if !self.header_sent {
            self.annexb.extend_from_slice(&self.header);
            self.header_sent = true;
        }
        for nal in nal_units(sample, self.length_size) {
            self.annexb.extend_from_slice(&[0, 0, 0, 1]);
            self.annexb.extend_from_slice(nal?);
        }
        // One arm without the `ffmpeg` feature, two with it.
        #[allow(clippy::infallible_destructuring_match)]
        let inner = match &mut self.inner {
            Backend::OpenH264(d) => d,
            #[cfg(feature = "ffmpeg")]
            Backend::Ffmpeg(d) => return d.decode(&self.annexb, tag, out),
        };
        let mut dst = [null_mut::<u8>(); 3];
        let mut info = SBufferInfo {
            uiInBsTimeStamp: tag,
            ..Default::default()
        };
        // SAFETY: pointers are valid for the call; OpenH264 fills `dst`/`info`.
        let state = unsafe {
            inner.raw_api().decode_frame_no_delay(
                self.annexb.as_ptr(),
                self.annexb.len() as i32,
                dst.as_mut_ptr(),
                &raw mut info,
            )
        };
        if let Some(p) = picture_from(&dst, &info) {
            out.push(p);
        }
        if state != 0 {
            return Err(MediaError::Decode(format!(
                "the decoder reported error state {state:#x} on this frame"
            )));
        }
        Ok(())
    }

    /// Drains the pictures still held for reordering.
    pub fn flush(&mut self, out: &mut Vec<Picture>) {
        // One arm without the `ffmpeg` feature, two with it.
        #[allow(clippy::infallible_destructuring_match)]
        let inner = match &mut self.inner {
            Backend::OpenH264(d) => d,
            #[cfg(feature = "ffmpeg")]
            Backend::Ffmpeg(d) => return d.flush(out),
        };
        let mut remaining: i32 = 0;
        // SAFETY: matching option id and pointer type.
        unsafe {
            inner.raw_api().get_option(
                DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER,
                (&raw mut remaining).cast(),
            );
        }
        for _ in 0..remaining.max(0) {
            let mut dst = [null_mut::<u8>(); 3];
            let mut info = SBufferInfo::default();
            // SAFETY: as above.
            unsafe {
                inner.raw_api().flush_frame(dst.as_mut_ptr(), &raw mut info);
            }
            if let Some(p) = picture_from(&dst, &info) {
                out.push(p);
            }
        }
    }
}

/// The NAL units of an MP4 sample (each prefixed by its length in `length_size` bytes), in
/// order; an `Err` for a length or a unit cut short, after which there are no more.
fn nal_units(sample: &[u8], length_size: usize) -> impl Iterator<Item = Result<&[u8]>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= sample.len() {
            return None;
        }
        let Some(len_bytes) = sample.get(pos..pos + length_size) else {
            pos = sample.len();
            return Some(Err(MediaError::Decode(
                "a frame's NAL length is cut short".into(),
            )));
        };
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        pos += length_size;
        let Some(nal) = sample.get(pos..pos + len) else {
            let left = sample.len() - pos;
            pos = sample.len();
            return Some(Err(MediaError::Decode(format!(
                "a NAL unit claims {len} bytes but the frame has {left} left"
            ))));
        };
        pos += len;
        Some(Ok(nal))
    })
}

/// Copies a picture out of OpenH264's buffers, if one is ready.
fn picture_from(dst: &[*mut u8; 3], info: &SBufferInfo) -> Option<Picture> {
    if info.iBufferStatus != 1 || dst.iter().any(|p| p.is_null()) {
        return None;
    }
    // SAFETY: with iBufferStatus == 1 the union holds the system buffer description.
    let buf = unsafe { info.UsrData.sSystemBuffer };
    let (w, h) = (buf.iWidth.max(0) as usize, buf.iHeight.max(0) as usize);
    let (ys, cs) = (
        buf.iStride[0].max(0) as usize,
        buf.iStride[1].max(0) as usize,
    );
    if w == 0 || h == 0 || ys < w || cs < w.div_ceil(2) {
        return None;
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let copy = |ptr: *mut u8, stride: usize, width: usize, rows: usize| {
        let mut plane = Vec::with_capacity(width * rows);
        for r in 0..rows {
            // SAFETY: OpenH264 guarantees `rows` rows of `stride` bytes behind each pointer.
            let row = unsafe { std::slice::from_raw_parts(ptr.add(r * stride), width) };
            plane.extend_from_slice(row);
        }
        plane
    };
    Some(Picture {
        tag: info.uiOutYuvTimeStamp,
        width: w,
        height: h,
        chroma_shift: (1, 1),
        y: copy(dst[0], ys, w, h),
        u: copy(dst[1], cs, cw, ch),
        v: copy(dst[2], cs, cw, ch),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_splits_into_its_nal_units_and_says_where_it_is_cut_short() {
        let ok = [0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41];
        let units: Vec<&[u8]> = nal_units(&ok, 4).map(|n| n.unwrap()).collect();
        assert_eq!(units, [&[0x65, 1][..], &[0x41][..]]);
        let long = [0, 3, 0x65, 1];
        let err: Vec<String> = nal_units(&long, 2)
            .map(|n| n.unwrap_err().to_string())
            .collect();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].contains("a NAL unit claims 3 bytes but the frame has 2 left"),
            "{err:?}"
        );
        let short = [0, 0, 0, 1, 0x41, 0, 0];
        let got: Vec<_> = nal_units(&short, 4).collect();
        assert!(got[0].is_ok() && got.len() == 2);
        let e = got[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("a frame's NAL length is cut short"), "{e}");
    }
}
