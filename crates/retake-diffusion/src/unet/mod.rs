//! diffusers' `UNet2DConditionModel` for SD 1.x/2.x-shaped models, weight names as in `unet/`.

pub mod attention;

use crate::blocks::{conv3, Downsample, ResnetBlock, Upsample};
use crate::config::UNetConfig;
use crate::conv::Conv;
use attention::SpatialTransformer;
pub use attention::{AttentionSlicing, FrameHook, HookMode};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{group_norm, linear, GroupNorm, Linear, VarBuilder};

/// The resolved shape of a UNet, checked against what this implementation supports.
#[derive(Clone, Debug)]
pub struct UNetShape {
    channels: Vec<usize>,
    cross_attn: Vec<bool>,
    up_cross_attn: Vec<bool>,
    heads: Vec<usize>,
    layers_t: Vec<usize>,
    layers: usize,
    ctx: usize,
}

impl UNetShape {
    /// Checks `cfg`; the error says which field is unsupported.
    pub fn from_config(cfg: &UNetConfig) -> std::result::Result<Self, String> {
        let n = cfg.block_out_channels.len();
        if n == 0 {
            return Err("block_out_channels is empty".into());
        }
        if cfg.addition_embed_type.is_some() || cfg.class_embed_type.is_some() {
            return Err("added/class embeddings (SDXL-style UNets) are not supported yet — use an SD 1.5, SD 2.1 or SD-Turbo model".into());
        }
        if cfg.time_cond_proj_dim.is_some() {
            return Err("guidance-embedded (LCM-distilled) UNets are not supported — use the base model with the lcm scheduler, or SD-Turbo".into());
        }
        if cfg.act_fn != "silu" {
            return Err(format!("act_fn {} is not supported (silu)", cfg.act_fn));
        }
        if cfg
            .resnet_time_scale_shift
            .as_deref()
            .is_some_and(|s| s != "default")
        {
            return Err("resnet_time_scale_shift other than default is not supported".into());
        }
        if let Some(m) = cfg.mid_block_type.as_deref() {
            if m != "UNetMidBlock2DCrossAttn" {
                return Err(format!(
                    "mid_block_type {m} is not supported (UNetMidBlock2DCrossAttn)"
                ));
            }
        }
        let kinds = |types: &[String],
                     cross: &str,
                     plain: &str,
                     default: Vec<bool>|
         -> std::result::Result<Vec<bool>, String> {
            if types.is_empty() {
                return Ok(default);
            }
            if types.len() != n {
                return Err(format!("{} block types for {n} levels", types.len()));
            }
            types
                .iter()
                .map(|t| match t.as_str() {
                    t if t == cross => Ok(true),
                    t if t == plain => Ok(false),
                    other => Err(format!(
                        "block type {other} is not supported ({cross} or {plain})"
                    )),
                })
                .collect()
        };
        let mut def: Vec<bool> = vec![true; n];
        def[n - 1] = false;
        let cross_attn = kinds(
            &cfg.down_block_types,
            "CrossAttnDownBlock2D",
            "DownBlock2D",
            def.clone(),
        )?;
        let up_cross_attn = kinds(
            &cfg.up_block_types,
            "CrossAttnUpBlock2D",
            "UpBlock2D",
            def.into_iter().rev().collect(),
        )?;
        let heads_cfg = cfg
            .num_attention_heads
            .as_ref()
            .unwrap_or(&cfg.attention_head_dim);
        let mut heads = Vec::with_capacity(n);
        let mut layers_t = Vec::with_capacity(n);
        for (i, &c) in cfg.block_out_channels.iter().enumerate() {
            let h = heads_cfg
                .get(i, n)
                .ok_or("attention_head_dim list length differs from block_out_channels")?;
            if h == 0 || !c.is_multiple_of(h) {
                return Err(format!("{c} channels do not split into {h} heads"));
            }
            if cfg.norm_num_groups == 0 || !c.is_multiple_of(cfg.norm_num_groups) {
                return Err(format!(
                    "{c} channels do not split into {} norm groups",
                    cfg.norm_num_groups
                ));
            }
            heads.push(h);
            layers_t.push(cfg.transformer_layers_per_block.get(i, n).ok_or(
                "transformer_layers_per_block list length differs from block_out_channels",
            )?);
        }
        if cfg.in_channels == 0 || cfg.out_channels == 0 || cfg.layers_per_block == 0 {
            return Err("in_channels, out_channels and layers_per_block must be positive".into());
        }
        Ok(Self {
            channels: cfg.block_out_channels.clone(),
            cross_attn,
            up_cross_attn,
            heads,
            layers_t,
            layers: cfg.layers_per_block,
            ctx: cfg.cross_attention_dim.unwrap_or(1280),
        })
    }

    /// Latent sizes must be multiples of this (one halving per down block).
    pub fn latent_multiple(&self) -> usize {
        1 << (self.channels.len() - 1)
    }
}

#[derive(Debug)]
struct Level {
    resnets: Vec<ResnetBlock>,
    attns: Vec<SpatialTransformer>,
    down: Option<Downsample>,
    up: Option<Upsample>,
}

/// The denoising UNet.
#[derive(Debug)]
pub struct UNet {
    conv_in: Conv,
    time_1: Linear,
    time_2: Linear,
    down: Vec<Level>,
    mid_res: [ResnetBlock; 2],
    mid_attn: SpatialTransformer,
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv,
    shape: UNetShape,
    flip_sin_to_cos: bool,
    freq_shift: f32,
    in_channels: usize,
    slicing: AttentionSlicing,
}

impl UNet {
    /// Builds the UNet from `cfg` and weights; `shape` comes from [`UNetShape::from_config`].
    pub fn new(cfg: &UNetConfig, shape: UNetShape, vb: VarBuilder) -> Result<Self> {
        let ch = &shape.channels;
        let n = ch.len();
        let (g, eps) = (cfg.norm_num_groups, cfg.norm_eps);
        let temb = ch[0] * 4;
        let st = |c: usize, heads: usize, layers: usize, vb: VarBuilder| {
            SpatialTransformer::new(
                c,
                shape.ctx,
                heads,
                layers,
                g,
                cfg.use_linear_projection,
                vb,
            )
        };
        let conv_in = conv3(cfg.in_channels, ch[0], 1, 1, vb.pp("conv_in"))?;
        let time_1 = linear(ch[0], temb, vb.pp("time_embedding.linear_1"))?;
        let time_2 = linear(temb, temb, vb.pp("time_embedding.linear_2"))?;
        let mut down = Vec::with_capacity(n);
        let mut cin = ch[0];
        for (i, &cout) in ch.iter().enumerate() {
            let vb = vb.pp(format!("down_blocks.{i}"));
            let mut resnets = Vec::new();
            let mut attns = Vec::new();
            for j in 0..shape.layers {
                let c = if j == 0 { cin } else { cout };
                resnets.push(ResnetBlock::new(
                    c,
                    cout,
                    Some(temb),
                    g,
                    eps,
                    vb.pp(format!("resnets.{j}")),
                )?);
                if shape.cross_attn[i] {
                    attns.push(st(
                        cout,
                        shape.heads[i],
                        shape.layers_t[i],
                        vb.pp(format!("attentions.{j}")),
                    )?);
                }
            }
            let down_s = (i + 1 < n)
                .then(|| Downsample::new(cout, false, vb.pp("downsamplers.0")))
                .transpose()?;
            down.push(Level {
                resnets,
                attns,
                down: down_s,
                up: None,
            });
            cin = cout;
        }
        let last = ch[n - 1];
        let mvb = vb.pp("mid_block");
        let mid_res = [
            ResnetBlock::new(last, last, Some(temb), g, eps, mvb.pp("resnets.0"))?,
            ResnetBlock::new(last, last, Some(temb), g, eps, mvb.pp("resnets.1"))?,
        ];
        let mid_attn = st(
            last,
            shape.heads[n - 1],
            shape.layers_t[n - 1],
            mvb.pp("attentions.0"),
        )?;
        let rev: Vec<usize> = ch.iter().rev().copied().collect();
        let mut up = Vec::with_capacity(n);
        let mut prev = rev[0];
        for i in 0..n {
            let vb = vb.pp(format!("up_blocks.{i}"));
            let cout = rev[i];
            let cskip_in = rev[(i + 1).min(n - 1)];
            let (heads, lt) = (shape.heads[n - 1 - i], shape.layers_t[n - 1 - i]);
            let mut resnets = Vec::new();
            let mut attns = Vec::new();
            for j in 0..=shape.layers {
                let skip = if j == shape.layers { cskip_in } else { cout };
                let rin = if j == 0 { prev } else { cout };
                resnets.push(ResnetBlock::new(
                    rin + skip,
                    cout,
                    Some(temb),
                    g,
                    eps,
                    vb.pp(format!("resnets.{j}")),
                )?);
                if shape.up_cross_attn[i] {
                    attns.push(st(cout, heads, lt, vb.pp(format!("attentions.{j}")))?);
                }
            }
            let up_s = (i + 1 < n)
                .then(|| Upsample::new(cout, vb.pp("upsamplers.0")))
                .transpose()?;
            up.push(Level {
                resnets,
                attns,
                down: None,
                up: up_s,
            });
            prev = cout;
        }
        Ok(Self {
            conv_in,
            time_1,
            time_2,
            down,
            mid_res,
            mid_attn,
            up,
            norm_out: group_norm(g, ch[0], eps, vb.pp("conv_norm_out"))?,
            conv_out: conv3(ch[0], cfg.out_channels, 1, 1, vb.pp("conv_out"))?,
            shape,
            flip_sin_to_cos: cfg.flip_sin_to_cos,
            freq_shift: cfg.freq_shift as f32,
            in_channels: cfg.in_channels,
            slicing: AttentionSlicing::default(),
        })
    }

    /// Sets the attention slice size.
    pub fn set_slicing(&mut self, s: AttentionSlicing) {
        self.slicing = s;
    }

    /// Latent channels in.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// The checked shape.
    pub fn shape(&self) -> &UNetShape {
        &self.shape
    }

    /// Predicts noise (or v / x0, per the scheduler) for `x (b, c, h, w)` at timestep `t`,
    /// conditioned on `ctx (b, tokens, dim)`; `hook` adds cross-frame attention.
    pub fn forward(
        &self,
        x: &Tensor,
        t: f64,
        ctx: &Tensor,
        hook: Option<&FrameHook>,
    ) -> Result<Tensor> {
        let b = x.dim(0)?;
        let m = self.shape.latent_multiple();
        let (_, _, h, w) = x.dims4()?;
        if !h.is_multiple_of(m) || !w.is_multiple_of(m) {
            candle_core::bail!("latent size {w}x{h} is not a multiple of {m}");
        }
        let emb = timestep_embedding(
            t,
            self.shape.channels[0],
            self.flip_sin_to_cos,
            self.freq_shift,
            x.device(),
        )?
        .to_dtype(x.dtype())?
        .repeat((b, 1))?;
        let temb = self.time_2.forward(&self.time_1.forward(&emb)?.silu()?)?;
        let s = self.slicing;
        let mut x = self.conv_in.forward(x)?;
        let mut skips = vec![x.clone()];
        for lvl in &self.down {
            for (j, r) in lvl.resnets.iter().enumerate() {
                x = r.forward(&x, Some(&temb))?;
                if let Some(a) = lvl.attns.get(j) {
                    x = a.forward(&x, ctx, hook, s)?;
                }
                skips.push(x.clone());
            }
            if let Some(d) = &lvl.down {
                x = d.forward(&x)?;
                skips.push(x.clone());
            }
        }
        x = self.mid_res[0].forward(&x, Some(&temb))?;
        x = self.mid_attn.forward(&x, ctx, hook, s)?;
        x = self.mid_res[1].forward(&x, Some(&temb))?;
        for lvl in &self.up {
            for (j, r) in lvl.resnets.iter().enumerate() {
                let Some(skip) = skips.pop() else {
                    candle_core::bail!("UNet skip connections ran out");
                };
                x = r.forward(&Tensor::cat(&[&x, &skip], 1)?, Some(&temb))?;
                if let Some(a) = lvl.attns.get(j) {
                    x = a.forward(&x, ctx, hook, s)?;
                }
            }
            if let Some(u) = &lvl.up {
                x = u.forward(&x)?;
            }
        }
        self.conv_out.forward(&self.norm_out.forward(&x)?.silu()?)
    }
}

/// diffusers' sinusoidal timestep embedding, computed in f32 in the same order as PyTorch.
pub fn timestep_embedding(
    t: f64,
    dim: usize,
    flip: bool,
    shift: f32,
    dev: &Device,
) -> Result<Tensor> {
    let half = dim / 2;
    let ln = -(10000f32.ln());
    let t = t as f32;
    let mut sin = Vec::with_capacity(half);
    let mut cos = Vec::with_capacity(half);
    for i in 0..half {
        let e = (ln * i as f32 / (half as f32 - shift)).exp();
        let a = t * e;
        sin.push(a.sin());
        cos.push(a.cos());
    }
    let mut v = if flip {
        [cos, sin].concat()
    } else {
        [sin, cos].concat()
    };
    v.resize(dim, 0.0);
    Tensor::from_vec(v, (1, dim), dev)?.to_dtype(DType::F32)
}
