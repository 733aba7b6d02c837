//! diffusers' `AutoencoderKL` (weight names as in `vae/`), with tiled encode/decode for large
//! frames.

use crate::blocks::{conv1, conv3, Downsample, ResnetBlock, Upsample};
use crate::config::VaeConfig;
use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{group_norm, linear, Conv2d, GroupNorm, Linear, VarBuilder};

/// The VAE's single-head self-attention over all pixels.
#[derive(Debug)]
struct VaeAttention {
    norm: GroupNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl VaeAttention {
    fn new(c: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        // Older checkpoints name the projections query/key/value/proj_attn.
        let pick = |new: &str, old: &str| -> Result<Linear> {
            if vb.contains_tensor(&format!("{new}.weight"))
                || !vb.contains_tensor(&format!("{old}.weight"))
            {
                linear(c, c, vb.pp(new))
            } else {
                linear(c, c, vb.pp(old))
            }
        };
        Ok(Self {
            norm: group_norm(groups, c, 1e-6, vb.pp("group_norm"))?,
            q: pick("to_q", "query")?,
            k: pick("to_k", "key")?,
            v: pick("to_v", "value")?,
            out: pick("to_out.0", "proj_attn")?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let y = self
            .norm
            .forward(x)?
            .reshape((b, c, h * w))?
            .transpose(1, 2)?
            .contiguous()?;
        let (q, k, v) = (
            self.q.forward(&y)?,
            self.k.forward(&y)?,
            self.v.forward(&y)?,
        );
        let o = crate::unet::attention::sliced_attention(&q, &k, &v, Default::default())?;
        let o = self
            .out
            .forward(&o)?
            .transpose(1, 2)?
            .reshape((b, c, h, w))?;
        o + x
    }
}

#[derive(Debug)]
struct Mid {
    r0: ResnetBlock,
    attn: Option<VaeAttention>,
    r1: ResnetBlock,
}

impl Mid {
    fn new(c: usize, g: usize, attn: bool, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            r0: ResnetBlock::new(c, c, None, g, 1e-6, vb.pp("resnets.0"))?,
            attn: attn
                .then(|| VaeAttention::new(c, g, vb.pp("attentions.0")))
                .transpose()?,
            r1: ResnetBlock::new(c, c, None, g, 1e-6, vb.pp("resnets.1"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.r0.forward(x, None)?;
        if let Some(a) = &self.attn {
            x = a.forward(&x)?;
        }
        self.r1.forward(&x, None)
    }
}

/// `count` resnets of one VAE block (`vb` is the block), the first taking `cin` channels.
fn resnets(
    cin: usize,
    cout: usize,
    count: usize,
    groups: usize,
    vb: &VarBuilder,
) -> Result<Vec<ResnetBlock>> {
    (0..count)
        .map(|j| {
            let c = if j == 0 { cin } else { cout };
            ResnetBlock::new(c, cout, None, groups, 1e-6, vb.pp(format!("resnets.{j}")))
        })
        .collect()
}

#[derive(Debug)]
struct Encoder {
    conv_in: Conv2d,
    blocks: Vec<(Vec<ResnetBlock>, Option<Downsample>)>,
    mid: Mid,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

#[derive(Debug)]
struct Decoder {
    conv_in: Conv2d,
    mid: Mid,
    blocks: Vec<(Vec<ResnetBlock>, Option<Upsample>)>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

/// The autoencoder: image ↔ latent, with optional tiling for large frames.
#[derive(Debug)]
pub struct Vae {
    encoder: Encoder,
    quant: Option<Conv2d>,
    post_quant: Option<Conv2d>,
    decoder: Decoder,
    latent_channels: usize,
    scaling: f64,
    shift: f64,
    factor: usize,
    /// Tile size in pixels for tiled encode/decode (0 disables tiling).
    pub tile: usize,
}

impl Vae {
    /// Builds the VAE from `cfg` and weights.
    pub fn new(cfg: &VaeConfig, vb: VarBuilder) -> Result<Self> {
        let ch = &cfg.block_out_channels;
        let n = ch.len();
        if n == 0 {
            candle_core::bail!("vae block_out_channels is empty");
        }
        let g = cfg.norm_num_groups;
        if g == 0 || ch.iter().any(|c| !c.is_multiple_of(g)) {
            candle_core::bail!("vae channels {ch:?} do not split into {g} norm groups");
        }
        let lc = cfg.latent_channels;
        let e = vb.pp("encoder");
        let mut blocks = Vec::new();
        let mut cin = ch[0];
        for (i, &cout) in ch.iter().enumerate() {
            let b = e.pp(format!("down_blocks.{i}"));
            let res = resnets(cin, cout, cfg.layers_per_block, g, &b)?;
            let down = (i + 1 < n)
                .then(|| Downsample::new(cout, true, b.pp("downsamplers.0")))
                .transpose()?;
            blocks.push((res, down));
            cin = cout;
        }
        let last = ch[n - 1];
        let encoder = Encoder {
            conv_in: conv3(cfg.in_channels, ch[0], 1, 1, e.pp("conv_in"))?,
            blocks,
            mid: Mid::new(last, g, cfg.mid_block_add_attention, e.pp("mid_block"))?,
            norm_out: group_norm(g, last, 1e-6, e.pp("conv_norm_out"))?,
            conv_out: conv3(last, 2 * lc, 1, 1, e.pp("conv_out"))?,
        };
        let d = vb.pp("decoder");
        let rev: Vec<usize> = ch.iter().rev().copied().collect();
        let mut blocks = Vec::new();
        let mut cin = rev[0];
        for (i, &cout) in rev.iter().enumerate() {
            let b = d.pp(format!("up_blocks.{i}"));
            // The decoder's blocks hold one resnet more than the encoder's.
            let res = resnets(cin, cout, cfg.layers_per_block + 1, g, &b)?;
            let up = (i + 1 < n)
                .then(|| Upsample::new(cout, b.pp("upsamplers.0")))
                .transpose()?;
            blocks.push((res, up));
            cin = cout;
        }
        let decoder = Decoder {
            conv_in: conv3(lc, last, 1, 1, d.pp("conv_in"))?,
            mid: Mid::new(last, g, cfg.mid_block_add_attention, d.pp("mid_block"))?,
            blocks,
            norm_out: group_norm(g, ch[0], 1e-6, d.pp("conv_norm_out"))?,
            conv_out: conv3(ch[0], cfg.out_channels, 1, 1, d.pp("conv_out"))?,
        };
        Ok(Self {
            encoder,
            quant: cfg
                .use_quant_conv
                .then(|| conv1(2 * lc, 2 * lc, vb.pp("quant_conv")))
                .transpose()?,
            post_quant: cfg
                .use_post_quant_conv
                .then(|| conv1(lc, lc, vb.pp("post_quant_conv")))
                .transpose()?,
            decoder,
            latent_channels: lc,
            scaling: cfg.scaling_factor,
            shift: cfg.shift_factor.unwrap_or(0.0),
            factor: 1 << (n - 1),
            tile: 512,
        })
    }

    /// Pixels per latent cell (8 for SD).
    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Latent channels.
    pub fn latent_channels(&self) -> usize {
        self.latent_channels
    }

    /// Encodes `img (b, 3, h, w)` in [-1, 1] to the latent distribution's mean, unscaled.
    pub fn encode_mean(&self, img: &Tensor) -> Result<Tensor> {
        let e = &self.encoder;
        let mut x = e.conv_in.forward(img)?;
        for (res, down) in &e.blocks {
            for r in res {
                x = r.forward(&x, None)?;
            }
            if let Some(d) = down {
                x = d.forward(&x)?;
            }
        }
        x = e.mid.forward(&x)?;
        x = e.conv_out.forward(&e.norm_out.forward(&x)?.silu()?)?;
        if let Some(q) = &self.quant {
            x = q.forward(&x)?;
        }
        x.narrow(1, 0, self.latent_channels)
    }

    /// Decodes unscaled latents to an image in about [-1, 1].
    pub fn decode_raw(&self, z: &Tensor) -> Result<Tensor> {
        let d = &self.decoder;
        let mut x = match &self.post_quant {
            Some(p) => p.forward(z)?,
            None => z.clone(),
        };
        x = d.conv_in.forward(&x)?;
        x = d.mid.forward(&x)?;
        for (res, up) in &d.blocks {
            for r in res {
                x = r.forward(&x, None)?;
            }
            if let Some(u) = up {
                x = u.forward(&x)?;
            }
        }
        d.conv_out.forward(&d.norm_out.forward(&x)?.silu()?)
    }

    /// Image in [-1, 1] → scaled latents (what the UNet sees), tiled when larger than a tile.
    pub fn encode(&self, img: &Tensor) -> Result<Tensor> {
        let z = tiled(img, self.tile, self.factor, false, |t| self.encode_mean(t))?;
        (z - self.shift)? * self.scaling
    }

    /// Scaled latents → image in about [-1, 1], tiled when larger than a tile.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let z = ((z / self.scaling)? + self.shift)?;
        tiled(&z, self.tile / self.factor, self.factor, true, |t| {
            self.decode_raw(t)
        })
    }
}

/// Runs encode (`up = false`) or decode in overlapping tiles of `tile` input cells, blending
/// the overlaps linearly so no seams show. Falls back to one pass when the input fits.
fn tiled(
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
