//! Streaming input: frames at 24 fps, display orientation and output size, one at a time.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::color::{yuv_to_rgb, ColorSpec, Matrix};
use crate::demux::{AudioTrack, Codec, Demuxer};
use crate::h264::decode::{H264Decoder, Picture};
use crate::probe::{probe_demuxer, unsupported_codec_message, ProbeInfo};
use crate::retime::Retimer;
use crate::transform::{rotate, FrameResizer};
use crate::{Limits, MediaError, Result, RgbFrame};

/// An audio track to copy into the output, with the file it lives in.
#[derive(Clone, Debug)]
pub struct AudioSource {
    /// The source file.
    pub path: PathBuf,
    /// The track (AAC).
    pub track: AudioTrack,
}

/// Reads a clip as RGB frames at exactly 24 fps, upright and at the output size.
pub struct VideoReader {
    demux: Demuxer,
    info: ProbeInfo,
    decoder: H264Decoder,
    /// The stream's `avcC` record, to start a fresh decoder at a seek.
    avcc: Vec<u8>,
    spec: ColorSpec,
    next_sample: usize,
    /// The sample decoding started at (0, or where the last seek put it).
    first_sample: usize,
    retimer: Retimer<Arc<Picture>>,
    ready: VecDeque<(usize, Arc<Picture>)>,
    scratch: Vec<Picture>,
    picked: Vec<(usize, Arc<Picture>)>,
    resizer: FrameResizer,
    decoded: usize,
    damaged: usize,
    last_error: Option<String>,
    flushed: bool,
    buf: Vec<u8>,
}

impl VideoReader {
    /// Opens a clip and checks it against `limits`: file size, duration, dimensions, codec.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self> {
        let size = std::fs::metadata(path)
            .map_err(|e| MediaError::io(path, e))?
            .len();
        limits.check_file_size(size)?;
        let demux = Demuxer::open(path)?;
        let info = probe_demuxer(&demux, limits.output_cap)?;
        let video = demux.video().ok_or(MediaError::NoVideoStream)?;
        let avcc = match &video.codec {
            Codec::H264 { avcc } => avcc.clone(),
            Codec::Other(code) => {
                return Err(MediaError::UnsupportedCodec(unsupported_codec_message(
                    code,
                )))
            }
        };
        if let Some(reason) = &info.video.unsupported {
            return Err(MediaError::UnsupportedCodec(reason.clone()));
        }
        limits.check_dimensions(info.video.width, info.video.height)?;
        limits.check_duration(info.video.duration_s)?;
        let decoder = H264Decoder::new(&avcc)?;
        let sps = decoder.sps();
        let spec = ColorSpec {
            matrix: Matrix::from_vui(sps.matrix, info.video.height),
            full_range: sps.full_range,
        };
        let retimer = Retimer::new(info.output.frames);
        Ok(Self {
            demux,
            info,
            decoder,
            avcc,
            spec,
            next_sample: 0,
            first_sample: 0,
            retimer,
            ready: VecDeque::new(),
            scratch: Vec::new(),
            picked: Vec::new(),
            resizer: FrameResizer::default(),
            decoded: 0,
            damaged: 0,
            last_error: None,
            flushed: false,
            buf: Vec::new(),
        })
    }

    /// What the probe found (including the output size and frame count).
    pub fn info(&self) -> &ProbeInfo {
        &self.info
    }

    /// Number of frames this reader will produce.
    pub fn frame_count(&self) -> usize {
        self.info.output.frames
    }

    /// Output width and height.
    pub fn output_size(&self) -> (u32, u32) {
        (self.info.output.width, self.info.output.height)
    }

    /// Presentation times (seconds from the first frame shown) of the source's frames, in
    /// presentation order: entry *i* is source frame *i*.
    pub fn source_times(&self) -> Vec<f64> {
        let Some(v) = self.demux.video() else {
            return Vec::new();
        };
        let ts = v.timescale.max(1) as f64;
        let mut pts: Vec<i64> = v.samples.iter().map(|s| s.pts).collect();
        pts.sort_unstable();
        pts.into_iter().map(|p| p as f64 / ts).collect()
    }

    /// The output frame that source frame `index` (in presentation order) falls on, or `None`
    /// past the source's last frame.
    pub fn output_index_of_source(&self, index: usize) -> Option<usize> {
        let t = *self.source_times().get(index)?;
        Some(crate::retime::output_index_at(t, self.frame_count()))
    }

    /// Source frames that could not be decoded so far (gaps are filled from neighbours).
    pub fn damaged_frames(&self) -> usize {
        self.damaged
    }

    /// The source's audio, if it can be copied into the output (AAC).
    pub fn audio_source(&self) -> Option<AudioSource> {
        self.demux
            .audio()
            .filter(|a| a.is_aac())
            .map(|a| AudioSource {
                path: self.demux_path(),
                track: a.clone(),
            })
    }

    fn demux_path(&self) -> PathBuf {
        self.demux.path().to_path_buf()
    }

    /// The next output frame, or `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<RgbFrame>> {
        match self.next_picture()? {
            Some(pic) => self.convert(&pic).map(Some),
            None => Ok(None),
        }
    }

    /// Output frame `index`; reading goes on from the frame after it. Going forwards, it
    /// reads on from where the reader is (decoding the frames in between without converting
    /// them) unless a seek (see [`VideoReader::seek`]) starts decoding further on.
    pub fn frame_at(&mut self, index: usize) -> Result<RgbFrame> {
        self.check_index(index)?;
        let start = self.seek_point(index)?;
        if index < self.next_index() || start > self.next_sample {
            self.restart(start, index)?;
        }
        while self.next_index() < index {
            if !self.skip_frame()? {
                break;
            }
        }
        self.next_frame()?
            .ok_or_else(|| MediaError::Decode(format!("the clip ended before frame {index}")))
    }

    /// Passes over the next output frame without making its picture (decoding it still
    /// takes its time); `false` after the last.
    pub fn skip_frame(&mut self) -> Result<bool> {
        Ok(self.next_picture()?.is_some())
    }

    fn next_picture(&mut self) -> Result<Option<Arc<Picture>>> {
        loop {
            if let Some((_, pic)) = self.ready.pop_front() {
                return Ok(Some(pic));
            }
            if self.flushed {
                return Ok(None);
            }
            self.feed()?;
        }
    }

    /// Makes output frame `index` the next one `next_frame` gives. Decoding starts again at
    /// the last IDR frame that frame can be decoded from on its own (an IDR frame at or before
    /// its time, with no frame after it in decoding order shown before it), or at the start
    /// of the clip if there is none; the frames in between are decoded but not converted.
    /// Returns the number of source frames passed over without decoding.
    pub fn seek(&mut self, index: usize) -> Result<usize> {
        self.check_index(index)?;
        let start = self.seek_point(index)?;
        self.restart(start, index)?;
        Ok(start)
    }

    /// The output frame `next_frame` gives next: those the retimer has given out, less those
    /// still queued.
    fn next_index(&self) -> usize {
        self.retimer.emitted() - self.ready.len()
    }

    /// Refuses an output frame past the last.
    fn check_index(&self, index: usize) -> Result<()> {
        let total = self.frame_count();
        if index >= total {
            return Err(MediaError::InvalidArgument(format!(
                "frame {index} is past the clip's last frame; it has {total} frames (0 to {})",
                total.saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// Starts decoding again at sample `start`, with output frame `index` next.
    fn restart(&mut self, start: usize, index: usize) -> Result<()> {
        // A reader that has decoded nothing yet keeps its decoder.
        if start != 0 || self.next_sample != 0 {
            self.decoder = H264Decoder::new(&self.avcc)?;
        }
        self.next_sample = start;
        self.first_sample = start;
        self.retimer = Retimer::starting_at(index, self.frame_count());
        self.ready.clear();
        self.picked.clear();
        self.scratch.clear();
        self.decoded = 0;
        self.damaged = 0;
        self.last_error = None;
        self.flushed = false;
        Ok(())
    }

    /// The sample (decoding order) to start decoding at for output frame `index`.
    fn seek_point(&mut self, index: usize) -> Result<usize> {
        let Some(video) = self.demux.video() else {
            return Ok(0);
        };
        let t = index as f64 / crate::retime::OUTPUT_FPS as f64;
        let timescale = video.timescale.max(1) as f64;
        let samples = &video.samples;
        // The earliest presentation time from each sample on, and the latest before it, in
        // decoding order: decoding from a sample gives exactly the frames shown from it on
        // only where it is shown after all before it and before all after it.
        let mut earliest = vec![i64::MAX; samples.len() + 1];
        for i in (0..samples.len()).rev() {
            earliest[i] = earliest[i + 1].min(samples[i].pts);
        }
        let mut latest = vec![i64::MIN; samples.len() + 1];
        for i in 0..samples.len() {
            latest[i + 1] = latest[i].max(samples[i].pts);
        }
        // Latest first; the first that holds an IDR picture is the one.
        let candidates: Vec<_> = (1..samples.len())
            .rev()
            .map(|i| (i, samples[i]))
            .filter(|&(i, s)| {
                s.sync && s.pts as f64 / timescale <= t && earliest[i] >= s.pts && latest[i] < s.pts
            })
            .collect();
        let mut buf = std::mem::take(&mut self.buf);
        let mut found = 0;
        for (i, s) in candidates {
            self.demux.read_sample(&s, &mut buf)?;
            if self.decoder.is_idr(&buf) {
                found = i;
                break;
            }
        }
        self.buf = buf;
        Ok(found)
    }

    /// Decodes one more sample (or flushes at the end) and queues the output frames it yields.
    fn feed(&mut self) -> Result<()> {
        let total = self.demux.video().map_or(0, |v| v.samples.len());
        if self.next_sample < total {
            let i = self.next_sample;
            self.next_sample += 1;
            let sample = self.demux.video().map(|v| v.samples[i]);
            if let Some(sample) = sample {
                let mut buf = std::mem::take(&mut self.buf);
                self.demux.read_sample(&sample, &mut buf)?;
                if let Err(e) = self.decoder.decode(&buf, i as u64, &mut self.scratch) {
                    self.damaged += 1;
                    self.last_error = Some(match e {
                        MediaError::Decode(m) => m,
                        other => other.to_string(),
                    });
                }
                self.buf = buf;
            }
        } else {
            self.decoder.flush(&mut self.scratch);
            self.flushed = true;
        }
        let timescale = self.demux.video().map_or(1, |v| v.timescale.max(1)) as f64;
        let pictures: Vec<Picture> = self.scratch.drain(..).collect();
        for pic in pictures {
            let pts = self
                .demux
                .video()
                .and_then(|v| v.samples.get(pic.tag as usize))
                .map(|s| s.pts as f64 / timescale);
            if let Some(pts) = pts {
                self.decoded += 1;
                self.retimer.push(pts, Arc::new(pic), &mut self.picked);
            }
        }
        if self.flushed {
            self.check_damage(total)?;
            self.retimer.finish(&mut self.picked);
        }
        self.ready.extend(self.picked.drain(..));
        Ok(())
    }

    fn check_damage(&self, total: usize) -> Result<()> {
        let total = total - self.first_sample.min(total);
        let detail = self.last_error.as_deref().unwrap_or("no picture came out");
        if self.decoded == 0 {
            return Err(MediaError::Decode(format!(
                "none of the {total} frames could be decoded ({detail})"
            )));
        }
        let lost = total.saturating_sub(self.decoded);
        if lost * 2 > total {
            return Err(MediaError::Decode(format!(
                "{lost} of {total} frames could not be decoded ({detail}); the stream is too \
                 damaged to use"
            )));
        }
        Ok(())
    }

    fn convert(&mut self, pic: &Picture) -> Result<RgbFrame> {
        let (w, h) = (pic.width, pic.height);
        let mut rgb = vec![0u8; w * h * 3];
        yuv_to_rgb(
            w,
            h,
            &pic.y,
            w,
            &pic.u,
            &pic.v,
            pic.chroma_width(),
            pic.chroma_shift,
            self.spec,
            &mut rgb,
        );
        let frame = RgbFrame::from_raw(w as u32, h as u32, rgb)?;
        let rotation = self.info.video.rotation;
        let (ow, oh) = self.output_size();
        let (rw, rh) = if rotation % 180 == 90 {
            (oh, ow)
        } else {
            (ow, oh)
        };
        let frame = self.resizer.resize(frame, rw, rh)?;
        Ok(rotate(frame, rotation))
    }
}

impl Iterator for VideoReader {
    type Item = Result<RgbFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().transpose()
    }
}

/// Reads the frame a user will edit: output frame nearest `at_s` seconds, at the output size
/// and orientation, so the edited image lines up with the output exactly.
pub fn extract_frame(path: &Path, at_s: f64, limits: &Limits) -> Result<RgbFrame> {
    let mut reader = VideoReader::open(path, limits)?;
    let last = reader.frame_count().saturating_sub(1);
    if !at_s.is_finite() || at_s < 0.0 {
        return Err(MediaError::InvalidArgument(format!(
            "--at must be a time in seconds from 0 to {:.2}, got {at_s}",
            reader.info().video.duration_s
        )));
    }
    let index = ((at_s * crate::retime::OUTPUT_FPS as f64).round() as usize).min(last);
    reader.frame_at(index)
}
