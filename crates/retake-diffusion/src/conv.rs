//! 2-D convolution on the CPU without im2col.
//!
//! candle's CPU convolution builds an im2col matrix tile by tile with scattered writes, then
//! scatters the product back; in a profile of one SD-Turbo keyframe that copying cost about as
//! much as the matrix products themselves. Here a k×k convolution is k² matrix products
//! accumulated into one output, each reading the (zero-padded) input shifted by its tap: in a
//! channel plane padded to width `Wp`, the input under tap (ky, kx) for output pixel
//! `y·Wp + x` sits at `(y + ky)·Wp + x + kx`, a constant offset, so every tap is a plain
//! strided matrix. The output is computed `Wp` wide and cropped. Strided convolutions first
//! split the padded input into stride² phase planes (even/odd rows and columns for stride 2),
//! which turns each tap back into a constant offset in one plane.
//!
//! Other devices, dtypes, dilations and groups use candle's own kernel.

use candle_core::{
    backend::BackendStorage, CpuStorage, CustomOp2, CustomOp3, DType, Layout, Module, Result,
    Shape, Tensor,
};
use gemm::{f16, gemm, Parallelism};
use rayon::prelude::*;

/// A convolution layer (stride and padding equal in both directions, no dilation or groups).
#[derive(Clone, Debug)]
pub struct Conv {
    weight: Tensor,
    bias: Option<Tensor>,
    stride: usize,
    padding: usize,
}

impl Conv {
    /// `weight (cout, cin, k, k)`, optional `bias (cout)`.
    pub fn new(weight: Tensor, bias: Option<Tensor>, stride: usize, padding: usize) -> Self {
        Self {
            weight,
            bias,
            stride: stride.max(1),
            padding,
        }
    }

    /// Takes a candle layer's weights (dilation and groups must be 1).
    pub fn from_candle(c: candle_nn::Conv2d) -> Result<Self> {
        let cfg = *c.config();
        if cfg.dilation != 1 || cfg.groups != 1 {
            candle_core::bail!("only plain convolutions (no dilation or groups) are supported");
        }
        Ok(Self::new(
            c.weight().clone(),
            c.bias().cloned(),
            cfg.stride,
            cfg.padding,
        ))
    }

    /// The weight `(cout, cin, k, k)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Candle's convolution with the bias added (the reference, and the non-CPU path).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.conv2d(&self.weight, self.padding, self.stride, 1, 1)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
            None => Ok(y),
        }
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let fast = x.device().is_cpu()
            && matches!(x.dtype(), DType::F32 | DType::F16)
            && self.weight.dtype() == x.dtype()
            && self.bias.as_ref().is_none_or(|b| b.dtype() == x.dtype());
        if !fast {
            return self.forward_candle(x);
        }
        let op = ShiftConv {
            stride: self.stride,
            padding: self.padding,
        };
        let x = x.contiguous()?;
        let w = self.weight.contiguous()?;
        match &self.bias {
            Some(b) => x.apply_op3_no_bwd(&w, &b.contiguous()?, &op),
            None => x.apply_op2_no_bwd(&w, &op),
        }
    }
}

/// The shifted-product convolution as a candle op: (input, weight[, bias]) → output.
struct ShiftConv {
    stride: usize,
    padding: usize,
}

/// Sizes of one convolution, derived once.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    b: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    k: usize,
    s: usize,
    p: usize,
    /// Output height and width.
    ho: usize,
    wo: usize,
    /// Width of a phase plane (= the computed, uncropped output width).
    wq: usize,
    /// Elements of one phase plane of one channel, slack for the last taps included.
    plane: usize,
}

impl Geometry {
    fn new(x: &Layout, w: &Layout, s: usize, p: usize) -> Result<Self> {
        let (b, cin, h, wd) = x.shape().dims4()?;
        let (cout, wcin, kh, kw) = w.shape().dims4()?;
        if wcin != cin || kh != kw || kh == 0 {
            candle_core::bail!(
                "conv: input {:?} and weight {:?} do not fit",
                x.shape(),
                w.shape()
            );
        }
        let k = kh;
        let (hp, wp) = (h + 2 * p, wd + 2 * p);
        if hp < k || wp < k {
            candle_core::bail!("conv: input {h}x{wd} is smaller than the {k}x{k} kernel");
        }
        let (ho, wo) = ((hp - k) / s + 1, (wp - k) / s + 1);
        let wq = wp.div_ceil(s);
        let d = (k - 1) / s;
        Ok(Self {
            b,
            cin,
            h,
            w: wd,
            cout,
            k,
            s,
            p,
            ho,
            wo,
            wq,
            plane: (ho + d) * wq + d + 1,
        })
    }

    /// Whether the input itself can serve as the only phase plane (1×1, stride 1, no padding).
    fn direct(&self) -> bool {
        self.k == 1 && self.s == 1 && self.p == 0
    }
}

/// Element types the shifted convolution runs in.
trait Elem: Copy + Send + Sync + 'static + std::ops::Add<Output = Self> {
    const ZERO: Self;
    const ONE: Self;
}

impl Elem for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl Elem for f16 {
    const ZERO: Self = f16::ZERO;
    const ONE: Self = f16::ONE;
}

fn threads() -> Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// The whole convolution for contiguous `x (b, cin, h, w)`, `wt (cout, cin, k, k)`.
fn run<T: Elem>(g: Geometry, x: &[T], wt: &[T], bias: Option<&[T]>) -> Vec<T> {
    let (k, s) = (g.k, g.s);
    let n = g.ho * g.wq;
    let mut out = vec![T::ZERO; g.b * g.cout * g.ho * g.wo];
    let mut planes: Vec<T> = Vec::new();
    let mut wide: Vec<T> = Vec::new();
    for bi in 0..g.b {
        let xb = &x[bi * g.cin * g.h * g.w..(bi + 1) * g.cin * g.h * g.w];
        // Phase planes, laid out [phase][channel][plane]; the input itself when it fits.
        let (src, rs): (&[T], usize) = if g.direct() {
            (xb, g.h * g.w)
        } else {
            fill_planes(&g, xb, &mut planes);
            (&planes, g.plane)
        };
        let direct_out = g.wq == g.wo && bias.is_none();
        let dst: &mut [T] = if direct_out {
            &mut out[bi * g.cout * n..(bi + 1) * g.cout * n]
        } else {
            wide.clear();
            wide.resize(g.cout * n, T::ZERO);
            &mut wide
        };
        let mut first = true;
        for ky in 0..k {
            for kx in 0..k {
                let phase = (ky % s) * s + kx % s;
                let off = phase * g.cin * rs + (ky / s) * g.wq + kx / s;
                // SAFETY: dst holds cout × n; the rhs rows (cin of them, `rs` apart) are read
                // from `off` to `off + n - 1`, inside the plane by construction of `plane`
                // (or, for the direct case, the input itself with n = h × w); the lhs reads
                // weight (co, ci, ky, kx) at co·cin·k² + ci·k² + ky·k + kx.
                unsafe {
                    gemm(
                        g.cout,
                        n,
                        g.cin,
                        dst.as_mut_ptr(),
                        1,
                        n as isize,
                        !first,
                        wt.as_ptr().add(ky * k + kx),
                        (k * k) as isize,
                        (g.cin * k * k) as isize,
                        src.as_ptr().add(off),
                        1,
                        rs as isize,
                        T::ONE,
                        T::ONE,
                        false,
                        false,
                        false,
                        threads(),
                    );
                }
                first = false;
            }
        }
        if !direct_out {
            let ob = &mut out[bi * g.cout * g.ho * g.wo..(bi + 1) * g.cout * g.ho * g.wo];
            ob.par_chunks_mut(g.ho * g.wo)
                .enumerate()
                .for_each(|(co, o)| {
                    let add = bias.map_or(T::ZERO, |b| b[co]);
                    let wc = &wide[co * n..(co + 1) * n];
                    for y in 0..g.ho {
                        let row = &wc[y * g.wq..y * g.wq + g.wo];
                        for (d, &v) in o[y * g.wo..(y + 1) * g.wo].iter_mut().zip(row) {
                            *d = v + add;
                        }
                    }
                });
        }
    }
    out
}

/// Splits one image `xb (cin, h, w)`, zero-padded by `p`, into stride² phase planes of
/// `g.plane` elements per channel: plane (a, b) holds padded pixels (s·u + a, s·v + b).
fn fill_planes<T: Elem>(g: &Geometry, xb: &[T], planes: &mut Vec<T>) {
    let s = g.s;
    planes.clear();
    planes.resize(s * s * g.cin * g.plane, T::ZERO);
    let rows = g.plane / g.wq;
    planes
        .par_chunks_mut(g.plane)
        .enumerate()
        .for_each(|(i, plane)| {
            let (phase, c) = (i / g.cin, i % g.cin);
            let (a, b) = (phase / s, phase % s);
            let xc = &xb[c * g.h * g.w..(c + 1) * g.h * g.w];
            for u in 0..rows {
                let Some(y) = (s * u + a).checked_sub(g.p).filter(|&y| y < g.h) else {
                    continue;
                };
                let src = &xc[y * g.w..(y + 1) * g.w];
                let dst = &mut plane[u * g.wq..(u + 1) * g.wq];
                if s == 1 {
                    // Padded column v + p holds input column v.
                    dst[g.p..g.p + g.w].copy_from_slice(src);
                } else {
                    for (v, d) in dst.iter_mut().enumerate() {
                        if let Some(x) = (s * v + b).checked_sub(g.p).filter(|&x| x < g.w) {
                            *d = src[x];
                        }
                    }
                }
            }
        });
}

fn slice<'a, T>(data: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("conv: operands must be contiguous"),
    }
}

impl ShiftConv {
    fn cpu(
        &self,
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::new(x.1, w.1, self.stride, self.padding)?;
        if let Some((_, bl)) = b {
            if bl.shape().dims() != [g.cout] {
                candle_core::bail!(
                    "conv: bias {:?} does not fit {} outputs",
                    bl.shape(),
                    g.cout
                );
            }
        }
        let shape = Shape::from((g.b, g.cout, g.ho, g.wo));
        let out = match (x.0, w.0) {
            (CpuStorage::F32(xs), CpuStorage::F32(ws)) => {
                let bias = match b {
                    Some((CpuStorage::F32(bs), bl)) => Some(slice(bs, bl)?),
                    Some(_) => candle_core::bail!("conv: bias dtype differs"),
                    None => None,
                };
                CpuStorage::F32(run(g, slice(xs, x.1)?, slice(ws, w.1)?, bias))
            }
            (CpuStorage::F16(xs), CpuStorage::F16(ws)) => {
                let bias = match b {
                    Some((CpuStorage::F16(bs), bl)) => Some(slice(bs, bl)?),
                    Some(_) => candle_core::bail!("conv: bias dtype differs"),
                    None => None,
                };
                CpuStorage::F16(run(g, slice(xs, x.1)?, slice(ws, w.1)?, bias))
            }
            _ => candle_core::bail!(
                "conv: unsupported dtypes {:?} and {:?}",
                x.0.dtype(),
                w.0.dtype()
            ),
        };
        Ok((out, shape))
    }
}

impl CustomOp2 for ShiftConv {
    fn name(&self) -> &'static str {
        "shift-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.cpu((s1, l1), (s2, l2), None)
    }
}

impl CustomOp3 for ShiftConv {
    fn name(&self) -> &'static str {
        "shift-conv2d-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.cpu((s1, l1), (s2, l2), Some((s3, l3)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::max_abs_diff;
    use candle_core::Device;

    #[test]
    fn matches_candles_convolution_for_every_shape_the_models_use() {
        let mut rng = crate::noise::NoiseRng::new(9);
        let dev = Device::Cpu;
        // (batch, cin, cout, h, w, k, stride, padding, bias)
        for (b, cin, cout, h, w, k, s, p, bias) in [
            (1, 5, 7, 9, 13, 3, 1, 1, true),
            (2, 4, 6, 8, 8, 3, 1, 1, false),
            (1, 4, 6, 9, 11, 3, 2, 0, true),
            (1, 4, 6, 10, 12, 3, 2, 1, false),
            (1, 3, 8, 7, 5, 1, 1, 0, true),
            (2, 8, 3, 6, 9, 1, 1, 0, false),
            (1, 2, 3, 4, 4, 5, 1, 2, true),
            (1, 3, 2, 11, 7, 3, 3, 1, true),
        ] {
            let x = rng.tensor(&[b, cin, h, w], DType::F32, &dev).unwrap();
            let wt = rng.tensor(&[cout, cin, k, k], DType::F32, &dev).unwrap();
            let bs = bias.then(|| rng.tensor(&[cout], DType::F32, &dev).unwrap());
            let conv = Conv::new(wt, bs, s, p);
            let want = conv.forward_candle(&x).unwrap();
            let got = conv.forward(&x).unwrap();
            assert_eq!(
                got.dims(),
                want.dims(),
                "{b} {cin} {cout} {h}x{w} k{k} s{s} p{p}"
            );
            let e = max_abs_diff(&got, &want).unwrap();
            assert!(e < 1e-4, "{b} {cin} {cout} {h}x{w} k{k} s{s} p{p}: {e}");
            // Half precision takes the same path.
            let half = Conv::new(
                conv.weight.to_dtype(DType::F16).unwrap(),
                conv.bias.as_ref().map(|b| b.to_dtype(DType::F16).unwrap()),
                s,
                p,
            );
            let got = half.forward(&x.to_dtype(DType::F16).unwrap()).unwrap();
            let e = max_abs_diff(&got, &want).unwrap();
            assert!(e < 5e-2, "f16 {b} {cin} {cout} {h}x{w} k{k} s{s} p{p}: {e}");
        }
    }

    #[test]
    fn strided_inputs_are_made_contiguous_first() {
        let mut rng = crate::noise::NoiseRng::new(4);
        let dev = Device::Cpu;
        let x = rng.tensor(&[1, 6, 5, 4], DType::F32, &dev).unwrap();
        let xt = x.transpose(2, 3).unwrap(); // (1, 6, 4, 5), not contiguous
        let wt = rng.tensor(&[3, 6, 3, 3], DType::F32, &dev).unwrap();
        let conv = Conv::new(wt, None, 1, 1);
        let e = max_abs_diff(
            &conv.forward(&xt).unwrap(),
            &conv.forward_candle(&xt).unwrap(),
        )
        .unwrap();
        assert!(e < 1e-4, "{e}");
    }
}
