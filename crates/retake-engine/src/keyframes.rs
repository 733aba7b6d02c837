//! Blending two keyframes over the frames between them: propagate the earlier one forward and
//! the later one backward, then cross-fade by distance so neither keyframe leaves a seam.

use crate::mode::ModeParams;
use crate::plane::ColorImage;
use crate::propagate::{Propagator, SynthSettings};
use crate::EngineError;
use retake_media::RgbFrame;

/// A styled keyframe and the source frame it was made from.
#[derive(Clone, Copy, Debug)]
pub struct Keyframe<'a> {
    /// The styled (edited or generated) frame.
    pub styled: &'a RgbFrame,
    /// The source frame at the same index.
    pub source: &'a RgbFrame,
}

/// Renders the frames strictly between keyframes `a` and `b` (`between` are their sources, in
/// order). Frame k of n gets weight (k + 1) / (n + 1) from `b`. Memory: the outputs of one
/// direction for the `between` frames, plus two propagators.
pub fn propagate_between(
    a: Keyframe<'_>,
    b: Keyframe<'_>,
    between: &[RgbFrame],
    mode: &ModeParams,
    seed: u64,
    settings: &SynthSettings,
) -> Result<Vec<RgbFrame>, EngineError> {
    let mut fwd = Propagator::with_settings(a.styled, a.source, mode, seed, settings.clone())?;
    fwd.push(a.source)?;
    let mut forward = Vec::with_capacity(between.len());
    for f in between {
        forward.push(fwd.push(f)?);
    }
    drop(fwd);
    let mut bwd = Propagator::with_settings(b.styled, b.source, mode, seed, settings.clone())?;
    bwd.push(b.source)?;
    let n = between.len();
    for (k, f) in between.iter().enumerate().rev() {
        let back = bwd.push(f)?;
        let t = (k + 1) as f32 / (n + 1) as f32;
        let mut mix = ColorImage::from_frame(&forward[k]);
        let other = ColorImage::from_frame(&back);
        for (m, o) in mix.data_mut().iter_mut().zip(other.data()) {
            for c in 0..3 {
                m[c] = (1.0 - t) * m[c] + t * o[c];
            }
        }
        forward[k] = mix.to_frame()?;
    }
    Ok(forward)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::recolour;
    use crate::metrics::psnr;
    use crate::scene::{Scene, SceneKind};

    #[test]
    fn blends_towards_each_keyframe_near_it() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 6, 2).unwrap();
        let src: Vec<_> = (0..6).map(|i| s.frame(i)).collect();
        let ka = recolour(&src[0]);
        // A different look at the end: the end keyframe is the plain source.
        let kb = src[5].clone();
        let out = propagate_between(
            Keyframe {
                styled: &ka,
                source: &src[0],
            },
            Keyframe {
                styled: &kb,
                source: &src[5],
            },
            &src[1..5],
            &ModeParams::default(),
            1,
            &SynthSettings::default(),
        )
        .unwrap();
        assert_eq!(out.len(), 4);
        let near_a = psnr(&out[0], &recolour(&src[1])).unwrap();
        let near_b = psnr(&out[3], &src[4]).unwrap();
        assert!(near_a > psnr(&out[3], &recolour(&src[4])).unwrap());
        assert!(near_b > psnr(&out[0], &src[1]).unwrap());
    }
}
