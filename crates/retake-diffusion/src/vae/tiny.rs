//! diffusers' `AutoencoderTiny`: the TAESD architecture, a distilled stand-in for the full VAE
//! that encodes and decodes into the same latent space at a small fraction of the cost. Weight
//! names are those of diffusers' `nn.Sequential` stacks (`encoder.layers.N…`,
//! `decoder.layers.N…`), so a TAESD folder saved by diffusers loads as is.

use crate::blocks::conv3;
use crate::config::TinyVaeConfig;
use crate::conv::Conv;
use candle_core::{Module, Result, Tensor};
use candle_nn::{conv2d_no_bias, Conv2dConfig, VarBuilder};

/// diffusers' `AutoencoderTinyBlock`: three 3×3 convs with ReLUs between, a residual (1×1
/// conv when the width changes), and a ReLU after the sum.
#[derive(Debug)]
struct TinyBlock {
    convs: [Conv; 3],
    skip: Option<Conv>,
}

impl TinyBlock {
    fn new(cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        let c = vb.pp("conv");
        Ok(Self {
            convs: [
                conv3(cin, cout, 1, 1, c.pp("0"))?,
                conv3(cout, cout, 1, 1, c.pp("2"))?,
                conv3(cout, cout, 1, 1, c.pp("4"))?,
            ],
            skip: (cin != cout)
                .then(|| {
                    Conv::from_candle(conv2d_no_bias(
                        cin,
                        cout,
                        1,
                        Default::default(),
                        vb.pp("skip"),
                    )?)
                })
                .transpose()?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let [a, b, c] = &self.convs;
        let h = c.forward(&b.forward(&a.forward(x)?.relu()?)?.relu()?)?;
        let skip = match &self.skip {
            Some(s) => s.forward(x)?,
            None => x.clone(),
        };
        (h + skip)?.relu()
    }
}

/// One entry of an encoder or decoder stack, in diffusers' order (activations and upsamplers
/// hold no weights but take an index, so the weight names line up).
#[derive(Debug)]
enum Layer {
    Conv(Conv),
    Block(TinyBlock),
    Relu,
    Upsample(usize),
}

impl Layer {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Layer::Conv(c) => c.forward(x),
            Layer::Block(b) => b.forward(x),
            Layer::Relu => x.relu(),
            Layer::Upsample(s) => {
                let (_, _, h, w) = x.dims4()?;
                x.upsample_nearest2d(h * s, w * s)
            }
        }
    }
}

/// Checks a tiny autoencoder config; the error says which field to fix.
pub fn check_config(cfg: &TinyVaeConfig) -> std::result::Result<(), String> {
    let (ec, eb) = (&cfg.encoder_block_out_channels, &cfg.num_encoder_blocks);
    let (dc, db) = (&cfg.decoder_block_out_channels, &cfg.num_decoder_blocks);
    if ec.is_empty() || dc.is_empty() {
        return Err(
            "encoder_block_out_channels and decoder_block_out_channels must not be empty".into(),
        );
    }
    if ec.len() != eb.len() {
        return Err(format!(
            "encoder_block_out_channels {ec:?} and num_encoder_blocks {eb:?} differ in length"
        ));
    }
    if dc.len() != db.len() {
        return Err(format!(
            "decoder_block_out_channels {dc:?} and num_decoder_blocks {db:?} differ in length"
        ));
    }
    if cfg.act_fn != "relu" {
        return Err(format!("act_fn {} is not supported (relu)", cfg.act_fn));
    }
    if cfg.upsample_fn != "nearest" {
        return Err(format!(
            "upsample_fn {} is not supported (nearest)",
            cfg.upsample_fn
        ));
    }
    let s = cfg.upsampling_scaling_factor;
    let up = (s >= 1)
        .then(|| s.checked_pow(dc.len() as u32 - 1))
        .flatten();
    let down = 1usize.checked_shl(ec.len() as u32 - 1);
    if up.is_none() || up != down {
        return Err(format!(
            "the encoder downsamples {}× ({} levels) but the decoder upsamples {s}^{} — they must match",
            down.unwrap_or(0),
            ec.len(),
            dc.len() - 1
        ));
    }
    if cfg.scaling_factor == 0.0 || !cfg.scaling_factor.is_finite() {
        return Err(format!(
            "scaling_factor {} is not usable",
            cfg.scaling_factor
        ));
    }
    Ok(())
}

/// The tiny autoencoder: image ↔ latent, no normalisation or attention (so it is local and
/// cheap: about 1/20 of the full VAE's work per pixel).
#[derive(Debug)]
pub struct TinyVae {
    encoder: Vec<Layer>,
    decoder: Vec<Layer>,
    latent_channels: usize,
    factor: usize,
}

impl TinyVae {
    /// Builds the autoencoder from a config checked by [`check_config`] and its weights.
    pub fn new(cfg: &TinyVaeConfig, vb: VarBuilder) -> Result<Self> {
        check_config(cfg).map_err(candle_core::Error::msg)?;
        let e = vb.pp("encoder.layers");
        let mut encoder = Vec::new();
        for (i, (&ch, &blocks)) in cfg
            .encoder_block_out_channels
            .iter()
            .zip(&cfg.num_encoder_blocks)
            .enumerate()
        {
            let at = e.pp(encoder.len().to_string());
            encoder.push(Layer::Conv(if i == 0 {
                conv3(cfg.in_channels, ch, 1, 1, at)?
            } else {
                // diffusers' level entry: a stride-2 conv without bias, at the level's width.
                let c = Conv2dConfig {
                    padding: 1,
                    stride: 2,
                    ..Default::default()
                };
                Conv::from_candle(conv2d_no_bias(ch, ch, 3, c, at)?)?
            }));
            for _ in 0..blocks {
                let at = e.pp(encoder.len().to_string());
                encoder.push(Layer::Block(TinyBlock::new(ch, ch, at)?));
            }
        }
        let last = cfg.encoder_block_out_channels[cfg.encoder_block_out_channels.len() - 1];
        let at = e.pp(encoder.len().to_string());
        encoder.push(Layer::Conv(conv3(last, cfg.latent_channels, 1, 1, at)?));

        let d = vb.pp("decoder.layers");
        let dc = &cfg.decoder_block_out_channels;
        let mut decoder = vec![
            Layer::Conv(conv3(cfg.latent_channels, dc[0], 1, 1, d.pp("0"))?),
            Layer::Relu,
        ];
        let n = dc.len();
        for (i, (&ch, &blocks)) in dc.iter().zip(&cfg.num_decoder_blocks).enumerate() {
            for _ in 0..blocks {
                let at = d.pp(decoder.len().to_string());
                decoder.push(Layer::Block(TinyBlock::new(ch, ch, at)?));
            }
            if i + 1 < n {
                decoder.push(Layer::Upsample(cfg.upsampling_scaling_factor));
                let at = d.pp(decoder.len().to_string());
                let c = Conv2dConfig {
                    padding: 1,
                    ..Default::default()
                };
                decoder.push(Layer::Conv(Conv::from_candle(conv2d_no_bias(
                    ch, ch, 3, c, at,
                )?)?));
            } else {
                let at = d.pp(decoder.len().to_string());
                decoder.push(Layer::Conv(conv3(ch, cfg.out_channels, 1, 1, at)?));
            }
        }
        Ok(Self {
            encoder,
            decoder,
            latent_channels: cfg.latent_channels,
            factor: 1 << (cfg.encoder_block_out_channels.len() - 1),
        })
    }

    /// Pixels per latent cell.
    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Latent channels.
    pub fn latent_channels(&self) -> usize {
        self.latent_channels
    }

    /// Encodes `img (b, 3, h, w)` in [-1, 1] to latents (before the config's scaling factor).
    pub fn encode_raw(&self, img: &Tensor) -> Result<Tensor> {
        // TAESD works on images in [0, 1].
        let mut x = ((img + 1.0)? * 0.5)?;
        for l in &self.encoder {
            x = l.forward(&x)?;
        }
        Ok(x)
    }

    /// Decodes latents (before the config's scaling factor) to an image in about [-1, 1].
    pub fn decode_raw(&self, z: &Tensor) -> Result<Tensor> {
        // A soft clamp to ±3, as TAESD was trained with.
        let mut x = ((z / 3.0)?.tanh()? * 3.0)?;
        for l in &self.decoder {
            x = l.forward(&x)?;
        }
        (x * 2.0)? - 1.0
    }
}
