//! Direct registration of a part of a local edit against the keyframe. The map that the
//! per-frame flow fits chain together gathers their small errors frame after frame (a few
//! pixels over a few seconds on real footage: a badge creeping off its lapel, a logo off its
//! place on a path). Here each frame's map is fitted straight from the keyframe: the keyframe
//! source's luma over the part and a ring around it (the template) is aligned to the current
//! frame's luma by Gauss–Newton from the chained map (or the last map that registered), with
//! a gain and an offset for the change of light and a Cauchy weight so that an occluder or a
//! highlight counts little. A similarity is fitted first; a full homography (a plane seen at a
//! turning angle: a box lid) replaces it only where it lowers the robust cost clearly.
//! An error made here does not carry into the next frame, which is registered afresh.

use super::map::Projective;
use crate::plane::Plane;

/// Scale (luma, 0–1) of the Cauchy weight on intensity residuals: a point this far from the
/// template after the change of light counts half.
const ROBUST: f32 = 0.03;
/// Residual (luma) under which a point counts as agreeing with the fit.
const INLIER: f32 = 0.06;
/// Share of the template's weight that must lie in the frame, and share of that which must
/// agree, for a fit to be used.
const MIN_SEEN: f32 = 0.5;
const MIN_AGREE: f32 = 0.55;
/// Mean robust cost past which a fit is not used at all.
const MAX_COST: f64 = 1.0;
/// A homography replaces the similarity only where it lowers the robust cost by this share.
const HOMOGRAPHY_GAIN: f64 = 0.05;
/// Homographies are tried only on templates at least this wide (radius, working pixels):
/// on fewer pixels the four extra unknowns fit noise.
const HOMOGRAPHY_MIN_RADIUS: f32 = 8.0;
/// Gauss–Newton steps per model.
const STEPS: usize = 12;

/// The keyframe points a part is registered on.
pub(crate) struct Template {
    /// Keyframe position (working pixels), weight, keyframe luma there (finest level).
    points: Vec<([f32; 2], f32, f32)>,
    /// The keyframe luma at the same points on each coarser level, coarsest first.
    coarse: Vec<Vec<f32>>,
    /// Centre and radius of the template (keyframe, working pixels).
    centre: [f32; 2],
    scale: f32,
    total: f32,
}

/// A map fitted by [`Template::register`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fit {
    pub map: Projective,
    /// Mean robust cost per unit of weight seen (lower is better).
    pub cost: f64,
}

/// The motion model of one Gauss–Newton run.
#[derive(Clone, Copy, PartialEq)]
enum Model {
    Similarity,
    Homography,
}

impl Model {
    fn unknowns(self) -> usize {
        match self {
            Model::Similarity => 4,
            Model::Homography => 8,
        }
    }
}

impl Template {
    /// A template of `points` (keyframe positions and weights) on `key`, the keyframe
    /// source's luma at working resolution as [`levels`] makes it (coarsest level first). With
    /// no level the template is empty and never registers.
    pub fn new(points: Vec<([f32; 2], f32)>, key: &[Plane], centre: [f32; 2], scale: f32) -> Self {
        let (points, coarse) = match key.split_last() {
            Some((fine, coarse)) => (
                points
                    .into_iter()
                    .map(|(p, w)| (p, w, fine.sample(p[0], p[1])))
                    .collect(),
                coarse,
            ),
            None => (Vec::new(), key),
        };
        let points: Vec<([f32; 2], f32, f32)> = points;
        let coarse = coarse
            .iter()
            .map(|l| {
                points
                    .iter()
                    .map(|(p, _, _)| l.sample(p[0], p[1]))
                    .collect()
            })
            .collect();
        let total = points.iter().map(|p| p.1).sum();
        Self {
            points,
            coarse,
            centre,
            scale: scale.max(2.0),
            total,
        }
    }

    /// Fits the map from the keyframe to the frame whose smoothed luma is `cur`, starting from
    /// `seed`. `None` where too little of the template is in the frame or agrees with the fit.
    pub fn register(&self, levels: &[Plane], seed: &Projective) -> Option<Fit> {
        let (cur, coarse) = levels.split_last()?;
        let mut light = self.light(cur, seed)?;
        let mut map = *seed;
        for (level, values) in coarse.iter().zip(&self.coarse) {
            map = self.solve(level, values, map, &mut light, Model::Similarity)?;
        }
        let sim = self.solve(cur, &self.values(), map, &mut light, Model::Similarity)?;
        let (cost, seen, agree) = self.score(cur, &sim, light);
        if seen < MIN_SEEN * self.total || agree < MIN_AGREE * seen || cost > MAX_COST {
            return None;
        }
        let mut fit = Fit { map: sim, cost };
        if self.scale >= HOMOGRAPHY_MIN_RADIUS {
            let mut hl = light;
            if let Some(h) = self.solve(cur, &self.values(), sim, &mut hl, Model::Homography) {
                let (hc, hs, ha) = self.score(cur, &h, hl);
                let sane = self.front(&h)
                    && h.distance(&sim, self.centre, self.scale) < 0.3 * self.scale + 1.0;
                if sane
                    && hs >= MIN_SEEN * self.total
                    && ha >= MIN_AGREE * hs
                    && hc < (1.0 - HOMOGRAPHY_GAIN) * cost
                {
                    fit = Fit { map: h, cost: hc };
                }
            }
        }
        Some(fit)
    }

    /// Whether the map keeps the whole template in front (a positive denominator with room).
    fn front(&self, m: &Projective) -> bool {
        let (c, r) = (self.centre, self.scale);
        [(-r, -r), (r, -r), (-r, r), (r, r)]
            .iter()
            .all(|(dx, dy)| m.depth([c[0] + dx, c[1] + dy]) > 0.5)
    }

    /// A first gain and offset: gain 1, the weighted median difference as offset.
    fn light(&self, cur: &Plane, map: &Projective) -> Option<[f64; 2]> {
        let mut d: Vec<(f32, f32)> = self
            .points
            .iter()
            .filter_map(|&(x, wt, t)| {
                let y = map.apply(x);
                inside(cur, y).then(|| (cur.sample(y[0], y[1]) - t, wt))
            })
            .collect();
        if d.len() < 8 {
            return None;
        }
        Some([1.0, super::chain::weighted_median(&mut d) as f64])
    }

    /// The keyframe luma at the points, finest level.
    fn values(&self) -> Vec<f32> {
        self.points.iter().map(|p| p.2).collect()
    }

    /// Gauss–Newton with iterated reweighting from `map` on one level (`values`: the
    /// keyframe's luma at the points on that level); `light` is the gain and offset, updated
    /// with it.
    fn solve(
        &self,
        cur: &Plane,
        values: &[f32],
        mut map: Projective,
        light: &mut [f64; 2],
        model: Model,
    ) -> Option<Projective> {
        let np = model.unknowns();
        let n = np + 2;
        for _ in 0..STEPS {
            let cc = map.apply(self.centre);
            let s = self.scale as f64;
            let mut ata = [[0.0f64; 10]; 10];
            let mut atb = [0.0f64; 10];
            let mut used = 0usize;
            for (&(x, wt, _), &t) in self.points.iter().zip(values) {
                if map.depth(x) <= 0.0 {
                    continue;
                }
                let y = map.apply(x);
                if !inside(cur, y) {
                    continue;
                }
                let i = cur.sample(y[0], y[1]) as f64;
                let gx = 0.5 * (cur.sample(y[0] + 1.0, y[1]) - cur.sample(y[0] - 1.0, y[1])) as f64;
                let gy = 0.5 * (cur.sample(y[0], y[1] + 1.0) - cur.sample(y[0], y[1] - 1.0)) as f64;
                let r = i - (light[0] * t as f64 + light[1]);
                let wr = wt as f64 / (1.0 + (r / ROBUST as f64).powi(2));
                let u = (y[0] - cc[0]) as f64 / s;
                let v = (y[1] - cc[1]) as f64 / s;
                let mut row = [0.0f64; 10];
                match model {
                    Model::Similarity => {
                        row[0] = s * (gx * u + gy * v);
                        row[1] = s * (-gx * v + gy * u);
                        row[2] = s * gx;
                        row[3] = s * gy;
                    }
                    Model::Homography => {
                        row[0] = s * gx * u;
                        row[1] = s * gx * v;
                        row[2] = s * gx;
                        row[3] = s * gy * u;
                        row[4] = s * gy * v;
                        row[5] = s * gy;
                        row[6] = -s * (gx * u * u + gy * u * v);
                        row[7] = -s * (gx * u * v + gy * v * v);
                    }
                }
                row[np] = -(t as f64);
                row[np + 1] = -1.0;
                for a in 0..n {
                    for b in 0..n {
                        ata[a][b] += wr * row[a] * row[b];
                    }
                    atb[a] -= wr * row[a] * r;
                }
                used += 1;
            }
            if used < 2 * n {
                return None;
            }
            // A touch of damping keeps a direction the texture does not pin down still.
            for (k, row) in ata.iter_mut().enumerate().take(n) {
                row[k] = row[k] * 1.001 + 1e-9;
            }
            let d = solve(&ata, &atb, n, 1e-15)?;
            let step_norm = match model {
                Model::Similarity => Projective([
                    1.0 + d[0],
                    -d[1],
                    d[2],
                    d[1],
                    1.0 + d[0],
                    d[3],
                    0.0,
                    0.0,
                    1.0,
                ]),
                Model::Homography => Projective([
                    1.0 + d[0],
                    d[1],
                    d[2],
                    d[3],
                    1.0 + d[4],
                    d[5],
                    d[6],
                    d[7],
                    1.0,
                ]),
            };
            let (c0, c1) = (cc[0] as f64, cc[1] as f64);
            let to_unit = Projective([1.0 / s, 0.0, -c0 / s, 0.0, 1.0 / s, -c1 / s, 0.0, 0.0, 1.0]);
            let from_unit = Projective([s, 0.0, c0, 0.0, s, c1, 0.0, 0.0, 1.0]);
            let step = to_unit.then(&step_norm).then(&from_unit);
            map = map.then(&step);
            light[0] = (light[0] + d[np]).clamp(0.5, 2.0);
            light[1] += d[np + 1];
            if map.0.iter().any(|v| !v.is_finite()) {
                return None;
            }
            if step.distance(&Projective::IDENTITY, cc, self.scale) < 0.01 {
                break;
            }
        }
        Some(map)
    }

    /// Mean robust cost per unit of weight seen, weight seen, and weight that agrees.
    fn score(&self, cur: &Plane, map: &Projective, light: [f64; 2]) -> (f64, f32, f32) {
        let (mut cost, mut seen, mut agree) = (0.0f64, 0.0f32, 0.0f32);
        for &(x, wt, t) in &self.points {
            if map.depth(x) <= 0.0 {
                continue;
            }
            let y = map.apply(x);
            if !inside(cur, y) {
                continue;
            }
            let r = cur.sample(y[0], y[1]) as f64 - (light[0] * t as f64 + light[1]);
            cost += wt as f64 * (1.0 + (r / ROBUST as f64).powi(2)).ln();
            seen += wt;
            if r.abs() < INLIER as f64 {
                agree += wt;
            }
        }
        (cost / seen.max(1e-6) as f64, seen, agree)
    }
}

/// The levels a frame's luma is registered on, coarsest first: band-passed (a box blur less a
/// much wider one), so that a shadow or a change of exposure over part of the template (slow
/// in space) hardly changes them; radius 3 for a reach of several pixels, then 1 for the fine
/// fit.
pub(crate) fn levels(luma: &Plane) -> Vec<Plane> {
    [(3, 10), (1, 6)]
        .iter()
        .map(|&(r, wide)| {
            let (a, b) = (luma.box_blur(r), luma.box_blur(wide));
            let data = a.data().iter().zip(b.data()).map(|(x, y)| x - y).collect();
            Plane::from_vec(luma.width(), luma.height(), data).unwrap_or(a)
        })
        .collect()
}

/// Whether `y` lies at least a pixel inside the plane (so its gradient is measured).
fn inside(p: &Plane, y: [f32; 2]) -> bool {
    y[0] >= 1.0 && y[1] >= 1.0 && y[0] <= (p.width() - 2) as f32 && y[1] <= (p.height() - 2) as f32
}

/// Solves the first `n` rows and columns of a linear system (Gaussian elimination, partial
/// pivoting); `None` where a pivot is under `tiny` in size or a solution is not finite.
pub(super) fn solve<const N: usize>(
    a: &[[f64; N]; N],
    b: &[f64; N],
    n: usize,
    tiny: f64,
) -> Option<[f64; N]> {
    let (mut m, mut r) = (*a, *b);
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < tiny {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        let (pivot, rhs) = (m[col], r[col]);
        for row in 0..n {
            if row != col {
                let f = m[row][col] / pivot[col];
                if f != 0.0 {
                    for (v, p) in m[row][..n].iter_mut().zip(&pivot[..n]).skip(col) {
                        *v -= f * p;
                    }
                    r[row] -= f * rhs;
                }
            }
        }
    }
    let mut out = [0.0f64; N];
    for i in 0..n {
        out[i] = r[i] / m[i][i];
        if !out[i].is_finite() {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth texture with detail at several scales.
    fn texture(x: f32, y: f32) -> f32 {
        0.5 + 0.2 * (0.31 * x + 0.17 * y).sin() * (0.23 * y - 0.11 * x).cos()
            + 0.1 * (0.7 * x).sin() * (0.9 * y + 0.3 * x).sin()
            + 0.05 * (1.3 * y - 0.4 * x).cos()
    }

    fn render(w: usize, h: usize, to_key: &Projective, gain: f32, offset: f32) -> Plane {
        let mut data = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let k = to_key.apply([x as f32, y as f32]);
                data[y * w + x] = gain * texture(k[0], k[1]) + offset;
            }
        }
        Plane::from_vec(w, h, data).unwrap()
    }

    #[test]
    fn registration_recovers_a_similarity_and_a_homography_from_a_nearby_seed() {
        let (w, h) = (96, 80);
        let key = render(w, h, &Projective::IDENTITY, 1.0, 0.0);
        let centre = [48.0f32, 40.0];
        let mut points = Vec::new();
        for y in 25..56 {
            for x in 33..64 {
                points.push(([x as f32, y as f32], 1.0));
            }
        }
        let tpl = Template::new(points, &levels(&key), centre, 15.0);
        let (c, s) = (
            4f32.to_radians().cos() as f64,
            4f32.to_radians().sin() as f64,
        );
        let sim = Projective::affine([1.03 * c, -1.03 * s, 2.0, 1.03 * s, 1.03 * c, -1.5]);
        let persp = Projective([1.02, 0.03, -1.0, -0.02, 0.99, 1.0, 0.0008, -0.0006, 1.0]);
        for truth in [sim, persp] {
            let cur = render(w, h, &truth.inverse().unwrap(), 0.9, 0.04);
            // Seeded a pixel and a half and a degree off.
            let seed = truth.then(&Projective::affine([1.0, -0.017, 1.5, 0.017, 1.0, -1.0]));
            let fit = tpl.register(&levels(&cur), &seed).unwrap();
            let err = fit.map.distance(&truth, centre, 15.0);
            assert!(err < 0.1, "{truth:?}: off by {err} px ({:?})", fit.map);
        }
    }

    #[test]
    fn registration_refuses_a_template_that_is_not_there() {
        let (w, h) = (64, 64);
        let key = render(w, h, &Projective::IDENTITY, 1.0, 0.0);
        let mut points = Vec::new();
        for y in 20..44 {
            for x in 20..44 {
                points.push(([x as f32, y as f32], 1.0));
            }
        }
        let tpl = Template::new(points, &levels(&key), [32.0, 32.0], 12.0);
        // Something else entirely: a coarse checkerboard.
        let data = (0..w * h)
            .map(|i| {
                if ((i % w) / 6 + (i / w) / 6) % 2 == 0 {
                    0.1
                } else {
                    0.9
                }
            })
            .collect();
        let other = Plane::from_vec(w, h, data).unwrap();
        assert!(tpl
            .register(&levels(&other), &Projective::IDENTITY)
            .is_none());
    }
}
