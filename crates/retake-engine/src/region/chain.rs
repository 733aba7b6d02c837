//! The chained part of a layer's motion: each frame's increment fitted to the optical flow
//! over the part and its ring. It follows fast motion that a direct registration alone could
//! not find again, and seeds that registration (see `super::register`).

use super::map::Projective;
use crate::flow::FlowField;
use crate::plane::Plane;

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

/// How well the flow at `p` can be trusted from the image alone: the structure tensor of a
/// 5×5 window (its smaller eigenvalue, plus a tenth of the larger one so edges count a
/// little), squashed to 0.05–1.
pub(super) fn texture(img: &Plane, p: [f32; 2]) -> f32 {
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
pub(super) fn fit_increment(
    pairs: &[([f32; 2], [f32; 2], f32)],
    centre: [f32; 2],
    scale: f32,
) -> Option<(Projective, f32)> {
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
        sol = super::register::solve(&ata, &atb, 4, 1e-12)?;
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
    if m.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let inc = Projective::affine(m);
    // A per-frame change of shape beyond a quarter of the part's size is not a motion a
    // painted detail makes; treat it as a failed fit.
    let c = inc.apply(centre);
    let shift = Projective::affine([
        1.0,
        0.0,
        (c[0] - centre[0]) as f64,
        0.0,
        1.0,
        (c[1] - centre[1]) as f64,
    ]);
    if inc.distance(&shift, centre, scale) > 0.25 * scale + 1.0 {
        return None;
    }
    Some((inc, agree))
}

/// The value below which half the weight lies.
pub(super) fn weighted_median(v: &mut [(f32, f32)]) -> f32 {
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

/// One frame on along the flow: `fwd` from the previous frame to this one, `bwd` back, `prev`
/// the previous frame's luma, `map` the part's map to the previous frame, `support` its
/// weighted keyframe points, `centre` and `radius` the part's (keyframe). Returns the map to
/// this frame (`None` where the fit failed) and whether the flow followed the part well.
pub(super) fn step(
    map: &Projective,
    support: &[([f32; 2], f32)],
    centre: [f32; 2],
    radius: f32,
    fwd: &FlowField,
    bwd: &FlowField,
    prev: &Plane,
) -> (Option<Projective>, bool) {
    let (w, h) = (fwd.width(), fwd.height());
    let mut pairs = Vec::with_capacity(support.len());
    let (mut in_frame, mut raw) = (0.0f32, 0.0f32);
    for &(s, wt) in support {
        let p = map.apply(s);
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
    let centre = map.apply(centre);
    let scale = radius.max(2.0);
    let consistent: f32 = pairs.iter().map(|p| p.2).sum();
    match fit_increment(&pairs, centre, scale) {
        // Tracked: enough of the support is seen consistently by both flows, and enough of
        // that agrees with the one map.
        Some((inc, agree)) => (
            Some(map.then(&inc)),
            pairs.len() >= 6
                && raw >= 0.2 * in_frame
                && agree >= MIN_INLIER_SHARE * consistent.max(1e-6),
        ),
        None => (None, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_follows_the_majority_motion_and_ignores_outliers() {
        // A part rotating by 2 degrees and moving (1.5, -0.5), with a fifth of the points
        // carried off by something else.
        let (c, s) = (2f64.to_radians().cos(), 2f64.to_radians().sin());
        let truth = Projective::affine([c, -s, 1.5, s, c, -0.5]);
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
}
