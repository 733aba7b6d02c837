//! Prompt-only generations through the Luma surface, with a tiny random-weight diffusion model
//! written in the real diffusers layout and loaded through the real loader.

mod common;

use std::sync::Arc;

use common::*;
use retake_diffusion::tiny::{write_tiny_model, TinySpec};
use retake_pipeline::{DiffusionEngine, EngineOptions};
use retake_service::MediaPipeline;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_alone_completes_when_a_model_is_loaded() {
    let model = tempfile::tempdir().unwrap();
    write_tiny_model(model.path(), TinySpec::default()).unwrap();
    let engine = DiffusionEngine::load(
        model.path(),
        EngineOptions {
            steps: Some(1),
            resolution: Some(64),
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let pipeline = MediaPipeline {
        diffusion: Some(Arc::new(engine)),
        ..MediaPipeline::default()
    };
    let t = TestServer::start_with(|_| {}, Arc::new(pipeline)).await;
    let files = Files::start().await;
    let k = t.key("p", 5.0).await;
    let media = files.put("c.mp4", std::fs::read(small_clip()).unwrap());
    let body = json!({
        "generation_type": "modify_video",
        "media": {"url": media},
        "prompt": "a yarn doll",
        "mode": "reimagine_1",
        "model": "ray-flash-2",
    });
    let resp = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let g: Value = resp.json().await.unwrap();
    let done = t.wait_done(&k.token, g["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["request"]["prompt"], "a yarn doll");
    assert_mp4_at(done["assets"]["video"].as_str().unwrap()).await;
}
