//! `retake models` and `retake modify --prompt` with a tiny random-weight model written in
//! the real diffusers layout.

mod common;

use common::*;
use retake_diffusion::tiny::{write_tiny_model, TinySpec};
use retake_testkit::{args, clip_from, pattern, scratch};

#[test]
fn models_lists_what_is_ready_and_what_is_missing() {
    let root = tempfile::tempdir().unwrap();
    write_tiny_model(&root.path().join("tiny-sd"), TinySpec::default()).unwrap();
    write_tiny_model(&root.path().join("broken"), TinySpec::default()).unwrap();
    std::fs::remove_file(root.path().join("broken/tokenizer/merges.txt")).unwrap();
    let o = retake(&["models", "--model-dir", &s(root.path()), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "broken");
    assert_eq!(list[0]["usable"], false);
    assert_eq!(
        list[0]["missing"],
        serde_json::json!(["tokenizer/merges.txt"])
    );
    assert_eq!(list[1]["name"], "tiny-sd");
    assert_eq!(list[1]["usable"], true);
    let o = retake(&["models", "--model-dir", &s(root.path())]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("tiny-sd") && text.contains("ready"), "{text}");
    assert!(text.contains("missing tokenizer/merges.txt"), "{text}");
    let o = retake(&["models"]);
    assert_clean_failure(&o, 2, "--model-dir");
}

#[test]
fn modify_from_a_prompt_alone() {
    let root = tempfile::tempdir().unwrap();
    write_tiny_model(&root.path().join("tiny-sd"), TinySpec::default()).unwrap();
    let clip = clip_from(
        "cli-prompt.mp4",
        &[
            pattern("96x64", "24", 1.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    // One keyframe step at 64 px on the tiny model, in full and in half precision (what
    // `--dtype f16` is for: half the memory); both run the whole path.
    let out = scratch("cli-prompt-out.mp4");
    for (dtype, name) in [
        ("auto", "cli-prompt-out.mp4"),
        ("f16", "cli-prompt-f16.mp4"),
    ] {
        let path = scratch(name);
        let (clip, model, path_s) = (s(&clip), s(root.path()), s(&path));
        let o = retake(&[
            "modify",
            &clip,
            "--prompt",
            "yarn doll",
            "--model-dir",
            &model,
            "--steps",
            "1",
            "--diffusion-size",
            "64",
            "--dtype",
            dtype,
            "-o",
            &path_s,
            "--json",
        ]);
        assert!(o.status.success(), "{dtype}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["frames"], 24, "{dtype}");
        assert_eq!(v["keyframes"][0], 0, "{dtype}");
        assert!(path.exists(), "{dtype}");
    }

    // A folder without the model, or with two and no choice, is a usage error that says so.
    let o = retake(&[
        "modify",
        &s(&clip),
        "--prompt",
        "x",
        "--model-dir",
        &s(&root.path().join("none")),
        "-o",
        &s(&out),
    ]);
    assert_clean_failure(&o, 2, "does not exist");
    write_tiny_model(&root.path().join("other"), TinySpec::default()).unwrap();
    let o = retake(&[
        "modify",
        &s(&clip),
        "--prompt",
        "x",
        "--model-dir",
        &s(root.path()),
        "-o",
        &s(&out),
    ]);
    assert_clean_failure(&o, 2, "--diffusion-model");
}

#[test]
fn modify_uses_the_tiny_autoencoder_when_asked_and_says_which_it_used() {
    let root = tempfile::tempdir().unwrap();
    let spec = TinySpec {
        tiny_vae: true,
        ..TinySpec::default()
    };
    write_tiny_model(&root.path().join("tiny-sd"), spec).unwrap();
    let model = s(root.path());
    let o = retake(&["models", "--model-dir", &model, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["tiny_vae"], "vae_tiny");
    let o = retake(&["models", "--model-dir", &model]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("tiny VAE vae_tiny/"), "{text}");

    let clip = clip_from(
        "cli-prompt-vae.mp4",
        &[
            pattern("96x64", "24", 1.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let run = |vae: &str, name: &str, json: bool| {
        let out = scratch(name);
        let (clip, out_s) = (s(&clip), s(&out));
        let mut a = vec![
            "modify",
            &clip,
            "--prompt",
            "yarn doll",
            "--model-dir",
            &model,
            "--steps",
            "1",
            "--diffusion-size",
            "64",
            "--vae",
            vae,
            "-o",
            &out_s,
        ];
        if json {
            a.push("--json");
        }
        let o = retake(&a);
        assert!(o.status.success(), "{vae}: {}", stderr(&o));
        assert!(out.exists(), "{vae}");
        o
    };
    for (vae, want, dir) in [("tiny", "tiny", "vae_tiny"), ("full", "full", "vae")] {
        let o = run(vae, &format!("cli-prompt-vae-{vae}.mp4"), true);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let d = &v["diffusion"];
        assert_eq!(d["vae"], want, "{v:#}");
        assert!(
            d["vae_dir"].as_str().unwrap().ends_with(dir),
            "{vae}: {d:#}"
        );
        assert_eq!(d["device"], "cpu");
        assert_eq!(d["steps"], 1);
        assert_eq!(
            d["keyframes_restyled"],
            v["keyframes"].as_array().unwrap().len()
        );
        assert!(d["seconds"].as_f64().unwrap() > 0.0);
    }
    // Without --json the summary line names the autoencoder too (auto: the tiny one).
    let o = run("auto", "cli-prompt-vae-auto.mp4", false);
    let err = stderr(&o);
    assert!(err.contains("tiny VAE"), "{err}");

    // Asking for a tiny autoencoder a model lacks says where to put one.
    write_tiny_model(&root.path().join("plain"), TinySpec::default()).unwrap();
    let out = scratch("cli-prompt-vae-none.mp4");
    let o = retake(&[
        "modify",
        &s(&clip),
        "--prompt",
        "x",
        "--model-dir",
        &model,
        "--diffusion-model",
        "plain",
        "--vae",
        "tiny",
        "-o",
        &s(&out),
    ]);
    assert_clean_failure(&o, 2, "vae_tiny/");
    assert!(!out.exists());
}
