//! Conditioning controls: how strongly the output holds the source's structure and motion,
//! as adjustments of a mode's engine parameters. The HTTP service maps Luma's per-signal
//! controls (depth, surface normals, pose, trajectory) onto these two dials.

use serde::{Deserialize, Serialize};

use crate::ModeParams;

/// Two dials in [0, 1]; 0.5 (or `None`) keeps the mode's own value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Controls {
    /// How strongly the source's structure (edges, layout, shapes) holds: scales the edge
    /// guide of the propagation and the diffusion engine's structure hold by
    /// `0.25 + 1.5 × structure` (0 → a quarter, 0.5 → as the mode has it, 1 → 1.75×).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<f32>,
    /// How strongly matches stay on the source's motion tracks: scales the position prior
    /// (the pull towards the flow-tracked keyframe position) by `2 × trajectory` (0 turns
    /// it off, 1 doubles it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<f32>,
}

impl Controls {
    /// Whether the controls change nothing.
    pub fn is_neutral(&self) -> bool {
        self.structure.is_none() && self.trajectory.is_none()
    }
}

/// The structure dial's scale factor.
pub fn structure_scale(structure: f32) -> f32 {
    0.25 + 1.5 * structure.clamp(0.0, 1.0)
}

/// The trajectory dial's scale factor.
pub fn trajectory_scale(trajectory: f32) -> f32 {
    2.0 * trajectory.clamp(0.0, 1.0)
}

impl ModeParams {
    /// These parameters with `controls` applied.
    pub fn with_controls(mut self, controls: &Controls) -> ModeParams {
        if let Some(s) = controls.structure {
            let k = structure_scale(s);
            self.edge_weight *= k;
            self.structure_hold = (self.structure_hold * k).clamp(0.0, 1.0);
        }
        if let Some(t) = controls.trajectory {
            self.position_weight *= trajectory_scale(t);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    #[test]
    fn the_middle_keeps_the_mode_and_the_ends_move_it_monotonically() {
        let base = Mode::Flex1.params();
        let neutral = Controls {
            structure: Some(0.5),
            trajectory: Some(0.5),
        };
        assert_eq!(base.with_controls(&neutral), base);
        assert_eq!(base.with_controls(&Controls::default()), base);
        let dial = |s: f32| {
            base.with_controls(&Controls {
                structure: Some(s),
                trajectory: Some(s),
            })
        };
        let (lo, hi) = (dial(0.0), dial(1.0));
        assert!(lo.edge_weight < base.edge_weight && base.edge_weight < hi.edge_weight);
        assert!(lo.structure_hold < base.structure_hold);
        assert!(base.structure_hold < hi.structure_hold && hi.structure_hold <= 1.0);
        assert_eq!(lo.position_weight, 0.0, "trajectory 0 turns the prior off");
        assert_eq!(hi.position_weight, 2.0 * base.position_weight);
        // Nothing else moves.
        assert_eq!(
            (hi.appearance_weight, hi.temporal_weight, hi.strength),
            (base.appearance_weight, base.temporal_weight, base.strength)
        );
        assert!(
            Mode::Adhere1
                .params()
                .with_controls(&Controls {
                    structure: Some(1.0),
                    trajectory: None
                })
                .structure_hold
                <= 1.0
        );
    }
}
