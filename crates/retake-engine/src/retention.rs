//! Edit retention on real footage, where there is no ground truth: how much of the first
//! frame's edit is still in the output where the edited region has been tracked.
//!
//! The edit is the difference between the edited first frame and its source, per pixel. Its
//! region (where that difference is large) is carried along the source's own optical flow,
//! frame by frame; a pixel leaves it for good once it is occluded or leaves the picture. In
//! each later frame a tracked pixel scores how much of its original edit the output still
//! adds to the source there: the projection of (output − source) onto the original edit
//! vector, clamped to [0, 1]. The frame's retention is the mean of those scores, weighted by
//! the edit's size, so a bold sticker counts more than a faint fringe.

use crate::flow::FlowField;
use crate::plane::ColorImage;

/// Pixels whose first-frame edit (mean absolute RGB difference, 0–255) is below this are not
/// part of the edited region.
pub const EDIT_THRESHOLD: f32 = 20.0;

/// Forward-backward flow disagreement (pixels) past which a pixel counts as occluded.
pub const OCCLUSION_PX: f32 = 1.5;

/// The edited region of a clip's first frame, tracked through the following frames.
pub struct EditTracker {
    w: usize,
    h: usize,
    /// Edit vector (edited − source) per first-frame pixel, and its squared length (0 outside
    /// the region).
    edit: Vec<[f32; 3]>,
    weight: Vec<f32>,
    total: f64,
    /// Per current-frame pixel: the first-frame point it came from (sub-pixel, so rounding
    /// does not add up over the frames), or `None`.
    origin: Vec<Option<[f32; 2]>>,
}

/// Retention in one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameRetention {
    /// Share of the edit still present where the region is tracked, 0–1.
    pub retention: f64,
    /// Share of the first frame's edited region (by edit weight) still tracked, 0–1.
    pub tracked: f64,
}

impl EditTracker {
    /// Starts from the edited first frame and its source, both at the working size used for
    /// the flow.
    pub fn new(edited: &ColorImage, source: &ColorImage) -> Self {
        let (w, h) = (source.width(), source.height());
        let mut edit = Vec::with_capacity(w * h);
        let mut weight = Vec::with_capacity(w * h);
        for (a, b) in edited.data().iter().zip(source.data()) {
            let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
            let size = (d[0].abs() + d[1].abs() + d[2].abs()) / 3.0;
            edit.push(d);
            weight.push(if size >= EDIT_THRESHOLD {
                d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
            } else {
                0.0
            });
        }
        let total = weight.iter().map(|&x| x as f64).sum();
        // Every pixel is tracked, not only the edited ones: a pixel's origin comes from its
        // nearest neighbour in the previous frame, and at the region's edge that neighbour may
        // lie just outside it while the pixel itself lies inside.
        let origin = (0..w * h)
            .map(|i| Some([(i % w) as f32, (i / w) as f32]))
            .collect();
        Self {
            w,
            h,
            edit,
            weight,
            total,
            origin,
        }
    }

    /// Whether the first frame was edited at all (anything to track).
    pub fn has_edit(&self) -> bool {
        self.total > 0.0
    }

    /// Carries the region to the next frame along `bwd` (the flow from the new frame back to
    /// the previous one; `fwd` is the flow the other way), then scores `output` against
    /// `source` (the new frame's, at working size). A pixel whose two flows disagree by more
    /// than [`OCCLUSION_PX`] is taken as occluded and leaves the region. The engine's own
    /// occlusion test is stricter (it only decides where to trust the flow for one frame);
    /// here one false alarm would drop a pixel for good, so only clear disagreement counts.
    pub fn advance(
        &mut self,
        bwd: &FlowField,
        fwd: &FlowField,
        source: &ColorImage,
        output: &ColorImage,
    ) -> FrameRetention {
        let (w, h) = (self.w, self.h);
        let mut next = vec![None; w * h];
        let (mut kept, mut seen) = (0.0f64, 0.0f64);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let b = bwd.get(x, y);
                let (qx, qy) = (x as f32 + b[0], y as f32 + b[1]);
                if qx < -0.5 || qy < -0.5 || qx > w as f32 - 0.5 || qy > h as f32 - 0.5 {
                    continue;
                }
                let f = fwd.sample(qx, qy);
                let (dx, dy) = (b[0] + f[0], b[1] + f[1]);
                let motion = b[0] * b[0] + b[1] * b[1];
                if dx * dx + dy * dy > OCCLUSION_PX * OCCLUSION_PX + 0.01 * motion {
                    continue;
                }
                let (nx, ny) = (
                    ((qx.max(0.0) + 0.5) as usize).min(w - 1),
                    ((qy.max(0.0) + 0.5) as usize).min(h - 1),
                );
                let Some(o) = self.origin[ny * w + nx] else {
                    continue;
                };
                // The nearest pixel's origin, moved by the sub-pixel offset to it.
                let o = [o[0] + qx - nx as f32, o[1] + qy - ny as f32];
                let j = ((o[1].max(0.0) + 0.5) as usize).min(h - 1) * w
                    + ((o[0].max(0.0) + 0.5) as usize).min(w - 1);
                next[i] = Some(o);
                let inside =
                    o[0] > -0.5 && o[1] > -0.5 && o[0] < w as f32 - 0.5 && o[1] < h as f32 - 0.5;
                let (e, wt) = (self.edit[j], self.weight[j]);
                if !inside || wt <= 0.0 {
                    continue; // outside the edited region
                }
                let (s, p) = (source.data()[i], output.data()[i]);
                let dot = (p[0] - s[0]) * e[0] + (p[1] - s[1]) * e[1] + (p[2] - s[2]) * e[2];
                kept += (dot / wt).clamp(0.0, 1.0) as f64 * wt as f64;
                seen += wt as f64;
            }
        }
        self.origin = next;
        FrameRetention {
            retention: if seen > 0.0 { kept / seen } else { 0.0 },
            tracked: if self.total > 0.0 {
                (seen / self.total).min(1.0)
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize, f: impl Fn(usize, usize) -> [f32; 3]) -> ColorImage {
        let mut c = ColorImage::new(w, h);
        for y in 0..h {
            for x in 0..w {
                c.data_mut()[y * w + x] = f(x, y);
            }
        }
        c
    }

    #[test]
    fn a_sticker_that_moves_with_the_flow_is_retained_and_one_left_behind_is_not() {
        let (w, h) = (32, 24);
        // The background moves with the flow too: 2 px right per frame.
        let src =
            |shift: usize| image(w, h, move |x, _| [((x + 8 - shift) * 5) as f32, 80.0, 60.0]);
        let sticker = |img: &ColorImage, x0: usize| {
            let mut c = img.clone();
            for y in 8..14 {
                for x in x0..x0 + 6 {
                    c.data_mut()[y * w + x] = [250.0, 220.0, 20.0];
                }
            }
            c
        };
        let s0 = src(0);
        let mut tracker = EditTracker::new(&sticker(&s0, 10), &s0);
        assert!(tracker.has_edit());
        // Everything moves 2 px right: the backward flow points 2 px left.
        let bwd = FlowField::from_vec(w, h, vec![[-2.0, 0.0]; w * h]).unwrap();
        let fwd = FlowField::from_vec(w, h, vec![[2.0, 0.0]; w * h]).unwrap();
        let s1 = src(2);
        let mut stuck = EditTracker::new(&sticker(&s0, 10), &s0);
        let moved = tracker.advance(&bwd, &fwd, &s1, &sticker(&s1, 12));
        let left = stuck.advance(&bwd, &fwd, &s1, &sticker(&s1, 10));
        let gone = EditTracker::new(&sticker(&s0, 10), &s0).advance(&bwd, &fwd, &s1, &s1);
        assert!(moved.retention > 0.99, "{moved:?}");
        assert!(moved.tracked > 0.99, "{moved:?}");
        assert!(left.retention < 0.7, "{left:?}");
        assert!(gone.retention < 0.01, "{gone:?}");
    }

    #[test]
    fn occluded_pixels_leave_the_region() {
        let (w, h) = (16, 16);
        let s0 = image(w, h, |_, _| [100.0; 3]);
        let e0 = image(w, h, |x, _| {
            if x < 8 {
                [200.0, 100.0, 100.0]
            } else {
                [100.0; 3]
            }
        });
        let mut t = EditTracker::new(&e0, &s0);
        let bwd = FlowField::zeros(w, h);
        // Where x < 4 the forward flow disagrees: something else moved over those pixels.
        let fwd = FlowField::from_vec(
            w,
            h,
            (0..w * h)
                .map(|i| if i % w < 4 { [3.0, 0.0] } else { [0.0, 0.0] })
                .collect(),
        )
        .unwrap();
        let r = t.advance(&bwd, &fwd, &s0, &e0);
        assert!((r.tracked - 0.5).abs() < 1e-6, "{r:?}");
        assert!(r.retention > 0.99);
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[test]
    fn sub_pixel_motion_adds_up_over_frames() {
        let (w, h) = (40, 20);
        let s = ColorImage::new(w, h);
        let mut e = ColorImage::new(w, h);
        for y in 5..15 {
            for x in 5..15 {
                e.data_mut()[y * w + x] = [200.0, 0.0, 0.0];
            }
        }
        let mut t = EditTracker::new(&e, &s);
        let bwd = FlowField::from_vec(w, h, vec![[-1.3, 0.0]; w * h]).unwrap();
        let fwd = FlowField::from_vec(w, h, vec![[1.3, 0.0]; w * h]).unwrap();
        for k in 1..=10 {
            let shift = (1.3 * k as f32).round() as usize;
            let mut o = ColorImage::new(w, h);
            for y in 5..15 {
                for x in 5 + shift..15 + shift {
                    o.data_mut()[y * w + x] = [200.0, 0.0, 0.0];
                }
            }
            let r = t.advance(&bwd, &fwd, &s, &o);
            eprintln!("{k}: {r:?}");
            assert!(r.tracked > 0.85, "{k}: {r:?}");
            assert!(r.retention > 0.85, "{k}: {r:?}");
        }
    }
}
