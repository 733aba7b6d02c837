//! Hard scene-cut detection between consecutive source frames.

use crate::plane::Plane;

const BINS: usize = 32;

/// Streaming cut detector over luma: colour-histogram distance with a threshold that adapts to
/// the clip's usual frame-to-frame change, so fast motion is not mistaken for a cut.
#[derive(Clone, Debug, Default)]
pub struct CutDetector {
    prev: Option<([f32; BINS], Plane)>,
    history: Vec<f32>,
}

impl CutDetector {
    /// A detector that has seen no frames.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next frame's luma; true when it starts a new shot.
    pub fn push(&mut self, luma: &Plane) -> bool {
        let hist = histogram(luma);
        let thumb = thumbnail(luma);
        let cut = match &self.prev {
            None => false,
            Some((ph, pt)) => {
                let hd = 0.5 * hist.iter().zip(ph).map(|(a, b)| (a - b).abs()).sum::<f32>();
                let md = thumb
                    .data()
                    .iter()
                    .zip(pt.data())
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f32>()
                    / thumb.data().len() as f32;
                let score = hd + 2.0 * md;
                let mut recent = self.history.clone();
                recent.sort_by(f32::total_cmp);
                let median = recent.get(recent.len() / 2).copied().unwrap_or(0.0);
                let cut = score > 0.45_f32.max(4.0 * median + 0.15);
                if !cut {
                    self.history.push(score);
                    if self.history.len() > 24 {
                        self.history.remove(0);
                    }
                }
                cut
            }
        };
        self.prev = Some((hist, thumb));
        cut
    }
}

fn histogram(p: &Plane) -> [f32; BINS] {
    let mut h = [0.0f32; BINS];
    for &v in p.data() {
        h[((v.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1)] += 1.0;
    }
    let n = p.data().len() as f32;
    h.map(|c| c / n)
}

fn thumbnail(p: &Plane) -> Plane {
    let f = (p.width().max(p.height()) / 32).max(1);
    p.downsample(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::{Scene, SceneKind};

    #[test]
    fn finds_the_cut_between_two_shots_and_nothing_else() {
        let a = Scene::new(SceneKind::Demo, 96, 64, 8, 1).unwrap();
        let b = Scene::new(SceneKind::Translate, 96, 64, 8, 99).unwrap();
        let mut d = CutDetector::new();
        let mut cuts = Vec::new();
        for i in 0..16 {
            let f = if i < 8 { a.frame(i) } else { b.frame(i - 8) };
            if d.push(&Plane::luma(&f)) {
                cuts.push(i);
            }
        }
        assert_eq!(cuts, vec![8]);
    }
}
