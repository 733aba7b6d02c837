//! Masks: where a look goes, painted as an image over the frame.

use retake_media::RgbFrame;

/// Per-pixel amounts of a look: white (255) the full look, black (0) none, greys between.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Mask {
    /// The mask an image paints: each pixel's lightness (Rec. 709 luma). Paint white where
    /// the look goes on black; a transparent PNG's clear parts read as their colour, which
    /// painting programs store as black.
    pub fn from_image(image: &RgbFrame) -> Self {
        let data = image
            .data()
            .chunks_exact(3)
            .map(|p| {
                let y = 0.2126 * p[0] as f32 + 0.7152 * p[1] as f32 + 0.0722 * p[2] as f32;
                y.round().clamp(0.0, 255.0) as u8
            })
            .collect();
        Self {
            width: image.width(),
            height: image.height(),
            data,
        }
    }

    /// A mask from its values, `width * height` of them; `None` when the count is wrong.
    pub fn from_values(width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        (data.len() == width as usize * height as usize && width > 0 && height > 0).then_some(
            Self {
                width,
                height,
                data,
            },
        )
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The values, row-major.
    pub fn values(&self) -> &[u8] {
        &self.data
    }

    /// The amount at pixel index `i` (row-major), 0–1.
    #[inline]
    pub(crate) fn weight(&self, i: usize) -> f32 {
        self.data[i] as f32 / 255.0
    }
}
