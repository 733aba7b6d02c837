//! Output resolution tiers: `360p` … `1080p` name the output's shorter side; the longer side
//! follows the source's aspect ratio, so portrait clips get the same tiers turned round.

use std::fmt;
use std::str::FromStr;

use crate::transform::{output_size, SizeCap};

/// The longest output side any tier makes (a panorama's long side stops here; H.264 level
/// 5.1 encodes up to 4096 pixels wide).
pub const MAX_OUTPUT_SIDE: u32 = 4096;

/// An output resolution tier: the output's shorter side in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    /// Shorter side 360 pixels (640×360 for 16:9).
    P360,
    /// Shorter side 540 pixels (960×540).
    P540,
    /// Shorter side 720 pixels (1280×720).
    P720,
    /// Shorter side 1080 pixels (1920×1080).
    P1080,
}

impl Resolution {
    /// Every tier, smallest first.
    pub const ALL: [Resolution; 4] = [
        Resolution::P360,
        Resolution::P540,
        Resolution::P720,
        Resolution::P1080,
    ];

    /// The tier's name (`360p` … `1080p`).
    pub fn name(self) -> &'static str {
        match self {
            Resolution::P360 => "360p",
            Resolution::P540 => "540p",
            Resolution::P720 => "720p",
            Resolution::P1080 => "1080p",
        }
    }

    /// The output's shorter side, pixels.
    pub fn short_side(self) -> u32 {
        match self {
            Resolution::P360 => 360,
            Resolution::P540 => 540,
            Resolution::P720 => 720,
            Resolution::P1080 => 1080,
        }
    }

    /// The tier an output of `width`×`height` belongs to (for its price and its report): the
    /// smallest tier whose shorter side is at least the output's, `1080p` above that.
    pub fn of_size(width: u32, height: u32) -> Resolution {
        let short = width.min(height);
        Self::ALL
            .into_iter()
            .find(|r| short <= r.short_side())
            .unwrap_or(Resolution::P1080)
    }

    /// The size cap that makes this tier: shorter side at most the tier's, longer side at most
    /// [`MAX_OUTPUT_SIDE`]; smaller sources are scaled up to the tier only with `upscale`.
    pub fn cap(self, upscale: bool) -> SizeCap {
        SizeCap {
            long: MAX_OUTPUT_SIDE,
            short: self.short_side(),
            upscale,
        }
    }

    /// The output size this tier gives a (display-oriented) `width`×`height` source.
    pub fn output_size(self, width: u32, height: u32, upscale: bool) -> (u32, u32) {
        output_size(width, height, self.cap(upscale))
    }

    /// The tier names, for messages: `360p, 540p, 720p or 1080p`.
    pub fn names() -> &'static str {
        "360p, 540p, 720p or 1080p"
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a tier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a resolution; use 360p, 540p, 720p or 1080p")]
pub struct UnknownResolution(pub String);

impl FromStr for Resolution {
    type Err = UnknownResolution;

    /// Reads `720p` (or `720`, any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_suffix('p').unwrap_or(&t);
        Self::ALL
            .into_iter()
            .find(|r| r.short_side().to_string() == t)
            .ok_or_else(|| UnknownResolution(s.to_string()))
    }
}

impl serde::Serialize for Resolution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Resolution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_set_the_shorter_side_and_keep_the_aspect() {
        assert_eq!(
            Resolution::P1080.output_size(3840, 2160, false),
            (1920, 1080)
        );
        assert_eq!(Resolution::P540.output_size(1920, 1080, false), (960, 540));
        assert_eq!(Resolution::P360.output_size(1080, 1920, false), (360, 640));
        assert_eq!(
            Resolution::P720.output_size(2560, 1080, false),
            (1706, 720),
            "21:9 keeps its width"
        );
    }

    #[test]
    fn smaller_sources_are_kept_unless_upscaling_is_asked_for() {
        assert_eq!(Resolution::P1080.output_size(640, 360, false), (640, 360));
        assert_eq!(Resolution::P1080.output_size(640, 360, true), (1920, 1080));
        assert_eq!(Resolution::P720.output_size(360, 640, true), (720, 1280));
    }

    #[test]
    fn an_output_belongs_to_the_smallest_tier_that_holds_its_short_side() {
        assert_eq!(Resolution::of_size(640, 360), Resolution::P360);
        assert_eq!(Resolution::of_size(320, 180), Resolution::P360);
        assert_eq!(Resolution::of_size(854, 480), Resolution::P540);
        assert_eq!(Resolution::of_size(1280, 720), Resolution::P720);
        assert_eq!(Resolution::of_size(1080, 1920), Resolution::P1080);
        assert_eq!(Resolution::of_size(4096, 2160), Resolution::P1080);
    }

    #[test]
    fn names_parse_and_print() {
        for r in Resolution::ALL {
            assert_eq!(r.name().parse::<Resolution>(), Ok(r));
            assert_eq!(r.to_string(), r.name());
        }
        assert_eq!("720".parse::<Resolution>(), Ok(Resolution::P720));
        assert_eq!(" 1080P ".parse::<Resolution>(), Ok(Resolution::P1080));
        let e = "4k".parse::<Resolution>().unwrap_err().to_string();
        assert!(e.contains("`4k`") && e.contains("1080p"), "{e}");
        let j: Resolution = serde_json::from_str("\"540p\"").unwrap();
        assert_eq!(j, Resolution::P540);
        assert!(serde_json::from_str::<Resolution>("\"2k\"").is_err());
    }
}
