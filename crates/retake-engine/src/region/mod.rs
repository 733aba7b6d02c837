//! Small local edits carried as whole layers. Each connected part of a local edit (a badge, a
//! sticker, a logo) follows one motion model, a map from the keyframe to the current frame,
//! and is drawn from the keyframe through that one map. Each frame the map is first carried
//! on by a similarity fitted robustly to the optical flow over the part and a ring around it
//! (`chain`), then registered directly against the keyframe's source over the part and a
//! wider ring (`register`: a similarity, or a homography where it fits clearly better), so
//! that the per-frame fits' small errors do not add up to drift. Per-pixel matches drift apart
//! where the flow is poor (dark cloth, flat paint) and smear such an edit; a single map cannot,
//! so the edit stays as crisp as it was painted, and where the map is uncertain it is wrong as
//! a whole (slightly misplaced) rather than torn.
//!
//! Where something passes in front of the part (the source there no longer looks like the
//! keyframe's source under the map), the part is hidden, pixel by pixel, and comes back when
//! the occluder has gone.

mod chain;
mod draw;
mod map;
mod register;

pub(crate) use draw::{composite, edit_alpha};

use crate::flow::FlowField;
use crate::plane::{ColorImage, Plane};
use map::Projective;
use register::Template;

/// How far (pixels, plus half the part's radius) a registration may move a part from the map
/// it started from; past that it has probably locked onto something else.
const MAX_CORRECTION: f32 = 3.0;
/// Width (working pixels) of the ring around a part that it is registered on, at least.
const REGISTER_RING: f32 = 20.0;
/// Registration cost over which a fit from the flow's map or the last registered one is not
/// used (the keyframe's view of the part no longer matches well: it has turned, or the light
/// has changed), and the flow's map stands. A fit from the trusted map may cost more.
const LOOSE_COST: f64 = 0.4;
/// Registration cost (see `register::Fit::cost`) under which a fit counts as close.
const TRUSTED_COST: f64 = 0.15;
/// A registration from the trusted map wins over a cheaper one unless that costs less than
/// this share of it.
const TRUSTED_SLACK: f64 = 2.0;

/// Colour difference (0–255, mean absolute, after the part's overall change of light) at which
/// a pixel counts as hidden by something in front of the part.
const HIDDEN_AT: f32 = 45.0;

/// The centre and the eight neighbours one pixel away.
const OFFSETS: [(f32, f32); 9] = [
    (0.0, 0.0),
    (-1.0, 0.0),
    (1.0, 0.0),
    (0.0, -1.0),
    (0.0, 1.0),
    (-1.0, -1.0),
    (1.0, -1.0),
    (-1.0, 1.0),
    (1.0, 1.0),
];

/// One connected part of a local edit.
pub(crate) struct Region {
    /// Keyframe positions (working resolution) that the map is fitted on, each with a fixed
    /// weight: the part itself counts fully, a ring around it less, and less again where its
    /// colour differs from the part's (probably another object).
    support: Vec<([f32; 2], f32)>,
    /// Centre and radius of the part (working pixels, keyframe).
    centre: [f32; 2],
    radius: f32,
    /// The part's bounding box at working resolution, grown by a margin: `[x0, y0, x1, y1]`
    /// inclusive.
    bbox: [usize; 4],
    /// The keyframe's source over the part and a wider ring, which each frame is registered
    /// against directly.
    template: Template,
    /// Keyframe to current frame, working resolution.
    pub map: Projective,
    /// The last map that registered against the keyframe (a second seed for the next
    /// registration, for a part that comes back after the flow lost it).
    anchored: Projective,
    /// The last map that registered closely (a low cost): a third seed, which something
    /// passing in front of the part cannot drag along, as it can the other two.
    trusted: Projective,
    /// Whether the last frame's fit was trusted.
    pub tracked: bool,
}

/// The parts of a keyframe's local edit, and where each one is in the current frame.
pub(crate) struct Regions {
    w: usize,
    h: usize,
    list: Vec<Region>,
    /// Keyframe pixels (working resolution) that belong to a part or its margin.
    pub key_mask: Vec<bool>,
    /// After a scene cut the parts are not followed any further.
    pub gone: bool,
}

/// A part's pixels at working resolution, from a flood fill of the edit mask.
fn components(mask: &[bool], w: usize, h: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; mask.len()];
    let mut out = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        let mut part = Vec::new();
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            part.push(i);
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        out.push(part);
    }
    out
}

impl Regions {
    /// Finds the parts of the edit. `edited` marks edited keyframe pixels at working
    /// resolution; `key_src` is the keyframe's source at working resolution.
    pub fn find(edited: &[bool], key_src: &ColorImage) -> Self {
        let (w, h) = (key_src.width(), key_src.height());
        let mut key_mask = vec![false; w * h];
        let mut list = Vec::new();
        let key_levels = register::levels(&key_src.luma());
        for part in components(edited, w, h) {
            if part.len() < 4 {
                continue; // a speck, not a painted detail
            }
            let n = part.len() as f32;
            let (sx, sy) = part.iter().fold((0.0, 0.0), |(a, b), &i| {
                (a + (i % w) as f32, b + (i / w) as f32)
            });
            let centre = [sx / n, sy / n];
            let radius = part
                .iter()
                .map(|&i| {
                    let (dx, dy) = ((i % w) as f32 - centre[0], (i / w) as f32 - centre[1]);
                    (dx * dx + dy * dy).sqrt()
                })
                .fold(1.0f32, f32::max);
            // The ring: as wide as the part, at least 3 pixels.
            let ring = radius.max(3.0);
            let margin = 2usize;
            let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
            for &i in &part {
                let (x, y) = (i % w, i / w);
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
            let bbox = [
                x0.saturating_sub(margin),
                y0.saturating_sub(margin),
                (x1 + margin).min(w - 1),
                (y1 + margin).min(h - 1),
            ];
            let mut inside = vec![false; (bbox[2] - bbox[0] + 1) * (bbox[3] - bbox[1] + 1)];
            let bw = bbox[2] - bbox[0] + 1;
            for &i in &part {
                inside[(i / w - bbox[1]) * bw + (i % w - bbox[0])] = true;
            }
            // The part's own colour in the source (what the edit was painted on).
            let mut cols: Vec<[f32; 3]> = part.iter().map(|&i| key_src.data()[i]).collect();
            let core_colour = median3(&mut cols);
            let r = radius + ring;
            // The registration's ring is wider: the direct fit needs texture, which the part
            // and a narrow ring (a badge on a plain lapel) may not have.
            let rr = radius + ring.max(REGISTER_RING);
            let outer = r.max(rr);
            let (rx0, ry0) = (
                (centre[0] - outer).floor().max(0.0) as usize,
                (centre[1] - outer).floor().max(0.0) as usize,
            );
            let (rx1, ry1) = (
                ((centre[0] + outer).ceil() as usize).min(w - 1),
                ((centre[1] + outer).ceil() as usize).min(h - 1),
            );
            let mut support = Vec::new();
            let mut points = Vec::new();
            for y in ry0..=ry1 {
                for x in rx0..=rx1 {
                    let i = y * w + x;
                    let in_part = x >= bbox[0]
                        && x <= bbox[2]
                        && y >= bbox[1]
                        && y <= bbox[3]
                        && inside[(y - bbox[1]) * bw + (x - bbox[0])];
                    let p = [x as f32, y as f32];
                    if in_part {
                        support.push((p, 1.0));
                        points.push((p, 1.0));
                        continue;
                    }
                    let d =
                        ((x as f32 - centre[0]).powi(2) + (y as f32 - centre[1]).powi(2)).sqrt();
                    let c = key_src.data()[i];
                    let dc = ((c[0] - core_colour[0]).powi(2)
                        + (c[1] - core_colour[1]).powi(2)
                        + (c[2] - core_colour[2]).powi(2))
                        / 3.0;
                    let colour = 0.15 + 0.85 * (-dc / (2.0 * 30.0f32 * 30.0)).exp();
                    if d <= r {
                        support.push((p, 0.5 * colour));
                    }
                    if d <= rr {
                        // No floor here: a strong edge against the background (a shoulder's outline
                        // against a car seat) would pull the fit towards the background.
                        points.push((p, 0.5 * (-dc / (2.0 * 30.0f32 * 30.0)).exp()));
                    }
                }
            }
            let template = Template::new(points, &key_levels, centre, rr);
            for y in bbox[1]..=bbox[3] {
                for x in bbox[0]..=bbox[2] {
                    key_mask[y * w + x] = true;
                }
            }
            list.push(Region {
                support,
                centre,
                radius,
                bbox,
                template,
                map: Projective::IDENTITY,
                anchored: Projective::IDENTITY,
                trusted: Projective::IDENTITY,
                tracked: true,
            });
        }
        Self {
            w,
            h,
            list,
            key_mask,
            gone: false,
        }
    }

    /// Whether there is any part to follow.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() || self.gone
    }

    /// The parts.
    #[cfg(test)]
    pub fn list(&self) -> &[Region] {
        &self.list
    }

    /// Moves every part to this frame: along the flow between the previous frame and this
    /// one (`fwd` from the previous frame to this one, `bwd` back, `prev` the previous
    /// frame's luma), then registered directly against the keyframe on `luma`, this frame's
    /// luma (all at working resolution).
    pub fn advance(&mut self, fwd: &FlowField, bwd: &FlowField, prev: &Plane, luma: &Plane) {
        if self.gone {
            return;
        }
        let cur = register::levels(luma);
        for r in &mut self.list {
            r.advance(fwd, bwd, prev, &cur);
        }
    }

    /// Marks the current frame's working pixels that show a tracked part (`hold`), with the
    /// keyframe position each one shows (`anchor`) and how visible the part is there (`vis`,
    /// 0–1: low where something passes in front of it). `src` and `key_src` are the current
    /// source and the keyframe's source at working resolution.
    pub fn place(
        &self,
        src: &ColorImage,
        key_src: &ColorImage,
        hold: &mut [bool],
        anchor: &mut [[f32; 2]],
        vis: &mut [f32],
    ) {
        if self.gone {
            return;
        }
        let (w, h) = (self.w, self.h);
        for r in self.list.iter().filter(|r| r.tracked) {
            let Some(inv) = r.map.inverse() else { continue };
            let [x0, y0, x1, y1] = r.footprint(w, h);
            // The part's overall change of light: the median colour change over it.
            let mut pixels = Vec::new();
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let k = inv.apply([x as f32, y as f32]);
                    if r.covers(k, &self.key_mask, w) {
                        pixels.push((y * w + x, k));
                    }
                }
            }
            let mut diffs: Vec<[f32; 3]> = pixels
                .iter()
                .map(|&(i, k)| {
                    let (a, b) = (src.data()[i], key_src.sample(k[0], k[1]));
                    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
                })
                .collect();
            let shift = median3(&mut diffs);
            for &(i, k) in &pixels {
                // The closest match within a pixel of where the map puts it:
                // on a finely textured surface a map that is a little off would otherwise
                // count as an occluder.
                let s = src.data()[i];
                let mut e = f32::MAX;
                for (dx, dy) in OFFSETS {
                    let b = key_src.sample(k[0] + dx, k[1] + dy);
                    let d = [
                        s[0] - b[0] - shift[0],
                        s[1] - b[1] - shift[1],
                        s[2] - b[2] - shift[2],
                    ];
                    e = e.min((d[0].abs() + d[1].abs() + d[2].abs()) / 3.0);
                }
                let v = (-(e / HIDDEN_AT).powi(2)).exp();
                if v > vis[i] {
                    vis[i] = v;
                    anchor[i] = k;
                    hold[i] = v > 0.5;
                }
            }
        }
    }
}

impl Region {
    /// The part's box in the current frame (working pixels, inclusive, clamped).
    fn footprint(&self, w: usize, h: usize) -> [usize; 4] {
        let [x0, y0, x1, y1] = self.bbox.map(|v| v as f32);
        let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
        for p in [[x0, y0], [x1, y0], [x0, y1], [x1, y1]] {
            let q = self.map.apply(p);
            for k in 0..2 {
                lo[k] = lo[k].min(q[k]);
                hi[k] = hi[k].max(q[k]);
            }
        }
        let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n - 1);
        [
            clamp(lo[0].floor(), w),
            clamp(lo[1].floor(), h),
            clamp(hi[0].ceil(), w),
            clamp(hi[1].ceil(), h),
        ]
    }

    /// One frame on: the flow's increment gives a first map, the part's last registered map
    /// a second and its last closely registered one a third; each is refined by registering
    /// the template against `cur` (this frame's levels, see `register::levels`), and the best
    /// registration is kept, the one from the trusted map unless another is clearly better.
    /// Where none registers (the part is hidden, or out of the frame) the flow's map stands.
    fn advance(&mut self, fwd: &FlowField, bwd: &FlowField, prev: &Plane, cur: &[Plane]) {
        let (chained, flow_ok) = chain::step(
            &self.map,
            &self.support,
            self.centre,
            self.radius,
            fwd,
            bwd,
            prev,
        );
        self.tracked = flow_ok;
        if let Some(m) = chained {
            self.map = m;
        }
        let r = self.radius.max(2.0);
        let bound = MAX_CORRECTION + 0.5 * r;
        let mut best: Option<register::Fit> = None;
        let mut from_trusted: Option<register::Fit> = None;
        let seeds = [self.map, self.anchored, self.trusted];
        for (k, seed) in seeds.iter().enumerate() {
            if seeds[..k]
                .iter()
                .any(|s| s.distance(seed, self.centre, r) < 0.5)
            {
                continue; // the same seed again
            }
            let Some(fit) = self.template.register(cur, seed) else {
                continue;
            };
            if fit.map.distance(seed, self.centre, r) > bound {
                continue;
            }
            if seed.distance(&self.trusted, self.centre, r) < 0.5 {
                from_trusted = Some(fit);
            }
            if fit.cost > LOOSE_COST {
                continue;
            }
            if best.is_none_or(|b| fit.cost < b.cost) {
                best = Some(fit);
            }
        }
        // Moving shadows and passers-by can make a wrong place look a little better than
        // the right one; the place that registered closely last wins unless clearly worse.
        match (from_trusted, best) {
            (Some(t), Some(b)) if t.cost <= TRUSTED_SLACK * b.cost => best = Some(t),
            (Some(t), None) => best = Some(t),
            _ => {}
        }
        if let Some(fit) = best {
            self.map = fit.map;
            self.anchored = fit.map;
            if fit.cost <= TRUSTED_COST {
                self.trusted = fit.map;
            }
            self.tracked = true;
        }
    }

    /// Whether keyframe position `k` lies on this part (or its margin).
    fn covers(&self, k: [f32; 2], mask: &[bool], w: usize) -> bool {
        let (x, y) = (k[0].round(), k[1].round());
        if x < self.bbox[0] as f32
            || y < self.bbox[1] as f32
            || x > self.bbox[2] as f32
            || y > self.bbox[3] as f32
        {
            return false;
        }
        mask[y as usize * w + x as usize]
    }
}

/// Per-channel median of colours (0 for none).
fn median3(v: &mut [[f32; 3]]) -> [f32; 3] {
    if v.is_empty() {
        return [0.0; 3];
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mid = v.len() / 2;
        v.select_nth_unstable_by(mid, |a, b| a[k].total_cmp(&b[k]));
        *o = v[mid][k];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_found_per_connected_piece() {
        let (w, h) = (20, 10);
        let mut edited = vec![false; w * h];
        for y in 2..5 {
            for x in 2..5 {
                edited[y * w + x] = true;
            }
        }
        for y in 5..8 {
            for x in 12..16 {
                edited[y * w + x] = true;
            }
        }
        edited[9 * w + 19] = true; // a speck
        let img = ColorImage::new(w, h);
        let r = Regions::find(&edited, &img);
        assert_eq!(r.list().len(), 2);
        assert!(r.key_mask[3 * w + 3] && r.key_mask[6 * w + 13] && !r.key_mask[9 * w + 19]);
    }
}
