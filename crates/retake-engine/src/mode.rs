//! The modes a user picks, and the one table that turns each into engine parameters.

use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How far the output may move away from the source: `adhere_*` stays closest, `reimagine_*` is boldest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Closest to the source.
    Adhere1,
    /// Close to the source.
    Adhere2,
    /// Close to the source, a little looser.
    Adhere3,
    /// Balanced, leaning to the source (the default).
    #[default]
    Flex1,
    /// Balanced.
    Flex2,
    /// Balanced, leaning to the style.
    Flex3,
    /// Style first.
    Reimagine1,
    /// Style first, looser.
    Reimagine2,
    /// Boldest: follows the keyframe's style most freely.
    Reimagine3,
}

impl Mode {
    /// All modes from closest-to-source to boldest.
    pub const ALL: [Mode; 9] = [
        Mode::Adhere1,
        Mode::Adhere2,
        Mode::Adhere3,
        Mode::Flex1,
        Mode::Flex2,
        Mode::Flex3,
        Mode::Reimagine1,
        Mode::Reimagine2,
        Mode::Reimagine3,
    ];

    /// The name users type (`adhere_1` … `reimagine_3`).
    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// The engine parameters for this mode (the single table below).
    pub fn params(self) -> ModeParams {
        TABLE[self as usize]
    }
}

const NAMES: [&str; 9] = [
    "adhere_1",
    "adhere_2",
    "adhere_3",
    "flex_1",
    "flex_2",
    "flex_3",
    "reimagine_1",
    "reimagine_2",
    "reimagine_3",
];

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == t)
            .ok_or_else(|| EngineError::UnknownMode(s.to_string()))
    }
}

impl Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a mode means to the engines.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModeParams {
    /// Weight of the source-appearance guide (keyframe's source vs current source colour) in the patch search.
    pub appearance_weight: f32,
    /// Weight of the edge (gradient magnitude) guide.
    pub edge_weight: f32,
    /// Weight of the temporal guide (style patch vs the previous output warped along the flow).
    pub temporal_weight: f32,
    /// Penalty per squared pixel for straying from the flow-tracked keyframe position.
    pub position_weight: f32,
    /// How much of the source's luminance change (current vs keyframe source) is added to the output.
    pub detail_blend: f32,
    /// Frames between regenerated keyframes, for the diffusion engine (0: only the first).
    pub keyframe_interval: u32,
    /// img2img denoising strength for the diffusion engine, in (0, 1).
    pub strength: f32,
    /// How strongly the diffusion engine holds the source's coarse layout while denoising, in
    /// [0, 1].
    pub structure_hold: f32,
}

/// The mode table, adhere_1 → reimagine_3. Columns: appearance, edge, temporal, position,
/// detail blend, keyframe interval, img2img strength, structure hold.
const TABLE: [ModeParams; 9] = [
    row(4.0, 2.0, 0.5, 0.004, 0.60, 8, 0.25, 0.50),
    row(3.0, 1.6, 0.7, 0.003, 0.45, 10, 0.32, 0.45),
    row(2.2, 1.3, 0.9, 0.0025, 0.35, 12, 0.40, 0.38),
    row(1.6, 1.0, 1.1, 0.002, 0.25, 16, 0.48, 0.32),
    row(1.2, 0.8, 1.3, 0.0016, 0.18, 20, 0.55, 0.27),
    row(0.9, 0.6, 1.5, 0.0012, 0.12, 24, 0.62, 0.22),
    row(0.7, 0.45, 1.8, 0.001, 0.06, 32, 0.70, 0.15),
    row(0.5, 0.35, 2.1, 0.0008, 0.03, 40, 0.78, 0.09),
    row(0.35, 0.25, 2.5, 0.0006, 0.0, 48, 0.85, 0.04),
];

#[allow(clippy::too_many_arguments)]
const fn row(
    appearance_weight: f32,
    edge_weight: f32,
    temporal_weight: f32,
    position_weight: f32,
    detail_blend: f32,
    keyframe_interval: u32,
    strength: f32,
    structure_hold: f32,
) -> ModeParams {
    ModeParams {
        appearance_weight,
        edge_weight,
        temporal_weight,
        position_weight,
        detail_blend,
        keyframe_interval,
        strength,
        structure_hold,
    }
}

impl Default for ModeParams {
    fn default() -> Self {
        Mode::default().params()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mode::ALL {
            assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
        }
        assert_eq!("Reimagine-3".parse::<Mode>().unwrap(), Mode::Reimagine3);
    }

    #[test]
    fn serialises_as_the_name_users_type() {
        for m in Mode::ALL {
            let j = serde_json::to_string(&m).unwrap();
            assert_eq!(j, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Mode>(&j).unwrap(), m);
        }
        assert!(serde_json::from_str::<Mode>("\"bold\"").is_err());
    }

    #[test]
    fn unknown_mode_lists_the_valid_ones() {
        let e = "bold".parse::<Mode>().unwrap_err().to_string();
        for n in NAMES {
            assert!(e.contains(n), "{e}");
        }
    }

    #[test]
    fn table_is_monotone_from_adhere_to_reimagine() {
        for pair in Mode::ALL.windows(2) {
            let (a, b) = (pair[0].params(), pair[1].params());
            assert!(
                b.appearance_weight < a.appearance_weight,
                "{} → {}",
                pair[0],
                pair[1]
            );
            assert!(b.edge_weight < a.edge_weight);
            assert!(b.position_weight < a.position_weight);
            assert!(b.detail_blend < a.detail_blend);
            assert!(b.temporal_weight > a.temporal_weight);
            assert!(b.strength > a.strength);
            assert!(b.structure_hold < a.structure_hold);
            assert!(b.keyframe_interval > a.keyframe_interval);
            assert!(
                b.temporal_weight / b.appearance_weight > a.temporal_weight / a.appearance_weight
            );
        }
        assert_eq!(Mode::Adhere1.params().strength, 0.25);
        assert_eq!(Mode::Reimagine3.params().strength, 0.85);
    }

    #[test]
    fn the_readme_table_matches_this_one() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("README.md at the workspace root");
        for m in Mode::ALL {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| {}", m.name())))
                .unwrap_or_else(|| panic!("README has no row for {m}"));
            let nums: Vec<f32> = row
                .split('|')
                .skip(2)
                .filter_map(|c| c.trim().parse().ok())
                .collect();
            let p = m.params();
            let want = [
                p.appearance_weight,
                p.edge_weight,
                p.temporal_weight,
                p.position_weight,
                p.detail_blend,
                p.keyframe_interval as f32,
                p.strength,
                p.structure_hold,
            ];
            assert_eq!(nums, want, "README row for {m}: {row}");
        }
    }
}
