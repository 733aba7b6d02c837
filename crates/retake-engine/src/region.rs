//! Small local edits carried as whole layers. Each connected part of a local edit (a badge, a
//! sticker, a logo) follows one motion model, a map from the keyframe to the current frame
//! built from per-frame similarities (shift, turn, change of size), each fitted robustly to the optical flow over the part and a ring around it, and is
//! drawn from the keyframe through that one map. Per-pixel matches drift apart where the flow
//! is poor (dark cloth, flat paint) and smear such an edit; a single map cannot, so the edit
//! stays as crisp as it was painted, and where the map is uncertain it is wrong as a whole
//! (slightly misplaced) rather than torn.
//!
//! Where something passes in front of the part (the source there no longer looks like the
//! keyframe's source under the map), the part is hidden, pixel by pixel, and comes back when
//! the occluder has gone.

use crate::flow::FlowField;
use crate::plane::{ColorImage, Plane};
use rayon::prelude::*;

/// A 2-D affine map: `x' = m0 x + m1 y + m2`, `y' = m3 x + m4 y + m5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Affine(pub [f32; 6]);

impl Affine {
    /// The map that moves nothing.
    pub const IDENTITY: Affine = Affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);

    /// Where the map takes `p`.
    #[inline]
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        let m = &self.0;
        [
            m[0] * p[0] + m[1] * p[1] + m[2],
            m[3] * p[0] + m[4] * p[1] + m[5],
        ]
    }

    /// `next` after `self`.
    pub fn then(&self, next: &Affine) -> Affine {
        let (a, b) = (&self.0, &next.0);
        Affine([
            b[0] * a[0] + b[1] * a[3],
            b[0] * a[1] + b[1] * a[4],
            b[0] * a[2] + b[1] * a[5] + b[2],
            b[3] * a[0] + b[4] * a[3],
            b[3] * a[1] + b[4] * a[4],
            b[3] * a[2] + b[4] * a[5] + b[5],
        ])
    }

    /// The inverse map, if the map is not degenerate.
    pub fn inverse(&self) -> Option<Affine> {
        let m = &self.0;
        let det = m[0] * m[4] - m[1] * m[3];
        if !det.is_finite() || det.abs() < 1e-6 {
            return None;
        }
        let (a, b, c, d) = (m[4] / det, -m[1] / det, -m[3] / det, m[0] / det);
        Some(Affine([
            a,
            b,
            -(a * m[2] + b * m[5]),
            c,
            d,
            -(c * m[2] + d * m[5]),
        ]))
    }

    /// The same map between images `f` times finer. A working pixel `i` covers full-resolution
    /// pixels `f i .. f i + f - 1`, so its centre is at `f i + (f - 1) / 2`.
    pub fn finer(&self, f: usize) -> Affine {
        let (fs, c) = (f as f32, (f as f32 - 1.0) / 2.0);
        let m = &self.0;
        Affine([
            m[0],
            m[1],
            fs * m[2] + c - (m[0] + m[1]) * c,
            m[3],
            m[4],
            fs * m[5] + c - (m[3] + m[4]) * c,
        ])
    }

    /// How far (pixels) the map moves the corners of a box of radius `r` around `centre` away
    /// from where `other` moves them: a size for the difference between two maps.
    fn distance(&self, other: &Affine, centre: [f32; 2], r: f32) -> f32 {
        let mut worst = 0.0f32;
        for (dx, dy) in [(-r, -r), (r, -r), (-r, r), (r, r)] {
            let p = [centre[0] + dx, centre[1] + dy];
            let (a, b) = (self.apply(p), other.apply(p));
            worst = worst.max(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt());
        }
        worst
    }
}

/// Scale (pixels) of the robust weight on flow residuals: a point whose flow disagrees with
/// the fitted map by this much counts half.
const RESIDUAL_SCALE: f32 = 1.0;
/// Forward-backward flow disagreement (pixels, squared) past which a point is not used.
const CONSISTENCY_PX2: f32 = 1.0;
/// Share of the support's weight that must agree with the fit for the part to count as tracked.
const MIN_INLIER_SHARE: f32 = 0.3;
/// Pull of the fit towards a pure translation, as a share of the support's weight: keeps a
/// part on weakly textured ground from shearing on noise.
const RIDGE: f64 = 0.1;
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
    /// Keyframe to current frame, working resolution.
    pub map: Affine,
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
            let (rx0, ry0) = (
                (centre[0] - r).floor().max(0.0) as usize,
                (centre[1] - r).floor().max(0.0) as usize,
            );
            let (rx1, ry1) = (
                ((centre[0] + r).ceil() as usize).min(w - 1),
                ((centre[1] + r).ceil() as usize).min(h - 1),
            );
            let mut support = Vec::new();
            for y in ry0..=ry1 {
                for x in rx0..=rx1 {
                    let i = y * w + x;
                    let in_part = x >= bbox[0]
                        && x <= bbox[2]
                        && y >= bbox[1]
                        && y <= bbox[3]
                        && inside[(y - bbox[1]) * bw + (x - bbox[0])];
                    let wt = if in_part {
                        1.0
                    } else {
                        let d = ((x as f32 - centre[0]).powi(2) + (y as f32 - centre[1]).powi(2))
                            .sqrt();
                        if d > r {
                            continue;
                        }
                        let c = key_src.data()[i];
                        let dc = ((c[0] - core_colour[0]).powi(2)
                            + (c[1] - core_colour[1]).powi(2)
                            + (c[2] - core_colour[2]).powi(2))
                            / 3.0;
                        let colour = 0.15 + 0.85 * (-dc / (2.0 * 30.0f32 * 30.0)).exp();
                        0.5 * colour
                    };
                    support.push(([x as f32, y as f32], wt));
                }
            }
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
                map: Affine::IDENTITY,
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

    /// Moves every part along the flow between the previous frame and this one: `fwd` from
    /// the previous frame to this one, `bwd` back, `prev` the previous frame's luma (all at
    /// working resolution).
    pub fn advance(&mut self, fwd: &FlowField, bwd: &FlowField, prev: &Plane) {
        if self.gone {
            return;
        }
        for r in &mut self.list {
            r.advance(fwd, bwd, prev);
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

    /// One frame on: fits the map's increment to the flow over the support.
    fn advance(&mut self, fwd: &FlowField, bwd: &FlowField, prev: &Plane) {
        let (w, h) = (fwd.width(), fwd.height());
        let mut pairs = Vec::with_capacity(self.support.len());
        let (mut in_frame, mut raw) = (0.0f32, 0.0f32);
        for &(s, wt) in &self.support {
            let p = self.map.apply(s);
            if p[0] < 0.0 || p[1] < 0.0 || p[0] > (w - 1) as f32 || p[1] > (h - 1) as f32 {
                continue;
            }
            in_frame += wt;
            let u = fwd.sample(p[0], p[1]);
            let q = [p[0] + u[0], p[1] + u[1]];
            if q[0] < 0.0 || q[1] < 0.0 || q[0] > (w - 1) as f32 || q[1] > (h - 1) as f32 {
                continue;
            }
            let b = bwd.sample(q[0], q[1]);
            let (dx, dy) = (u[0] + b[0], u[1] + b[1]);
            if dx * dx + dy * dy > CONSISTENCY_PX2 + 0.01 * (u[0] * u[0] + u[1] * u[1]) {
                continue;
            }
            raw += wt;
            pairs.push((p, q, wt * texture(prev, p)));
        }
        let centre = self.map.apply(self.centre);
        let scale = self.radius.max(2.0);
        let consistent: f32 = pairs.iter().map(|p| p.2).sum();
        match fit_increment(&pairs, centre, scale) {
            Some((inc, agree)) => {
                self.map = self.map.then(&inc);
                // Tracked: enough of the support is seen consistently by both flows, and
                // enough of that agrees with the one map.
                self.tracked = pairs.len() >= 6
                    && raw >= 0.2 * in_frame
                    && agree >= MIN_INLIER_SHARE * consistent.max(1e-6);
            }
            None => self.tracked = false,
        }
    }
}

/// How well the flow at `p` can be trusted from the image alone: the structure tensor of a
/// 5×5 window (its smaller eigenvalue, plus a tenth of the larger one so edges count a
/// little), squashed to 0.05–1.
fn texture(img: &Plane, p: [f32; 2]) -> f32 {
    let (cx, cy) = (p[0].round() as isize, p[1].round() as isize);
    let (mut xx, mut xy, mut yy) = (0.0f32, 0.0f32, 0.0f32);
    for dy in -2..=2 {
        for dx in -2..=2 {
            let (x, y) = (cx + dx, cy + dy);
            let gx = 0.5 * (img.at(x + 1, y) - img.at(x - 1, y));
            let gy = 0.5 * (img.at(x, y + 1) - img.at(x, y - 1));
            xx += gx * gx;
            xy += gx * gy;
            yy += gy * gy;
        }
    }
    let half = 0.5 * (xx + yy);
    let root = (0.25 * (xx - yy).powi(2) + xy * xy).sqrt();
    let (small, large) = (half - root, half + root);
    let s = small.max(0.0) + 0.1 * large;
    // A luma step of about 4/255 per pixel over the window counts as half-trusted.
    let k = 25.0 * (4.0f32 / 255.0).powi(2);
    0.05 + 0.95 * s / (s + k)
}

/// Fits the increment that takes the points `p` to `q` (weighted): a similarity (a shift, a
/// turn and a change of size; a painted detail on a surface seen at a fairly steady angle
/// moves so, and the two degrees of freedom a full affine map adds only let noise shear and
/// stretch it frame after frame), robustly (iterated reweighting with a Cauchy weight) and
/// pulled towards a pure translation. Returns it with the weight of the points that agree.
fn fit_increment(
    pairs: &[([f32; 2], [f32; 2], f32)],
    centre: [f32; 2],
    scale: f32,
) -> Option<(Affine, f32)> {
    if pairs.len() < 3 {
        return None;
    }
    // Start from the weighted median motion.
    let mut mx: Vec<(f32, f32)> = pairs.iter().map(|(p, q, w)| (q[0] - p[0], *w)).collect();
    let mut my: Vec<(f32, f32)> = pairs.iter().map(|(p, q, w)| (q[1] - p[1], *w)).collect();
    let t0 = [weighted_median(&mut mx), weighted_median(&mut my)];
    // Unknowns: the shift (tx, ty), and the change of size `a` and turn `b` times `scale`, in
    // coordinates centred on the part and divided by `scale`:
    // dx = tx + a u - b v, dy = ty + b u + a v.
    let mut sol = [t0[0] as f64, t0[1] as f64, 0.0, 0.0];
    let mut agree = 0.0f32;
    for _ in 0..6 {
        let mut ata = [[0.0f64; 4]; 4];
        let mut atb = [0.0f64; 4];
        let mut total = 0.0f64;
        agree = 0.0;
        for (p, q, w) in pairs {
            let u = ((p[0] - centre[0]) / scale) as f64;
            let v = ((p[1] - centre[1]) / scale) as f64;
            let rows = [[1.0, 0.0, u, -v], [0.0, 1.0, v, u]];
            let d = [(q[0] - p[0]) as f64, (q[1] - p[1]) as f64];
            let mut r2 = 0.0f64;
            for (row, dk) in rows.iter().zip(d) {
                let pred: f64 = row.iter().zip(&sol).map(|(a, b)| a * b).sum();
                r2 += (dk - pred).powi(2);
            }
            let robust = 1.0 / (1.0 + r2 as f32 / (RESIDUAL_SCALE * RESIDUAL_SCALE));
            if robust >= 0.5 {
                agree += w;
            }
            let wt = (*w * robust) as f64;
            total += wt;
            for (row, dk) in rows.iter().zip(d) {
                for i in 0..4 {
                    for j in 0..4 {
                        ata[i][j] += wt * row[i] * row[j];
                    }
                    atb[i] += wt * row[i] * dk;
                }
            }
        }
        if total <= 0.0 {
            return None;
        }
        ata[2][2] += RIDGE * total;
        ata[3][3] += RIDGE * total;
        sol = solve4(&ata, &atb)?;
    }
    // Back to a map in working pixels: d(p) = t + L (p - c) / s.
    let s = scale as f64;
    let (c0, c1) = (centre[0] as f64, centre[1] as f64);
    let (a, b) = (sol[2] / s, sol[3] / s);
    let m = [
        1.0 + a,
        -b,
        sol[0] - a * c0 + b * c1,
        b,
        1.0 + a,
        sol[1] - b * c0 - a * c1,
    ];
    let m = m.map(|v| v as f32);
    if m.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let inc = Affine(m);
    // A per-frame change of shape beyond a quarter of the part's size is not a motion a
    // painted detail makes; treat it as a failed fit.
    let c = inc.apply(centre);
    let shift = Affine([1.0, 0.0, c[0] - centre[0], 0.0, 1.0, c[1] - centre[1]]);
    if inc.distance(&shift, centre, scale) > 0.25 * scale + 1.0 {
        return None;
    }
    Some((inc, agree))
}

/// Solves a 4×4 linear system (Gaussian elimination with partial pivoting).
fn solve4(a: &[[f64; 4]; 4], b: &[f64; 4]) -> Option<[f64; 4]> {
    let mut m = [[0.0f64; 5]; 4];
    for i in 0..4 {
        m[i][..4].copy_from_slice(&a[i]);
        m[i][4] = b[i];
    }
    for col in 0..4 {
        let piv = (col..4).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, piv);
        for row in 0..4 {
            if row != col {
                let f = m[row][col] / m[col][col];
                let pivot = m[col];
                for (v, p) in m[row].iter_mut().zip(pivot).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    Some([0, 1, 2, 3].map(|i| m[i][4] / m[i][i]))
}

/// The value below which half the weight lies.
fn weighted_median(v: &mut [(f32, f32)]) -> f32 {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f32 = v.iter().map(|x| x.1).sum();
    let mut acc = 0.0;
    for &(x, w) in v.iter() {
        acc += w;
        if acc >= 0.5 * total {
            return x;
        }
    }
    v.last().map_or(0.0, |x| x.0)
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

/// How much of the edit each keyframe pixel carries, 0–1: none below half the tolerance of
/// difference to the source, all from one and a half times it, crisp (not blurred).
pub(crate) fn edit_alpha(style: &ColorImage, key_src: &ColorImage, tolerance: f32) -> Plane {
    let t = tolerance.max(1.0);
    let data: Vec<f32> = style
        .data()
        .iter()
        .zip(key_src.data())
        .map(|(a, b)| {
            let d = ((a[0] - b[0]).abs() + (a[1] - b[1]).abs() + (a[2] - b[2]).abs()) / 3.0;
            ((d - 0.5 * t) / t).clamp(0.0, 1.0)
        })
        .collect();
    Plane::from_vec(style.width(), style.height(), data)
        .unwrap_or_else(|_| Plane::new(style.width(), style.height()))
}

/// Draws every tracked part into the full-resolution output straight from the keyframe
/// through its map: `style`, `key_src` and `src` are the keyframe, its source and the current
/// source at full resolution, `f` the working-resolution factor, `vis` the visibility from
/// [`Regions::place`] at working resolution, `floor` the share of the source's change of
/// luminance carried into edited pixels.
#[allow(clippy::too_many_arguments)]
pub(crate) fn composite(
    regions: &Regions,
    alpha_full: &Plane,
    style: &ColorImage,
    key_src: &ColorImage,
    src: &ColorImage,
    f: usize,
    vis: &[f32],
    floor: f32,
    out: &mut ColorImage,
) {
    if regions.is_empty() {
        return;
    }
    let (w, h) = (out.width(), out.height());
    let (vw, vh) = (regions.w, regions.h);
    let fs = f as f32;
    let vis_at = |x: f32, y: f32| -> f32 {
        // Working coordinates of a full-resolution position, bilinear.
        let u = ((x - (fs - 1.0) / 2.0) / fs).clamp(0.0, (vw - 1) as f32);
        let v = ((y - (fs - 1.0) / 2.0) / fs).clamp(0.0, (vh - 1) as f32);
        let (x0, y0) = (u as usize, v as usize);
        let (x1, y1) = ((x0 + 1).min(vw - 1), (y0 + 1).min(vh - 1));
        let (fx, fy) = (u - x0 as f32, v - y0 as f32);
        let top = vis[y0 * vw + x0] * (1.0 - fx) + vis[y0 * vw + x1] * fx;
        let bot = vis[y1 * vw + x0] * (1.0 - fx) + vis[y1 * vw + x1] * fx;
        top + (bot - top) * fy
    };
    for r in regions.list.iter().filter(|r| r.tracked) {
        let full = r.map.finer(f);
        let Some(inv) = full.inverse() else { continue };
        let fp = r.footprint(vw, vh);
        let x0 = (fp[0] * f).min(w - 1);
        let y0 = (fp[1] * f).min(h - 1);
        let x1 = ((fp[2] + 1) * f).min(w) - 1;
        let y1 = ((fp[3] + 1) * f).min(h) - 1;
        let (kx0, ky0) = ((r.bbox[0] * f) as f32, (r.bbox[1] * f) as f32);
        let (kx1, ky1) = (
            ((r.bbox[2] + 1) * f - 1) as f32,
            ((r.bbox[3] + 1) * f - 1) as f32,
        );
        out.data_mut()[y0 * w..(y1 + 1) * w]
            .par_chunks_mut(w)
            .enumerate()
            .for_each(|(dy, row)| {
                let y = y0 + dy;
                for (x, o) in row.iter_mut().enumerate().take(x1 + 1).skip(x0) {
                    let k = inv.apply([x as f32, y as f32]);
                    if k[0] < kx0 || k[1] < ky0 || k[0] > kx1 || k[1] > ky1 {
                        continue;
                    }
                    let a = alpha_full.sample(k[0], k[1]);
                    if a <= 0.0 {
                        continue;
                    }
                    let v = ((vis_at(x as f32, y as f32) - 0.3) / 0.4).clamp(0.0, 1.0);
                    let a = a * v;
                    if a <= 0.0 {
                        continue;
                    }
                    let c = style.sample(k[0], k[1]);
                    let ks = key_src.sample(k[0], k[1]);
                    let s = src.data()[y * w + x];
                    let luma = |p: [f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                    let dy = floor * (luma(s) - luma(ks));
                    for i in 0..3 {
                        o[i] += a * (c[i] + dy - o[i]);
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_maps_compose_invert_and_scale() {
        let a = Affine([1.1, 0.2, 3.0, -0.1, 0.9, -2.0]);
        let b = Affine([0.95, 0.0, 1.0, 0.05, 1.0, 0.5]);
        let p = [7.0, -3.0];
        let ab = a.then(&b).apply(p);
        let direct = b.apply(a.apply(p));
        assert!((ab[0] - direct[0]).abs() < 1e-4 && (ab[1] - direct[1]).abs() < 1e-4);
        let back = a.inverse().unwrap().apply(a.apply(p));
        assert!((back[0] - p[0]).abs() < 1e-4 && (back[1] - p[1]).abs() < 1e-4);
        // A shift of one working pixel is f full pixels, and centres line up.
        let shift = Affine([1.0, 0.0, 1.0, 0.0, 1.0, 0.0]).finer(3);
        assert_eq!(shift.apply([4.0, 4.0]), [7.0, 4.0]);
        let full = a.finer(2);
        let w = [5.0, 6.0];
        let f = [2.0 * w[0] + 0.5, 2.0 * w[1] + 0.5];
        let (mw, mf) = (a.apply(w), full.apply(f));
        assert!((mf[0] - (2.0 * mw[0] + 0.5)).abs() < 1e-4);
        assert!((mf[1] - (2.0 * mw[1] + 0.5)).abs() < 1e-4);
    }

    #[test]
    fn the_fit_follows_the_majority_motion_and_ignores_outliers() {
        // A part rotating by 2 degrees and moving (1.5, -0.5), with a fifth of the points
        // carried off by something else.
        let (c, s) = (2f32.to_radians().cos(), 2f32.to_radians().sin());
        let truth = Affine([c, -s, 1.5, s, c, -0.5]);
        let mut pairs = Vec::new();
        for y in 0..15 {
            for x in 0..15 {
                let p = [40.0 + x as f32, 30.0 + y as f32];
                let q = if (x + y) % 5 == 0 {
                    [p[0] + 6.0, p[1] + 4.0]
                } else {
                    truth.apply(p)
                };
                pairs.push((p, q, 1.0));
            }
        }
        let (inc, agree) = fit_increment(&pairs, [47.0, 37.0], 7.0).unwrap();
        assert!(inc.distance(&truth, [47.0, 37.0], 7.0) < 0.15, "{inc:?}");
        assert!(agree > 0.7 * pairs.len() as f32 && agree < 0.85 * pairs.len() as f32);
    }

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
