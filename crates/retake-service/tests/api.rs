//! End-to-end tests of the Luma-compatible API: the real server on loopback, driven by
//! reqwest, with inputs served by a loopback file server and clips made by ffmpeg.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine as _;
use common::*;
use hmac::Mac;
use retake_service::{ClipPipeline, PipelineError, PipelineJob, PipelineOutput};
use serde_json::{json, Value};

fn modify_body(media: &str, first: Option<&str>) -> Value {
    let mut b = json!({
        "generation_type": "modify_video",
        "media": {"url": media},
        "mode": "flex_1",
        "model": "ray-2",
        "prompt": "make it green",
    });
    if let Some(f) = first {
        b["first_frame"] = json!({ "url": f });
    }
    b
}

async fn detail(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body["detail"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn auth_errors_are_401_with_a_detail() {
    let t = TestServer::start().await;
    let url = t.url("/credits");
    let cases = [
        (None, "missing API key"),
        (Some("Basic abc".to_string()), "Bearer"),
        (Some("Bearer rtk_nope_nope".to_string()), "invalid API key"),
        (Some("Bearer garbage".to_string()), "invalid API key"),
    ];
    for (header, want) in cases {
        let mut req = t.http.get(&url);
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let resp = req.send().await.unwrap();
        assert!(
            remaining(&resp).is_none(),
            "no credits header without a key"
        );
        let (status, d) = detail(resp).await;
        assert_eq!(status, 401, "{header:?}");
        assert!(d.contains(want), "{header:?}: {d}");
    }
    // Right id, wrong secret.
    let k = t.key("a", 10.0).await;
    let forged = format!("{}x", k.token);
    let (status, _) = detail(t.get(&forged, "/credits").await).await;
    assert_eq!(status, 401);
    // Revoked.
    retake_service::Admin::open(&t.config)
        .await
        .unwrap()
        .revoke_key(&k.id)
        .await
        .unwrap();
    let (status, d) = detail(t.get(&k.token, "/credits").await).await;
    assert_eq!(status, 401);
    assert!(d.contains("revoked"), "{d}");
}

#[tokio::test]
async fn bad_requests_are_refused_with_what_to_fix() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("a", 10.0).await;
    let clip = files.put("c.mp4", std::fs::read(small_clip()).unwrap());
    let garbage = files.put("g.mp4", b"this is not a video at all".to_vec());
    let blocked = files.redirect("r.mp4", "http://169.254.169.254/latest/meta-data");
    let jpeg = retake_testkit::scratch("svc-first.jpg");
    retake_testkit::ffmpeg(&[
        "-i",
        &small_clip().to_string_lossy(),
        "-frames:v",
        "1",
        &jpeg.to_string_lossy(),
    ]);
    let jpeg = std::fs::read(&jpeg).unwrap();
    let cut_jpeg = files.put("cut.jpg", jpeg[..jpeg.len() * 2 / 3].to_vec());
    let resp = t
        .http
        .post(t.url("/generations/video/modify"))
        .bearer_auth(&k.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(remaining(&resp), Some(10.0), "credits header on errors too");
    let (s, d) = detail(resp).await;
    assert_eq!(s, 400);
    assert!(d.contains("JSON"), "{d}");
    let cases = [
        (
            json!({"mode": "flex_1", "model": "ray-2"}),
            400,
            "media.url is required",
        ),
        (
            json!({"media": {"url": clip}, "mode": "wild_9", "model": "ray-2"}),
            400,
            "mode `wild_9`",
        ),
        (
            json!({"media": {"url": clip}, "mode": "flex_1", "model": "ray-9"}),
            400,
            "model `ray-9`",
        ),
        (modify_body(&clip, None), 400, "no diffusion model"),
        (json!({"media": {"url": clip}}), 400, "nothing to change"),
        (
            json!({"media": {"url": clip}, "first_frame": {"url": clip},
                   "callback_url": "http://169.254.169.254/latest"}),
            400,
            "callback_url: 169.254.169.254",
        ),
        (
            json!({"media": {"url": clip}, "first_frame": {"url": clip},
                   "callback_url": "http://[::1]:9/cb"}),
            400,
            "loopback",
        ),
        (
            modify_body("file:///etc/passwd", Some(&clip)),
            400,
            "http:// or https://",
        ),
        (
            modify_body("http://10.1.2.3/x.mp4", Some(&clip)),
            400,
            "private",
        ),
        (modify_body(&blocked, Some(&clip)), 400, "169.254.169.254"),
        (modify_body(&garbage, Some(&clip)), 422, "media.url"),
        (
            modify_body(&files.url("missing.mp4"), Some(&clip)),
            422,
            "404",
        ),
        (modify_body(&clip, Some(&clip)), 422, "first_frame.url"),
        (modify_body(&clip, Some(&garbage)), 422, "first_frame.url"),
        (modify_body(&clip, Some(&cut_jpeg)), 422, "ends early"),
    ];
    let data_dir = t.dir.path().to_string_lossy().into_owned();
    for (body, status, want) in cases {
        let (s, d) = detail(
            t.post_json(&k.token, "/generations/video/modify", body.clone())
                .await,
        )
        .await;
        assert_eq!(s, status, "{body}: {d}");
        assert!(d.contains(want), "{body}: {d}");
        assert!(
            !d.contains(&data_dir) && !d.contains("blobs/"),
            "a server path leaked: {d}"
        );
    }
    let (s, d) = detail(t.get(&k.token, "/generations?limit=abc").await).await;
    assert_eq!(s, 400);
    assert!(d.contains("limit"), "{d}");
    let (s, _) = detail(t.get(&k.token, "/generations/not-a-uuid").await).await;
    assert_eq!(s, 404);
    // Nothing was reserved by any of these.
    let credits: Value = t.get(&k.token, "/credits").await.json().await.unwrap();
    assert_eq!(credits["credit_balance"], 10.0);
}

#[tokio::test]
async fn over_the_byte_cap_is_413_and_loopback_is_refused_without_the_allow_list() {
    let t = TestServer::start_with(
        |c| c.max_bytes = 1000,
        Arc::new(retake_service::MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let k = t.key("a", 10.0).await;
    let clip = files.put("c.mp4", std::fs::read(small_clip()).unwrap());
    let (s, d) = detail(
        t.post_json(
            &k.token,
            "/generations/video/modify",
            modify_body(&clip, Some(&clip)),
        )
        .await,
    )
    .await;
    assert_eq!(s, 413, "{d}");
    assert!(d.contains("limit"), "{d}");

    let strict = TestServer::start_with(
        |c| c.fetch_allow.clear(),
        Arc::new(retake_service::MediaPipeline::default()),
    )
    .await;
    let k = strict.key("a", 10.0).await;
    let (s, d) = detail(
        strict
            .post_json(
                &k.token,
                "/generations/video/modify",
                modify_body(&clip, Some(&clip)),
            )
            .await,
    )
    .await;
    assert_eq!(s, 400);
    assert!(d.contains("loopback"), "{d}");
}

#[tokio::test]
async fn short_of_credits_is_402_and_reserves_nothing() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("poor", 0.0).await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let resp = t
        .post_json(
            &k.token,
            "/generations/video/modify",
            modify_body(&clip, Some(&first)),
        )
        .await;
    assert_eq!(remaining(&resp), Some(0.0));
    let (s, d) = detail(resp).await;
    assert_eq!(s, 402);
    assert!(
        d.contains("costs 0.01 credits") && d.contains("0.00 available"),
        "{d}"
    );
    let list: Value = t.get(&k.token, "/generations").await.json().await.unwrap();
    assert_eq!(list["count"], 0);
}

#[derive(Clone, Default)]
struct Hooks(Arc<Mutex<Vec<(HeaderMap, String)>>>);

async fn hook(
    axum::extract::State(h): axum::extract::State<Hooks>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    let mut seen = h.0.lock().unwrap();
    seen.push((headers, String::from_utf8_lossy(&body).into_owned()));
    // Refuse the very first delivery so a retry is exercised.
    if seen.len() == 1 {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    } else {
        axum::http::StatusCode::OK
    }
}

async fn hook_server() -> (Hooks, String) {
    let hooks = Hooks::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(hooks.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hooks, url)
}

fn verify_signature(secret: &str, headers: &HeaderMap, body: &str) {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&raw).unwrap();
    m.update(format!("{id}.{ts}.{body}").as_bytes());
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
    );
    assert_eq!(sig, want, "signature of {body}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts.parse::<i64>().unwrap()).abs() < 60);
}

#[tokio::test]
async fn create_poll_download_list_delete_with_credits_and_webhooks() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let (hooks, hook_url) = hook_server().await;
    let k = t.key("a", 5.0).await;
    let other = t.key("b", 5.0).await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let mut body = modify_body(&clip, Some(&first));
    body["callback_url"] = json!(hook_url);
    body["mode"] = json!("Reimagine_2");

    let resp = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await;
    assert_eq!(resp.status(), 201);
    // 128×96 × 24 frames costs the minimum, 0.01, reserved at once.
    assert_eq!(remaining(&resp), Some(4.99));
    let g: Value = resp.json().await.unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["state"], "queued");
    assert_eq!(g["generation_type"], "modify_video");
    assert_eq!(g["model"], "ray-2");
    assert_eq!(
        g["request"]["mode"], "reimagine_2",
        "the echo is normalised"
    );
    assert_eq!(g["request"]["media"]["url"], json!(clip));
    assert!(g["created_at"].as_str().unwrap().ends_with('Z'));

    // Another key cannot see, fetch or delete it.
    assert_eq!(
        t.get(&other.token, &format!("/generations/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        t.get(&other.token, &format!("/generations/{id}/video"))
            .await
            .status(),
        404
    );
    let del = t
        .http
        .delete(t.url(&format!("/generations/{id}")))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 404);

    let done = t.wait_done(&k.token, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert!(done["failure_reason"].is_null());
    let video_url = done["assets"]["video"].as_str().unwrap().to_string();

    // The signed link works without a key; the bytes are an MP4 of the clip's size.
    let mp4 = reqwest::get(&video_url).await.unwrap();
    assert_eq!(mp4.status(), 200);
    assert_eq!(mp4.headers()["content-type"], "video/mp4");
    let bytes = mp4.bytes().await.unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(out.path(), &bytes).unwrap();
    let probe = retake_testkit::ffprobe_json(out.path(), &["-show_streams", "-count_frames"]);
    let v = &probe["streams"][0];
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(128), Some(96))
    );
    assert_eq!(v["nb_read_frames"], "24");
    // A tampered link is refused; the owner's key works without one.
    let tampered = video_url.replace("sig=", "sig=AAAA");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
    let by_key = t.get(&k.token, &format!("/generations/{id}/video")).await;
    assert_eq!(by_key.headers()["accept-ranges"], "bytes");
    assert_eq!(by_key.bytes().await.unwrap(), bytes);
    // An `expires` that is not a Unix time is a bad request, key or not.
    let odd = format!("/generations/{id}/video?expires=9223372036854775808");
    let (s, d) = detail_of(t.get(&k.token, &odd).await).await;
    assert_eq!(s, 400);
    assert!(d.contains("expires"), "{d}");

    // Ranges, so players can seek: a slice, the tail, one past the end, a stale If-Range.
    let ranged = |range: &str| {
        t.http
            .get(&video_url)
            .header("range", range.to_string())
            .send()
    };
    let n = bytes.len();
    let part = ranged("bytes=100-199").await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{n}")
    );
    assert_eq!(part.headers()["content-length"], "100");
    let etag = part.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(part.bytes().await.unwrap(), bytes[100..200]);
    let tail = ranged("bytes=-10").await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), bytes[n - 10..]);
    let open = ranged(&format!("bytes={}-", n - 5)).await.unwrap();
    assert_eq!(open.bytes().await.unwrap(), bytes[n - 5..]);
    let past = ranged(&format!("bytes={n}-")).await.unwrap();
    assert_eq!(past.status(), 416);
    assert_eq!(past.headers()["content-range"], format!("bytes */{n}"));
    assert_eq!(
        past.json::<Value>().await.unwrap()["code"],
        "range_not_satisfiable"
    );
    let same = t
        .http
        .get(&video_url)
        .header("range", "bytes=0-9")
        .header("if-range", etag.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 206);
    let stale = t
        .http
        .get(&video_url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200, "a stale If-Range gets the whole file");
    assert_eq!(stale.bytes().await.unwrap().len(), n);

    // Charged exactly once: 5.00 − 0.01.
    let credits = t.get(&k.token, "/credits").await;
    assert_eq!(remaining(&credits), Some(4.99));
    assert_eq!(
        credits.json::<Value>().await.unwrap()["credit_balance"],
        4.99
    );

    let list: Value = t
        .get(&k.token, "/generations?limit=5&offset=0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 1);
    assert_eq!(list["has_more"], false);
    assert_eq!(list["generations"][0]["id"], json!(id));
    let none: Value = t
        .get(&other.token, "/generations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["count"], 0);

    // Webhooks: dreaming then completed, signed; the first delivery was refused and retried.
    for _ in 0..100 {
        let states: Vec<String> = hooks
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| {
                serde_json::from_str::<Value>(b).unwrap()["state"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if states.last().map(String::as_str) == Some("completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = hooks.0.lock().unwrap().clone();
    let states: Vec<String> = seen
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        states,
        ["dreaming", "dreaming", "completed"],
        "retry of the refused first delivery, in order"
    );
    assert_eq!(
        seen[0].0["webhook-id"], seen[1].0["webhook-id"],
        "a retry keeps its message id"
    );
    assert_eq!(
        seen[0].0["webhook-id"],
        format!("msg_{}_dreaming", id.replace('-', "")).as_str(),
        "one id per event, from the generation and the event"
    );
    // How delivery went is on the generation: the refused first try, then delivered.
    let g = wait_for(&t, &k.token, &id, 10, |g| {
        g["webhooks"][1]["status"] == "delivered"
    })
    .await;
    assert_eq!(g["webhooks"][0]["event"], "dreaming", "{g}");
    assert_eq!(g["webhooks"][0]["status"], "delivered", "{g}");
    assert_eq!(g["webhooks"][0]["attempts"], 2, "{g}");
    assert_eq!(g["webhooks"][1]["event"], "completed", "{g}");
    for (headers, body) in &seen {
        verify_signature(&k.webhook_secret, headers, body);
    }

    let del = t
        .http
        .delete(t.url(&format!("/generations/{id}")))
        .bearer_auth(&k.token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    assert_eq!(
        t.get(&k.token, &format!("/generations/{id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        reqwest::get(&video_url).await.unwrap().status(),
        404,
        "the file went with it"
    );
    assert_eq!(
        remaining(&t.get(&k.token, "/credits").await),
        Some(4.99),
        "deleting does not refund a charge"
    );
}

/// A pipeline that fails the way a bad input does (test double; the real one is MediaPipeline).
struct Failing;

impl ClipPipeline for Failing {
    fn run(
        &self,
        job: &PipelineJob,
        progress: &dyn Fn(u8),
        _: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        progress(30);
        // Messages from deep inside the pipeline name files by their path on the server.
        let first = job.first_frame.as_ref().unwrap();
        Err(PipelineError::Input(format!(
            "{}: frame 7 could not be decoded; re-encode the clip (the first frame {} is fine; \
             scratch space {})",
            job.input.display(),
            first.display(),
            job.output.display()
        )))
    }
}

#[tokio::test]
async fn a_failed_generation_says_why_and_releases_its_credits() {
    let t = TestServer::start_with(|_| {}, Arc::new(Failing)).await;
    let files = Files::start().await;
    let (hooks, hook_url) = hook_server().await;
    let k = t.key("a", 1.0).await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let mut body = modify_body(&clip, Some(&first));
    body["callback_url"] = json!(hook_url);
    let g: Value = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await
        .json()
        .await
        .unwrap();
    let done = t.wait_done(&k.token, g["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed");
    let reason = done["failure_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("media.url: frame 7") && reason.contains("re-encode"),
        "{done}"
    );
    assert!(
        reason.contains("the first frame first_frame.url is fine")
            && reason.contains("scratch space <data>"),
        "the fields are named, other paths hidden: {reason}"
    );
    assert!(
        !reason.contains(&*t.dir.path().to_string_lossy()),
        "{reason}"
    );
    assert!(done["assets"]["video"].is_null());
    assert_eq!(
        remaining(&t.get(&k.token, "/credits").await),
        Some(1.0),
        "released, not charged"
    );
    for _ in 0..100 {
        if hooks.0.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = hooks.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&last.1).unwrap()["state"],
        "failed"
    );
}

/// Holds the job until released, like a worker stuck mid-clip (test double).
struct Stuck(Arc<AtomicBool>);

impl ClipPipeline for Stuck {
    fn run(
        &self,
        _: &PipelineJob,
        _: &dyn Fn(u8),
        cancel: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        while !self.0.load(Ordering::Relaxed) && !cancel.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(PipelineError::Cancelled)
    }
}

#[tokio::test]
async fn a_job_whose_server_died_runs_again_after_restart_and_is_charged_once() {
    let files = Files::start().await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let release = Arc::new(AtomicBool::new(false));
    let mut a = TestServer::start_with(|_| {}, Arc::new(Stuck(release.clone()))).await;
    let k = a.key("a", 1.0).await;
    let g: Value = a
        .post_json(
            &k.token,
            "/generations/video/modify",
            modify_body(&clip, Some(&first)),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        let s: Value = a
            .get(&k.token, &format!("/generations/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if s["state"] == "dreaming" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // "Crash": stop serving and heartbeating; the lease is left to expire.
    a.server.take().unwrap().shutdown().await;
    release.store(true, Ordering::Relaxed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = retake_service::start(
        a.config.clone(),
        Arc::new(retake_service::MediaPipeline::default()),
        listener,
    )
    .await
    .unwrap();
    a.server = Some(b);
    let done = a.wait_done(&k.token, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(remaining(&a.get(&k.token, "/credits").await), Some(0.99));
    let list: Value = a.get(&k.token, "/generations").await.json().await.unwrap();
    assert_eq!(list["count"], 1, "nothing duplicated");
}

#[tokio::test]
async fn uploads_can_be_used_by_their_key_only() {
    let t = TestServer::start().await;
    let k = t.key("a", 1.0).await;
    let other = t.key("b", 1.0).await;
    let clip_path = small_clip();
    let up = |token: String, bytes: Vec<u8>| {
        let req = t
            .http
            .post(format!("{}/v1/uploads", t.base()))
            .bearer_auth(token)
            .body(bytes);
        async move { req.send().await.unwrap() }
    };
    let clip: Value = up(k.token.clone(), std::fs::read(&clip_path).unwrap())
        .await
        .json()
        .await
        .unwrap();
    let first: Value = up(k.token.clone(), edited_first_frame(&clip_path))
        .await
        .json()
        .await
        .unwrap();
    let (s, d) = detail(up(k.token.clone(), Vec::new()).await).await;
    assert_eq!(s, 400, "{d}");
    let body = modify_body(clip["url"].as_str().unwrap(), first["url"].as_str());
    let (s, d) = detail(
        t.post_json(&other.token, "/generations/video/modify", body.clone())
            .await,
    )
    .await;
    assert_eq!(s, 404, "another key's upload is not there for it: {d}");
    assert!(d.contains("no upload"), "{d}");
    let g: Value = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await
        .json()
        .await
        .unwrap();
    let done = t.wait_done(&k.token, g["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    // Revoking the key stops its links too.
    let link = done["assets"]["video"].as_str().unwrap();
    assert_eq!(reqwest::get(link).await.unwrap().status(), 200);
    retake_service::Admin::open(&t.config)
        .await
        .unwrap()
        .revoke_key(&k.id)
        .await
        .unwrap();
    let (s, d) = detail(reqwest::get(link).await.unwrap()).await;
    assert_eq!(s, 403, "{d}");
    assert!(d.contains("revoked"), "{d}");
}

#[tokio::test]
async fn healthz_and_unknown_routes() {
    let t = TestServer::start().await;
    let h: Value = reqwest::get(format!("{}/healthz", t.base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let (s, d) = detail(reqwest::get(format!("{}/nope", t.base())).await.unwrap()).await;
    assert_eq!(s, 404);
    assert!(d.contains("/dream-machine/v1"), "{d}");
}

/// An `/agents/v1` edit with a callback is announced in that API's own shape (a
/// `video_edit` generation with its output list), signed like every other webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_edit_posts_its_webhooks_in_the_agents_shape() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let (hooks, hook_url) = hook_server().await;
    let k = t.key("edits", 5.0).await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let body = json!({
        "type": "video_edit",
        "prompt": "",
        "source": {"url": clip, "media_type": "video/mp4"},
        "video": {"edit": {
            "keyframes": [{"url": first, "media_type": "image/png"}],
            "keyframe_indexes": [0],
        }},
        "callback_url": hook_url,
    });
    let resp = t
        .http
        .post(format!("{}/agents/v1/generations", t.base()))
        .bearer_auth(&k.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let g: Value = resp.json().await.unwrap();
    assert!(status == 200 || status == 201, "{status}: {g}");
    let id = g["id"].as_str().unwrap().to_string();
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen = hooks.0.lock().unwrap().clone();
        let last: Option<Value> = seen.last().map(|(_, b)| serde_json::from_str(b).unwrap());
        if last.is_some_and(|l| l["state"] == "completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first delivery is refused by the test's receiver and retried.
    let bodies: Vec<Value> = seen
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let states: Vec<&str> = bodies
        .iter()
        .map(|b| b["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.last(), Some(&"completed"), "{bodies:?}");
    for b in &bodies {
        assert_eq!(b["id"], id.as_str());
        assert_eq!(b["type"], "video_edit", "the agents shape: {b}");
        assert_eq!(b["model"], "ray-3.2", "{b}");
        assert!(
            b.get("generation_type").is_none(),
            "not the Luma shape: {b}"
        );
    }
    let done = bodies.last().unwrap();
    assert_eq!(done["progress"], 100, "{done}");
    let url = done["output"][0]["url"].as_str().unwrap();
    assert_eq!(done["output"][0]["type"], "video", "{done}");
    assert_mp4_at(url).await;
    for (headers, body) in &seen {
        verify_signature(&k.webhook_secret, headers, body);
    }
}
