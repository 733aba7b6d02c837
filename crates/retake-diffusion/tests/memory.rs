//! VAE tiling on frames larger than a tile, through the real model. The tiny random VAE's
//! global attention and group norms make tiles differ from the whole frame more than a real
//! VAE's do, so this checks shapes and a loose agreement; `vae.rs` checks the blending exactly.

use candle_core::{DType, Tensor};
use retake_diffusion::{ComputeDType, DiffusionEngine, EngineOptions};
use std::path::PathBuf;

fn model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny-sd15")
}

fn engine(vae_tile: usize) -> DiffusionEngine {
    let opts = EngineOptions {
        vae_tile,
        dtype: ComputeDType::F32,
        ..Default::default()
    };
    DiffusionEngine::load(&model(), opts).unwrap()
}

fn mean_abs(t: &Tensor) -> f32 {
    t.abs().unwrap().mean_all().unwrap().to_scalar().unwrap()
}

#[test]
fn tiled_vae_agrees_with_the_whole_frame() {
    let whole = engine(0);
    let tiled = engine(64);
    // A smooth 160×96 image: larger than the 64-pixel tile in both directions.
    let (h, w) = (96usize, 160usize);
    let mut v = Vec::with_capacity(3 * h * w);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                v.push(((x as f32 / 23.0 + c as f32).sin() * (y as f32 / 17.0).cos()) * 0.8);
            }
        }
    }
    let img = Tensor::from_vec(v, (1, 3, h, w), &candle_core::Device::Cpu).unwrap();
    let (zw, zt) = (
        whole.encode_image(&img).unwrap(),
        tiled.encode_image(&img).unwrap(),
    );
    assert_eq!(zw.dims(), [1, 4, 48, 80]);
    assert_eq!(zt.dims(), zw.dims());
    let rel = mean_abs(&(&zt - &zw).unwrap()) / mean_abs(&zw);
    eprintln!("tiled encode: mean relative difference {rel:.3}");
    assert!(rel < 0.6, "{rel}");
    let (dw, dt) = (
        whole.decode_latents(&zw).unwrap(),
        tiled.decode_latents(&zw).unwrap(),
    );
    assert_eq!(dt.dims(), [1, 3, h, w]);
    let rel = mean_abs(&(&dt - &dw).unwrap()) / mean_abs(&dw);
    eprintln!("tiled decode: mean relative difference {rel:.3}");
    assert!(rel < 0.6, "{rel}");
    assert!(dt
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .all(|x| x.is_finite()));
}
