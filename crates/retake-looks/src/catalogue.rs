//! The looks there are: their names (with the spellings people use), and what each does.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::LookError;

/// One built-in look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LookName {
    /// High-contrast black and white with a vignette.
    FilmNoir,
    /// Warm brown monochrome, like an old print.
    Sepia,
    /// Silvery, desaturated, high-contrast colour.
    BleachBypass,
    /// The blockbuster grade: teal shadows, orange highlights and skin.
    TealOrange,
    /// Flat posterised colours with black ink outlines.
    Comic,
    /// Brush-stroke smoothing that keeps edges (Kuwahara filter).
    OilPaint,
    /// Light washes of colour, pigment pooled at edges, paper grain.
    Watercolour,
    /// Graphite lines on white paper, hatched shadows.
    PencilSketch,
    /// A dark night with glowing magenta and cyan edges.
    NeonNight,
    /// Hue, saturation and lightness changed (optionally only inside a mask).
    Recolour,
}

impl LookName {
    /// Every look, in the order they are listed.
    pub const ALL: [LookName; 10] = [
        LookName::FilmNoir,
        LookName::Sepia,
        LookName::BleachBypass,
        LookName::TealOrange,
        LookName::Comic,
        LookName::OilPaint,
        LookName::Watercolour,
        LookName::PencilSketch,
        LookName::NeonNight,
        LookName::Recolour,
    ];

    /// The name used on the command line and in the API.
    pub fn name(self) -> &'static str {
        match self {
            LookName::FilmNoir => "film_noir",
            LookName::Sepia => "sepia",
            LookName::BleachBypass => "bleach_bypass",
            LookName::TealOrange => "teal_orange",
            LookName::Comic => "comic",
            LookName::OilPaint => "oil_paint",
            LookName::Watercolour => "watercolour",
            LookName::PencilSketch => "pencil_sketch",
            LookName::NeonNight => "neon_night",
            LookName::Recolour => "recolour",
        }
    }

    /// One line saying what the look does.
    pub fn description(self) -> &'static str {
        match self {
            LookName::FilmNoir => "high-contrast black and white with deep shadows and a vignette",
            LookName::Sepia => "warm brown monochrome, like an old photographic print",
            LookName::BleachBypass => {
                "silvery, desaturated colour with hard contrast (skipped-bleach film)"
            }
            LookName::TealOrange => {
                "the blockbuster grade: teal shadows, warm orange highlights and skin"
            }
            LookName::Comic => {
                "flat posterised colours (five brightness levels) with black ink outlines"
            }
            LookName::OilPaint => {
                "thick brush strokes that flatten detail but keep edges sharp (Kuwahara filter)"
            }
            LookName::Watercolour => {
                "light washes of colour, pigment pooled at the edges, paper grain"
            }
            LookName::PencilSketch => "graphite lines on white paper with hatched shadows",
            LookName::NeonNight => "a dark blue night where edges glow magenta and cyan",
            LookName::Recolour => {
                "shift hue, saturation and lightness (hue +120° unless told), optionally only \
                 inside a mask"
            }
        }
    }

    /// Whether the look changes each pixel on its own (a colour grade), so that applying it
    /// to every frame of a clip needs nothing carried from frame to frame.
    pub fn per_pixel(self) -> bool {
        matches!(
            self,
            LookName::FilmNoir
                | LookName::Sepia
                | LookName::BleachBypass
                | LookName::TealOrange
                | LookName::Recolour
        )
    }

    /// Every look's name, comma-separated (for messages).
    pub fn names() -> String {
        Self::ALL.map(LookName::name).join(", ")
    }
}

impl fmt::Display for LookName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LookName {
    type Err = LookError;

    /// Reads a look's name; case, `-` for `_`, spaces and the usual other spellings
    /// (`noir`, `watercolor`, `recolor`, `kuwahara`, …) are accepted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        let found = match key.as_str() {
            "film_noir" | "noir" => LookName::FilmNoir,
            "sepia" => LookName::Sepia,
            "bleach_bypass" | "bleach" => LookName::BleachBypass,
            "teal_orange" | "teal_and_orange" | "teal_&_orange" => LookName::TealOrange,
            "comic" | "posterise" | "posterize" | "cartoon" => LookName::Comic,
            "oil_paint" | "oil" | "kuwahara" => LookName::OilPaint,
            "watercolour" | "watercolor" => LookName::Watercolour,
            "pencil_sketch" | "pencil" | "sketch" => LookName::PencilSketch,
            "neon_night" | "neon" => LookName::NeonNight,
            "recolour" | "recolor" | "hsl" => LookName::Recolour,
            _ => {
                return Err(LookError::UnknownLook {
                    name: s.chars().take(60).collect(),
                    known: Self::names(),
                })
            }
        };
        Ok(found)
    }
}

/// A look as listed by `retake looks` and the API: its name and what it does.
#[derive(Clone, Debug, Serialize)]
pub struct LookInfo {
    /// The name to ask for.
    pub name: &'static str,
    /// One line saying what it does.
    pub description: &'static str,
    /// Whether it takes hue, saturation and lightness.
    pub takes_hsl: bool,
}

/// Every look, with what it does.
pub fn catalogue() -> Vec<LookInfo> {
    LookName::ALL
        .iter()
        .map(|&l| LookInfo {
            name: l.name(),
            description: l.description(),
            takes_hsl: l == LookName::Recolour,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for l in LookName::ALL {
            assert_eq!(l.name().parse::<LookName>().unwrap(), l);
            assert_eq!(l.name().to_uppercase().parse::<LookName>().unwrap(), l);
        }
        assert_eq!("Film-Noir".parse::<LookName>().unwrap(), LookName::FilmNoir);
        assert_eq!(
            "watercolor".parse::<LookName>().unwrap(),
            LookName::Watercolour
        );
        assert_eq!(
            "teal and orange".parse::<LookName>().unwrap(),
            LookName::TealOrange
        );
        let e = "vaporwave".parse::<LookName>().unwrap_err().to_string();
        assert!(
            e.contains("`vaporwave`") && e.contains("film_noir, sepia"),
            "{e}"
        );
    }
}
