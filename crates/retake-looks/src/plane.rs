//! Float planes and the neighbourhood filters the painted looks share: box means, blur,
//! gradients. Rows are spread over threads; every output value depends only on the input,
//! never on how the rows were split, so results are the same on any machine.

use rayon::prelude::*;
use retake_media::RgbFrame;

/// One channel of a frame as f32, row-major, values nominally in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plane {
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

/// Rec. 709 luma weights.
pub(crate) const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// Luma of an RGB triple in `[0, 1]`.
#[inline]
pub(crate) fn luma(c: [f32; 3]) -> f32 {
    LUMA[0] * c[0] + LUMA[1] * c[1] + LUMA[2] * c[2]
}

/// The frame's pixels as RGB triples in `[0, 1]`.
pub(crate) fn to_rgb(frame: &RgbFrame) -> Vec<[f32; 3]> {
    frame
        .data()
        .par_chunks_exact(3)
        .map(|p| {
            [
                p[0] as f32 / 255.0,
                p[1] as f32 / 255.0,
                p[2] as f32 / 255.0,
            ]
        })
        .collect()
}

impl Plane {
    /// A plane computed from each pixel of `rgb` (`w * h` of them).
    pub fn from_fn(
        w: usize,
        h: usize,
        rgb: &[[f32; 3]],
        f: impl Fn([f32; 3]) -> f32 + Sync,
    ) -> Self {
        Self {
            w,
            h,
            data: rgb.par_iter().map(|&c| f(c)).collect(),
        }
    }

    /// The value at (x, y), clamped to the border.
    #[inline]
    pub fn at(&self, x: isize, y: isize) -> f32 {
        let x = x.clamp(0, self.w as isize - 1) as usize;
        let y = y.clamp(0, self.h as isize - 1) as usize;
        self.data[y * self.w + x]
    }

    /// The mean over the (2k+1)² window around each pixel, the border repeated outwards.
    pub fn box_mean(&self, k: usize) -> Plane {
        if k == 0 {
            return self.clone();
        }
        let (w, h) = (self.w, self.h);
        let n = (2 * k + 1) as f64;
        // Horizontal: a running sum per row, in f64 so that adding and removing the same
        // values cancels exactly (a flat region stays exactly flat).
        let mut rows = vec![0f32; w * h];
        rows.par_chunks_mut(w)
            .zip(self.data.par_chunks(w))
            .for_each(|(out, row)| {
                let at = |i: isize| row[i.clamp(0, w as isize - 1) as usize] as f64;
                let mut sum: f64 = (-(k as isize)..=k as isize).map(at).sum();
                for (x, o) in out.iter_mut().enumerate() {
                    *o = (sum / n) as f32;
                    let x = x as isize;
                    sum += at(x + k as isize + 1) - at(x - k as isize);
                }
            });
        // Vertical: each output row sums its 2k+1 source rows (contiguous, so it vectorises),
        // in f64 again so that a flat region keeps its exact value.
        let mut out = vec![0f32; w * h];
        out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
            let mut acc = vec![0f64; w];
            for dy in -(k as isize)..=k as isize {
                let sy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                let src = &rows[sy * w..(sy + 1) * w];
                for (a, s) in acc.iter_mut().zip(src) {
                    *a += *s as f64;
                }
            }
            for (o, a) in o.iter_mut().zip(&acc) {
                *o = (a / n) as f32;
            }
        });
        Plane { w, h, data: out }
    }

    /// A smooth blur, close to a Gaussian of about `k` pixels: three box means of half-size
    /// `k / 2` (rounded up).
    pub fn blur(&self, k: usize) -> Plane {
        let r = k.div_ceil(2).max(1);
        self.box_mean(r).box_mean(r).box_mean(r)
    }

    /// Gradient magnitude (Sobel, scaled so that a step of height 1 gives 1).
    pub fn gradient(&self) -> Plane {
        let (w, h) = (self.w, self.h);
        let mut out = vec![0f32; w * h];
        out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
            let y = y as isize;
            for (x, v) in o.iter_mut().enumerate() {
                let x = x as isize;
                let p = |dx: isize, dy: isize| self.at(x + dx, y + dy);
                let gx =
                    (p(1, -1) + 2.0 * p(1, 0) + p(1, 1)) - (p(-1, -1) + 2.0 * p(-1, 0) + p(-1, 1));
                let gy =
                    (p(-1, 1) + 2.0 * p(0, 1) + p(1, 1)) - (p(-1, -1) + 2.0 * p(0, -1) + p(1, -1));
                *v = (gx * gx + gy * gy).sqrt() / 4.0;
            }
        });
        Plane { w, h, data: out }
    }

    /// The largest value within `k` pixels (a square), for thickening lines.
    pub fn dilate(&self, k: usize) -> Plane {
        if k == 0 {
            return self.clone();
        }
        let (w, h) = (self.w, self.h);
        let k = k as isize;
        let mut rows = vec![0f32; w * h];
        rows.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
            for (x, v) in o.iter_mut().enumerate() {
                *v = (-k..=k)
                    .map(|dx| self.at(x as isize + dx, y as isize))
                    .fold(f32::MIN, f32::max);
            }
        });
        let rows = Plane { w, h, data: rows };
        let mut out = vec![0f32; w * h];
        out.par_chunks_mut(w).enumerate().for_each(|(y, o)| {
            for (x, v) in o.iter_mut().enumerate() {
                *v = (-k..=k)
                    .map(|dy| rows.at(x as isize, y as isize + dy))
                    .fold(f32::MIN, f32::max);
            }
        });
        Plane { w, h, data: out }
    }
}

/// A length in pixels for a frame of this size, given the length at 720 lines: looks scale
/// with the frame, so a preview made small looks like the full-size result.
pub(crate) fn scaled(w: usize, h: usize, at_720: f32) -> usize {
    let s = w.min(h) as f32 / 720.0;
    (at_720 * s).round().max(1.0) as usize
}

/// A value in `[0, 1)` fixed by the position and a seed: paper grain, hatching jitter.
#[inline]
pub(crate) fn hash01(x: i64, y: i64, seed: u32) -> f32 {
    let mut h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (seed as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 31;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 32;
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// Smooth value noise in `[0, 1)` with features about `cell` pixels across.
pub(crate) fn value_noise(x: f32, y: f32, cell: f32, seed: u32) -> f32 {
    let (fx, fy) = (x / cell, y / cell);
    let (x0, y0) = (fx.floor(), fy.floor());
    let (tx, ty) = (fx - x0, fy - y0);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let (ix, iy) = (x0 as i64, y0 as i64);
    let a = hash01(ix, iy, seed);
    let b = hash01(ix + 1, iy, seed);
    let c = hash01(ix, iy + 1, seed);
    let d = hash01(ix + 1, iy + 1, seed);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> Plane {
        let data = (0..w * h).map(|i| f(i % w, i / w)).collect();
        Plane { w, h, data }
    }

    #[test]
    fn box_mean_keeps_flat_planes_exact_and_averages_a_step() {
        let flat = plane(37, 23, |_, _| 0.3712);
        assert!(flat.box_mean(4) == flat, "a flat plane changed");
        let step = plane(20, 5, |x, _| if x < 10 { 0.0 } else { 1.0 });
        let m = step.box_mean(1);
        assert!((m.at(9, 2) - 1.0 / 3.0).abs() < 1e-6);
        assert!((m.at(10, 2) - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(m.at(0, 0), 0.0);
        assert_eq!(m.at(19, 4), 1.0);
    }

    #[test]
    fn gradient_of_a_unit_step_is_one_at_the_step_and_zero_away() {
        let step = plane(20, 5, |x, _| if x < 10 { 0.0 } else { 1.0 });
        let g = step.gradient();
        assert!((g.at(9, 2) - 1.0).abs() < 1e-6 && (g.at(10, 2) - 1.0).abs() < 1e-6);
        assert_eq!(g.at(3, 2), 0.0);
        assert_eq!(g.at(16, 2), 0.0);
    }

    #[test]
    fn dilate_spreads_a_dot_into_a_square() {
        let dot = plane(9, 9, |x, y| if (x, y) == (4, 4) { 1.0 } else { 0.0 });
        let d = dot.dilate(2);
        let on = d.data.iter().filter(|v| **v == 1.0).count();
        assert_eq!(on, 25);
    }

    #[test]
    fn noise_is_fixed_by_position_and_in_range() {
        for i in 0..500 {
            let v = value_noise(i as f32 * 1.7, i as f32 * 0.3, 8.0, 7);
            assert!((0.0..1.0).contains(&v));
            assert_eq!(v, value_noise(i as f32 * 1.7, i as f32 * 0.3, 8.0, 7));
        }
        assert_ne!(hash01(1, 2, 3), hash01(2, 1, 3));
    }
}
