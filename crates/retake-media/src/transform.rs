//! Geometry: the output size rule, resizing and quarter-turn rotation.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::{MediaError, Result, RgbFrame};

/// The largest output frame: `long` on the longer side and `short` on the shorter one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SizeCap {
    /// Cap on the longer side.
    pub long: u32,
    /// Cap on the shorter side.
    pub short: u32,
    /// Scale smaller inputs up until they meet the cap (a resolution tier the user asked
    /// for explicitly); otherwise smaller inputs keep their size.
    #[serde(default)]
    pub upscale: bool,
}

impl Default for SizeCap {
    fn default() -> Self {
        Self {
            long: 1280,
            short: 720,
            upscale: false,
        }
    }
}

/// The output size for a (display-oriented) input: aspect kept, scaled down to fit the cap
/// (scaled up to meet it only when the cap says `upscale`), both dimensions even.
pub fn output_size(width: u32, height: u32, cap: SizeCap) -> (u32, u32) {
    let (long, short) = (width.max(height) as f64, width.min(height) as f64);
    let fit = (cap.long as f64 / long).min(cap.short as f64 / short);
    let scale = if cap.upscale { fit } else { fit.min(1.0) };
    let even = |v: f64| (((v / 2.0).round() as u32) * 2).max(2);
    (even(width as f64 * scale), even(height as f64 * scale))
}

/// Resizes frames with a reusable Lanczos resizer (the identity when sizes match).
pub struct FrameResizer {
    resizer: Resizer,
    options: ResizeOptions,
}

impl Default for FrameResizer {
    fn default() -> Self {
        Self {
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        }
    }
}

impl FrameResizer {
    /// Resizes `frame` to `width`×`height`.
    pub fn resize(&mut self, frame: RgbFrame, width: u32, height: u32) -> Result<RgbFrame> {
        if frame.width() == width && frame.height() == height {
            return Ok(frame);
        }
        let fail = |e: &dyn std::fmt::Display| MediaError::InvalidFrame(format!("resize: {e}"));
        let src = ImageRef::new(frame.width(), frame.height(), frame.data(), PixelType::U8x3)
            .map_err(|e| fail(&e))?;
        let mut dst = Image::new(width, height, PixelType::U8x3);
        self.resizer
            .resize(&src, &mut dst, &self.options)
            .map_err(|e| fail(&e))?;
        RgbFrame::from_raw(width, height, dst.into_vec())
    }
}

/// Rotates a frame clockwise by 0, 90, 180 or 270 degrees.
pub fn rotate(frame: RgbFrame, degrees: u32) -> RgbFrame {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let src = frame.data();
    let mut out = vec![0u8; src.len()];
    let (nw, nh) = match degrees {
        90 | 270 => (h, w),
        180 => (w, h),
        _ => return frame,
    };
    for y in 0..h {
        for x in 0..w {
            let (nx, ny) = match degrees {
                90 => (h - 1 - y, x),
                180 => (w - 1 - x, h - 1 - y),
                _ => (y, w - 1 - x),
            };
            let s = (y * w + x) * 3;
            let d = (ny * nw + nx) * 3;
            out[d..d + 3].copy_from_slice(&src[s..s + 3]);
        }
    }
    // Dimensions are swapped from a valid frame, so the size always matches.
    RgbFrame::from_raw(nw as u32, nh as u32, out).unwrap_or(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_caps_and_keeps_aspect() {
        let cap = SizeCap::default();
        assert_eq!(output_size(1920, 1080, cap), (1280, 720));
        assert_eq!(output_size(1080, 1920, cap), (720, 1280));
        assert_eq!(output_size(640, 360, cap), (640, 360));
        assert_eq!(output_size(3840, 1600, cap), (1280, 534));
        assert_eq!(output_size(321, 241, cap), (322, 242));
        assert_eq!(output_size(4000, 3000, cap), (960, 720));
    }

    #[test]
    fn output_size_scales_up_only_when_the_cap_says_so() {
        let up = SizeCap {
            long: 4096,
            short: 1080,
            upscale: true,
        };
        assert_eq!(output_size(640, 360, up), (1920, 1080));
        assert_eq!(output_size(360, 640, up), (1080, 1920));
        assert_eq!(
            output_size(
                640,
                360,
                SizeCap {
                    upscale: false,
                    ..up
                }
            ),
            (640, 360)
        );
        // The long side's cap still holds: a panorama stops at 4096 wide.
        assert_eq!(output_size(1600, 200, up), (4096, 512));
    }

    #[test]
    fn rotate_moves_corners_clockwise() {
        // 2×1: red, green → rotated 90° cw gives a 1×2 column red over green.
        let f = RgbFrame::from_raw(2, 1, vec![255, 0, 0, 0, 255, 0]).unwrap();
        let r = rotate(f.clone(), 90);
        assert_eq!((r.width(), r.height()), (1, 2));
        assert_eq!(r.pixel(0, 0), [255, 0, 0]);
        assert_eq!(r.pixel(0, 1), [0, 255, 0]);
        let r = rotate(f.clone(), 270);
        assert_eq!(r.pixel(0, 0), [0, 255, 0]);
        let r = rotate(f, 180);
        assert_eq!(r.pixel(0, 0), [0, 255, 0]);
    }
}
