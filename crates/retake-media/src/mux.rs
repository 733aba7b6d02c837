//! A streaming, faststart MP4 writer: one H.264 video track and an optional AAC track copied
//! unchanged from a source file.
//!
//! Sample data streams into a temporary file as it arrives; only the sample tables stay in
//! memory. `finish` writes `ftyp`, then `moov`, then `mdat` (so browsers can start playing
//! before the download ends) into a second temporary file, syncs it and renames it into
//! place. A writer dropped before `finish` removes its temporaries and never touches the
//! final path.

mod boxes;
mod tables;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::image_io::temp_beside;
use crate::{MediaError, Result};

use boxes::{boxed, MOVIE_TIMESCALE};
use tables::Track;

/// Video track settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoTrackConfig {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Constant integer frame rate.
    pub fps: u32,
}

/// Audio track copied unchanged from a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioTrackConfig {
    /// Sample rate, also the track's media timescale.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// The raw AudioSpecificConfig bytes from the source `esds` (DecSpecificInfo, tag 5).
    pub decoder_specific_info: Vec<u8>,
    /// MPEG-4 object type from the source's DecoderConfigDescriptor (0x40 for AAC).
    pub object_type_indication: u8,
    /// Average bit rate for the `esds`.
    pub avg_bitrate: u32,
    /// Maximum bit rate for the `esds`.
    pub max_bitrate: u32,
    /// Decoder buffer size for the `esds`.
    pub buffer_size_db: u32,
    /// Media time (in samples) at which presentation starts: the source's encoder priming.
    pub skip_samples: u64,
    /// Delay of the audio relative to the video's start, in milliseconds.
    pub delay_ms: u64,
}

/// Media ticks per frame; the video timescale is `fps * VIDEO_TICKS_PER_FRAME`.
const VIDEO_TICKS_PER_FRAME: u32 = 512;
/// Longest run of one track's samples kept in one chunk, in seconds.
const CHUNK_SECONDS: u64 = 1;

/// Which track wrote the latest sample, to know whether a chunk continues.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    None,
    Video,
    Audio,
}

/// Writes an MP4; nothing appears at the final path until [`Mp4Writer::finish`] succeeds.
pub struct Mp4Writer {
    final_path: PathBuf,
    data_path: PathBuf,
    partial_path: PathBuf,
    /// The sample data file; `None` once `finish` has taken it.
    data: Option<BufWriter<File>>,
    data_len: u64,
    video_cfg: VideoTrackConfig,
    video: Track,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    audio_cfg: Option<AudioTrackConfig>,
    audio: Track,
    last: Last,
    /// Reused buffer for the length-prefixed sample being built.
    sample_buf: Vec<u8>,
    /// Set once the file has been renamed into place, so `Drop` leaves it alone.
    finished: bool,
    /// The compressor name in the video sample description.
    compressor: &'static str,
}

impl Mp4Writer {
    /// Starts writing; nothing appears at `final_path` until `finish` succeeds.
    pub fn create(
        final_path: &Path,
        video: VideoTrackConfig,
        audio: Option<AudioTrackConfig>,
    ) -> Result<Self> {
        if video.width == 0 || video.height == 0 || video.width > 0xffff || video.height > 0xffff {
            return Err(MediaError::InvalidArgument(format!(
                "video size {}x{} cannot be written",
                video.width, video.height
            )));
        }
        // The cap keeps fps * 512 (the media timescale) far from overflowing.
        if video.fps == 0 || video.fps > 1000 {
            return Err(MediaError::InvalidArgument(format!(
                "frame rate {} cannot be written",
                video.fps
            )));
        }
        if let Some(a) = &audio {
            if a.sample_rate == 0 || a.channels == 0 || a.decoder_specific_info.is_empty() {
                return Err(MediaError::InvalidArgument(
                    "the audio track needs a sample rate, channels and its AAC configuration"
                        .into(),
                ));
            }
        }
        let data_path = temp_beside(final_path, "mdat.tmp");
        let partial_path = temp_beside(final_path, "partial");
        let file = File::create(&data_path).map_err(|e| MediaError::io(&data_path, e))?;
        Ok(Self {
            final_path: final_path.to_path_buf(),
            data_path,
            partial_path,
            data: Some(BufWriter::with_capacity(1 << 20, file)),
            data_len: 0,
            video_cfg: video,
            video: Track::default(),
            sps: None,
            pps: None,
            audio_cfg: audio,
            audio: Track::default(),
            last: Last::None,
            sample_buf: Vec::new(),
            finished: false,
            compressor: "retake (OpenH264)",
        })
    }

    /// Names the encoder in the video sample description (31 bytes at most are kept).
    pub fn set_compressor_name(&mut self, name: &'static str) {
        self.compressor = name;
    }

    /// Appends sample bytes to the data file and returns the offset they start at.
    fn append(&mut self, bytes: &[u8]) -> Result<u64> {
        let w = self
            .data
            .as_mut()
            .ok_or_else(|| MediaError::InvalidArgument("the writer is already finished".into()))?;
        w.write_all(bytes)
            .map_err(|e| MediaError::io(&self.data_path, e))?;
        let offset = self.data_len;
        self.data_len += bytes.len() as u64;
        Ok(offset)
    }

    /// Adds one coded frame (an Annex-B access unit, as OpenH264 outputs it), lasting 1/fps s.
    ///
    /// Frames are presented in the order given (no B-frames: pts == dts).
    pub fn write_video(&mut self, annex_b: &[u8], keyframe: bool) -> Result<()> {
        if self.video.len() == 0 && !keyframe {
            return Err(MediaError::InvalidArgument(
                "the first video frame must be a keyframe".into(),
            ));
        }
        let mut sample = std::mem::take(&mut self.sample_buf);
        let built = self.build_sample(annex_b, &mut sample);
        let result = built.and_then(|size| {
            let offset = self.append(&sample)?;
            // Tables change only after the bytes are safely written, so a failed call
            // leaves the writer consistent.
            let continues = self.last == Last::Video;
            let cap = u64::from(self.video_timescale()) * CHUNK_SECONDS;
            self.video.add(
                offset,
                size,
                VIDEO_TICKS_PER_FRAME,
                keyframe,
                continues,
                cap,
            );
            self.last = Last::Video;
            Ok(())
        });
        self.sample_buf = sample;
        result
    }

    /// Converts one Annex-B access unit into length-prefixed NAL units in `sample`,
    /// capturing the parameter sets; returns the sample's size.
    fn build_sample(&mut self, annex_b: &[u8], sample: &mut Vec<u8>) -> Result<u32> {
        sample.clear();
        for nal in split_annex_b(annex_b) {
            match nal[0] & 0x1f {
                7 => remember(&mut self.sps, nal, "SPS")?,
                8 => remember(&mut self.pps, nal, "PPS")?,
                // Access unit delimiters are optional in MP4 and only waste bytes.
                9 => {}
                _ => {
                    let len = u32::try_from(nal.len()).map_err(|_| {
                        MediaError::InvalidArgument("a NAL unit is larger than 4 GiB".into())
                    })?;
                    sample.extend_from_slice(&len.to_be_bytes());
                    sample.extend_from_slice(nal);
                }
            }
        }
        if self.sps.is_none() || self.pps.is_none() {
            return Err(MediaError::InvalidArgument(
                "the first keyframe carries no SPS/PPS parameter sets".into(),
            ));
        }
        if sample.is_empty() {
            return Err(MediaError::InvalidArgument(
                "a video frame holds no picture data".into(),
            ));
        }
        u32::try_from(sample.len())
            .map_err(|_| MediaError::InvalidArgument("a video frame is larger than 4 GiB".into()))
    }

    /// Adds one raw AAC frame (no ADTS header) lasting `duration` ticks of the sample rate.
    pub fn write_audio(&mut self, data: &[u8], duration: u32) -> Result<()> {
        let Some(rate) = self.audio_cfg.as_ref().map(|c| c.sample_rate) else {
            return Err(MediaError::InvalidArgument(
                "this writer was created without an audio track".into(),
            ));
        };
        let size = u32::try_from(data.len()).map_err(|_| {
            MediaError::InvalidArgument("an audio frame is larger than 4 GiB".into())
        })?;
        if size == 0 {
            return Err(MediaError::InvalidArgument(
                "an audio frame is empty".into(),
            ));
        }
        let offset = self.append(data)?;
        let continues = self.last == Last::Audio;
        let cap = u64::from(rate) * CHUNK_SECONDS;
        // Every AAC frame decodes on its own, so all are sync samples (and no stss is written).
        self.audio.add(offset, size, duration, true, continues, cap);
        self.last = Last::Audio;
        Ok(())
    }

    /// Completes the file (ftyp, moov, mdat), syncs it and atomically renames it into place.
    pub fn finish(mut self) -> Result<()> {
        if self.video.len() == 0 {
            return Err(MediaError::InvalidArgument(
                "no video frames were written".into(),
            ));
        }
        let data = self
            .data
            .take()
            .ok_or_else(|| MediaError::InvalidArgument("the writer is already finished".into()))?;
        data.into_inner()
            .map_err(|e| MediaError::io(&self.data_path, e.into_error()))?;

        let ftyp = boxes::ftyp();
        let mdat_header = boxes::mdat_header(self.data_len);
        // Chunk offsets count from the file's start, so they depend on the moov's own size;
        // with fixed-width offsets that size does not depend on their values, so measure
        // once with zero offsets, then build for real.
        let prefix = |moov_len: usize| (ftyp.len() + moov_len + mdat_header.len()) as u64;
        let last_chunk = self
            .video
            .last_chunk_offset()
            .max(self.audio.last_chunk_offset());
        let mut co64 = false;
        let mut base = prefix(self.moov(0, false).len());
        if base + last_chunk > u64::from(u32::MAX) {
            co64 = true;
            base = prefix(self.moov(0, true).len());
        }
        let moov = self.moov(base, co64);

        let partial = self.partial_path.clone();
        let io = |e| MediaError::io(&partial, e);
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&partial).map_err(io)?);
        out.write_all(&ftyp).map_err(io)?;
        out.write_all(&moov).map_err(io)?;
        out.write_all(&mdat_header).map_err(io)?;
        let mut src =
            File::open(&self.data_path).map_err(|e| MediaError::io(&self.data_path, e))?;
        let copied = std::io::copy(&mut src, &mut out).map_err(io)?;
        if copied != self.data_len {
            return Err(MediaError::Corrupt(format!(
                "{}: the sample data file holds {copied} bytes, expected {}",
                self.data_path.display(),
                self.data_len
            )));
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&partial, &self.final_path)
            .map_err(|e| MediaError::io(&self.final_path, e))?;
        self.finished = true;
        sync_parent_dir(&self.final_path);
        Ok(())
    }

    fn video_timescale(&self) -> u32 {
        self.video_cfg.fps * VIDEO_TICKS_PER_FRAME
    }

    /// The `moov` box, chunk offsets shifted by `base` (the mdat payload's file offset).
    fn moov(&self, base: u64, co64: bool) -> Vec<u8> {
        let video_dur = scale(
            self.video.duration(),
            u64::from(self.video_timescale()),
            MOVIE_TIMESCALE,
        );
        let video = self.video_trak(video_dur, base, co64);
        let audio = self
            .audio_cfg
            .as_ref()
            .and_then(|cfg| self.audio_trak(cfg, video_dur, base, co64));
        let mut movie_dur = video_dur;
        let mut next_track = 2;
        if let Some((_, dur)) = &audio {
            movie_dur = movie_dur.max(*dur);
            next_track = 3;
        }
        let mut moov = boxes::mvhd(movie_dur, next_track);
        moov.extend_from_slice(&video);
        if let Some((trak, _)) = audio {
            moov.extend_from_slice(&trak);
        }
        boxed(b"moov", &moov)
    }

    fn video_trak(&self, duration: u64, base: u64, co64: bool) -> Vec<u8> {
        let cfg = self.video_cfg;
        let sps = self.sps.as_deref().unwrap_or_default();
        let pps = self.pps.as_deref().unwrap_or_default();
        let mut stbl = boxes::stsd(&boxes::avc1(cfg, sps, pps, self.compressor));
        stbl.extend_from_slice(&self.video.stbl_tables(true, base, co64));
        let mut minf = boxes::vmhd();
        minf.extend_from_slice(&boxes::dinf());
        minf.extend_from_slice(&boxed(b"stbl", &stbl));
        let mut mdia = boxes::mdhd(self.video_timescale(), self.video.duration());
        mdia.extend_from_slice(&boxes::hdlr(b"vide", "VideoHandler"));
        mdia.extend_from_slice(&boxed(b"minf", &minf));
        let mut trak = boxes::tkhd(1, duration, 0, cfg.width, cfg.height);
        // Without an edit list some players start at the first composition time rather than 0.
        trak.extend_from_slice(&boxes::edts(&[(duration, 0)]));
        trak.extend_from_slice(&boxed(b"mdia", &mdia));
        boxed(b"trak", &trak)
    }

    /// The audio `trak` and its presentation end in movie ticks, or `None` when it would
    /// present nothing.
    fn audio_trak(
        &self,
        cfg: &AudioTrackConfig,
        video_dur: u64,
        base: u64,
        co64: bool,
    ) -> Option<(Vec<u8>, u64)> {
        let rate = u64::from(cfg.sample_rate);
        let playable = self.audio.duration().saturating_sub(cfg.skip_samples);
        let delay = cfg.delay_ms.saturating_mul(MOVIE_TIMESCALE) / 1000;
        // Audio running past the video is cut at the video's end, so the file is never
        // longer than its picture; shorter audio simply ends early.
        let segment = scale(playable, rate, MOVIE_TIMESCALE).min(video_dur.saturating_sub(delay));
        if segment == 0 {
            return None;
        }
        let mut edits = Vec::with_capacity(2);
        if delay > 0 {
            edits.push((delay, -1));
        }
        edits.push((segment, i64::try_from(cfg.skip_samples).unwrap_or(i64::MAX)));

        let mut stbl = boxes::stsd(&boxes::mp4a(cfg));
        stbl.extend_from_slice(&self.audio.stbl_tables(false, base, co64));
        let mut minf = boxes::smhd();
        minf.extend_from_slice(&boxes::dinf());
        minf.extend_from_slice(&boxed(b"stbl", &stbl));
        let mut mdia = boxes::mdhd(cfg.sample_rate, self.audio.duration());
        mdia.extend_from_slice(&boxes::hdlr(b"soun", "SoundHandler"));
        mdia.extend_from_slice(&boxed(b"minf", &minf));
        let mut trak = boxes::tkhd(2, delay + segment, 0x0100, 0, 0);
        trak.extend_from_slice(&boxes::edts(&edits));
        trak.extend_from_slice(&boxed(b"mdia", &mdia));
        Some((boxed(b"trak", &trak), delay + segment))
    }
}

impl Drop for Mp4Writer {
    fn drop(&mut self) {
        // Discard buffered bytes rather than flushing them into a file about to be deleted.
        if let Some(w) = self.data.take() {
            drop(w.into_parts());
        }
        let _ = std::fs::remove_file(&self.data_path);
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial_path);
        }
    }
}

/// Makes the rename itself durable; best effort, since the data is already synced.
fn sync_parent_dir(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Stores the first SPS or PPS seen; one avcC cannot describe a stream whose sets change.
fn remember(slot: &mut Option<Vec<u8>>, nal: &[u8], what: &str) -> Result<()> {
    match slot {
        None => {
            *slot = Some(nal.to_vec());
            Ok(())
        }
        Some(prev) if prev == nal => Ok(()),
        Some(_) => Err(MediaError::Encode(format!(
            "the encoder changed its {what} mid-stream, which one MP4 track cannot hold"
        ))),
    }
}

/// Splits an Annex-B byte stream at its 3- and 4-byte start codes; never yields empty NALs.
fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        // The zero byte of a following 4-byte start code (and trailing_zero_8bits) belong
        // to the byte stream, not to the NAL; a NAL never ends in a zero byte.
        while end > s && data[end - 1] == 0 {
            end -= 1;
        }
        if end > s {
            nals.push(&data[s..end]);
        }
    }
    nals
}

/// Converts `v` ticks of `from` per second into ticks of `to`, rounding to nearest.
fn scale(v: u64, from: u64, to: u64) -> u64 {
    let r = (u128::from(v) * u128::from(to) + u128::from(from) / 2) / u128::from(from.max(1));
    u64::try_from(r).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_split_handles_both_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0, 0,
        ];
        let nals = split_annex_b(&data);
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5]]);
        assert!(split_annex_b(&[0, 0, 1]).is_empty());
        assert!(split_annex_b(&[1, 2, 3]).is_empty());
    }

    #[test]
    fn moov_size_does_not_depend_on_offsets() {
        let dir = std::env::temp_dir().join(format!("retake-mux-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = VideoTrackConfig {
            width: 64,
            height: 48,
            fps: 24,
        };
        let mut w = Mp4Writer::create(&dir.join("u.mp4"), cfg, None).unwrap();
        let au = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 1, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 3,
        ];
        w.write_video(&au, true).unwrap();
        for co64 in [false, true] {
            let small = w.moov(0, co64);
            let big = w.moov(if co64 { 5 << 30 } else { 1 << 20 }, co64);
            assert_eq!(small.len(), big.len());
        }
        let big = w.moov(5 << 30, true);
        let at = big.windows(4).position(|k| k == b"co64").unwrap();
        assert_eq!(big[at + 12..at + 20], (5u64 << 30).to_be_bytes());
        drop(w);
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn scale_rounds_to_nearest() {
        assert_eq!(scale(48 * 512, 12288, 1000), 2000);
        assert_eq!(scale(512, 12288, 1000), 42);
        assert_eq!(scale(89088, 44100, 1000), 2020);
    }
}
