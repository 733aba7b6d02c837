//! Building blocks shared by the UNet and the VAE: resnet blocks and 2× resampling.

use crate::conv::Conv;
use candle_core::{Module, Result, Tensor, D};
use candle_nn::{conv2d, group_norm, linear, Conv2dConfig, GroupNorm, Linear, VarBuilder};

/// A 3×3 convolution with padding 1 (or another stride).
pub fn conv3(
    cin: usize,
    cout: usize,
    stride: usize,
    padding: usize,
    vb: VarBuilder,
) -> Result<Conv> {
    let cfg = Conv2dConfig {
        padding,
        stride,
        ..Default::default()
    };
    Conv::from_candle(conv2d(cin, cout, 3, cfg, vb)?)
}

/// A 1×1 convolution.
pub fn conv1(cin: usize, cout: usize, vb: VarBuilder) -> Result<Conv> {
    Conv::from_candle(conv2d(cin, cout, 1, Default::default(), vb)?)
}

/// diffusers' `ResnetBlock2D`: two norm–SiLU–conv stages, an optional time embedding between.
#[derive(Debug)]
pub struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv,
    time_emb_proj: Option<Linear>,
    norm2: GroupNorm,
    conv2: Conv,
    shortcut: Option<Conv>,
}

impl ResnetBlock {
    /// `temb`: width of the time embedding, `None` in the VAE.
    pub fn new(
        cin: usize,
        cout: usize,
        temb: Option<usize>,
        groups: usize,
        eps: f64,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self {
            norm1: group_norm(groups, cin, eps, vb.pp("norm1"))?,
            conv1: conv3(cin, cout, 1, 1, vb.pp("conv1"))?,
            time_emb_proj: temb
                .map(|t| linear(t, cout, vb.pp("time_emb_proj")))
                .transpose()?,
            norm2: group_norm(groups, cout, eps, vb.pp("norm2"))?,
            conv2: conv3(cout, cout, 1, 1, vb.pp("conv2"))?,
            shortcut: (cin != cout)
                .then(|| conv1(cin, cout, vb.pp("conv_shortcut")))
                .transpose()?,
        })
    }

    /// `temb` is the SiLU-free time embedding `(batch, width)`.
    pub fn forward(&self, x: &Tensor, temb: Option<&Tensor>) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward(x)?.silu()?)?;
        let h = match (&self.time_emb_proj, temb) {
            (Some(p), Some(t)) => {
                let t = p
                    .forward(&t.silu()?)?
                    .unsqueeze(D::Minus1)?
                    .unsqueeze(D::Minus1)?;
                h.broadcast_add(&t)?
            }
            _ => h,
        };
        let h = self.conv2.forward(&self.norm2.forward(&h)?.silu()?)?;
        match &self.shortcut {
            Some(s) => s.forward(x)? + h,
            None => x + h,
        }
    }
}

/// 2× downsampling by a strided 3×3 conv; the VAE pads right/bottom by one instead of all sides.
#[derive(Debug)]
pub struct Downsample {
    conv: Conv,
    asymmetric: bool,
}

impl Downsample {
    /// `asymmetric`: the VAE's (0, 1, 0, 1) padding.
    pub fn new(c: usize, asymmetric: bool, vb: VarBuilder) -> Result<Self> {
        let padding = if asymmetric { 0 } else { 1 };
        Ok(Self {
            conv: conv3(c, c, 2, padding, vb.pp("conv"))?,
            asymmetric,
        })
    }

    /// Halves height and width.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.asymmetric {
            let x = x
                .pad_with_zeros(D::Minus1, 0, 1)?
                .pad_with_zeros(D::Minus2, 0, 1)?;
            self.conv.forward(&x)
        } else {
            self.conv.forward(x)
        }
    }
}

/// 2× nearest-neighbour upsampling followed by a 3×3 conv.
#[derive(Debug)]
pub struct Upsample {
    conv: Conv,
}

impl Upsample {
    /// Loads `conv`.
    pub fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: conv3(c, c, 1, 1, vb.pp("conv"))?,
        })
    }

    /// Doubles height and width.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        self.conv.forward(&x.upsample_nearest2d(h * 2, w * 2)?)
    }
}
