//! Cancel, idempotency keys, progress, metrics and the OpenAPI document, against the real
//! server on loopback.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

async fn metrics(t: &TestServer) -> String {
    reqwest::get(format!("{}/metrics", t.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn wait_metric(t: &TestServer, line: &str) -> String {
    for _ in 0..200 {
        let m = metrics(t).await;
        if m.lines().any(|l| l == line) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("metrics never showed `{line}`:\n{}", metrics(t).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_queued_and_running_jobs_and_releases_their_credits() {
    let gate = Gate::new();
    let (release, started) = (gate.release.clone(), gate.started.clone());
    let t = TestServer::start_with(|_| {}, Arc::new(gate)).await;
    let files = Files::start().await;
    let k = t.key("a", 1.0).await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let create = "/generations/video/modify";
    let submit = || async {
        let g: Value = t
            .post_json(&k.token, create, luma_body(&clip, Some(&first)))
            .await
            .json()
            .await
            .unwrap();
        g["id"].as_str().unwrap().to_string()
    };

    // One worker: the first job runs (held by the gate at 50 %), the second waits.
    let running = submit().await;
    let g = wait_for(&t, &k.token, &running, 60, |g| {
        g["state"] == "dreaming" && g["progress"] == 50
    })
    .await;
    assert!(g["assets"]["video"].is_null());
    assert!(started.load(Ordering::SeqCst));
    let queued = submit().await;
    assert_eq!(
        remaining(&t.get(&k.token, "/credits").await),
        Some(0.98),
        "two reservations"
    );
    assert!(t
        .dir
        .path()
        .join(format!("blobs/inputs/{queued}/media"))
        .is_file());

    let cancel = |id: String| {
        let req = t
            .http
            .post(t.url(&format!("/generations/{id}/cancel")))
            .bearer_auth(&k.token);
        async move { req.send().await.unwrap() }
    };
    let resp = cancel(queued.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(remaining(&resp), Some(0.99), "released at once");
    let g: Value = resp.json().await.unwrap();
    assert_eq!(g["state"], "failed");
    assert!(
        g["failure_reason"].as_str().unwrap().contains("cancelled"),
        "{g}"
    );
    assert!(
        !t.dir.path().join(format!("blobs/inputs/{queued}")).exists(),
        "a queued job's inputs go at once"
    );

    let g: Value = cancel(running.clone()).await.json().await.unwrap();
    assert_eq!(g["state"], "failed");
    // The worker stops at once (the cancel flag is set in-process) and frees itself.
    wait_metric(&t, "retake_jobs_running 0").await;
    let m = wait_metric(&t, "retake_job_failures_total{reason=\"cancelled\"} 2").await;
    assert!(m.contains("retake_jobs_completed_total 0"), "{m}");
    assert_eq!(remaining(&t.get(&k.token, "/credits").await), Some(1.0));
    let g = t
        .get(&k.token, &format!("/generations/{running}"))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        g["state"], "failed",
        "the worker did not overwrite the cancel"
    );
    for _ in 0..100 {
        if !t
            .dir
            .path()
            .join(format!("blobs/inputs/{running}"))
            .exists()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !t.dir
            .path()
            .join(format!("blobs/inputs/{running}"))
            .exists(),
        "the worker removed the running job's inputs when it stopped"
    );
    let (s, _) = detail_of(cancel(running.clone()).await).await;
    assert_eq!(s, 409, "nothing left to cancel");

    // The worker takes the next job as usual, and the metrics count it.
    release.store(true, Ordering::SeqCst);
    let next = submit().await;
    let done = t.wait_done(&k.token, &next).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    let m = wait_metric(&t, "retake_jobs_completed_total 1").await;
    for want in [
        "retake_frames_total 24",
        "retake_job_duration_seconds_count 1",
        "retake_job_frames_per_second_count 1",
        "retake_queue_depth 0",
        "retake_http_responses_total{code=\"409\"} 1",
    ] {
        assert!(m.lines().any(|l| l == want), "missing `{want}` in\n{m}");
    }
    assert_eq!(remaining(&t.get(&k.token, "/credits").await), Some(0.99));
}

#[tokio::test]
async fn an_idempotency_key_makes_a_create_safe_to_retry() {
    let t = TestServer::start_with(
        |c| c.workers = 0,
        Arc::new(retake_service::MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let k = t.key("a", 1.0).await;
    let other = t.key("b", 1.0).await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let body = luma_body(&clip, Some(&first));
    let post = |token: &str, key: &str, body: &Value| {
        t.http
            .post(t.url("/generations/video/modify"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
    };

    let first_try = post(&k.token, "order-1", &body).await.unwrap();
    assert_eq!(first_try.status(), 201);
    assert!(first_try.headers().get("idempotent-replayed").is_none());
    let g1: Value = first_try.json().await.unwrap();
    let retry = post(&k.token, "order-1", &body).await.unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(remaining(&retry), Some(0.99), "reserved once");
    let g2: Value = retry.json().await.unwrap();
    assert_eq!(g1["id"], g2["id"]);

    // The same key with another request is refused; another key's "order-1" is its own.
    let mut changed = body.clone();
    changed["mode"] = json!("reimagine_3");
    let (s, d) = detail_of(post(&k.token, "order-1", &changed).await.unwrap()).await;
    assert_eq!(s, 409);
    assert!(d.contains("Idempotency-Key `order-1`"), "{d}");
    let theirs = post(&other.token, "order-1", &body).await.unwrap();
    assert_eq!(theirs.status(), 201);
    let (s, d) = detail_of(post(&k.token, "has space", &body).await.unwrap()).await;
    assert_eq!(s, 400);
    assert!(d.contains("visible ASCII"), "{d}");

    // Two retries racing each other still make one generation.
    let (a, b) = tokio::join!(
        post(&k.token, "order-2", &changed),
        post(&k.token, "order-2", &changed)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201]);
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["id"], b["id"]);
    let list: Value = t.get(&k.token, "/generations").await.json().await.unwrap();
    assert_eq!(list["count"], 2);
    assert_eq!(remaining(&t.get(&k.token, "/credits").await), Some(0.98));
    // Leftover inputs of the losing racer were removed.
    let inputs = std::fs::read_dir(t.dir.path().join("blobs/inputs"))
        .unwrap()
        .count();
    assert_eq!(
        inputs, 3,
        "one input folder per stored generation (two ours, one theirs)"
    );
}

#[tokio::test]
async fn openapi_json_documents_every_route() {
    let t = TestServer::start().await;
    let doc: Value = reqwest::get(format!("{}/openapi.json", t.base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/dream-machine/v1/generations/video/modify", "post"),
        ("/dream-machine/v1/generations/{id}", "get"),
        ("/dream-machine/v1/generations/{id}", "delete"),
        ("/dream-machine/v1/generations/{id}/cancel", "post"),
        ("/dream-machine/v1/generations/{id}/video", "get"),
        ("/dream-machine/v1/generations", "get"),
        ("/dream-machine/v1/credits", "get"),
        ("/v1/modify-video", "post"),
        ("/v2/modify-video", "post"),
        ("/v2/requests/{id}/status", "get"),
        ("/v2/requests/{id}", "get"),
        ("/api/v1/luma/modify_video", "post"),
        ("/api/v1/tasks/{task_id}", "get"),
        ("/api/v1/tasks/{task_id}", "delete"),
        ("/api/v1/tasks/{task_id}/cancel", "post"),
        ("/api/v1/luma/modify_video/{task_id}", "get"),
        ("/api/v1/luma/modify_video/{task_id}", "delete"),
        ("/api/v1/luma/modify_video/{task_id}/cancel", "post"),
        ("/v1/uploads", "post"),
        ("/healthz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let modify = &paths["/dream-machine/v1/generations/video/modify"]["post"]["responses"];
    for code in [
        "200", "201", "400", "401", "402", "409", "413", "415", "422", "429", "500", "502", "504",
    ] {
        assert!(
            modify.get(code).is_some(),
            "create does not document {code}"
        );
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("bearer") && schemes.contains_key("api_key"));
    let modes = &doc["components"]["schemas"]["ModeName"]["enum"];
    assert_eq!(modes.as_array().unwrap().len(), 9, "{modes}");
}
