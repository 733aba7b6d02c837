//! diffusers' `AutoencoderKL` (weight names as in `vae/`), with tiled encode/decode for large
//! frames.

use crate::blocks::{conv1, conv3, Downsample, ResnetBlock, Upsample};
use crate::config::VaeConfig;
use crate::conv::Conv;
use candle_core::{Module, Result, Tensor};
use candle_nn::{group_norm, linear, GroupNorm, Linear, VarBuilder};

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
    conv_in: Conv,
    blocks: Vec<(Vec<ResnetBlock>, Option<Downsample>)>,
    mid: Mid,
    norm_out: GroupNorm,
    conv_out: Conv,
}

#[derive(Debug)]
struct Decoder {
    conv_in: Conv,
    mid: Mid,
    blocks: Vec<(Vec<ResnetBlock>, Option<Upsample>)>,
    norm_out: GroupNorm,
    conv_out: Conv,
}

/// The full autoencoder: image ↔ latent (scaling and tiling are [`super::Autoencoder`]'s).
#[derive(Debug)]
pub struct Vae {
    encoder: Encoder,
    quant: Option<Conv>,
    post_quant: Option<Conv>,
    decoder: Decoder,
    latent_channels: usize,
    factor: usize,
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
            factor: 1 << (n - 1),
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
}
