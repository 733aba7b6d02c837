//! The CLIP text encoder (transformers' `CLIPTextModel`), weight names as in `text_encoder/`.

use crate::config::ClipConfig;
use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, Linear, VarBuilder};

#[derive(Clone, Copy, Debug)]
enum Act {
    QuickGelu,
    Gelu,
}

#[derive(Debug)]
struct Layer {
    ln1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// The text encoder; `forward` returns the last hidden state after the final layer norm.
#[derive(Debug)]
pub struct ClipTextModel {
    token: Embedding,
    position: Embedding,
    layers: Vec<Layer>,
    final_ln: LayerNorm,
    heads: usize,
    act: Act,
}

impl ClipTextModel {
    /// Builds the model from weights under `text_model.` (or at the root).
    pub fn new(cfg: &ClipConfig, vb: VarBuilder) -> Result<Self> {
        let act = match cfg.hidden_act.as_str() {
            "quick_gelu" => Act::QuickGelu,
            "gelu" => Act::Gelu,
            other => candle_core::bail!(
                "text encoder activation {other} is not supported (quick_gelu or gelu)"
            ),
        };
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            candle_core::bail!(
                "text encoder hidden_size must be a multiple of num_attention_heads"
            );
        }
        // transformers ≤ 4 saves under `text_model.`; 5.x saves the same names without it.
        let vb = if vb.contains_tensor("embeddings.token_embedding.weight") {
            vb
        } else {
            vb.pp("text_model")
        };
        let e = vb.pp("embeddings");
        let d = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        let token = embedding(cfg.vocab_size, d, e.pp("token_embedding"))?;
        let position = embedding(cfg.max_position_embeddings, d, e.pp("position_embedding"))?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(format!("encoder.layers.{i}"));
            let a = l.pp("self_attn");
            layers.push(Layer {
                ln1: layer_norm(d, eps, l.pp("layer_norm1"))?,
                q: linear(d, d, a.pp("q_proj"))?,
                k: linear(d, d, a.pp("k_proj"))?,
                v: linear(d, d, a.pp("v_proj"))?,
                out: linear(d, d, a.pp("out_proj"))?,
                ln2: layer_norm(d, eps, l.pp("layer_norm2"))?,
                fc1: linear(d, cfg.intermediate_size, l.pp("mlp.fc1"))?,
                fc2: linear(cfg.intermediate_size, d, l.pp("mlp.fc2"))?,
            });
        }
        let final_ln = layer_norm(d, eps, vb.pp("final_layer_norm"))?;
        Ok(Self {
            token,
            position,
            layers,
            final_ln,
            heads: cfg.num_attention_heads,
            act,
        })
    }

    /// Encodes token ids `(batch, len)` to `(batch, len, hidden)`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, n) = ids.dims2()?;
        let dev = ids.device();
        let pos = Tensor::arange(0u32, n as u32, dev)?.unsqueeze(0)?;
        let mut x = self
            .token
            .forward(ids)?
            .broadcast_add(&self.position.forward(&pos)?)?;
        let mask = causal_mask(n, x.dtype(), dev)?;
        for l in &self.layers {
            let h = l.ln1.forward(&x)?;
            let h = self.attention(l, &h, &mask, b, n)?;
            x = (x + h)?;
            let h = l.ln2.forward(&x)?;
            let h = l.fc1.forward(&h)?;
            let h = match self.act {
                Act::QuickGelu => (&h * candle_nn::ops::sigmoid(&(&h * 1.702)?)?)?,
                Act::Gelu => h.gelu_erf()?,
            };
            x = (x + l.fc2.forward(&h)?)?;
        }
        self.final_ln.forward(&x)
    }

    fn attention(
        &self,
        l: &Layer,
        x: &Tensor,
        mask: &Tensor,
        b: usize,
        n: usize,
    ) -> Result<Tensor> {
        let d = x.dim(D::Minus1)?;
        let hd = d / self.heads;
        let split = |t: Tensor| {
            t.reshape((b, n, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split((l.q.forward(x)? * (hd as f64).powf(-0.5))?)?;
        let k = split(l.k.forward(x)?)?;
        let v = split(l.v.forward(x)?)?;
        let w = q.matmul(&k.t()?)?.broadcast_add(mask)?;
        let w = candle_nn::ops::softmax_last_dim(&w.to_dtype(DType::F32)?)?.to_dtype(v.dtype())?;
        let o = w.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?;
        l.out.forward(&o)
    }
}

fn causal_mask(n: usize, dtype: DType, dev: &Device) -> Result<Tensor> {
    let m: Vec<f32> = (0..n)
        .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_slice(&m, (n, n), dev)?.to_dtype(dtype)
}
