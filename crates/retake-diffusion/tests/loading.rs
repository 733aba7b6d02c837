//! Tiny random models written in the real layout by Rust, loaded back through the real loader,
//! and the errors for broken folders.

use candle_core::DType;
use retake_diffusion::tiny::{write_tiny_model, TinySpec};
use retake_diffusion::{
    list_models, Architecture, DiffusionEngine, DiffusionError, EngineOptions, VaeChoice, VaeKind,
    WeightDType,
};
use std::path::Path;

fn tiny(dir: &Path, spec: TinySpec) {
    write_tiny_model(dir, spec).unwrap();
}

#[test]
fn loads_tiny_models_in_every_storage_type() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, spec, want) in [
        ("f32", TinySpec::default(), WeightDType::F32),
        (
            "f16",
            TinySpec {
                dtype: DType::F16,
                fp16_variant: true,
                sd2: true,
                ..Default::default()
            },
            WeightDType::F16,
        ),
        (
            "bf16",
            TinySpec {
                dtype: DType::BF16,
                ..Default::default()
            },
            WeightDType::Bf16,
        ),
    ] {
        let dir = tmp.path().join(name);
        tiny(&dir, spec);
        let eng = DiffusionEngine::load(&dir, EngineOptions::default()).unwrap();
        assert_eq!(eng.weights_dtype(), want, "{name}");
        assert_eq!(eng.architecture(), Architecture::Custom);
        assert_eq!(eng.size_multiple(), 4);
        let emb = eng.encode_prompt("neon city").unwrap();
        assert_eq!(emb.dims(), [1, 77, 32]);
        // The merges apply: "neon city" is two tokens between start and end.
        let ids = eng.tokenize("neon city");
        assert_eq!((ids[0], ids[3]), (518, 519), "start and end tokens");
        assert_eq!(ids.len(), 77);
        assert!(
            ids[1] > 511 && ids[2] > 511,
            "merged tokens: {:?}",
            &ids[..5]
        );
    }
    let listed = list_models(tmp.path());
    let names: Vec<_> = listed.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["bf16", "f16", "f32"]);
    assert!(listed.iter().all(|m| m.is_usable()), "{listed:?}");
    assert_eq!(listed[1].dtype, Some(WeightDType::F16));
    // A folder that is itself a model lists as one.
    assert_eq!(list_models(&tmp.path().join("f32")).len(), 1);
}

fn err(dir: &Path) -> DiffusionError {
    DiffusionEngine::load(dir, EngineOptions::default()).unwrap_err()
}

#[test]
fn missing_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    tiny(&dir, TinySpec::default());
    for rel in [
        "unet/diffusion_pytorch_model.safetensors",
        "tokenizer/merges.txt",
        "scheduler/scheduler_config.json",
        "text_encoder/model.safetensors",
        "model_index.json",
    ] {
        let p = dir.join(rel);
        let saved = std::fs::read(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let e = err(&dir);
        assert!(
            matches!(&e, DiffusionError::MissingFile { file, .. } if file == rel),
            "{rel}: {e}"
        );
        assert!(e.to_string().contains(rel), "{e}");
        let info = list_models(tmp.path());
        assert_eq!(info[0].missing, vec![rel.to_string()], "{info:?}");
        assert!(!info[0].is_usable());
        std::fs::write(&p, saved).unwrap();
    }
    std::fs::remove_dir_all(dir.join("vae")).unwrap();
    let e = err(&dir);
    assert!(e.to_string().contains("vae/config.json"), "{e}");
    let e = err(&tmp.path().join("nowhere"));
    assert!(matches!(e, DiffusionError::NoModelDir(_)), "{e}");
    assert!(e.to_string().contains("RETAKE_MODEL_DIR"));
    assert!(list_models(&tmp.path().join("nowhere")).is_empty());
}

#[test]
fn pytorch_bin_weights_get_a_conversion_hint() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path(), TinySpec::default());
    let unet = tmp.path().join("unet");
    std::fs::rename(
        unet.join("diffusion_pytorch_model.safetensors"),
        unet.join("diffusion_pytorch_model.bin"),
    )
    .unwrap();
    let e = err(tmp.path()).to_string();
    assert!(e.contains("convert them to safetensors"), "{e}");
}

#[test]
fn bad_configs_and_mismatched_weights_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path(), TinySpec::default());
    let cfg = tmp.path().join("unet/config.json");
    let orig = std::fs::read_to_string(&cfg).unwrap();

    std::fs::write(&cfg, "{ not json").unwrap();
    let e = err(tmp.path());
    assert!(
        matches!(&e, DiffusionError::BadConfig { path, .. } if path == &cfg),
        "{e}"
    );

    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    v["addition_embed_type"] = "text_time".into();
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = err(tmp.path()).to_string();
    assert!(e.contains("not supported"), "{e}");
    assert_eq!(
        list_models(tmp.path())[0].architecture,
        Some(Architecture::Sdxl)
    );

    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    v["time_cond_proj_dim"] = 256.into();
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = err(tmp.path()).to_string();
    assert!(e.contains("LCM-distilled"), "{e}");

    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    v["attention_head_dim"] = serde_json::json!([3, 4]);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = err(tmp.path()).to_string();
    assert!(e.contains("do not split into 3 heads"), "{e}");

    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    v["block_out_channels"] = serde_json::json!([16, 48]);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = err(tmp.path());
    assert!(matches!(&e, DiffusionError::BadWeights { .. }), "{e}");

    std::fs::write(&cfg, &orig).unwrap();
    let sched = tmp.path().join("scheduler/scheduler_config.json");
    std::fs::write(&sched, r#"{"prediction_type": "flow"}"#).unwrap();
    let e = err(tmp.path()).to_string();
    assert!(e.contains("prediction_type flow"), "{e}");

    std::fs::write(&sched, r#"{}"#).unwrap();
    std::fs::write(
        tmp.path().join("unet/diffusion_pytorch_model.safetensors"),
        b"garbage",
    )
    .unwrap();
    let e = err(tmp.path());
    assert!(matches!(&e, DiffusionError::BadWeights { .. }), "{e}");
}

#[test]
fn cuda_without_the_feature_says_how_to_get_it() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path(), TinySpec::default());
    let opts = EngineOptions {
        device: retake_diffusion::DeviceChoice::Cuda(0),
        ..Default::default()
    };
    if cfg!(feature = "cuda") {
        return;
    }
    let e = DiffusionEngine::load(tmp.path(), opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--features cuda"), "{e}");
}

fn with_vae(dir: &Path, vae: VaeChoice) -> Result<DiffusionEngine, DiffusionError> {
    let opts = EngineOptions {
        vae,
        ..Default::default()
    };
    DiffusionEngine::load(dir, opts)
}

#[test]
fn a_tiny_autoencoder_in_the_model_folder_is_found_and_chosen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let spec = TinySpec {
        tiny_vae: true,
        ..Default::default()
    };
    tiny(&dir, spec);
    let listed = list_models(tmp.path());
    assert_eq!(listed[0].tiny_vae.as_deref(), Some("vae_tiny"));
    assert!(listed[0].is_usable(), "{listed:?}");
    // `auto` takes the tiny one; `full` the model's own; a folder whatever its config says.
    let eng = with_vae(&dir, VaeChoice::Auto).unwrap();
    assert_eq!(eng.vae().kind(), VaeKind::Tiny);
    assert_eq!(eng.vae_dir(), dir.join("vae_tiny"));
    assert_eq!(eng.summary().vae, VaeKind::Tiny);
    let eng = with_vae(&dir, VaeChoice::Full).unwrap();
    assert_eq!(eng.vae().kind(), VaeKind::Full);
    assert_eq!(eng.vae_dir(), dir.join("vae"));
    let eng = with_vae(&dir, VaeChoice::Folder(dir.join("vae"))).unwrap();
    assert_eq!(eng.vae().kind(), VaeKind::Full);
    let eng = with_vae(&dir, VaeChoice::Folder(dir.join("vae_tiny"))).unwrap();
    assert_eq!(eng.vae().kind(), VaeKind::Tiny);
    // Without one, `auto` is the full VAE and `tiny` says what to copy where.
    let plain = tmp.path().join("plain");
    tiny(&plain, TinySpec::default());
    assert_eq!(list_models(&plain)[0].tiny_vae, None);
    let eng = with_vae(&plain, VaeChoice::Auto).unwrap();
    assert_eq!(eng.vae().kind(), VaeKind::Full);
    let e = with_vae(&plain, VaeChoice::Tiny).unwrap_err();
    assert!(
        matches!(&e, DiffusionError::NoTinyVae(d) if d == &plain),
        "{e}"
    );
    assert!(e.to_string().contains("vae_tiny/"), "{e}");
    let e = with_vae(&plain, VaeChoice::Folder(tmp.path().join("nowhere"))).unwrap_err();
    assert!(matches!(&e, DiffusionError::NoVaeDir(_)), "{e}");
    assert!(e.to_string().contains("nowhere"), "{e}");
}

#[test]
fn tiny_autoencoder_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let spec = TinySpec {
        tiny_vae: true,
        ..Default::default()
    };
    tiny(&dir, spec);
    let folder = dir.join("vae_tiny");
    let weights = folder.join("diffusion_pytorch_model.safetensors");
    let cfg = folder.join("config.json");
    let orig = std::fs::read_to_string(&cfg).unwrap();

    // Missing weights: named, in the error and in `retake models`; the full VAE still loads.
    let saved = std::fs::read(&weights).unwrap();
    std::fs::remove_file(&weights).unwrap();
    let e = with_vae(&dir, VaeChoice::Auto).unwrap_err();
    assert!(
        matches!(&e, DiffusionError::MissingVaeFile { dir: d, file }
            if d == &folder && file == "diffusion_pytorch_model.safetensors"),
        "{e}"
    );
    assert!(
        e.to_string().contains(&weights.display().to_string())
            || e.to_string()
                .contains("diffusion_pytorch_model.safetensors"),
        "{e}"
    );
    let info = &list_models(tmp.path())[0];
    assert!(!info.is_usable());
    assert!(
        info.problem
            .as_deref()
            .is_some_and(|p| p.contains("diffusion_pytorch_model.safetensors")),
        "{info:?}"
    );
    assert_eq!(
        with_vae(&dir, VaeChoice::Full).unwrap().vae().kind(),
        VaeKind::Full
    );
    std::fs::write(&weights, saved).unwrap();

    // Weights of other shapes than the config describes: the weights file is named.
    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    v["encoder_block_out_channels"] = serde_json::json!([16, 16]);
    v["decoder_block_out_channels"] = serde_json::json!([16, 16]);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = with_vae(&dir, VaeChoice::Auto).unwrap_err();
    assert!(
        matches!(&e, DiffusionError::BadWeights { path, .. } if path == &weights),
        "{e}"
    );
    assert!(e.to_string().contains("vae_tiny"), "{e}");

    // A tiny autoencoder of another scale than the model's VAE: the config is named.
    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    for key in ["encoder_block_out_channels", "decoder_block_out_channels"] {
        v[key] = serde_json::json!([8, 8, 8]);
    }
    v["num_encoder_blocks"] = serde_json::json!([1, 1, 1]);
    v["num_decoder_blocks"] = serde_json::json!([1, 1, 1]);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = with_vae(&dir, VaeChoice::Auto).unwrap_err();
    assert!(
        matches!(&e, DiffusionError::BadConfig { path, .. } if path == &cfg),
        "{e}"
    );
    assert!(e.to_string().contains("another model family"), "{e}");

    // A config the architecture cannot take, and one that is not JSON.
    let mut v: serde_json::Value = serde_json::from_str(&orig).unwrap();
    v["num_decoder_blocks"] = serde_json::json!([1]);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let e = with_vae(&dir, VaeChoice::Auto).unwrap_err();
    assert!(
        matches!(&e, DiffusionError::BadConfig { path, .. } if path == &cfg),
        "{e}"
    );
    assert!(e.to_string().contains("num_decoder_blocks"), "{e}");
    std::fs::write(&cfg, "{ not json").unwrap();
    // Unreadable as JSON, it is no longer recognised as a tiny autoencoder: `auto` falls back
    // to the full VAE, and naming the folder gives the JSON error.
    assert_eq!(
        with_vae(&dir, VaeChoice::Auto).unwrap().vae().kind(),
        VaeKind::Full
    );
    let e = with_vae(&dir, VaeChoice::Folder(folder.clone())).unwrap_err();
    assert!(
        matches!(&e, DiffusionError::BadConfig { path, .. } if path == &cfg),
        "{e}"
    );
    std::fs::remove_file(&cfg).unwrap();
    let e = with_vae(&dir, VaeChoice::Folder(folder.clone())).unwrap_err();
    assert!(
        matches!(&e, DiffusionError::MissingVaeFile { file, .. } if file == "config.json"),
        "{e}"
    );
}

/// A tiny autoencoder whose weights make it pass pixels through: blocks off (their convs
/// zero, so each is a ReLU of its input, which is non-negative there), every other conv
/// copying channels from its centre tap, and the latents scaled by 1/20 so TAESD's tanh
/// clamp stays linear. Encode then decode must give back an image made of 2×2 blocks.
#[test]
fn tiny_autoencoder_round_trips_through_the_engine() {
    use candle_core::{Device, Tensor};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    tiny(
        &dir,
        TinySpec {
            tiny_vae: true,
            ..Default::default()
        },
    );
    let file = dir.join("vae_tiny/diffusion_pytorch_model.safetensors");
    let random = candle_core::safetensors::load(&file, &Device::Cpu).unwrap();
    let k = 0.05f32;
    let gains = [
        ("encoder.layers.4.weight", k),
        ("decoder.layers.0.weight", 1.0 / k),
    ];
    let mut pass = std::collections::HashMap::new();
    for (name, t) in &random {
        let dims = t.dims().to_vec();
        let mut v = vec![0f32; t.elem_count()];
        let is_block = name.contains(".conv.");
        if dims.len() == 4 && !is_block {
            let gain = gains.iter().find(|(n, _)| n == name).map_or(1.0, |g| g.1);
            let (cout, cin, kh, kw) = (dims[0], dims[1], dims[2], dims[3]);
            for c in 0..cout.min(cin) {
                v[((c * cin + c) * kh + kh / 2) * kw + kw / 2] = gain;
            }
        }
        pass.insert(
            name.clone(),
            Tensor::from_vec(v, dims, &Device::Cpu).unwrap(),
        );
    }
    candle_core::safetensors::save(&pass, &file).unwrap();
    let eng = with_vae(&dir, VaeChoice::Auto).unwrap();
    assert_eq!(eng.vae().kind(), VaeKind::Tiny);

    // A 24×32 image of 2×2 blocks in [-1, 1], different in each channel.
    let (h, w) = (24, 32);
    let mut px = Vec::with_capacity(3 * h * w);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let (by, bx) = ((y / 2) as f32, (x / 2) as f32);
                px.push(((by * 0.37 + bx * 0.61 + c as f32 * 1.3).sin() * 0.9).clamp(-1.0, 1.0));
            }
        }
    }
    let img = Tensor::from_vec(px, (1, 3, h, w), &Device::Cpu).unwrap();
    let z = eng.encode_image(&img).unwrap();
    assert_eq!(z.dims(), [1, 4, h / 2, w / 2]);
    let back = eng.decode_latents(&z).unwrap();
    assert_eq!(back.dims(), [1, 3, h, w]);
    let e = retake_diffusion::compare::max_abs_diff(&back, &img).unwrap();
    assert!(e < 1e-3, "round trip max abs error {e}");
    // And through frames, as keyframes travel: 8-bit in, 8-bit out, within a level.
    let frame = retake_diffusion::image::tensor_to_frame(&img).unwrap();
    let t = retake_diffusion::image::frame_to_tensor(&frame, candle_core::DType::F32, &Device::Cpu)
        .unwrap();
    let out = retake_diffusion::image::tensor_to_frame(
        &eng.decode_latents(&eng.encode_image(&t).unwrap()).unwrap(),
    )
    .unwrap();
    let worst = out
        .data()
        .iter()
        .zip(frame.data())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= 1, "8-bit round trip off by {worst}");
}
