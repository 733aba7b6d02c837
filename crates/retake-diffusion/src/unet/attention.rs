//! The UNet's spatial transformer, with sliced attention and the cross-frame hook.

use crate::blocks::conv1;
use crate::conv::Conv;
use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{
    group_norm, layer_norm, linear, linear_no_bias, GroupNorm, LayerNorm, Linear, VarBuilder,
};
use std::cell::{Cell, RefCell};

/// Upper bound on the bytes of one attention score block; larger products are computed in
/// slices over heads and then over queries, which caps peak memory at large frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionSlicing {
    /// Maximum bytes of a `(heads, queries, keys)` f32 score block.
    pub max_bytes: usize,
}

impl Default for AttentionSlicing {
    fn default() -> Self {
        Self {
            max_bytes: 256 << 20,
        }
    }
}

/// Scaled dot-product attention of `q (bh, n, d)` over `k, v (bh, m, d)`, softmax in f32.
pub fn sliced_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    slicing: AttentionSlicing,
) -> Result<Tensor> {
    let (bh, n, d) = q.dims3()?;
    let m = k.dim(1)?;
    let scale = (d as f64).powf(-0.5);
    let one = |q: &Tensor, k: &Tensor, v: &Tensor| -> Result<Tensor> {
        let s = (q.matmul(&k.t()?)? * scale)?;
        let p = candle_nn::ops::softmax_last_dim(&s.to_dtype(DType::F32)?)?.to_dtype(v.dtype())?;
        p.matmul(v)
    };
    let per_row = m * 4;
    let rows_fit = (slicing.max_bytes / per_row.max(1)).max(1);
    if bh * n <= rows_fit {
        return one(q, k, v);
    }
    let mut out = Vec::new();
    if n <= rows_fit {
        let heads = (rows_fit / n).max(1);
        let mut s = 0;
        while s < bh {
            let c = heads.min(bh - s);
            out.push(one(
                &q.narrow(0, s, c)?,
                &k.narrow(0, s, c)?,
                &v.narrow(0, s, c)?,
            )?);
            s += c;
        }
        return Tensor::cat(&out, 0);
    }
    for h in 0..bh {
        let (kh, vh) = (k.narrow(0, h, 1)?, v.narrow(0, h, 1)?);
        let mut rows = Vec::new();
        let mut s = 0;
        while s < n {
            let c = rows_fit.min(n - s);
            rows.push(one(&q.narrow(0, h, 1)?.narrow(1, s, c)?, &kh, &vh)?);
            s += c;
        }
        out.push(Tensor::cat(&rows, 1)?);
    }
    Tensor::cat(&out, 0)
}

/// What the self-attention layers do with the anchor frame during one denoising run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookMode {
    /// Keep each self-attention input (the anchor's run).
    Record,
    /// Extend each self-attention's keys/values with the recorded anchor input.
    Attend,
}

/// Cross-frame attention state: the anchor's self-attention inputs, one per layer and step,
/// in call order. Record them while running the anchor, then replay while running a keyframe.
#[derive(Debug)]
pub struct FrameHook {
    mode: Cell<HookMode>,
    store: RefCell<Vec<Tensor>>,
    cursor: Cell<usize>,
}

impl FrameHook {
    /// An empty hook that records.
    pub fn recorder() -> Self {
        Self {
            mode: Cell::new(HookMode::Record),
            store: RefCell::new(Vec::new()),
            cursor: Cell::new(0),
        }
    }

    /// Switches to replaying what was recorded, from the start.
    pub fn start_attending(&self) {
        self.mode.set(HookMode::Attend);
        self.cursor.set(0);
    }

    /// The current mode.
    pub fn mode(&self) -> HookMode {
        self.mode.get()
    }

    /// Number of recorded tensors.
    pub fn len(&self) -> usize {
        self.store.borrow().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the recording.
    pub fn bytes(&self) -> usize {
        self.store
            .borrow()
            .iter()
            .map(|t| t.elem_count() * t.dtype().size_in_bytes())
            .sum()
    }

    /// Called by each self-attention with its (normed) input; returns what to append to the
    /// keys/values, if anything.
    fn visit(&self, x: &Tensor) -> Result<Option<Tensor>> {
        match self.mode.get() {
            HookMode::Record => {
                self.store.borrow_mut().push(x.clone());
                Ok(None)
            }
            HookMode::Attend => {
                let i = self.cursor.get();
                self.cursor.set(i + 1);
                let store = self.store.borrow();
                let Some(a) = store.get(i) else {
                    candle_core::bail!("cross-frame attention: the anchor recorded {} layers, the keyframe needs more (anchor and keyframe must use the same steps)", store.len());
                };
                if a.dims() != x.dims() {
                    candle_core::bail!("cross-frame attention: anchor features {:?} do not match keyframe features {:?} (frames must be the same size)", a.dims(), x.dims());
                }
                Ok(Some(a.clone()))
            }
        }
    }
}

/// diffusers' `Attention` as used in the UNet: no-bias q/k/v, biased `to_out.0`.
#[derive(Debug)]
pub struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    heads: usize,
}

impl Attention {
    /// `ctx`: width of the key/value input (the query width for self-attention).
    pub fn new(
        dim: usize,
        ctx: usize,
        heads: usize,
        head_dim: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let inner = heads * head_dim;
        Ok(Self {
            to_q: linear_no_bias(dim, inner, vb.pp("to_q"))?,
            to_k: linear_no_bias(ctx, inner, vb.pp("to_k"))?,
            to_v: linear_no_bias(ctx, inner, vb.pp("to_v"))?,
            to_out: linear(inner, dim, vb.pp("to_out.0"))?,
            heads,
        })
    }

    /// `x (b, n, dim)` attends over `ctx (b, m, ctx)`.
    pub fn forward(&self, x: &Tensor, ctx: &Tensor, slicing: AttentionSlicing) -> Result<Tensor> {
        let (b, n, _) = x.dims3()?;
        let m = ctx.dim(1)?;
        let split = |t: Tensor, len: usize| -> Result<Tensor> {
            let c = t.dim(D::Minus1)?;
            t.reshape((b, len, self.heads, c / self.heads))?
                .transpose(1, 2)?
                .reshape((b * self.heads, len, c / self.heads))?
                .contiguous()
        };
        let q = split(self.to_q.forward(x)?, n)?;
        let k = split(self.to_k.forward(ctx)?, m)?;
        let v = split(self.to_v.forward(ctx)?, m)?;
        let o = sliced_attention(&q, &k, &v, slicing)?;
        let hd = o.dim(D::Minus1)?;
        let o = o
            .reshape((b, self.heads, n, hd))?
            .transpose(1, 2)?
            .reshape((b, n, self.heads * hd))?;
        self.to_out.forward(&o)
    }
}

#[derive(Debug)]
struct FeedForward {
    proj: Linear,
    out: Linear,
}

impl FeedForward {
    fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let inner = dim * 4;
        Ok(Self {
            proj: linear(dim, inner * 2, vb.pp("net.0.proj"))?,
            out: linear(inner, dim, vb.pp("net.2"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.proj.forward(x)?;
        let c = h.dim(D::Minus1)? / 2;
        let (a, gate) = (h.narrow(D::Minus1, 0, c)?, h.narrow(D::Minus1, c, c)?);
        self.out.forward(&(a * gate.gelu_erf()?)?)
    }
}

#[derive(Debug)]
struct TransformerBlock {
    norm1: LayerNorm,
    attn1: Attention,
    norm2: LayerNorm,
    attn2: Attention,
    norm3: LayerNorm,
    ff: FeedForward,
}

impl TransformerBlock {
    fn new(dim: usize, ctx: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        let hd = dim / heads;
        Ok(Self {
            norm1: layer_norm(dim, 1e-5, vb.pp("norm1"))?,
            attn1: Attention::new(dim, dim, heads, hd, vb.pp("attn1"))?,
            norm2: layer_norm(dim, 1e-5, vb.pp("norm2"))?,
            attn2: Attention::new(dim, ctx, heads, hd, vb.pp("attn2"))?,
            norm3: layer_norm(dim, 1e-5, vb.pp("norm3"))?,
            ff: FeedForward::new(dim, vb.pp("ff"))?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        ctx: &Tensor,
        hook: Option<&FrameHook>,
        s: AttentionSlicing,
    ) -> Result<Tensor> {
        let h = self.norm1.forward(x)?;
        let extra = match hook {
            Some(hook) => hook.visit(&h)?,
            None => None,
        };
        let h = match extra {
            Some(anchor) => self
                .attn1
                .forward(&h, &Tensor::cat(&[&h, &anchor], 1)?, s)?,
            None => self.attn1.forward(&h, &h, s)?,
        };
        let x = (x + h)?;
        let x = (&x + self.attn2.forward(&self.norm2.forward(&x)?, ctx, s)?)?;
        &x + self.ff.forward(&self.norm3.forward(&x)?)?
    }
}

/// diffusers' `Transformer2DModel` (continuous input): norm, project in, blocks, project out.
#[derive(Debug)]
pub struct SpatialTransformer {
    norm: GroupNorm,
    proj_in: Proj,
    blocks: Vec<TransformerBlock>,
    proj_out: Proj,
}

#[derive(Debug)]
enum Proj {
    Conv(Conv),
    Linear(Linear),
}

impl SpatialTransformer {
    /// `linear`: SD 2.x's linear projections instead of 1×1 convs.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        channels: usize,
        ctx: usize,
        heads: usize,
        layers: usize,
        groups: usize,
        linear_proj: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let proj = |vb: VarBuilder| -> Result<Proj> {
            Ok(if linear_proj {
                Proj::Linear(linear(channels, channels, vb)?)
            } else {
                Proj::Conv(conv1(channels, channels, vb)?)
            })
        };
        let blocks = (0..layers)
            .map(|i| {
                TransformerBlock::new(
                    channels,
                    ctx,
                    heads,
                    vb.pp(format!("transformer_blocks.{i}")),
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            norm: group_norm(groups, channels, 1e-6, vb.pp("norm"))?,
            proj_in: proj(vb.pp("proj_in"))?,
            blocks,
            proj_out: proj(vb.pp("proj_out"))?,
        })
    }

    /// `x (b, c, h, w)` conditioned on `ctx (b, tokens, ctx)`.
    pub fn forward(
        &self,
        x: &Tensor,
        ctx: &Tensor,
        hook: Option<&FrameHook>,
        s: AttentionSlicing,
    ) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let y = self.norm.forward(x)?;
        let to_seq = |t: Tensor| t.permute((0, 2, 3, 1))?.reshape((b, h * w, c));
        let mut y = match &self.proj_in {
            Proj::Conv(p) => to_seq(p.forward(&y)?)?,
            Proj::Linear(p) => p.forward(&to_seq(y)?)?,
        };
        for blk in &self.blocks {
            y = blk.forward(&y, ctx, hook, s)?;
        }
        let to_img = |t: Tensor| t.reshape((b, h, w, c))?.permute((0, 3, 1, 2))?.contiguous();
        let y = match &self.proj_out {
            Proj::Conv(p) => p.forward(&to_img(y)?)?,
            Proj::Linear(p) => to_img(p.forward(&y)?)?,
        };
        y + x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::max_abs_diff;
    use candle_core::Device;

    #[test]
    fn slicing_gives_the_same_attention() {
        let mut rng = crate::noise::NoiseRng::new(3);
        let dev = Device::Cpu;
        let q = rng.tensor(&[6, 50, 8], DType::F32, &dev).unwrap();
        let k = rng.tensor(&[6, 70, 8], DType::F32, &dev).unwrap();
        let v = rng.tensor(&[6, 70, 8], DType::F32, &dev).unwrap();
        let whole = sliced_attention(&q, &k, &v, AttentionSlicing { max_bytes: 1 << 30 }).unwrap();
        // 70 keys × 4 bytes = 280 bytes a row: 60 rows fit (a head at a time), then 20 (queries split).
        for max_bytes in [280 * 60, 280 * 20, 1] {
            let s = sliced_attention(&q, &k, &v, AttentionSlicing { max_bytes }).unwrap();
            let e = max_abs_diff(&s, &whole).unwrap();
            assert!(e < 1e-6, "{max_bytes}: {e}");
        }
    }
}
