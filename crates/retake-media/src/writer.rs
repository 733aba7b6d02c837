//! Streaming output: RGB frames in, a browser-playable 24 fps H.264 MP4 out, with the
//! source's AAC audio copied unchanged and interleaved by time.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::demux::Sample;
use crate::h264::encode::{EncodeSettings, Packet, VideoEncoder};
use crate::mux::{AudioTrackConfig, Mp4Writer, VideoTrackConfig};
use crate::reader::AudioSource;
use crate::{MediaError, Result, RgbFrame};

/// Audio samples still to copy, read from the source file as the video catches up.
struct AudioCopy {
    file: File,
    path: std::path::PathBuf,
    samples: Vec<Sample>,
    next: usize,
    /// Seconds from the audio media start to the output's time 0: delay minus priming.
    offset_s: f64,
    timescale: f64,
    buf: Vec<u8>,
}

impl AudioCopy {
    /// Presentation time (output seconds) at which sample `i` starts.
    fn start_s(&self, i: usize) -> f64 {
        self.samples[i].dts as f64 / self.timescale + self.offset_s
    }

    /// Copies every sample that starts before `until_s`.
    fn copy_until(&mut self, until_s: f64, mux: &mut Mp4Writer) -> Result<()> {
        while self.next < self.samples.len() && self.start_s(self.next) < until_s {
            let s = self.samples[self.next];
            self.buf.resize(s.size as usize, 0);
            self.file
                .seek(SeekFrom::Start(s.offset))
                .and_then(|_| self.file.read_exact(&mut self.buf))
                .map_err(|e| MediaError::io(&self.path, e))?;
            mux.write_audio(&self.buf, s.duration)?;
            self.next += 1;
        }
        Ok(())
    }
}

/// Writes frames to an MP4. Nothing appears at the final path until [`VideoWriter::finish`].
pub struct VideoWriter {
    encoder: VideoEncoder,
    mux: Mp4Writer,
    audio: Option<AudioCopy>,
    fps: u32,
    /// Frames pushed.
    frames: u64,
    /// Frames written to the file (the encoder may hold a few for its look-ahead).
    written: u64,
    packets: Vec<Packet>,
}

impl VideoWriter {
    /// Starts writing `width`×`height` frames to `path`, copying `audio` if given.
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        audio: Option<&AudioSource>,
        settings: EncodeSettings,
    ) -> Result<Self> {
        let encoder = VideoEncoder::new(width, height, settings)?;
        let audio_config = audio.map(|a| AudioTrackConfig {
            sample_rate: a.track.timescale,
            channels: a.track.channels,
            decoder_specific_info: a.track.decoder_specific_info.clone(),
            object_type_indication: a.track.object_type_indication.unwrap_or(0x40),
            avg_bitrate: a.track.avg_bitrate,
            max_bitrate: a.track.max_bitrate,
            buffer_size_db: a.track.buffer_size_db,
            skip_samples: a.track.skip,
            delay_ms: (a.track.delay_s * 1000.0).round().max(0.0) as u64,
        });
        let audio_copy = match audio {
            Some(a) => Some(AudioCopy {
                file: File::open(&a.path).map_err(|e| MediaError::io(&a.path, e))?,
                path: a.path.clone(),
                samples: a.track.samples.clone(),
                next: 0,
                offset_s: a.track.delay_s - a.track.skip as f64 / a.track.timescale.max(1) as f64,
                timescale: a.track.timescale.max(1) as f64,
                buf: Vec::new(),
            }),
            None => None,
        };
        let mut mux = Mp4Writer::create(
            path,
            VideoTrackConfig {
                width,
                height,
                fps: settings.fps,
            },
            audio_config,
        )?;
        mux.set_compressor_name(encoder.label());
        Ok(Self {
            encoder,
            mux,
            audio: audio_copy,
            fps: settings.fps,
            frames: 0,
            written: 0,
            packets: Vec::new(),
        })
    }

    /// Encodes and writes the next frame.
    pub fn push(&mut self, frame: &RgbFrame) -> Result<()> {
        self.encoder.encode(frame, &mut self.packets)?;
        self.frames += 1;
        self.write_packets()
    }

    /// Writes the coded frames the encoder has given back, each after the audio that starts
    /// before it.
    fn write_packets(&mut self) -> Result<()> {
        for p in std::mem::take(&mut self.packets) {
            let now = self.written as f64 / self.fps as f64;
            if let Some(a) = self.audio.as_mut() {
                a.copy_until(now, &mut self.mux)?;
            }
            self.mux.write_video(&p.data, p.key)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes the remaining audio, completes the file and moves it into place.
    pub fn finish(mut self) -> Result<()> {
        if self.frames == 0 {
            return Err(MediaError::InvalidArgument(
                "no frames were written; refusing to create an empty video".into(),
            ));
        }
        self.encoder.finish(&mut self.packets)?;
        self.write_packets()?;
        if self.written != self.frames {
            return Err(MediaError::Encode(format!(
                "the encoder gave back {} of {} frames",
                self.written, self.frames
            )));
        }
        let end = self.frames as f64 / self.fps as f64;
        if let Some(a) = self.audio.as_mut() {
            // Audio past the video's end is cut by the edit list anyway; one extra frame's
            // worth keeps the decoder's last frame whole.
            a.copy_until(end + 0.05, &mut self.mux)?;
        }
        self.mux.finish()
    }
}
