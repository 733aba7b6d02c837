//! MP4/MOV demuxing: finds the tracks, their codec configuration and every sample's place and
//! time, then reads samples on demand so only one compressed frame is in memory at a time.
//!
//! Our own parser rather than a crate: we need every table read bounds-checked (a damaged
//! file must give an error, never a panic), the raw AAC configuration bytes for bit-exact
//! audio passthrough, and the edit lists for exact audio sync.

pub(crate) mod boxes;
mod tables;
mod track;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::{MediaError, Result};
use boxes::{fourcc, Cursor};
pub use track::{AudioTrack, Codec, Sample, VideoTrack};

/// Largest `moov` box we will load; real ones are a few hundred KB even for long clips.
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// Container family, from the `ftyp` brand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// ISO MP4 (and its 3GP/M4V relatives).
    Mp4,
    /// Apple QuickTime.
    Mov,
}

/// An opened MP4/MOV file: its tracks and a handle to read samples.
pub struct Demuxer {
    path: PathBuf,
    file: File,
    file_size: u64,
    container: Container,
    major_brand: String,
    video: Option<VideoTrack>,
    audio: Option<AudioTrack>,
    fragmented: bool,
}

impl std::fmt::Debug for Demuxer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demuxer")
            .field("path", &self.path)
            .field("container", &self.container)
            .finish()
    }
}

impl Demuxer {
    /// Opens a file and parses its `moov`; samples are read later, on demand.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| MediaError::io(path, e))?;
        let file_size = file.metadata().map_err(|e| MediaError::io(path, e))?.len();
        if file_size == 0 {
            return Err(MediaError::Empty);
        }
        let top = scan_top_level(&mut file, file_size, path)?;
        let brand = top.major_brand.clone().ok_or_else(|| {
            MediaError::NotAVideo(
                "no MP4/MOV header found (expected an 'ftyp', 'moov' or 'mdat' box at the start)"
                    .into(),
            )
        })?;
        let container = if brand == "qt  " {
            Container::Mov
        } else {
            Container::Mp4
        };
        let moov = top.moov.ok_or_else(|| {
            if top.saw_mdat {
                MediaError::Corrupt(
                    "the file has media data but no 'moov' index: the recording was probably \
                     interrupted before it was finalised"
                        .into(),
                )
            } else {
                MediaError::Corrupt("the file has no 'moov' index box (truncated?)".into())
            }
        })?;
        let mut video = None;
        let mut audio = None;
        let mut moov_cursor = Cursor::new(&moov, "moov");
        let mut movie_timescale = 1000;
        let mut fragmented = top.saw_moof;
        for child in moov_cursor.children() {
            let child = child?;
            match &child.kind {
                b"mvhd" => movie_timescale = track::parse_mvhd_timescale(child.cursor("mvhd"))?,
                b"mvex" => fragmented = true,
                b"trak" => match track::parse_trak(child.cursor("trak"), movie_timescale)? {
                    Some(track::Track::Video(v)) if video.is_none() => video = Some(v),
                    Some(track::Track::Audio(a)) if audio.is_none() => audio = Some(a),
                    _ => {}
                },
                _ => {}
            }
        }
        if fragmented {
            let has_samples = video.as_ref().is_some_and(|v| !v.samples.is_empty());
            if !has_samples {
                return Err(MediaError::UnsupportedCodec(
                    "fragmented MP4 (as written by live streams and some screen recorders) is not \
                     supported yet; remux it first, e.g. `ffmpeg -i in.mp4 -c copy out.mp4`"
                        .into(),
                ));
            }
        }
        for s in video.iter().flat_map(|v| v.samples.iter()) {
            if s.offset.saturating_add(s.size as u64) > file_size {
                return Err(MediaError::Corrupt(format!(
                    "video frame data runs past the end of the file ({} bytes): the file is \
                     truncated",
                    file_size
                )));
            }
        }
        // Audio cut short by truncation is dropped rather than failing the clip.
        if let Some(a) = audio.as_mut() {
            a.samples
                .retain(|s| s.offset.saturating_add(s.size as u64) <= file_size);
            if a.samples.is_empty() {
                audio = None;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            file_size,
            container,
            major_brand: brand,
            video,
            audio,
            fragmented,
        })
    }

    /// The file this demuxer reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// MP4 or MOV.
    pub fn container(&self) -> Container {
        self.container
    }

    /// The `ftyp` major brand, e.g. `isom` or `qt  `.
    pub fn major_brand(&self) -> &str {
        &self.major_brand
    }

    /// Whether the file is fragmented (moof boxes).
    pub fn is_fragmented(&self) -> bool {
        self.fragmented
    }

    /// The first video track, if any.
    pub fn video(&self) -> Option<&VideoTrack> {
        self.video.as_ref()
    }

    /// The first audio track, if any.
    pub fn audio(&self) -> Option<&AudioTrack> {
        self.audio.as_ref()
    }

    /// Reads one sample's bytes into `buf` (replacing its contents).
    pub fn read_sample(&mut self, sample: &Sample, buf: &mut Vec<u8>) -> Result<()> {
        buf.clear();
        buf.resize(sample.size as usize, 0);
        self.file
            .seek(SeekFrom::Start(sample.offset))
            .and_then(|_| self.file.read_exact(buf))
            .map_err(|e| MediaError::io(&self.path, e))
    }
}

/// What the top-level scan found.
struct TopLevel {
    major_brand: Option<String>,
    moov: Option<Vec<u8>>,
    saw_mdat: bool,
    saw_moof: bool,
}

/// Walks the top-level boxes by seeking past them, loading only `ftyp` and `moov`.
fn scan_top_level(file: &mut File, file_size: u64, path: &Path) -> Result<TopLevel> {
    let mut out = TopLevel {
        major_brand: None,
        moov: None,
        saw_mdat: false,
        saw_moof: false,
    };
    let io = |e| MediaError::io(path, e);
    let mut pos = 0u64;
    let mut first = true;
    while pos < file_size {
        if file_size - pos < 8 {
            break;
        }
        file.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut h = [0u8; 16];
        file.read_exact(&mut h[..8]).map_err(io)?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let kind = [h[4], h[5], h[6], h[7]];
        if first {
            if !is_known_top_level(&kind) {
                return Err(MediaError::NotAVideo(format!(
                    "the file does not start like an MP4/MOV (first box type {:?}); retake reads \
                     H.264 video in MP4 or MOV files",
                    fourcc(&kind)
                )));
            }
            first = false;
        }
        let (header, size) = match size32 {
            0 => (8, file_size - pos),
            1 => {
                if file_size - pos < 16 {
                    break;
                }
                file.read_exact(&mut h[8..16]).map_err(io)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(&h[8..16]);
                (16, u64::from_be_bytes(a))
            }
            s => (8, s),
        };
        if size < header {
            return Err(MediaError::Corrupt(format!(
                "top-level box '{}' at byte {pos} has an impossible size {size}",
                fourcc(&kind)
            )));
        }
        let end = pos.saturating_add(size);
        match &kind {
            b"ftyp" => {
                let mut brand = [0u8; 4];
                file.read_exact(&mut brand).map_err(io)?;
                out.major_brand = Some(fourcc(&brand));
            }
            b"moov" => {
                if end > file_size {
                    return Err(MediaError::Corrupt(format!(
                        "the 'moov' index is cut off ({} of {} bytes present): the file is truncated",
                        file_size - pos,
                        size
                    )));
                }
                if size > MAX_MOOV_BYTES {
                    return Err(MediaError::Corrupt(format!(
                        "the 'moov' index claims {size} bytes, more than any real clip needs"
                    )));
                }
                let mut moov = vec![0u8; (size - header) as usize];
                file.read_exact(&mut moov).map_err(io)?;
                out.moov = Some(moov);
            }
            b"mdat" => out.saw_mdat = true,
            b"moof" => out.saw_moof = true,
            _ => {}
        }
        // QuickTime files may lack `ftyp`; they start with `moov`, `mdat`, `wide` or `free`.
        if out.major_brand.is_none() && matches!(&kind, b"moov" | b"mdat" | b"wide" | b"free") {
            out.major_brand = Some("qt  ".into());
        }
        if end > file_size {
            // A truncated mdat at the end is reported later, per sample.
            break;
        }
        pos = end;
    }
    Ok(out)
}

fn is_known_top_level(kind: &[u8; 4]) -> bool {
    matches!(
        kind,
        b"ftyp" | b"moov" | b"mdat" | b"free" | b"skip" | b"wide" | b"pnot" | b"uuid" | b"styp"
    )
}
