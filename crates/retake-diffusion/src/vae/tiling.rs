//! Overlapping tiles for encoding and decoding frames larger than a tile, blended linearly so
//! no seams show.

use candle_core::{DType, Result, Tensor};

/// Runs encode (`up = false`) or decode in overlapping tiles of `tile` input cells, blending
/// the overlaps linearly so no seams show. Falls back to one pass when the input fits.
pub(crate) fn tiled(
    x: &Tensor,
    tile: usize,
    factor: usize,
    up: bool,
    run: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let unit = if up { 1 } else { factor };
    if tile == 0 || (h <= tile && w <= tile) {
        return run(x);
    }
    let overlap = (tile / 4 / unit).max(1) * unit;
    let stride = tile - overlap;
    let starts = |len: usize| -> Vec<usize> {
        if len <= tile {
            return vec![0];
        }
        let mut v: Vec<usize> = (0..)
            .map(|i| i * stride)
            .take_while(|s| s + tile < len)
            .collect();
        v.push(len - tile);
        v
    };
    let scale_out = |v: usize| if up { v * factor } else { v / factor };
    let mut acc: Option<Tensor> = None;
    let mut wsum: Option<Tensor> = None;
    let (ys, xs) = (starts(h), starts(w));
    for &y0 in &ys {
        for &x0 in &xs {
            let th = tile.min(h);
            let tw = tile.min(w);
            let out = run(&x.narrow(2, y0, th)?.narrow(3, x0, tw)?)?.to_dtype(DType::F32)?;
            let (oh, ow) = (scale_out(th), scale_out(tw));
            let ov = scale_out(overlap);
            let ramp = |n: usize, first: bool, last: bool| -> Vec<f32> {
                (0..n)
                    .map(|i| {
                        let a = if first {
                            1.0
                        } else {
                            ((i as f32 + 0.5) / ov as f32).min(1.0)
                        };
                        let b = if last {
                            1.0
                        } else {
                            ((n - i) as f32 - 0.5).min(ov as f32) / ov as f32
                        };
                        a.min(b).max(1e-3)
                    })
                    .collect()
            };
            let ry =
                Tensor::new(ramp(oh, y0 == 0, y0 + th >= h), x.device())?.reshape((1, 1, oh, 1))?;
            let rx =
                Tensor::new(ramp(ow, x0 == 0, x0 + tw >= w), x.device())?.reshape((1, 1, 1, ow))?;
            let wt = ry.broadcast_mul(&rx)?;
            let (fh, fw) = (scale_out(h), scale_out(w));
            let (py, px) = (scale_out(y0), scale_out(x0));
            let place = |t: &Tensor| -> Result<Tensor> {
                t.pad_with_zeros(2, py, fh - py - oh)?
                    .pad_with_zeros(3, px, fw - px - ow)
            };
            let contrib = place(&out.broadcast_mul(&wt)?)?;
            let wfull = place(&wt.broadcast_as((1, 1, oh, ow))?.contiguous()?)?;
            acc = Some(match acc {
                Some(a) => (a + contrib)?,
                None => contrib,
            });
            wsum = Some(match wsum {
                Some(s) => (s + wfull)?,
                None => wfull,
            });
        }
    }
    match (acc, wsum) {
        (Some(a), Some(s)) => a.broadcast_div(&s)?.to_dtype(x.dtype()),
        _ => candle_core::bail!("empty tiling"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::max_abs_diff;
    use candle_core::Device;

    #[test]
    fn tiles_blend_back_to_the_whole_for_local_operations() {
        let mut rng = crate::noise::NoiseRng::new(1);
        let x = rng
            .tensor(&[1, 3, 40, 72], DType::F32, &Device::Cpu)
            .unwrap();
        let max_err = |a: &Tensor, b: &Tensor| -> f32 { max_abs_diff(a, b).unwrap() };
        // Decoder-like: 4× nearest upsampling and an affine map (each output depends on one input).
        let up = |t: &Tensor| -> Result<Tensor> {
            let (_, _, h, w) = t.dims4()?;
            (t.upsample_nearest2d(h * 4, w * 4)? * 2.0)? + 1.0
        };
        let whole = up(&x).unwrap();
        for tile in [8, 16, 24] {
            let t = tiled(&x, tile, 4, true, up).unwrap();
            assert!(max_err(&t, &whole) < 1e-5, "decode tile {tile}");
        }
        // Encoder-like: 4× average pooling on tiles aligned to the factor.
        let down = |t: &Tensor| t.avg_pool2d(4);
        let whole = down(&x).unwrap();
        for tile in [16, 32] {
            let t = tiled(&x, tile, 4, false, down).unwrap();
            assert_eq!(t.dims(), whole.dims());
            assert!(max_err(&t, &whole) < 1e-5, "encode tile {tile}");
        }
    }
}
