//! Parsing of one `trak`: header, timing, codec configuration and edit list.

use super::boxes::{find, fourcc, Cursor};
use super::tables::{build_samples, SampleTables};
use crate::{MediaError, Result};

/// One compressed sample: where it is and when it plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Byte offset in the file.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Decode time, in track timescale ticks.
    pub dts: i64,
    /// Presentation time, in track timescale ticks, shifted so the first frame shown is at 0.
    pub pts: i64,
    /// Duration in track timescale ticks.
    pub duration: u32,
    /// Whether the sample is a sync sample (keyframe).
    pub sync: bool,
}

/// A codec as named in the sample description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Codec {
    /// H.264/AVC with its `avcC` configuration record.
    H264 {
        /// The raw `avcC` payload.
        avcc: Vec<u8>,
    },
    /// Any other codec, by its four-character code (e.g. `hvc1`, `vp09`, `mp4a`).
    Other(String),
}

/// The video track.
#[derive(Clone, Debug)]
pub struct VideoTrack {
    /// Track timescale (ticks per second).
    pub timescale: u32,
    /// Coded width from the sample entry.
    pub width: u32,
    /// Coded height from the sample entry.
    pub height: u32,
    /// Clockwise rotation to apply for display: 0, 90, 180 or 270.
    pub rotation: u32,
    /// The codec and its configuration.
    pub codec: Codec,
    /// Samples in decode order.
    pub samples: Vec<Sample>,
}

/// The audio track.
#[derive(Clone, Debug)]
pub struct AudioTrack {
    /// Track timescale (ticks per second; normally the sample rate).
    pub timescale: u32,
    /// Four-character code of the sample entry, e.g. `mp4a`.
    pub fourcc: String,
    /// MPEG-4 object type from the `esds` (0x40 = AAC, 0x6B = MP3), if present.
    pub object_type_indication: Option<u8>,
    /// Channel count from the sample entry (or the AAC configuration when that says more).
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// The raw AudioSpecificConfig (DecSpecificInfo) bytes, for passthrough.
    pub decoder_specific_info: Vec<u8>,
    /// Buffer size, max and average bit rate from the `esds`.
    pub buffer_size_db: u32,
    /// Maximum bit rate from the `esds`.
    pub max_bitrate: u32,
    /// Average bit rate from the `esds`.
    pub avg_bitrate: u32,
    /// Media time at which presentation starts (encoder priming to skip), in track ticks.
    pub skip: u64,
    /// Empty-edit delay before the audio starts, in seconds.
    pub delay_s: f64,
    /// Samples in decode order (times relative to the media start, before `skip`).
    pub samples: Vec<Sample>,
}

impl AudioTrack {
    /// Total media duration in seconds, after the priming skip.
    pub fn duration_s(&self) -> f64 {
        let total: u64 = self.samples.iter().map(|s| s.duration as u64).sum();
        total.saturating_sub(self.skip) as f64 / self.timescale.max(1) as f64
    }

    /// Whether this is AAC that we can copy into an MP4 unchanged.
    pub fn is_aac(&self) -> bool {
        self.fourcc == "mp4a"
            && self.object_type_indication == Some(0x40)
            && !self.decoder_specific_info.is_empty()
    }
}

pub(super) enum Track {
    Video(VideoTrack),
    Audio(AudioTrack),
}

pub(super) fn parse_mvhd_timescale(mut c: Cursor) -> Result<u32> {
    let (version, _) = c.full_header()?;
    c.skip(if version == 1 { 16 } else { 8 })?;
    Ok(c.u32()?.max(1))
}

/// Parses a `trak`; returns `None` for tracks that are neither video nor audio.
pub(super) fn parse_trak(c: Cursor, movie_timescale: u32) -> Result<Option<Track>> {
    let tkhd = find(c.clone(), b"tkhd")?
        .ok_or_else(|| MediaError::Corrupt("a track has no 'tkhd' header".into()))?;
    let rotation = parse_tkhd_rotation(tkhd.cursor("tkhd"))?;
    let mdia = find(c.clone(), b"mdia")?
        .ok_or_else(|| MediaError::Corrupt("a track has no 'mdia' box".into()))?;
    let mdhd = find(mdia.cursor("mdia"), b"mdhd")?
        .ok_or_else(|| MediaError::Corrupt("a track has no 'mdhd' box".into()))?;
    let timescale = parse_mdhd_timescale(mdhd.cursor("mdhd"))?;
    let hdlr = find(mdia.cursor("mdia"), b"hdlr")?
        .ok_or_else(|| MediaError::Corrupt("a track has no 'hdlr' box".into()))?;
    let mut h = hdlr.cursor("hdlr");
    h.full_header()?;
    h.skip(4)?;
    let handler = h.bytes(4)?;
    let is_video = handler == b"vide";
    let is_audio = handler == b"soun";
    if !is_video && !is_audio {
        return Ok(None);
    }
    let minf = find(mdia.cursor("mdia"), b"minf")?
        .ok_or_else(|| MediaError::Corrupt("a track has no 'minf' box".into()))?;
    let stbl = find(minf.cursor("minf"), b"stbl")?
        .ok_or_else(|| MediaError::Corrupt("a track has no 'stbl' sample table".into()))?;
    let stsd = find(stbl.cursor("stbl"), b"stsd")?
        .ok_or_else(|| MediaError::Corrupt("a track has no 'stsd' sample description".into()))?;
    let mut sd = stsd.cursor("stsd");
    sd.full_header()?;
    let entries = sd.u32()?;
    let entry = sd
        .children()
        .next()
        .transpose()?
        .filter(|_| entries > 0)
        .ok_or_else(|| MediaError::Corrupt("the sample description is empty".into()))?;
    let tables = SampleTables::parse(stbl.cursor("stbl"))?;
    let edits = match find(c.clone(), b"edts")? {
        Some(edts) => match find(edts.cursor("edts"), b"elst")? {
            Some(elst) => parse_elst(elst.cursor("elst"))?,
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let mut samples = build_samples(&tables)?;
    if is_video {
        normalise_video_times(&mut samples);
        let mut e = entry.cursor("video sample entry");
        e.skip(24)?;
        let width = e.u16()? as u32;
        let height = e.u16()? as u32;
        e.skip(50)?;
        let codec = match &entry.kind {
            b"avc1" | b"avc3" => {
                let avcc = find(e, b"avcC")?.ok_or_else(|| {
                    MediaError::Corrupt("H.264 track lacks its 'avcC' configuration".into())
                })?;
                Codec::H264 {
                    avcc: avcc.payload.to_vec(),
                }
            }
            other => Codec::Other(fourcc(other)),
        };
        Ok(Some(Track::Video(VideoTrack {
            timescale,
            width,
            height,
            rotation,
            codec,
            samples,
        })))
    } else {
        let (skip, delay_ticks) = audio_edit(&edits);
        let audio = parse_audio_entry(
            &entry.kind,
            entry.cursor("audio sample entry"),
            timescale,
            skip,
            delay_ticks as f64 / movie_timescale.max(1) as f64,
            std::mem::take(&mut samples),
        )?;
        Ok(Some(Track::Audio(audio)))
    }
}

/// Reads the display matrix and reduces it to a clockwise quarter-turn rotation.
fn parse_tkhd_rotation(mut c: Cursor) -> Result<u32> {
    let (version, _) = c.full_header()?;
    // times, track id, reserved, duration, reserved, layer, group, volume, reserved
    c.skip(if version == 1 { 32 } else { 20 })?;
    c.skip(8 + 2 + 2 + 2 + 2)?;
    let a = c.i32()?;
    let b = c.i32()?;
    c.skip(4)?;
    let cc = c.i32()?;
    let d = c.i32()?;
    let sign = |v: i32| v.signum();
    Ok(match (sign(a), sign(b), sign(cc), sign(d)) {
        (0, 1, -1, 0) => 90,
        (-1, 0, 0, -1) => 180,
        (0, -1, 1, 0) => 270,
        _ => 0,
    })
}

fn parse_mdhd_timescale(mut c: Cursor) -> Result<u32> {
    let (version, _) = c.full_header()?;
    c.skip(if version == 1 { 16 } else { 8 })?;
    let ts = c.u32()?;
    if ts == 0 {
        return Err(MediaError::Corrupt("a track has a timescale of 0".into()));
    }
    Ok(ts)
}

/// One edit list entry: `media_time` -1 marks an empty edit (a delay).
#[derive(Clone, Copy, Debug)]
struct Edit {
    segment_duration: u64,
    media_time: i64,
}

fn parse_elst(mut c: Cursor) -> Result<Vec<Edit>> {
    let (version, _) = c.full_header()?;
    let entry = if version == 1 { 20 } else { 12 };
    let n = c.count(entry)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (segment_duration, media_time) = if version == 1 {
            (c.u64()?, c.u64()? as i64)
        } else {
            (c.u32()? as u64, c.i32()? as i64)
        };
        c.skip(4)?;
        out.push(Edit {
            segment_duration,
            media_time,
        });
    }
    Ok(out)
}

/// The priming skip (media ticks) and leading delay (movie ticks) an audio edit list asks for.
fn audio_edit(edits: &[Edit]) -> (u64, u64) {
    let mut delay = 0;
    for e in edits {
        if e.media_time < 0 {
            delay += e.segment_duration;
        } else {
            return (e.media_time as u64, delay);
        }
    }
    (0, delay)
}

/// Shifts presentation times so the earliest shown frame is at 0, as players do: B-frame
/// streams start their composition times at the reorder delay.
fn normalise_video_times(samples: &mut [super::Sample]) {
    let Some(min_pts) = samples.iter().map(|s| s.pts).min() else {
        return;
    };
    for s in samples.iter_mut() {
        s.pts -= min_pts;
        s.dts -= min_pts;
    }
}

fn parse_audio_entry(
    kind: &[u8; 4],
    mut e: Cursor,
    timescale: u32,
    skip: u64,
    delay_s: f64,
    samples: Vec<Sample>,
) -> Result<AudioTrack> {
    e.skip(8)?;
    let qt_version = e.u16()?;
    e.skip(6)?;
    let mut channels = e.u16()?;
    e.skip(6)?;
    let mut sample_rate = e.u32()? >> 16;
    match qt_version {
        1 => e.skip(16)?,
        2 => {
            // QuickTime v2 stores the real rate as a float64 and channels as u32.
            e.skip(4)?;
            let rate = f64::from_bits(e.u64()?);
            channels = e.u32()? as u16;
            e.skip(20)?;
            if rate.is_finite() && rate > 0.0 {
                sample_rate = rate as u32;
            }
        }
        _ => {}
    }
    let mut audio = AudioTrack {
        timescale,
        fourcc: fourcc(kind),
        object_type_indication: None,
        channels,
        sample_rate: if sample_rate == 0 {
            timescale
        } else {
            sample_rate
        },
        decoder_specific_info: Vec::new(),
        buffer_size_db: 0,
        max_bitrate: 0,
        avg_bitrate: 0,
        skip,
        delay_s,
        samples,
    };
    // MOV files may wrap `esds` inside a `wave` box.
    let mut esds = find(e.clone(), b"esds")?;
    if esds.is_none() {
        if let Some(wave) = find(e, b"wave")? {
            esds = find(wave.cursor("wave"), b"esds")?;
        }
    }
    if let Some(esds) = esds {
        parse_esds(esds.cursor("esds"), &mut audio)?;
    }
    Ok(audio)
}

/// Reads an MPEG-4 descriptor header: tag and expandable length.
fn descriptor(c: &mut Cursor) -> Result<(u8, usize)> {
    let tag = c.u8()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = c.u8()?;
        len = (len << 7) | (b & 0x7f) as usize;
        if b & 0x80 == 0 {
            break;
        }
    }
    Ok((tag, len))
}

fn parse_esds(mut c: Cursor, audio: &mut AudioTrack) -> Result<()> {
    c.full_header()?;
    let (tag, _) = descriptor(&mut c)?;
    if tag != 3 {
        return Ok(());
    }
    c.skip(2)?;
    let flags = c.u8()?;
    if flags & 0x80 != 0 {
        c.skip(2)?;
    }
    if flags & 0x40 != 0 {
        let n = c.u8()? as usize;
        c.skip(n)?;
    }
    if flags & 0x20 != 0 {
        c.skip(2)?;
    }
    let (tag, _) = descriptor(&mut c)?;
    if tag != 4 {
        return Ok(());
    }
    audio.object_type_indication = Some(c.u8()?);
    c.skip(1)?;
    audio.buffer_size_db = c.u24()?;
    audio.max_bitrate = c.u32()?;
    audio.avg_bitrate = c.u32()?;
    if c.remaining() == 0 {
        return Ok(());
    }
    let (tag, len) = descriptor(&mut c)?;
    if tag == 5 {
        audio.decoder_specific_info = c.bytes(len)?.to_vec();
        // The AudioSpecificConfig knows the true channel layout; the sample entry often
        // says 2 whatever the stream holds.
        if let Some(&b1) = audio.decoder_specific_info.get(1) {
            let chan_conf = (b1 >> 3) & 0x0f;
            match chan_conf {
                1..=6 => audio.channels = chan_conf as u16,
                7 => audio.channels = 8,
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_edit_reads_delay_and_priming() {
        let edits = [
            Edit {
                segment_duration: 500,
                media_time: -1,
            },
            Edit {
                segment_duration: 2000,
                media_time: 1024,
            },
        ];
        assert_eq!(audio_edit(&edits), (1024, 500));
        assert_eq!(audio_edit(&[]), (0, 0));
    }

    #[test]
    fn descriptor_length_is_expandable() {
        let data = [0x05, 0x80, 0x80, 0x80, 0x02, 0xaa, 0xbb];
        let mut c = Cursor::new(&data, "esds");
        assert_eq!(descriptor(&mut c).unwrap(), (5, 2));
    }
}
