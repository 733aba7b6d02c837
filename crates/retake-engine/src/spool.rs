//! Frames held back for a later keyframe: the first few in memory, the rest in a temporary
//! file, so memory stays bounded however far apart keyframes are.

use crate::EngineError;
use retake_media::RgbFrame;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

/// How many bytes of frames a spool keeps in memory by default before it spills to disk
/// (about 23 frames of 1280×720).
pub const DEFAULT_SPOOL_MEMORY: usize = 64 << 20;

/// An indexable list of same-sized frames, in memory up to a budget and on disk past it.
pub(crate) struct FrameSpool {
    w: u32,
    h: u32,
    in_memory: Vec<RgbFrame>,
    max_in_memory: usize,
    file: Option<File>,
    on_disk: usize,
}

fn spool_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Spool(e.to_string())
}

impl FrameSpool {
    /// A spool for `w`×`h` frames keeping at most `memory_bytes` of them in memory (at least
    /// one frame).
    pub fn new(w: u32, h: u32, memory_bytes: usize) -> Self {
        let frame = (w as usize * h as usize * 3).max(1);
        Self {
            w,
            h,
            in_memory: Vec::new(),
            max_in_memory: (memory_bytes / frame).max(1),
            file: None,
            on_disk: 0,
        }
    }

    fn frame_bytes(&self) -> u64 {
        self.w as u64 * self.h as u64 * 3
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.in_memory.len() + self.on_disk
    }

    /// Whether no frames are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, f: &RgbFrame) -> Result<(), EngineError> {
        if (f.width(), f.height()) != (self.w, self.h) {
            return Err(EngineError::SizeMismatch {
                what: "held frame",
                got_w: f.width() as usize,
                got_h: f.height() as usize,
                want_w: self.w as usize,
                want_h: self.h as usize,
            });
        }
        Ok(())
    }

    /// The file's offset of frame `k` (which must be on disk).
    fn offset(&self, k: usize) -> u64 {
        (k - self.in_memory.len()) as u64 * self.frame_bytes()
    }

    /// Appends a frame.
    pub fn push(&mut self, f: RgbFrame) -> Result<(), EngineError> {
        self.check(&f)?;
        if self.on_disk == 0 && self.in_memory.len() < self.max_in_memory {
            self.in_memory.push(f);
            return Ok(());
        }
        if self.file.is_none() {
            // Unlinked at once: nothing is left behind, whatever happens to the process.
            self.file = Some(tempfile::tempfile().map_err(spool_error)?);
        }
        let at = self.offset(self.len());
        let file = self.file.as_mut().ok_or_else(|| spool_error("no file"))?;
        file.seek(SeekFrom::Start(at)).map_err(spool_error)?;
        file.write_all(f.data()).map_err(spool_error)?;
        self.on_disk += 1;
        Ok(())
    }

    /// Frame `k`.
    pub fn get(&mut self, k: usize) -> Result<RgbFrame, EngineError> {
        if let Some(f) = self.in_memory.get(k) {
            return Ok(f.clone());
        }
        if k >= self.len() {
            return Err(spool_error(format!(
                "frame {k} of {} requested",
                self.len()
            )));
        }
        let at = self.offset(k);
        let mut data = vec![0u8; self.frame_bytes() as usize];
        let file = self.file.as_mut().ok_or_else(|| spool_error("no file"))?;
        file.seek(SeekFrom::Start(at)).map_err(spool_error)?;
        file.read_exact(&mut data).map_err(spool_error)?;
        RgbFrame::from_raw(self.w, self.h, data).map_err(spool_error)
    }

    /// Replaces frame `k`.
    pub fn set(&mut self, k: usize, f: RgbFrame) -> Result<(), EngineError> {
        self.check(&f)?;
        if let Some(slot) = self.in_memory.get_mut(k) {
            *slot = f;
            return Ok(());
        }
        if k >= self.len() {
            return Err(spool_error(format!("frame {k} of {} replaced", self.len())));
        }
        let at = self.offset(k);
        let file = self.file.as_mut().ok_or_else(|| spool_error("no file"))?;
        file.seek(SeekFrom::Start(at)).map_err(spool_error)?;
        file.write_all(f.data()).map_err(spool_error)
    }

    /// Whether any frame went to disk.
    #[cfg(test)]
    pub fn spilled(&self) -> bool {
        self.on_disk > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: u8) -> RgbFrame {
        RgbFrame::filled(8, 6, [v, v / 2, 255 - v])
    }

    #[test]
    fn frames_past_the_budget_go_to_disk_and_come_back_the_same() {
        let mut s = FrameSpool::new(8, 6, 2 * 8 * 6 * 3);
        for v in 0..7 {
            s.push(frame(v * 30)).unwrap();
        }
        assert_eq!(s.len(), 7);
        assert!(s.spilled());
        for v in (0..7).rev() {
            assert_eq!(s.get(v as usize).unwrap(), frame(v * 30), "frame {v}");
        }
        s.set(1, frame(1)).unwrap();
        s.set(5, frame(5)).unwrap();
        assert_eq!(s.get(1).unwrap(), frame(1));
        assert_eq!(s.get(5).unwrap(), frame(5));
        assert_eq!(s.get(4).unwrap(), frame(120));
        assert!(s.get(7).is_err());
        assert!(matches!(
            s.push(RgbFrame::filled(4, 4, [0; 3])),
            Err(EngineError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn a_large_budget_keeps_everything_in_memory() {
        let mut s = FrameSpool::new(8, 6, 1 << 20);
        for v in 0..5 {
            s.push(frame(v)).unwrap();
        }
        assert!(!s.spilled());
        assert_eq!(s.get(3).unwrap(), frame(3));
    }
}
