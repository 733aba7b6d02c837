//! Limits on what retake accepts, with errors that say how to get past them.

use crate::error::Limit;
use crate::transform::SizeCap;
use crate::{MediaError, Result};

/// What a clip may be. Defaults: 10 s, 100 MB, 4096 px per side in, 1280×720 out.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Longest accepted clip, in seconds.
    pub max_duration_s: f64,
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Largest accepted input width or height, in pixels.
    pub max_input_side: u32,
    /// The output size cap.
    pub output_cap: SizeCap,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_duration_s: 10.0,
            max_file_bytes: 100_000_000,
            max_input_side: 4096,
            output_cap: SizeCap::default(),
        }
    }
}

/// Smallest frame side we accept; smaller is almost certainly a damaged header.
pub const MIN_SIDE: u32 = 16;

impl Limits {
    /// Checks a file size before anything is parsed.
    pub fn check_file_size(&self, bytes: u64) -> Result<()> {
        if bytes > self.max_file_bytes {
            return Err(MediaError::LimitExceeded {
                limit: Limit::FileSize,
                message: format!(
                    "the file is {:.1} MB; the limit is {:.1} MB — compress or trim it",
                    bytes as f64 / 1e6,
                    self.max_file_bytes as f64 / 1e6
                ),
            });
        }
        Ok(())
    }

    /// Checks a clip's duration.
    pub fn check_duration(&self, seconds: f64) -> Result<()> {
        if seconds > self.max_duration_s + 1e-6 {
            return Err(MediaError::LimitExceeded {
                limit: Limit::Duration,
                message: format!(
                    "the video is {seconds:.1} s; the limit is {} s — trim it",
                    self.max_duration_s
                ),
            });
        }
        Ok(())
    }

    /// Checks frame dimensions.
    pub fn check_dimensions(&self, width: u32, height: u32) -> Result<()> {
        if width < MIN_SIDE || height < MIN_SIDE {
            return Err(MediaError::LimitExceeded {
                limit: Limit::MinSide,
                message: format!(
                    "the video is {width}x{height}; frames must be at least \
                     {MIN_SIDE}x{MIN_SIDE} pixels"
                ),
            });
        }
        if width > self.max_input_side || height > self.max_input_side {
            return Err(MediaError::LimitExceeded {
                limit: Limit::InputSide,
                message: format!(
                    "the video is {width}x{height}; the largest accepted side is {} px — scale \
                     it down",
                    self.max_input_side
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_change() {
        let l = Limits::default();
        let e = l.check_duration(14.2).unwrap_err().to_string();
        assert!(e.contains("14.2 s") && e.contains("limit is 10 s"), "{e}");
        assert!(l.check_duration(10.0).is_ok());
        let e = l.check_dimensions(0, 720).unwrap_err().to_string();
        assert!(e.contains("at least 16x16"), "{e}");
        let e = l.check_dimensions(65535, 720).unwrap_err().to_string();
        assert!(e.contains("largest accepted side is 4096"), "{e}");
        let e = l.check_file_size(150_000_000).unwrap_err();
        assert!(matches!(
            e,
            MediaError::LimitExceeded {
                limit: Limit::FileSize,
                ..
            }
        ));
        assert!(e.to_string().contains("150.0 MB"), "{e}");
        // The front ends name their own flag or setting; the media crate names none.
        for e in [
            l.check_duration(14.2).unwrap_err(),
            l.check_dimensions(65535, 720).unwrap_err(),
            l.check_file_size(150_000_000).unwrap_err(),
        ] {
            assert!(!e.to_string().contains("raise"), "{e}");
        }
    }
}
