//! Numerical parity with diffusers/transformers on the tiny committed models.
//!
//! The fixtures come from `tests/parity/make_fixtures.py` (torch CPU, fp32). Tolerance: max
//! absolute error ≤ 1e-3 in fp32 for every output (≤ 1e-4 for the tiny autoencoder); token
//! ids must match exactly.

use candle_core::{Device, Tensor};
use retake_diffusion::compare::{max_abs, max_abs_diff};
use retake_diffusion::engine::{ComputeDType, DiffusionEngine, EngineOptions, VaeChoice};
use retake_diffusion::scheduler::{Sampler, SchedulerKind};
use retake_diffusion::VaeKind;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

const TOL: f32 = 1e-3;
const PROMPTS: [&str; 4] = [
    "a film noir street, rain",
    "Neon CITY at night!!  it's 2049",
    "",
    "the yarn-doll style, thinking of things",
];

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn fixtures(model: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(data(&format!("{model}.fixtures.safetensors")), &Device::Cpu)
        .unwrap()
}

fn load(model: &str, dtype: ComputeDType) -> DiffusionEngine {
    let opts = EngineOptions {
        dtype,
        ..Default::default()
    };
    DiffusionEngine::load(&data(model), opts).unwrap()
}

/// Max absolute error of `got` against `want`, which must share its shape.
fn error(got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.dims(), want.dims());
    max_abs_diff(got, want).unwrap()
}

fn check(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    let e = error(got, want);
    let scale = max_abs(want).unwrap();
    eprintln!("{what}: max abs error {e:.2e} (max |ref| {scale:.2})");
    assert!(e <= tol, "{what}: max abs error {e} > {tol}");
    assert!(scale > 1e-2, "{what}: reference is degenerate");
}

fn parity(model: &str) {
    let fx = fixtures(model);
    let eng = load(model, ComputeDType::F32);
    for (i, p) in PROMPTS.iter().enumerate() {
        let want: Vec<i64> = fx[&format!("ids_{i}")]
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let got: Vec<i64> = eng.tokenize(p).iter().map(|&v| v as i64).collect();
        assert_eq!(got, want, "token ids of {p:?}");
    }
    check(
        "text embeddings",
        &eng.encode_prompt(PROMPTS[0]).unwrap(),
        &fx["text_emb"],
        TOL,
    );
    check(
        "empty-prompt embeddings",
        &eng.encode_prompt("").unwrap(),
        &fx["uncond_emb"],
        TOL,
    );

    let x = &fx["unet_x"];
    let emb = &fx["text_emb"];
    check(
        "unet t=500",
        &eng.unet_forward(x, 500.0, emb, None).unwrap(),
        &fx["unet_out_t500"],
        TOL,
    );
    check(
        "unet t=249.5",
        &eng.unet_forward(x, 249.5, emb, None).unwrap(),
        &fx["unet_out_t249_5"],
        TOL,
    );

    let img = &fx["vae_image"];
    let mean = eng.vae().encode_mean(img).unwrap();
    check("vae encode (mean)", &mean, &fx["vae_mean"], TOL);
    check(
        "vae decode",
        &eng.vae().decode_raw(&fx["vae_mean"]).unwrap(),
        &fx["vae_decoded"],
        TOL,
    );

    let cancel = AtomicBool::new(false);
    let ctx = Tensor::cat(&[&fx["uncond_emb"], &fx["text_emb"]], 0).unwrap();
    for (name, kind) in [
        ("ddim", SchedulerKind::Ddim),
        ("euler", SchedulerKind::Euler),
    ] {
        let s = Sampler::img2img(kind, eng.scheduler_config(), 4, 0.5).unwrap();
        let want_t: Vec<f32> = fx[&format!("i2i_{name}_timesteps")].to_vec1().unwrap();
        let got_t: Vec<f32> = s.timesteps().iter().map(|&t| t as f32).collect();
        assert_eq!(got_t, want_t, "{name} timesteps");
        let lat = eng
            .img2img_latents(
                &fx["i2i_init"],
                &fx[&format!("i2i_{name}_noise")],
                &ctx,
                7.5,
                &s,
                None,
                &mut || panic!("{name} draws no noise between steps"),
                &cancel,
                |_| Ok(None),
            )
            .unwrap();
        check(
            &format!("img2img {name} latents"),
            &lat,
            &fx[&format!("i2i_{name}_latents")],
            TOL,
        );
        let img = eng.decode_latents(&lat).unwrap();
        check(
            &format!("img2img {name} image"),
            &img,
            &fx[&format!("i2i_{name}_image")],
            TOL,
        );
    }
    let s = Sampler::img2img(SchedulerKind::Lcm, eng.scheduler_config(), 2, 0.5).unwrap();
    let want_t: Vec<f32> = fx["i2i_lcm_timesteps"].to_vec1().unwrap();
    assert_eq!(
        s.timesteps().iter().map(|&t| t as f32).collect::<Vec<_>>(),
        want_t,
        "lcm timesteps"
    );
    let mut draws = 0;
    let step_noise = fx["i2i_lcm_step_noise"].clone();
    let lat = eng
        .img2img_latents(
            &fx["i2i_init"],
            &fx["i2i_lcm_noise"],
            &fx["text_emb"],
            1.0,
            &s,
            None,
            &mut || {
                draws += 1;
                Ok(step_noise.clone())
            },
            &cancel,
            |_| Ok(None),
        )
        .unwrap();
    assert_eq!(draws, 1, "LCM re-noises once between two steps");
    check("img2img lcm latents", &lat, &fx["i2i_lcm_latents"], TOL);
}

#[test]
fn tiny_sd15_matches_diffusers() {
    parity("tiny-sd15");
}

#[test]
fn tiny_sd21_fp16_files_match_diffusers() {
    parity("tiny-sd21");
}

#[test]
fn half_precision_stays_close() {
    let fx = fixtures("tiny-sd15");
    let eng = load("tiny-sd15", ComputeDType::F16);
    let out = eng
        .unet_forward(&fx["unet_x"], 500.0, &fx["text_emb"], None)
        .unwrap();
    let e = error(&out, &fx["unet_out_t500"]);
    eprintln!("f16 unet max abs error {e:.2e}");
    assert!(e < 2e-2, "f16: {e}");
    let img = eng
        .decode_latents(&(&fx["vae_mean"] * 0.18215).unwrap())
        .unwrap();
    let e = error(&img, &fx["vae_decoded"]);
    eprintln!("f16 vae decode max abs error {e:.2e}");
    assert!(e < 2e-2, "f16: {e}");
    let opts = EngineOptions {
        dtype: ComputeDType::Bf16,
        ..Default::default()
    };
    let e = DiffusionEngine::load(&data("tiny-sd15"), opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bf16 compute is not supported on the CPU"),
        "{e}"
    );
}

/// diffusers' `AutoencoderTiny` (TAESD's architecture) on the committed tiny random one,
/// loaded as tiny-sd15's autoencoder through `--vae DIR` as a user would.
#[test]
fn tiny_autoencoder_matches_diffusers() {
    const TINY_TOL: f32 = 1e-4;
    let fx = fixtures("tiny-taesd");
    let opts = EngineOptions {
        vae: VaeChoice::Folder(data("tiny-taesd")),
        ..Default::default()
    };
    let eng = DiffusionEngine::load(&data("tiny-sd15"), opts).unwrap();
    assert_eq!(eng.vae().kind(), VaeKind::Tiny);
    assert_eq!(eng.vae_dir(), data("tiny-taesd"));
    let vae = eng.vae();
    check(
        "taesd encode",
        &vae.encode_mean(&fx["image"]).unwrap(),
        &fx["latents"],
        TINY_TOL,
    );
    check(
        "taesd decode",
        &vae.decode_raw(&fx["latents"]).unwrap(),
        &fx["decoded"],
        TINY_TOL,
    );
    check(
        "taesd decode past the soft clamp",
        &vae.decode_raw(&fx["wide_latents"]).unwrap(),
        &fx["wide_decoded"],
        TINY_TOL,
    );
    // The engine's scaled path: TAESD's scaling factor is 1, so the same latents.
    check(
        "engine encode (tiny)",
        &eng.encode_image(&fx["image"]).unwrap(),
        &fx["latents"],
        TINY_TOL,
    );
    check(
        "engine decode (tiny)",
        &eng.decode_latents(&fx["latents"]).unwrap(),
        &fx["decoded"],
        TINY_TOL,
    );
    // Half precision takes the same path, within half's error.
    let opts = EngineOptions {
        vae: VaeChoice::Folder(data("tiny-taesd")),
        dtype: ComputeDType::F16,
        ..Default::default()
    };
    let half = DiffusionEngine::load(&data("tiny-sd15"), opts).unwrap();
    let e = error(
        &half.decode_latents(&fx["latents"]).unwrap(),
        &fx["decoded"],
    );
    eprintln!("f16 taesd decode max abs error {e:.2e}");
    assert!(e < 2e-2, "f16: {e}");
}
