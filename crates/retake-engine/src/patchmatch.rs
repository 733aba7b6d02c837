//! PatchMatch nearest-neighbour field over guide channels: for every target pixel, the keyframe
//! position whose patch best matches it (appearance + temporal guides + position prior).

use rayon::prelude::*;

/// Number of appearance guide channels (luma, two chroma, edge strength).
pub(crate) const APP: usize = 4;

/// Guide channels of one image at working resolution, already scaled by the square roots of
/// their weights so a plain SSD applies them.
#[derive(Clone, Debug)]
pub(crate) struct Guides {
    pub w: usize,
    pub h: usize,
    /// `APP` interleaved appearance channels per pixel.
    pub app: Vec<f32>,
    /// Temporal channels: the style on the keyframe side, the warped previous output on the target side.
    pub tmp: Vec<[f32; 3]>,
    /// Both packed per pixel (appearance, temporal, a zero), so a patch distance runs over one
    /// contiguous, vector-friendly row; filled by [`Guides::pack`].
    pub px: Vec<[f32; 8]>,
}

impl Guides {
    /// Guides of a `w`×`h` image with no channels yet.
    pub fn empty(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            app: Vec::new(),
            tmp: Vec::new(),
            px: Vec::new(),
        }
    }

    /// Packs `app` and `tmp` into `px`; call after either changes.
    pub fn pack(&mut self) {
        self.px.clear();
        self.px.extend(
            self.app
                .chunks_exact(APP)
                .zip(&self.tmp)
                .map(|(a, t)| [a[0], a[1], a[2], a[3], t[0], t[1], t[2], 0.0]),
        );
    }
}

/// Nearest-neighbour field: keyframe coordinates (working resolution, sub-pixel) per target pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Nnf {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) pos: Vec<[f32; 2]>,
    pub(crate) cost: Vec<f32>,
}

impl Nnf {
    /// The field mapping every pixel to itself.
    pub fn identity(w: usize, h: usize) -> Self {
        let pos = (0..w * h)
            .map(|i| [(i % w) as f32, (i / w) as f32])
            .collect();
        Self {
            w,
            h,
            pos,
            cost: vec![f32::MAX; w * h],
        }
    }

    /// Width of the field.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Height of the field.
    pub fn height(&self) -> usize {
        self.h
    }

    /// Keyframe coordinates per pixel.
    pub fn positions(&self) -> &[[f32; 2]] {
        &self.pos
    }
}

/// Per-frame knobs of the search.
#[derive(Clone, Debug)]
pub(crate) struct Search<'a> {
    /// Patch radius (patch side = 2r + 1).
    pub radius: usize,
    pub iterations: usize,
    /// Random-search radius for pixels that are being tracked.
    pub local_radius: f32,
    /// Random-search radius for pixels without a trusted track (revealed, after a cut).
    pub global_radius: f32,
    /// Weight of the temporal guide per target pixel (0 where the previous output is unusable).
    pub temporal: &'a [f32],
    /// Flow-tracked keyframe position per pixel, with its penalty weight.
    pub track: Option<(&'a [[f32; 2]], f32)>,
    /// Pixels whose match is given (a part of a local edit drawn as a whole, see
    /// `crate::region`): the search leaves them as they are. Empty: none held.
    pub hold: &'a [bool],
    /// Keyframe pixels that no other pixel may match (the parts of a local edit, which only
    /// held pixels show). Empty: none.
    pub forbid: &'a [bool],
    pub seed: u64,
}

impl Search<'_> {
    /// Whether pixel `i` is held to its track.
    #[inline]
    fn held(&self, i: usize) -> bool {
        self.hold.get(i).copied().unwrap_or(false)
    }
}

/// A small, fast, seedable generator (splitmix64) so results never depend on thread timing.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, a: u64, b: u64) -> Self {
        Self(seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

struct Ctx<'a> {
    key: &'a Guides,
    tgt: &'a Guides,
    s: &'a Search<'a>,
}

impl Ctx<'_> {
    /// Keeps a candidate inside the keyframe (its patch is clamped at the border when costed).
    #[inline]
    fn clamp(&self, c: [f32; 2]) -> [f32; 2] {
        [
            c[0].clamp(0.0, (self.key.w - 1) as f32),
            c[1].clamp(0.0, (self.key.h - 1) as f32),
        ]
    }

    /// Patch distance, abandoned once it exceeds `limit`.
    #[inline]
    fn cost(&self, px: usize, py: usize, c: [f32; 2], limit: f32) -> f32 {
        let i = py * self.tgt.w + px;
        let tw = self.s.temporal[i];
        let mut total = 0.0;
        // Candidates are clamped to the keyframe, so they are never negative.
        let (cx, cy) = ((c[0] + 0.5) as usize, (c[1] + 0.5) as usize);
        if !self.s.forbid.is_empty() && self.s.forbid[cy * self.key.w + cx] && !self.s.held(i) {
            return f32::MAX;
        }
        // The track is only trusted where the previous output is (the temporal mask).
        if let (Some((track, wp)), true) = (self.s.track, tw > 0.0) {
            let t = track[i];
            let (dx, dy) = (c[0] - t[0], c[1] - t[1]);
            total += wp * (dx * dx + dy * dy).min(400.0);
        }
        // Temporal channels count by the pixel's temporal weight; the eighth lane is padding.
        let mask = [1.0, 1.0, 1.0, 1.0, tw, tw, tw, 0.0];
        let r = self.s.radius;
        let (kw, kh, tw_, th) = (self.key.w, self.key.h, self.tgt.w, self.tgt.h);
        let inside = px >= r
            && py >= r
            && px + r < tw_
            && py + r < th
            && cx >= r
            && cy >= r
            && cx + r < kw
            && cy + r < kh;
        let side = 2 * r + 1;
        for dy in 0..side {
            let mut d = [0.0f32; 8];
            if inside {
                let t0 = (py + dy - r) * tw_ + px - r;
                let k0 = (cy + dy - r) * kw + cx - r;
                let trow = &self.tgt.px[t0..t0 + side];
                let krow = &self.key.px[k0..k0 + side];
                for (a, b) in trow.iter().zip(krow) {
                    for k in 0..8 {
                        let e = a[k] - b[k];
                        d[k] += e * e;
                    }
                }
            } else {
                let ty = (py + dy).saturating_sub(r).min(th - 1);
                let ky = (cy + dy).saturating_sub(r).min(kh - 1);
                for dx in 0..side {
                    let tx = (px + dx).saturating_sub(r).min(tw_ - 1);
                    let kx = (cx + dx).saturating_sub(r).min(kw - 1);
                    let (a, b) = (&self.tgt.px[ty * tw_ + tx], &self.key.px[ky * kw + kx]);
                    for k in 0..8 {
                        let e = a[k] - b[k];
                        d[k] += e * e;
                    }
                }
            }
            total += d.iter().zip(&mask).map(|(d, m)| d * m).sum::<f32>();
            // Distances only grow, and a candidate must come in under the limit to win.
            if total >= limit {
                return total;
            }
        }
        total
    }
}

/// The random-search radius at pixel `i`: local around a trusted track, global without one.
#[inline]
fn search_radius(s: &Search<'_>, i: usize) -> f32 {
    if s.temporal[i] > 0.0 {
        s.local_radius
    } else {
        s.global_radius
    }
}

/// Computes the cost of the current field everywhere (after the guides changed).
pub(crate) fn score(nnf: &mut Nnf, key: &Guides, tgt: &Guides, s: &Search<'_>) {
    let ctx = Ctx { key, tgt, s };
    let w = nnf.w;
    nnf.pos
        .par_chunks_mut(w)
        .zip(nnf.cost.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, (pos, cost))| {
            for x in 0..w {
                pos[x] = ctx.clamp(pos[x]);
                cost[x] = ctx.cost(x, y, pos[x], f32::MAX);
            }
        });
}

/// Runs PatchMatch iterations (propagation + random search) in parallel row bands.
pub(crate) fn search(nnf: &mut Nnf, key: &Guides, tgt: &Guides, s: &Search<'_>) {
    let ctx = Ctx { key, tgt, s };
    let (w, h) = (nnf.w, nnf.h);
    // Eight bands (of at least eight rows), whatever the number of threads: where a band
    // starts changes what its first rows read, so tying it to the thread count would make the
    // output depend on the machine.
    let band = (h / 8).max(8);
    for it in 0..s.iterations {
        // Rows outside a band are read from this snapshot, so the result is the same however
        // the bands are scheduled.
        let snapshot = nnf.pos.clone();
        let forward = it % 2 == 0;
        nnf.pos
            .par_chunks_mut(w * band)
            .zip(nnf.cost.par_chunks_mut(w * band))
            .enumerate()
            .for_each(|(b, (pos, cost))| {
                let y0 = b * band;
                let rows = pos.len() / w;
                for ry in 0..rows {
                    let ry = if forward { ry } else { rows - 1 - ry };
                    let y = y0 + ry;
                    let mut rng = Rng::new(s.seed, it as u64, y as u64);
                    for xi in 0..w {
                        let x = if forward { xi } else { w - 1 - xi };
                        if s.held(y * w + x) {
                            continue; // drawn from its part's map, not searched
                        }
                        let i = ry * w + x;
                        let mut best = pos[i];
                        let mut best_cost = cost[i];
                        if best_cost <= 0.0 {
                            // A perfect match (flat or exactly tracked areas): nothing can
                            // beat it. The generator still advances as if the random search
                            // ran, so later pixels draw what they always would.
                            let mut r = search_radius(s, y * w + x);
                            while r >= 1.0 {
                                rng.next();
                                rng.next();
                                r *= 0.5;
                            }
                            continue;
                        }
                        let step: isize = if forward { -1 } else { 1 };
                        // Propagation: the left/right and up/down neighbours' matches, shifted.
                        let nx = x as isize + step;
                        if nx >= 0 && (nx as usize) < w {
                            let q = pos[ry * w + nx as usize];
                            let c = ctx.clamp([q[0] - step as f32, q[1]]);
                            let k = ctx.cost(x, y, c, best_cost);
                            if k < best_cost {
                                best = c;
                                best_cost = k;
                            }
                        }
                        let ny = y as isize + step;
                        if ny >= 0 && (ny as usize) < h {
                            let ny = ny as usize;
                            let q = if ny >= y0 && ny < y0 + rows {
                                pos[(ny - y0) * w + x]
                            } else {
                                snapshot[ny * w + x]
                            };
                            let c = ctx.clamp([q[0], q[1] - step as f32]);
                            let k = ctx.cost(x, y, c, best_cost);
                            if k < best_cost {
                                best = c;
                                best_cost = k;
                            }
                        }
                        // Random search around the best so far, radius halving.
                        let mut r = search_radius(s, y * w + x);
                        while r >= 1.0 {
                            // Clamped to the keyframe first, so rounding half up (a cast)
                            // matches `round` and stays inside.
                            let c =
                                ctx.clamp([best[0] + r * rng.signed(), best[1] + r * rng.signed()]);
                            let c = [(c[0] + 0.5) as u32 as f32, (c[1] + 0.5) as u32 as f32];
                            let k = ctx.cost(x, y, c, best_cost);
                            if k < best_cost {
                                best = c;
                                best_cost = k;
                            }
                            r *= 0.5;
                        }
                        pos[i] = best;
                        cost[i] = best_cost;
                    }
                }
            });
    }
}
