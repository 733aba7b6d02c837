//! The autoencoders between images and latents: the model's own full VAE (`AutoencoderKL`) or
//! a tiny one (`AutoencoderTiny`, TAESD) in the same latent space, with the scaling and the
//! tiling both share.

pub mod kl;
mod tiling;
pub mod tiny;

pub use kl::Vae;
pub use tiny::TinyVae;

use candle_core::{Result, Tensor};
use serde::Serialize;
use std::fmt;

/// Which kind of autoencoder encodes and decodes keyframes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VaeKind {
    /// The model's full VAE (`AutoencoderKL`).
    Full,
    /// A tiny autoencoder (`AutoencoderTiny`, TAESD): much faster, slightly softer detail.
    Tiny,
}

impl fmt::Display for VaeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VaeKind::Full => "full",
            VaeKind::Tiny => "tiny",
        })
    }
}

#[derive(Debug)]
enum Net {
    Full(Box<Vae>),
    Tiny(TinyVae),
}

/// An autoencoder with its latent scaling, tiled for frames larger than a tile.
#[derive(Debug)]
pub struct Autoencoder {
    net: Net,
    scaling: f64,
    shift: f64,
    /// Tile size in pixels for tiled encode/decode (0 disables tiling).
    pub tile: usize,
}

impl Autoencoder {
    /// The full VAE, whose latents are `(z - shift) × scaling` of its own.
    pub fn full(vae: Vae, scaling: f64, shift: f64) -> Self {
        Self {
            net: Net::Full(Box::new(vae)),
            scaling,
            shift,
            tile: 512,
        }
    }

    /// A tiny autoencoder (TAESD's latents are already scaled: scaling 1, shift 0).
    pub fn tiny(vae: TinyVae, scaling: f64, shift: f64) -> Self {
        Self {
            net: Net::Tiny(vae),
            scaling,
            shift,
            tile: 512,
        }
    }

    /// Which kind this is.
    pub fn kind(&self) -> VaeKind {
        match self.net {
            Net::Full(_) => VaeKind::Full,
            Net::Tiny(_) => VaeKind::Tiny,
        }
    }

    /// Pixels per latent cell (8 for SD).
    pub fn factor(&self) -> usize {
        match &self.net {
            Net::Full(v) => v.factor(),
            Net::Tiny(v) => v.factor(),
        }
    }

    /// Latent channels.
    pub fn latent_channels(&self) -> usize {
        match &self.net {
            Net::Full(v) => v.latent_channels(),
            Net::Tiny(v) => v.latent_channels(),
        }
    }

    /// Encodes `img (b, 3, h, w)` in [-1, 1] to the autoencoder's own latents (for the full
    /// VAE, the posterior mean), before scaling; never tiled.
    pub fn encode_mean(&self, img: &Tensor) -> Result<Tensor> {
        match &self.net {
            Net::Full(v) => v.encode_mean(img),
            Net::Tiny(v) => v.encode_raw(img),
        }
    }

    /// Decodes the autoencoder's own (unscaled) latents to an image in about [-1, 1]; never
    /// tiled.
    pub fn decode_raw(&self, z: &Tensor) -> Result<Tensor> {
        match &self.net {
            Net::Full(v) => v.decode_raw(z),
            Net::Tiny(v) => v.decode_raw(z),
        }
    }

    /// Image in [-1, 1] → scaled latents (what the UNet sees), tiled when larger than a tile.
    pub fn encode(&self, img: &Tensor) -> Result<Tensor> {
        let z = tiling::tiled(img, self.tile, self.factor(), false, |t| {
            self.encode_mean(t)
        })?;
        (z - self.shift)? * self.scaling
    }

    /// Scaled latents → image in about [-1, 1], tiled when larger than a tile.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let z = ((z / self.scaling)? + self.shift)?;
        tiling::tiled(&z, self.tile / self.factor(), self.factor(), true, |t| {
            self.decode_raw(t)
        })
    }
}
