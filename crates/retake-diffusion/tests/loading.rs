//! Tiny random models written in the real layout by Rust, loaded back through the real loader,
//! and the errors for broken folders.

use candle_core::DType;
use retake_diffusion::tiny::{write_tiny_model, TinySpec};
use retake_diffusion::{
    list_models, Architecture, DiffusionEngine, DiffusionError, EngineOptions, WeightDType,
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
