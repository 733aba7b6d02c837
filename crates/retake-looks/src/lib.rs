//! Built-in looks: film grades and painted styles computed on a frame, frame in, frame out,
//! with no model. `retake look` applies one to an image; `retake modify --look` applies one
//! to the clip's first frame and lets the engine carry it through the clip.
//!
//! Every look has a strength from 0 (the frame unchanged) to 1 (the full look), and may be
//! confined by a mask (white: the full look, black: unchanged). Lengths scale with the frame
//! (they are set for 720 lines), so a small preview looks like the full-size result. Work is
//! spread over rayon's threads by rows; the output never depends on the thread count.

mod catalogue;
mod error;
mod grade;
mod ink;
mod mask;
mod neon;
mod paint;
mod plane;

use rayon::prelude::*;
use retake_media::RgbFrame;

pub use catalogue::{catalogue, LookInfo, LookName};
pub use error::LookError;
pub use mask::Mask;

/// The largest frame a look takes, in pixels: 4096×4096 (a 4K video frame is 8.3 million).
/// The painted looks hold about 80 bytes a pixel while they work, 1.3 GB at this size.
pub const MAX_PIXELS: u64 = 4096 * 4096;

/// The recolour look's change of hue, saturation and lightness (at strength 1).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct HslShift {
    /// Hue rotation in degrees, -360 to 360.
    pub hue: f32,
    /// Saturation change, -1 (grey) to 1 (twice as saturated).
    pub saturation: f32,
    /// Lightness change, -1 (black) to 1 (white).
    pub lightness: f32,
}

impl Default for HslShift {
    /// A third of the way round the colour wheel: red becomes green, green blue.
    fn default() -> Self {
        Self {
            hue: 120.0,
            saturation: 0.0,
            lightness: 0.0,
        }
    }
}

impl HslShift {
    /// Checks each value against its range.
    pub fn checked(self) -> Result<Self, LookError> {
        let check = |name, value: f32, lo: f32, hi: f32, range| {
            if value.is_finite() && (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(LookError::BadParameter { name, value, range })
            }
        };
        check("hue", self.hue, -360.0, 360.0, "degrees from -360 to 360")?;
        check(
            "saturation",
            self.saturation,
            -1.0,
            1.0,
            "from -1 (grey) to 1 (twice as saturated)",
        )?;
        check(
            "lightness",
            self.lightness,
            -1.0,
            1.0,
            "from -1 (black) to 1 (white)",
        )?;
        Ok(self)
    }
}

/// A look at a strength: what `retake look --look NAME --strength S` asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    name: LookName,
    strength: f32,
    hsl: HslShift,
}

impl Look {
    /// The look `name` at `strength` (0–1).
    pub fn new(name: LookName, strength: f32) -> Result<Self, LookError> {
        if !(strength.is_finite() && (0.0..=1.0).contains(&strength)) {
            return Err(LookError::BadStrength(strength));
        }
        Ok(Self {
            name,
            strength,
            hsl: HslShift::default(),
        })
    }

    /// Parses a look's name, with its strength.
    pub fn named(name: &str, strength: f32) -> Result<Self, LookError> {
        Self::new(name.parse()?, strength)
    }

    /// Sets the recolour look's hue, saturation and lightness; refused for other looks.
    pub fn with_hsl(mut self, hsl: HslShift) -> Result<Self, LookError> {
        if self.name != LookName::Recolour {
            return Err(LookError::NotRecolour(self.name.name()));
        }
        self.hsl = hsl.checked()?;
        Ok(self)
    }

    /// Which look.
    pub fn name(&self) -> LookName {
        self.name
    }

    /// How much of it, 0–1.
    pub fn strength(&self) -> f32 {
        self.strength
    }

    /// The recolour look's shift (the default for other looks, which ignore it).
    pub fn hsl(&self) -> HslShift {
        self.hsl
    }

    /// The frame with this look; `mask`, when given, must be the frame's size and confines
    /// the look to its light parts.
    pub fn apply(&self, frame: &RgbFrame, mask: Option<&Mask>) -> Result<RgbFrame, LookError> {
        let (w, h) = (frame.width(), frame.height());
        if w as u64 * h as u64 > MAX_PIXELS {
            return Err(LookError::TooLarge {
                width: w,
                height: h,
            });
        }
        if let Some(m) = mask {
            if (m.width(), m.height()) != (w, h) {
                return Err(LookError::MaskSize {
                    mask_w: m.width(),
                    mask_h: m.height(),
                    frame_w: w,
                    frame_h: h,
                });
            }
        }
        if self.strength == 0.0 {
            return Ok(frame.clone());
        }
        let (wu, hu) = (w as usize, h as usize);
        let src = plane::to_rgb(frame);
        let full = match self.name {
            LookName::FilmNoir => grade::film_noir(wu, hu, &src),
            LookName::Sepia => grade::sepia(&src),
            LookName::BleachBypass => grade::bleach_bypass(&src),
            LookName::TealOrange => grade::teal_orange(&src),
            LookName::Recolour => grade::recolour(&src, self.hsl, self.strength),
            LookName::Comic => ink::comic(wu, hu, &src),
            LookName::PencilSketch => ink::pencil_sketch(wu, hu, &src),
            LookName::OilPaint => paint::oil_paint(wu, hu, &src),
            LookName::Watercolour => paint::watercolour(wu, hu, &src),
            LookName::NeonNight => neon::neon_night(wu, hu, &src),
        };
        // Recolour scales its own parameters by the strength; the others are mixed with the
        // source, so every look moves steadily away from the source as the strength grows.
        let amount = if self.name == LookName::Recolour {
            1.0
        } else {
            self.strength
        };
        Ok(blend(frame, &full, amount, mask))
    }
}

impl serde::Serialize for Look {
    /// `{"name", "strength"}`, and `"hue"`, `"saturation"`, `"lightness"` for recolour.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // As written (0.7, not the 0.699999988 an f32 widens to).
        let tidy = |v: f32| v.to_string().parse::<f64>().unwrap_or(v as f64);
        let recolour = self.name == LookName::Recolour;
        let mut m = s.serialize_map(Some(if recolour { 5 } else { 2 }))?;
        m.serialize_entry("name", self.name.name())?;
        m.serialize_entry("strength", &tidy(self.strength))?;
        if recolour {
            m.serialize_entry("hue", &tidy(self.hsl.hue))?;
            m.serialize_entry("saturation", &tidy(self.hsl.saturation))?;
            m.serialize_entry("lightness", &tidy(self.hsl.lightness))?;
        }
        m.end()
    }
}

/// `src` moved towards `full` by `amount` (times the mask), rounded back to 8 bits.
fn blend(src: &RgbFrame, full: &[[f32; 3]], amount: f32, mask: Option<&Mask>) -> RgbFrame {
    let (w, h) = (src.width(), src.height());
    let mut out = vec![0u8; src.data().len()];
    out.par_chunks_mut(w as usize * 3)
        .enumerate()
        .for_each(|(y, row)| {
            let base = y * w as usize;
            for (x, o) in row.chunks_exact_mut(3).enumerate() {
                let i = base + x;
                let k = amount * mask.map_or(1.0, |m| m.weight(i));
                let s = &src.data()[i * 3..i * 3 + 3];
                for c in 0..3 {
                    let from = s[c] as f32;
                    let to = full[i][c].clamp(0.0, 1.0) * 255.0;
                    o[c] = (from + (to - from) * k).round().clamp(0.0, 255.0) as u8;
                }
            }
        });
    RgbFrame::from_raw(w, h, out).expect("the blend has the source's size")
}
