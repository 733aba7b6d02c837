//! Dense optical flow, DIS-style: a pyramid, inverse-search patch alignment at each level,
//! densification by weighted patch averaging, and a variational (Horn–Schunck) refinement.

use crate::plane::{bilinear_setup, Plane};
use crate::EngineError;
use rayon::prelude::*;

/// A dense 2-D displacement field: `flow(p)` moves pixel `p` of one frame to its place in the other.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowField {
    w: usize,
    h: usize,
    data: Vec<[f32; 2]>,
}

impl FlowField {
    /// A zero field.
    pub fn zeros(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            data: vec![[0.0; 2]; w * h],
        }
    }

    /// Wraps `w * h` vectors.
    pub fn from_vec(w: usize, h: usize, data: Vec<[f32; 2]>) -> Result<Self, EngineError> {
        if data.len() != w * h {
            return Err(EngineError::Frame(format!(
                "{w}x{h} flow needs {} vectors, got {}",
                w * h,
                data.len()
            )));
        }
        Ok(Self { w, h, data })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.h
    }

    /// The vectors, row-major.
    pub fn data(&self) -> &[[f32; 2]] {
        &self.data
    }

    /// The vector at integer (x, y).
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> [f32; 2] {
        self.data[y * self.w + x]
    }

    /// Bilinear sample at continuous (x, y), clamped to the border.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> [f32; 2] {
        let (i0, j0, fx, fy) = bilinear_setup(x, y, self.w, self.h);
        let w = self.w;
        let (i1, j1) = ((i0 + 1).min(self.w - 1), (j0 + 1).min(self.h - 1));
        let (a, b, c, d) = (
            self.data[j0 * w + i0],
            self.data[j0 * w + i1],
            self.data[j1 * w + i0],
            self.data[j1 * w + i1],
        );
        let mut out = [0.0; 2];
        for k in 0..2 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bot = c[k] + (d[k] - c[k]) * fx;
            out[k] = top + (bot - top) * fy;
        }
        out
    }

    /// Resamples to another size, scaling the vectors with it.
    pub fn resize(&self, w: usize, h: usize) -> Self {
        if w == self.w && h == self.h {
            return self.clone();
        }
        let (sx, sy) = (self.w as f32 / w as f32, self.h as f32 / h as f32);
        let mut data = vec![[0.0; 2]; w * h];
        data.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let fy = (y as f32 + 0.5) * sy - 0.5;
            for (x, out) in row.iter_mut().enumerate() {
                let v = self.sample((x as f32 + 0.5) * sx - 0.5, fy);
                *out = [v[0] / sx, v[1] / sy];
            }
        });
        Self { w, h, data }
    }
}

/// Tuning of the DIS flow.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowParams {
    /// Side of the square patches aligned by inverse search.
    pub patch_size: usize,
    /// Distance between neighbouring patch origins (patch_size / 2 gives 50% overlap).
    pub stride: usize,
    /// Gradient-descent iterations per patch.
    pub iterations: usize,
    /// The pyramid stops halving before the smaller side drops below this.
    pub coarsest_min_side: usize,
    /// Pyramid level at which to stop (0 = full resolution; 1 = half, then upsampled).
    pub finest_level: usize,
    /// Jacobi iterations of the variational refinement per level (0 turns it off).
    pub refine_iterations: usize,
    /// Smoothness weight of the refinement (in luma units, `[0, 1]` images).
    pub smoothness: f32,
}

impl Default for FlowParams {
    fn default() -> Self {
        Self {
            patch_size: 8,
            stride: 4,
            iterations: 12,
            coarsest_min_side: 12,
            finest_level: 0,
            refine_iterations: 5,
            smoothness: 0.05,
        }
    }
}

impl FlowParams {
    fn validate(&self) -> Result<(), EngineError> {
        if self.patch_size < 3 || self.patch_size > 32 {
            return Err(EngineError::InvalidParam {
                name: "patch_size",
                value: self.patch_size.to_string(),
                hint: "use 3..=32 (8 is typical)",
            });
        }
        if self.stride == 0 || self.stride > self.patch_size {
            return Err(EngineError::InvalidParam {
                name: "stride",
                value: self.stride.to_string(),
                hint: "use 1..=patch_size (patch_size/2 is typical)",
            });
        }
        Ok(())
    }
}

/// Computes the flow that carries `from` onto `to`: `from(p) ≈ to(p + flow(p))`.
pub fn dense_flow(from: &Plane, to: &Plane, params: &FlowParams) -> Result<FlowField, EngineError> {
    params.validate()?;
    if from.width() != to.width() || from.height() != to.height() {
        return Err(EngineError::SizeMismatch {
            what: "second flow frame",
            got_w: to.width(),
            got_h: to.height(),
            want_w: from.width(),
            want_h: from.height(),
        });
    }
    let min = params.patch_size.max(4);
    if from.width() < min || from.height() < min {
        return Err(EngineError::TooSmall {
            w: from.width(),
            h: from.height(),
            min,
        });
    }
    let mut p0 = vec![from.clone()];
    let mut p1 = vec![to.clone()];
    loop {
        let last = &p0[p0.len() - 1];
        if last.width().min(last.height()) / 2 < params.coarsest_min_side.max(params.patch_size) {
            break;
        }
        let (a, b) = (last.half(), p1[p1.len() - 1].half());
        p0.push(a);
        p1.push(b);
    }
    let finest = params.finest_level.min(p0.len() - 1);
    let mut flow: Option<FlowField> = None;
    for lvl in (finest..p0.len()).rev() {
        let (i0, i1) = (&p0[lvl], &p1[lvl]);
        let init = match &flow {
            Some(f) => f.resize(i0.width(), i0.height()),
            None => FlowField::zeros(i0.width(), i0.height()),
        };
        let patches = inverse_search(i0, i1, &init, params);
        let mut dense = densify(i0, i1, &patches, params);
        if params.refine_iterations > 0 {
            refine(i0, i1, &mut dense, params);
        }
        flow = Some(dense);
    }
    let flow = flow.unwrap_or_else(|| FlowField::zeros(from.width(), from.height()));
    Ok(flow.resize(from.width(), from.height()))
}

/// Forward (`a → b`) and backward (`b → a`) flow, computed in parallel.
pub fn bidirectional_flow(
    a: &Plane,
    b: &Plane,
    params: &FlowParams,
) -> Result<(FlowField, FlowField), EngineError> {
    let (f, b) = rayon::join(|| dense_flow(a, b, params), || dense_flow(b, a, params));
    Ok((f?, b?))
}

/// Marks pixels of the `forward` field's source frame that are not visible in the other frame:
/// forward and backward flow disagree there, or the pixel leaves the picture.
pub fn occlusion_mask(forward: &FlowField, backward: &FlowField) -> Vec<bool> {
    disagreement_mask(forward, backward, 0.5)
}

/// As [`occlusion_mask`], with `tolerance` the squared disagreement (px²) allowed on top of
/// 1 % of the squared motion: a larger one flags only clear occlusions.
pub fn disagreement_mask(forward: &FlowField, backward: &FlowField, tolerance: f32) -> Vec<bool> {
    let (w, h) = (forward.w, forward.h);
    let mut mask = vec![false; w * h];
    mask.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, m) in row.iter_mut().enumerate() {
            let f = forward.get(x, y);
            let (tx, ty) = (x as f32 + f[0], y as f32 + f[1]);
            if tx < -0.5 || ty < -0.5 || tx > w as f32 - 0.5 || ty > h as f32 - 0.5 {
                *m = true;
                continue;
            }
            let b = backward.sample(tx, ty);
            let (dx, dy) = (f[0] + b[0], f[1] + b[1]);
            let mag = f[0] * f[0] + f[1] * f[1] + b[0] * b[0] + b[1] * b[1];
            *m = dx * dx + dy * dy > 0.01 * mag + tolerance;
        }
    });
    mask
}

/// One aligned patch: its origin and displacement.
#[derive(Clone, Copy)]
struct PatchFlow {
    x: usize,
    y: usize,
    u: [f32; 2],
}

fn patch_origins(len: usize, ps: usize, stride: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..=len - ps).step_by(stride).collect();
    if v.last() != Some(&(len - ps)) {
        v.push(len - ps);
    }
    v
}

/// Inverse-compositional search, one independent gradient descent per patch.
fn inverse_search(i0: &Plane, i1: &Plane, init: &FlowField, params: &FlowParams) -> Vec<PatchFlow> {
    let ps = params.patch_size;
    let xs = patch_origins(i0.width(), ps, params.stride);
    let ys = patch_origins(i0.height(), ps, params.stride);
    let (gx, gy) = i0.gradients();
    let n = (ps * ps) as f32;
    ys.par_iter()
        .flat_map_iter(|&py| {
            let (gx, gy) = (&gx, &gy);
            let xs = &xs;
            xs.iter().map(move |&px| {
                let mut t = [0.0f32; 1024];
                let mut tgx = [0.0f32; 1024];
                let mut tgy = [0.0f32; 1024];
                let w = i0.width();
                let (mut mx, mut my) = (0.0, 0.0);
                for j in 0..ps {
                    for i in 0..ps {
                        let k = j * ps + i;
                        let idx = (py + j) * w + px + i;
                        t[k] = i0.data()[idx];
                        tgx[k] = gx.data()[idx];
                        tgy[k] = gy.data()[idx];
                        mx += tgx[k];
                        my += tgy[k];
                    }
                }
                mx /= n;
                my /= n;
                let (mut hxx, mut hxy, mut hyy) = (0.0f32, 0.0f32, 0.0f32);
                for k in 0..ps * ps {
                    tgx[k] -= mx;
                    tgy[k] -= my;
                    hxx += tgx[k] * tgx[k];
                    hxy += tgx[k] * tgy[k];
                    hyy += tgy[k] * tgy[k];
                }
                // A small ridge keeps flat patches from flying off.
                let eps = 1e-4 * n;
                hxx += eps;
                hyy += eps;
                let det = hxx * hyy - hxy * hxy;
                let c = init.get(px + ps / 2, py + ps / 2);
                let mut u = c;
                let cost = |u: [f32; 2], diff: &mut [f32; 1024]| -> f32 {
                    let mut mean = 0.0;
                    for j in 0..ps {
                        for i in 0..ps {
                            let k = j * ps + i;
                            let v = i1.sample((px + i) as f32 + u[0], (py + j) as f32 + u[1]);
                            diff[k] = v - t[k];
                            mean += diff[k];
                        }
                    }
                    mean /= n;
                    let mut ssd = 0.0;
                    for d in diff.iter_mut().take(ps * ps) {
                        *d -= mean;
                        ssd += *d * *d;
                    }
                    ssd
                };
                let mut diff = [0.0f32; 1024];
                let start_cost = cost(u, &mut diff);
                let mut cur_cost = start_cost;
                for _ in 0..params.iterations {
                    let (mut bx, mut by) = (0.0, 0.0);
                    for k in 0..ps * ps {
                        bx += tgx[k] * diff[k];
                        by += tgy[k] * diff[k];
                    }
                    let dx = (hyy * bx - hxy * by) / det;
                    let dy = (hxx * by - hxy * bx) / det;
                    u = [u[0] - dx, u[1] - dy];
                    cur_cost = cost(u, &mut diff);
                    if dx * dx + dy * dy < 1e-4 {
                        break;
                    }
                }
                if cur_cost.is_nan()
                    || cur_cost > start_cost
                    || !u[0].is_finite()
                    || !u[1].is_finite()
                {
                    u = c;
                }
                PatchFlow { x: px, y: py, u }
            })
        })
        .collect()
}

/// Densification: every pixel averages the displacements of the patches covering it,
/// weighted by how well each one explains that pixel.
fn densify(i0: &Plane, i1: &Plane, patches: &[PatchFlow], params: &FlowParams) -> FlowField {
    let (w, h, ps) = (i0.width(), i0.height(), params.patch_size);
    let mut acc = vec![[0.0f32; 3]; w * h];
    acc.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for p in patches.iter().filter(|p| y >= p.y && y < p.y + ps) {
            for i in 0..ps {
                let x = p.x + i;
                let v = i1.sample(x as f32 + p.u[0], y as f32 + p.u[1]);
                let d = (v - i0.data()[y * w + x]).abs();
                let wt = 1.0 / d.max(1.0 / 255.0);
                let a = &mut row[x];
                a[0] += wt * p.u[0];
                a[1] += wt * p.u[1];
                a[2] += wt;
            }
        }
    });
    let data = acc
        .iter()
        .map(|a| {
            if a[2] > 0.0 {
                [a[0] / a[2], a[1] / a[2]]
            } else {
                [0.0, 0.0]
            }
        })
        .collect();
    FlowField { w, h, data }
}

/// Variational refinement: a few Jacobi sweeps of Horn–Schunck on the increment, linearised
/// around the current flow, which fills in weakly textured areas and smooths patch seams.
fn refine(i0: &Plane, i1: &Plane, flow: &mut FlowField, params: &FlowParams) {
    let (w, h) = (i0.width(), i0.height());
    let mut ix = vec![0.0f32; w * h];
    let mut iy = vec![0.0f32; w * h];
    let mut it = vec![0.0f32; w * h];
    let base = flow.data.clone();
    ix.par_chunks_mut(w)
        .zip(iy.par_chunks_mut(w))
        .zip(it.par_chunks_mut(w))
        .enumerate()
        .for_each(|(y, ((rx, ry), rt))| {
            for x in 0..w {
                let u = base[y * w + x];
                let (sx, sy) = (x as f32 + u[0], y as f32 + u[1]);
                let g0x =
                    0.5 * (i0.at(x as isize + 1, y as isize) - i0.at(x as isize - 1, y as isize));
                let g0y =
                    0.5 * (i0.at(x as isize, y as isize + 1) - i0.at(x as isize, y as isize - 1));
                let g1x = 0.5 * (i1.sample(sx + 1.0, sy) - i1.sample(sx - 1.0, sy));
                let g1y = 0.5 * (i1.sample(sx, sy + 1.0) - i1.sample(sx, sy - 1.0));
                rx[x] = 0.5 * (g0x + g1x);
                ry[x] = 0.5 * (g0y + g1y);
                rt[x] = i1.sample(sx, sy) - i0.data()[y * w + x];
            }
        });
    let a2 = params.smoothness * params.smoothness;
    let mut cur = base.clone();
    let mut next = base.clone();
    for _ in 0..params.refine_iterations {
        next.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, out) in row.iter_mut().enumerate() {
                let mut avg = [0.0f32; 2];
                let mut n = 0.0;
                for (dx, dy) in [(-1isize, 0isize), (1, 0), (0, -1), (0, 1)] {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                        let v = cur[ny as usize * w + nx as usize];
                        avg[0] += v[0];
                        avg[1] += v[1];
                        n += 1.0;
                    }
                }
                avg = [avg[0] / n, avg[1] / n];
                let i = y * w + x;
                let u0 = base[i];
                let r = it[i] + ix[i] * (avg[0] - u0[0]) + iy[i] * (avg[1] - u0[1]);
                let k = r / (a2 + ix[i] * ix[i] + iy[i] * iy[i]);
                *out = [avg[0] - ix[i] * k, avg[1] - iy[i] * k];
            }
        });
        std::mem::swap(&mut cur, &mut next);
    }
    flow.data = cur;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texture(w: usize, h: usize, dx: f32, dy: f32) -> Plane {
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 - dx, (i / w) as f32 - dy);
                0.5 + 0.2 * (x * 0.31).sin() * (y * 0.23).cos()
                    + 0.15 * (x * 0.11 + y * 0.17).sin()
                    + 0.1 * (y * 0.41 - x * 0.07).cos()
            })
            .collect();
        Plane::from_vec(w, h, data).unwrap()
    }

    #[test]
    fn recovers_a_global_translation() {
        let a = texture(96, 72, 0.0, 0.0);
        let b = texture(96, 72, 2.3, -1.6);
        let f = dense_flow(&a, &b, &FlowParams::default()).unwrap();
        let (mut e, mut n) = (0.0, 0.0);
        for y in 8..64 {
            for x in 8..88 {
                let v = f.get(x, y);
                e += ((v[0] - 2.3).powi(2) + (v[1] + 1.6).powi(2)).sqrt();
                n += 1.0;
            }
        }
        assert!(e / n < 0.1, "mean EPE {}", e / n);
    }

    #[test]
    fn rejects_bad_params() {
        let a = texture(32, 32, 0.0, 0.0);
        let p = FlowParams {
            stride: 0,
            ..FlowParams::default()
        };
        assert!(dense_flow(&a, &a, &p).is_err());
    }
}
