//! Why a look could not be applied, each with what to change.

/// A look that cannot be made as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookError {
    /// No look has this name.
    #[error("there is no look `{name}`; the looks are: {known}")]
    UnknownLook {
        /// The name asked for.
        name: String,
        /// Every look's name, comma-separated.
        known: String,
    },
    /// A strength outside 0–1 (or not a number).
    #[error("look strength must be a number from 0 (no change) to 1 (the full look); got {0}")]
    BadStrength(f32),
    /// A recolour parameter outside its range.
    #[error("{name} must be {range}; got {value}")]
    BadParameter {
        /// `hue`, `saturation` or `lightness`.
        name: &'static str,
        /// What was given.
        value: f32,
        /// The accepted range, in words.
        range: &'static str,
    },
    /// Hue, saturation or lightness given for a look other than `recolour`.
    #[error("hue, saturation and lightness apply only to the `recolour` look, not `{0}`")]
    NotRecolour(&'static str),
    /// The mask is not the frame's size.
    #[error(
        "the mask is {mask_w}x{mask_h} but the frame is {frame_w}x{frame_h}; paint the mask \
         over the frame itself, at {frame_w}x{frame_h}"
    )]
    MaskSize {
        /// Mask width.
        mask_w: u32,
        /// Mask height.
        mask_h: u32,
        /// Frame width.
        frame_w: u32,
        /// Frame height.
        frame_h: u32,
    },
    /// A frame too large to style in memory.
    #[error(
        "the image is {width}x{height} ({mp:.1} megapixels); looks take at most {limit:.1} \
         megapixels (4096x4096) — scale it down first",
        mp = *width as f64 * *height as f64 / 1e6,
        limit = crate::MAX_PIXELS as f64 / 1e6
    )]
    TooLarge {
        /// Frame width.
        width: u32,
        /// Frame height.
        height: u32,
    },
}
