//! The map that carries a part of a local edit from the keyframe to the current frame: a 2-D
//! projective map (a homography), of which similarities and affine maps are special cases.

/// `x' = (m0 x + m1 y + m2) / d`, `y' = (m3 x + m4 y + m5) / d`, `d = m6 x + m7 y + m8`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Projective(pub [f64; 9]);

/// Where a map sends a point it cannot place (its denominator vanishes there): far outside
/// every frame, so bounds checks drop it.
const NOWHERE: [f32; 2] = [-1.0e9, -1.0e9];

impl Projective {
    /// The map that moves nothing.
    pub const IDENTITY: Projective = Projective([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);

    /// The affine map `x' = a0 x + a1 y + a2`, `y' = a3 x + a4 y + a5`.
    pub fn affine(a: [f64; 6]) -> Projective {
        Projective([a[0], a[1], a[2], a[3], a[4], a[5], 0.0, 0.0, 1.0])
    }

    /// Where the map takes `p`.
    #[inline]
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        let m = &self.0;
        let (x, y) = (p[0] as f64, p[1] as f64);
        let d = m[6] * x + m[7] * y + m[8];
        if d.abs() < 1e-9 {
            return NOWHERE;
        }
        [
            ((m[0] * x + m[1] * y + m[2]) / d) as f32,
            ((m[3] * x + m[4] * y + m[5]) / d) as f32,
        ]
    }

    /// The map's denominator at `p` (positive wherever the map keeps a point in front).
    pub fn depth(&self, p: [f32; 2]) -> f64 {
        let m = &self.0;
        m[6] * p[0] as f64 + m[7] * p[1] as f64 + m[8]
    }

    /// `next` after `self`.
    pub fn then(&self, next: &Projective) -> Projective {
        let (a, b) = (&self.0, &next.0);
        let mut out = [0.0f64; 9];
        for r in 0..3 {
            for c in 0..3 {
                out[r * 3 + c] = (0..3).map(|k| b[r * 3 + k] * a[k * 3 + c]).sum();
            }
        }
        Projective(out).normalised()
    }

    /// The same map with its last entry 1 (when it can be).
    fn normalised(self) -> Projective {
        let s = self.0[8];
        if s.abs() > 1e-12 && s.is_finite() {
            Projective(self.0.map(|v| v / s))
        } else {
            self
        }
    }

    /// The inverse map, if the map is not degenerate.
    pub fn inverse(&self) -> Option<Projective> {
        let m = &self.0;
        let cof = [
            m[4] * m[8] - m[5] * m[7],
            m[2] * m[7] - m[1] * m[8],
            m[1] * m[5] - m[2] * m[4],
            m[5] * m[6] - m[3] * m[8],
            m[0] * m[8] - m[2] * m[6],
            m[2] * m[3] - m[0] * m[5],
            m[3] * m[7] - m[4] * m[6],
            m[1] * m[6] - m[0] * m[7],
            m[0] * m[4] - m[1] * m[3],
        ];
        let det = m[0] * cof[0] + m[1] * cof[3] + m[2] * cof[6];
        if !det.is_finite() || det.abs() < 1e-9 {
            return None;
        }
        Some(Projective(cof.map(|v| v / det)).normalised())
    }

    /// The same map between images `f` times finer. A working pixel `i` covers full-resolution
    /// pixels `f i .. f i + f - 1`, so its centre is at `f i + (f - 1) / 2`.
    pub fn finer(&self, f: usize) -> Projective {
        let (fs, c) = (f as f64, (f as f64 - 1.0) / 2.0);
        let up = Projective([fs, 0.0, c, 0.0, fs, c, 0.0, 0.0, 1.0]);
        let down = Projective([
            1.0 / fs,
            0.0,
            -c / fs,
            0.0,
            1.0 / fs,
            -c / fs,
            0.0,
            0.0,
            1.0,
        ]);
        down.then(self).then(&up)
    }

    /// How far (pixels) the map moves the corners of a box of radius `r` around `centre` away
    /// from where `other` moves them: a size for the difference between two maps.
    pub fn distance(&self, other: &Projective, centre: [f32; 2], r: f32) -> f32 {
        let mut worst = 0.0f32;
        for (dx, dy) in [(-r, -r), (r, -r), (-r, r), (r, r)] {
            let p = [centre[0] + dx, centre[1] + dy];
            let (a, b) = (self.apply(p), other.apply(p));
            worst = worst.max(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt());
        }
        worst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2], tol: f32) -> bool {
        (a[0] - b[0]).abs() < tol && (a[1] - b[1]).abs() < tol
    }

    #[test]
    fn maps_compose_invert_and_scale() {
        let a = Projective([1.1, 0.2, 3.0, -0.1, 0.9, -2.0, 0.001, -0.002, 1.0]);
        let b = Projective::affine([0.95, 0.0, 1.0, 0.05, 1.0, 0.5]);
        let p = [7.0, -3.0];
        assert!(close(a.then(&b).apply(p), b.apply(a.apply(p)), 1e-4));
        let back = a.inverse().unwrap().apply(a.apply(p));
        assert!(close(back, p, 1e-4), "{back:?}");
        // A shift of one working pixel is f full pixels, and centres line up.
        let shift = Projective::affine([1.0, 0.0, 1.0, 0.0, 1.0, 0.0]).finer(3);
        assert!(close(shift.apply([4.0, 4.0]), [7.0, 4.0], 1e-5));
        // For any map, the finer map takes a working pixel's full-resolution centre to the
        // full-resolution centre of where the map takes that pixel.
        for m in [a, b] {
            let full = m.finer(2);
            let w = [5.0, 6.0];
            let (mw, mf) = (m.apply(w), full.apply([2.0 * w[0] + 0.5, 2.0 * w[1] + 0.5]));
            assert!(close(mf, [2.0 * mw[0] + 0.5, 2.0 * mw[1] + 0.5], 1e-3));
        }
    }
}
