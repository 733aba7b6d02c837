//! Entry points for the fuzz targets in `fuzz/` and for the bounded fuzz run in the tests:
//! each takes arbitrary bytes and must return (an error is fine), never panic or hang.
//! Not part of the API.

use std::io::Write;
use std::path::PathBuf;

use crate::demux::Demuxer;
use crate::h264::sps::{parse_avcc, parse_sps};
use crate::{decode_image, probe, Limits, SizeCap, VideoReader};

/// A file holding the input, removed when dropped (the demuxer reads from a file).
struct TempInput(PathBuf);

impl TempInput {
    fn new(data: &[u8]) -> Option<Self> {
        // tmpfs when there is one: a fuzzer writes this file thousands of times a second.
        let dir = ["/dev/shm", "/tmp"]
            .iter()
            .map(PathBuf::from)
            .find(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let path = dir.join(format!(
            "retake-fuzz-{}-{:?}.mp4",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut f = std::fs::File::create(&path).ok()?;
        f.write_all(data).ok()?;
        Some(Self(path))
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The MP4/MOV demuxer, the probe and the first frames of the reader on a file of `data`.
pub fn mp4(data: &[u8]) {
    let Some(file) = TempInput::new(data) else {
        return;
    };
    if let Ok(mut demux) = Demuxer::open(&file.0) {
        let samples: Vec<_> = demux
            .video()
            .map(|v| v.samples.iter().take(8).cloned().collect())
            .unwrap_or_default();
        let mut buf = Vec::new();
        for s in &samples {
            let _ = demux.read_sample(s, &mut buf);
        }
    }
    let _ = probe(&file.0, SizeCap::default());
    // Small limits keep a forged header from asking for a huge decode.
    let limits = Limits {
        max_input_side: 256,
        max_duration_s: 2.0,
        ..Limits::default()
    };
    if let Ok(mut reader) = VideoReader::open(&file.0, &limits) {
        for _ in 0..2 {
            if !matches!(reader.next_frame(), Ok(Some(_))) {
                break;
            }
        }
    }
}

/// The H.264 parameter-set parsers: the first byte picks an `avcC` record or a bare SPS.
pub fn h264_params(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    if pick & 1 == 0 {
        if let Ok(config) = parse_avcc(rest) {
            for sps in &config.sps {
                if let Ok(s) = parse_sps(sps) {
                    let _ = (s.profile_name(), s.level_name(), s.unsupported_reason());
                }
            }
        }
    } else if let Ok(s) = parse_sps(rest) {
        let _ = (s.profile_name(), s.level_name(), s.unsupported_reason());
    }
}

/// The image loader (PNG, JPEG, WebP, EXIF orientation).
pub fn image(data: &[u8]) {
    if let Ok(frame) = decode_image(data) {
        assert_eq!(
            frame.data().len(),
            frame.width() as usize * frame.height() as usize * 3,
            "a decoded image's buffer matches its size"
        );
    }
}
