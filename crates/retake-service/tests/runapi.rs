//! RunAPI's task surface against the real server on loopback: the page's `curl` quickstart
//! run as written (base URL changed, media fields added) through to a downloaded MP4 and an
//! exact per-call charge; failures not charged; every refusal the page's users can hit;
//! cancel, delete and idempotency; tasks and generations seen from both surfaces; and the
//! model catalogue's per-model limits and prices on the Luma surface.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use common::*;
use retake_service::MediaPipeline;
use serde_json::{json, Value};

/// The body of every callback a test server received.
#[derive(Clone, Default)]
struct Callbacks(Arc<Mutex<Vec<Value>>>);

async fn receive(State(c): State<Callbacks>, body: String) {
    if let Ok(v) = serde_json::from_str(&body) {
        c.0.lock().unwrap().push(v);
    }
}

async fn callback_server() -> (Callbacks, String) {
    let callbacks = Callbacks::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/done", post(receive))
        .with_state(callbacks.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (callbacks, url)
}

async fn get_at(t: &TestServer, token: &str, path: &str) -> reqwest::Response {
    t.http
        .get(format!("{}{path}", t.base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post_at(t: &TestServer, token: &str, path: &str, body: Value) -> reqwest::Response {
    t.http
        .post(format!("{}{path}", t.base()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn balance(t: &TestServer, token: &str) -> f64 {
    let c: Value = t.get(token, "/credits").await.json().await.unwrap();
    c["credit_balance"].as_f64().unwrap()
}

/// Polls a task until `status` is final (or panics after `secs`).
async fn wait_task(t: &TestServer, token: &str, id: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let task: Value = get_at(t, token, &format!("/api/v1/tasks/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if task["status"] == "completed" || task["status"] == "failed" {
            return task;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task {id} never finished: {task}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_curl_quickstart_runs_to_a_video_and_charges_exactly_the_call_price() {
    let t = TestServer::start_with(|_| {}, Arc::new(FailOnPrompt(MediaPipeline::default()))).await;
    let files = Files::start().await;
    let k = t.key("runapi", 1.0).await;
    let clip_path = small_clip();
    let media = files.put("park-walk.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("first.png", edited_first_frame(&clip_path));

    // The page's quickstart, as a shell runs it: only the host differs, and the media
    // fields are added (a prompt alone needs a diffusion model this server does not have).
    let line = format!(
        r#"curl -X POST {}/api/v1/luma/modify_video \
  -H "Authorization: Bearer $RUNAPI_KEY" \
  -H "Content-Type: application/json" \
  -d '{{ "model": "luma-modify-video", "prompt": "a foggy autumn morning", "source_video_url": "{media}", "first_frame_url": "{first}" }}'"#,
        t.base()
    );
    let token = k.token.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .args(["-c", &line])
            .env("RUNAPI_KEY", token)
            .output()
    })
    .await
    .unwrap()
    .expect("curl runs (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let task: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = task["task_id"].as_str().unwrap().to_string();
    assert_eq!(task["status"], "pending", "{task}");
    assert_eq!(task["model"], "luma-modify-video");
    assert_eq!(task["cost"], 0.5);
    assert_eq!(task["credit_state"], "reserved");
    assert_eq!(task["input"]["source_video_url"], json!(media));
    assert_eq!(task["input"]["mode"], "adhere_1", "the default mode");
    assert_eq!(
        task["poll_url"],
        json!(format!("{}/api/v1/tasks/{id}", t.base()))
    );

    let done = wait_task(&t, &k.token, &id, 60).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert!(done["error"].is_null());
    assert_eq!(done["credit_state"], "charged");
    assert!(done["updated_at"].as_str().unwrap() >= done["created_at"].as_str().unwrap());
    assert!(done["output"]["expires_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    // The signed link serves the MP4: 24 fps, the source's 24 frames and 1 s.
    let url = done["output"]["video_url"].as_str().unwrap();
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let probe = retake_testkit::ffprobe_json(
        file.path(),
        &["-show_streams", "-show_format", "-count_frames"],
    );
    let v = &probe["streams"][0];
    assert_eq!(v["r_frame_rate"], "24/1");
    assert_eq!(v["nb_read_frames"], "24");
    let seconds: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((seconds - 1.0).abs() < 0.05, "duration {seconds}");

    // Exactly the per-call price was charged, once.
    assert_eq!(balance(&t, &k.token).await, 0.5);
    // The same task from the Luma surface and under the model's own path.
    let g: Value = t
        .get(&k.token, &format!("/generations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (g["state"].as_str(), g["model"].as_str()),
        (Some("completed"), Some("luma-modify-video"))
    );
    let again: Value = get_at(&t, &k.token, &format!("/api/v1/luma/modify_video/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["task_id"].as_str(), again["status"].as_str()),
        (Some(id.as_str()), Some("completed"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_not_charged_and_every_refusal_says_what_to_send() {
    let t = TestServer::start_with(|_| {}, Arc::new(FailOnPrompt(MediaPipeline::default()))).await;
    let files = Files::start().await;
    let (callbacks, hook) = callback_server().await;
    let k = t.key("runapi", 1.0).await;
    let poor = t.key("poor", 0.25).await;
    let clip_path = small_clip();
    let media = files.put("clip.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("first.png", edited_first_frame(&clip_path));
    let create = "/api/v1/luma/modify_video";
    let body = |extra: Value| {
        let mut b = json!({"model": "luma-modify-video", "prompt": "fog",
                           "source_video_url": media, "first_frame_url": first});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };

    // Accepted, then failing in the worker: failed with the reason, released, not charged,
    // and the callback gets the task in this surface's shape.
    let resp = post_at(
        &t,
        &k.token,
        create,
        body(json!({"prompt": "__fail__", "callback_url": hook})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        remaining(&resp),
        Some(0.5),
        "the price is held while it runs"
    );
    let id = resp.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = wait_task(&t, &k.token, &id, 60).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "input");
    assert!(failed["error"]["message"]
        .as_str()
        .unwrap()
        .contains("re-encode"));
    assert_eq!(failed["credit_state"], "released");
    assert!(failed["output"].is_null());
    assert_eq!(balance(&t, &k.token).await, 1.0);
    for _ in 0..100 {
        if callbacks.0.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen: Vec<(String, String)> = callbacks
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["task_id"].as_str().unwrap_or("").into(),
                v["status"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (id.clone(), "processing".into()),
            (id.clone(), "failed".into())
        ]
    );

    // Refused at create (not a video): 422 under this surface's field name, nothing held.
    let resp = post_at(
        &t,
        &k.token,
        create,
        body(json!({"source_video_url": first})),
    )
    .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(remaining(&resp), Some(1.0));
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["code"], "unreadable_media");
    let d = e["detail"].as_str().unwrap();
    assert!(
        d.contains("source_video_url") && !d.contains("media.url"),
        "{d}"
    );

    // The page's quickstart body as printed has no video: 400 naming the field.
    let resp = post_at(
        &t,
        &k.token,
        create,
        json!({"model": "luma-modify-video", "prompt": "..."}),
    )
    .await;
    let (s, d) = detail_of(resp).await;
    assert_eq!(s, 400);
    assert!(d.contains("source_video_url is required"), "{d}");

    // A wrong model id, including another surface's: 400 naming the accepted one.
    for model in ["luma-modify", "ray-2"] {
        let (s, d) =
            detail_of(post_at(&t, &k.token, create, body(json!({"model": model}))).await).await;
        assert_eq!(s, 400);
        assert!(
            d.contains(&format!("model `{model}` is unknown")) && d.contains("`luma-modify-video`"),
            "{d}"
        );
    }

    // A bad key and a key short of the price.
    let resp = post_at(&t, "rtk_nope_nope", create, body(json!({}))).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "unauthorized");
    let (s, d) = detail_of(post_at(&t, &poor.token, create, body(json!({}))).await).await;
    assert_eq!(s, 402);
    assert!(
        d.contains("costs 0.50 credits (luma-modify-video: 0.50 credits per call)"),
        "{d}"
    );
    assert!(
        !d.contains("smaller clip"),
        "the size does not change a per-call price: {d}"
    );
    assert_eq!(balance(&t, &k.token).await, 1.0, "nothing was charged");
}

#[tokio::test]
async fn tasks_cancel_delete_replay_and_show_up_on_both_surfaces() {
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.catalogue = serde_json::from_value(json!({
                "luma-modify-video": {"price": {"per_call": 0.75}}
            }))
            .unwrap();
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let k = t.key("runapi", 3.0).await;
    let other = t.key("other", 3.0).await;
    let clip_path = small_clip();
    let media = files.put("clip.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("first.png", edited_first_frame(&clip_path));
    // Luma's and Segmind's spellings of the inputs are read too.
    let body = json!({"model": "luma-modify-video", "video_url": media,
                      "first_frame": {"url": first}, "mode": "flex_2"});
    let create = |key: &'static str| {
        t.http
            .post(format!("{}/api/v1/luma/modify_video", t.base()))
            .bearer_auth(&k.token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let resp = create("order-1").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        remaining(&resp),
        Some(2.25),
        "the configured per-call price is held"
    );
    let task: Value = resp.json().await.unwrap();
    let id = task["task_id"].as_str().unwrap().to_string();
    assert_eq!(
        (task["cost"].as_f64(), task["input"]["mode"].as_str()),
        (Some(0.75), Some("flex_2"))
    );
    let resp = create("order-1").await.unwrap();
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    assert_eq!(remaining(&resp), Some(2.25), "a replay holds nothing more");
    assert_eq!(resp.json::<Value>().await.unwrap()["task_id"], json!(id));

    // Cancel: failed as cancelled, released; twice is a conflict.
    let c: Value = post_at(
        &t,
        &k.token,
        &format!("/api/v1/tasks/{id}/cancel"),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (c["status"].as_str(), c["error"]["code"].as_str()),
        (Some("failed"), Some("cancelled"))
    );
    assert_eq!(c["credit_state"], "released");
    assert_eq!(balance(&t, &k.token).await, 3.0);
    let resp = post_at(
        &t,
        &k.token,
        &format!("/api/v1/luma/modify_video/{id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(resp.status(), 409);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "conflict");

    // A generation made on the Luma surface reads here as a task, and the reverse.
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
    let gid = g["id"].as_str().unwrap();
    let as_task: Value = get_at(&t, &k.token, &format!("/api/v1/tasks/{gid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (as_task["status"].as_str(), as_task["model"].as_str()),
        (Some("pending"), Some("ray-2"))
    );
    assert_eq!(as_task["cost"], 0.01);
    let as_gen: Value = t
        .get(&k.token, &format!("/generations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_gen["state"], "failed");
    assert_eq!(as_gen["request"]["media"]["url"], json!(media));

    // Another key sees none of it.
    assert_eq!(
        get_at(&t, &other.token, &format!("/api/v1/tasks/{id}"))
            .await
            .status(),
        404
    );
    // Delete under either path; then it is gone from both surfaces.
    for (path, gone) in [
        (format!("/api/v1/luma/modify_video/{id}"), id.clone()),
        (format!("/api/v1/tasks/{gid}"), gid.to_string()),
    ] {
        let resp = t
            .http
            .delete(format!("{}{path}", t.base()))
            .bearer_auth(&k.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{path}");
        let (s, _) = detail_of(get_at(&t, &k.token, &format!("/api/v1/tasks/{gone}")).await).await;
        assert_eq!(s, 404);
        assert_eq!(
            t.get(&k.token, &format!("/generations/{gone}"))
                .await
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn each_legacy_model_is_held_to_its_own_limit_and_charged_its_own_price() {
    // Prices raised so the small test clip's costs differ; limits are the built-in ones.
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.catalogue = serde_json::from_value(json!({
                "ray-2": {"price": {"per_mpx": 10.0}},
                "ray-flash-2": {"price": {"per_mpx": 1.0}},
            }))
            .unwrap();
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let k = t.key("luma", 20.0).await;
    let short = small_clip();
    let long = retake_testkit::clip_from(
        "svc-12s.mp4",
        &[
            retake_testkit::pattern("96x64", "24", 12.0),
            retake_testkit::args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let first = files.put("first.png", edited_first_frame(&short));
    let long_first = files.put("long-first.png", edited_first_frame(&long));
    let short_url = files.put("short.mp4", std::fs::read(&short).unwrap());
    let long_url = files.put("long.mp4", std::fs::read(&long).unwrap());
    let create = |media: &str, first: &str, model: &str| {
        let mut b = luma_body(media, Some(first));
        b["model"] = json!(model);
        t.post_json(&k.token, "/generations/video/modify", b)
    };

    // 128×96 × 24 frames = 0.294912 million pixels.
    let resp = create(&short_url, &first, "ray-2").await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        remaining(&resp),
        Some(17.05),
        "ray-2 at 10 per million pixels: 2.95"
    );
    let resp = create(&short_url, &first, "ray-flash-2").await;
    assert_eq!(resp.status(), 201);
    assert_eq!(
        remaining(&resp),
        Some(16.76),
        "ray-flash-2 at 1 per million pixels: 0.29"
    );

    // 12 s: over ray-2's 10 s, within ray-flash-2's 15 s.
    let (s, d) = detail_of(create(&long_url, &long_first, "ray-2").await).await;
    assert_eq!(s, 413);
    assert!(
        d.contains("12.0 s") && d.contains("`ray-2` takes clips up to 10 s"),
        "{d}"
    );
    assert!(d.contains("use model `ray-flash-2` (up to 15 s)"), "{d}");
    let resp = create(&long_url, &long_first, "ray-flash-2").await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn json_bodies_over_256_kb_are_413_on_the_segmind_and_runapi_creates() {
    let t = TestServer::start_with(|c| c.workers = 0, Arc::new(MediaPipeline::default())).await;
    let k = t.key("big", 1.0).await;
    let big = json!({"video_url": "https://example.com/a.mp4", "source_video_url": "https://example.com/a.mp4",
                     "model": "luma-modify-video", "prompt": "x".repeat(300 * 1024)})
    .to_string();
    for path in [
        "/v1/modify-video",
        "/v2/modify-video",
        "/api/v1/luma/modify_video",
    ] {
        let resp = t
            .http
            .post(format!("{}{path}", t.base()))
            .header("x-api-key", &k.token)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        // Refused from Content-Length before the key is even looked at (so no credits header).
        assert_eq!(resp.status(), 413, "{path}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["code"], "too_large", "{path}");
        assert!(e["detail"].as_str().unwrap().contains("256 KB"), "{e}");
        // Streamed without a declared length, it is cut off at the cap all the same.
        let answer = chunked_post(&t, path, &k.token, big.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(
            answer.contains("\"too_large\"") && answer.contains("256 KB"),
            "{answer}"
        );
    }
}

/// POSTs `body` as JSON with `Transfer-Encoding: chunked` (no length up front) over a plain
/// socket, and returns the raw answer.
async fn chunked_post(t: &TestServer, path: &str, key: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.base().trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nx-api-key: {key}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\
         connection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(16 * 1024) {
        // The server may answer and stop reading before the end; that is the point.
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if s.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}
