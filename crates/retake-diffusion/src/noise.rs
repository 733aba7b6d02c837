//! Seeded Gaussian noise, so a keyframe is the same for the same seed on any machine.

use candle_core::{DType, Device, Result, Tensor};

/// SplitMix64: tiny, fast, and good enough to drive Box–Muller.
#[derive(Clone, Debug)]
pub struct NoiseRng(u64);

impl NoiseRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal samples.
    pub fn normal(&mut self, n: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(n + 1);
        while out.len() < n {
            let (u1, u2) = (self.uniform(), self.uniform());
            let r = (-2.0 * u1.ln()).sqrt();
            let a = std::f64::consts::TAU * u2;
            out.push((r * a.cos()) as f32);
            out.push((r * a.sin()) as f32);
        }
        out.truncate(n);
        out
    }

    /// A standard-normal tensor of `shape`.
    pub fn tensor(&mut self, shape: &[usize], dtype: DType, dev: &Device) -> Result<Tensor> {
        let n = shape.iter().product();
        Tensor::from_vec(self.normal(n), shape, dev)?.to_dtype(dtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_moments_and_determinism() {
        let a = NoiseRng::new(7).normal(20_000);
        let b = NoiseRng::new(7).normal(20_000);
        assert_eq!(a, b);
        assert_ne!(a, NoiseRng::new(8).normal(20_000));
        let mean = a.iter().map(|&v| v as f64).sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
