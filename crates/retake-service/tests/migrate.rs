//! `retake migrate`: a single-machine install (SQLite and the data folder) is copied into a
//! real PostgreSQL and a real S3 server; a second run copies nothing; a server on the new
//! stores then serves the same keys, balances, generations, videos and uploads.

mod common;

use std::sync::Arc;

use common::*;
use retake_service::migrate::{migrate, open_target};
use retake_service::MediaPipeline;
use retake_testkit::services::{Postgres, S3Server};
use serde_json::Value;

/// A new PostgreSQL database and S3 bucket to move into, and the source settings with the S3
/// server's endpoint and credentials added (`retake migrate` reads them from there).
async fn new_stores(
    source: &retake_service::ServiceConfig,
    bucket: &str,
) -> (retake_service::ServiceConfig, String, String) {
    let (pg, s3) = tokio::task::spawn_blocking(|| (Postgres::shared(), S3Server::shared()))
        .await
        .unwrap();
    let db = tokio::task::spawn_blocking(move || pg.create_database())
        .await
        .unwrap();
    s3.create_bucket(bucket);
    let mut source = source.clone();
    source.s3_endpoint = Some(s3.endpoint.clone());
    source.s3_access_key_id = Some("test".into());
    source.s3_secret_access_key = Some("test".into());
    (source, db, s3.endpoint.clone())
}

/// A server on the moved stores, with an empty data folder.
async fn server_on(db: &str, blobs: &str, endpoint: &str) -> TestServer {
    let fresh = tempfile::tempdir().unwrap();
    let mut config = test_config(fresh.path());
    config.database_url = Some(db.to_string());
    config.blob_store = blobs.into();
    config.s3_endpoint = Some(endpoint.to_string());
    config.s3_access_key_id = Some("test".into());
    config.s3_secret_access_key = Some("test".into());
    config.link_secret = Some("a-link-secret-of-at-least-32-characters".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server =
        retake_service::start(config.clone(), Arc::new(MediaPipeline::default()), listener)
            .await
            .unwrap();
    TestServer {
        server: Some(server),
        dir: fresh,
        config,
        http: reqwest::Client::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_machine_install_moves_to_postgres_and_s3_intact() {
    let mut t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("a", 1.0).await;
    let clip = small_clip();
    let media = files.put("c.mp4", std::fs::read(&clip).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip));
    let g: Value = t
        .post_json(
            &k.token,
            "/generations/video/modify",
            luma_body(&media, Some(&first)),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(t.wait_done(&k.token, &id).await["state"], "completed");
    let upload = t.upload(&k.token, std::fs::read(&clip).unwrap()).await;
    let video_before = reqwest::Client::new()
        .get(t.url(&format!("/generations/{id}/video")))
        .bearer_auth(&k.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let old_base = t.base();
    t.server.take().unwrap().shutdown().await;

    let (source, db, endpoint) = new_stores(&t.config, "moved").await;
    let target = open_target(&source, &db, Some("s3://moved/prod"))
        .await
        .unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let report = migrate(&source, &target, &|l: &str| {
        lines.lock().unwrap().push(l.to_string())
    })
    .await
    .unwrap();
    assert_eq!(
        (report.keys, report.generations_copied),
        (1, 1),
        "{report:?}"
    );
    // The output and the upload (the finished job's inputs were already removed).
    assert_eq!(
        (report.files_copied, report.files_present),
        (2, 0),
        "{report:?}"
    );
    assert!(lines.lock().unwrap().iter().any(|l| l.contains("verified")));
    let again = migrate(&source, &target, &|_: &str| {}).await.unwrap();
    assert_eq!(
        (
            again.generations_copied,
            again.generations_present,
            again.files_copied,
            again.files_present
        ),
        (0, 1, 0, 2),
        "a second run copies nothing: {again:?}"
    );

    // A server on the new stores, with an empty data folder, serves everything as before.
    let moved = server_on(&db, "s3://moved/prod", &endpoint).await;
    let g = moved.get(&k.token, &format!("/generations/{id}")).await;
    assert_eq!(remaining(&g), Some(0.99), "the balance came along");
    let g: Value = g.json().await.unwrap();
    assert_eq!(g["state"], "completed");
    let video = reqwest::get(g["assets"]["video"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(video, video_before, "the same video, from the bucket");
    // The upload works as a media URL for the same key on the new stores.
    let url = upload["url"]
        .as_str()
        .unwrap()
        .replace(&old_base, &moved.base());
    let g: Value = moved
        .post_json(
            &k.token,
            "/generations/video/modify",
            luma_body(&url, Some(&first)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(g["state"], "queued", "{g}");
}

/// A generation still queued when the install is moved keeps everything its job needs: the
/// look's painted mask (kept beside its inputs) comes along, and a server on the new stores
/// finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_with_a_look_mask_moves_and_finishes_on_the_new_stores() {
    // No workers: the job stays queued until the move.
    let mut t = TestServer::start_with(|c| c.workers = 0, Arc::new(MediaPipeline::default())).await;
    let files = Files::start().await;
    let k = t.key("q", 1.0).await;
    let clip = small_clip();
    let media = files.put("c.mp4", std::fs::read(&clip).unwrap());
    let mask_png = retake_testkit::scratch("migrate-mask.png");
    let mut m = Vec::new();
    for _ in 0..96 {
        for x in 0..128 {
            m.extend([if x < 64 { 255u8 } else { 0 }; 3]);
        }
    }
    retake_media::save_png(
        &retake_media::RgbFrame::from_raw(128, 96, m).unwrap(),
        &mask_png,
    )
    .unwrap();
    let mask = files.put("m.png", std::fs::read(&mask_png).unwrap());
    let mut body = luma_body(&media, None);
    body["look"] = serde_json::json!({"name": "recolour", "hue": 180, "mask": {"url": mask}});
    let resp = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await;
    assert_eq!(
        resp.status().as_u16(),
        201,
        "{}",
        resp.text().await.unwrap()
    );
    let g: Value = resp.json().await.unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    t.server.take().unwrap().shutdown().await;

    let (source, db, endpoint) = new_stores(&t.config, "queued").await;
    let target = open_target(&source, &db, Some("s3://queued/prod"))
        .await
        .unwrap();
    let report = migrate(&source, &target, &|_: &str| {}).await.unwrap();
    // The clip and the mask, both kept beside the queued job's inputs.
    assert_eq!(
        (report.generations_copied, report.files_copied),
        (1, 2),
        "{report:?}"
    );

    let moved = server_on(&db, "s3://queued/prod", &endpoint).await;
    let done = moved.wait_done(&k.token, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
}
