//! Every error status the API documents, each produced by a real request against the real
//! server on loopback, with the JSON body that says what to fix.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

/// A loopback server that accepts connections and never answers (for the 504).
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    format!("http://{addr}/clip.mp4")
}

/// A loopback URL nobody listens on (for the 502).
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/clip.mp4")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_error_status_comes_from_a_real_request() {
    // No workers: created generations stay queued, which the 409 case needs.
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.max_bytes = 200_000;
            c.rate_limit_per_s = 5.0;
            c.rate_limit_burst = 20.0;
            c.submit_limit_per_min = 1.0;
            c.submit_limit_burst = 1.0;
            c.fetch_timeout = Duration::from_secs(1);
            c.idle_timeout = Duration::from_secs(1);
        },
        std::sync::Arc::new(retake_service::MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let clip_path = small_clip();
    let clip_bytes = std::fs::read(&clip_path).unwrap();
    assert!(clip_bytes.len() < 200_000, "the fixture fits the byte cap");
    let clip = files.put("c.mp4", clip_bytes);
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let garbage = files.put("g.mp4", b"not a video".to_vec());
    let a = t.key("a", 10.0).await;
    let create = "/generations/video/modify";
    let mut seen = Vec::new();

    // 400: a body that is not JSON.
    let resp = t
        .http
        .post(t.url(create))
        .bearer_auth(&a.token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(remaining(&resp), Some(10.0), "credits header on errors");
    let (s, d) = detail_of(resp).await;
    assert_eq!(s, 400);
    assert!(d.contains("JSON object"), "{d}");
    seen.push(s);

    // 401: no key.
    let (s, d) = detail_of(t.http.get(t.url("/credits")).send().await.unwrap()).await;
    assert_eq!(s, 401);
    assert!(d.contains("missing API key"), "{d}");
    seen.push(s);
    // x-api-key works alone, and two different keys are refused rather than guessed at.
    let resp = t
        .http
        .get(t.url("/credits"))
        .header("x-api-key", &a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (s, d) = detail_of(
        t.http
            .get(t.url("/credits"))
            .bearer_auth(&a.token)
            .header("x-api-key", "rtk_other_key")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    assert!(d.contains("different keys"), "{d}");

    // 402: not enough credits for a valid clip.
    let poor = t.key("poor", 0.0).await;
    let resp = t
        .post_json(&poor.token, create, luma_body(&clip, Some(&first)))
        .await;
    assert_eq!(remaining(&resp), Some(0.0));
    let (s, d) = detail_of(resp).await;
    assert_eq!(s, 402);
    assert!(d.contains("retake keys credit"), "{d}");
    seen.push(s);

    // 403: a forged signed link, without a key.
    let (s, d) = detail_of(
        t.http
            .get(t.url(&format!(
                "/generations/{}/video?expires=99999999999&sig=AAAA",
                uuid_like()
            )))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 403);
    assert!(d.contains("GET the generation again"), "{d}");
    seen.push(s);

    // 404: a generation this key does not have.
    let (s, d) = detail_of(
        t.get(&a.token, &format!("/generations/{}", uuid_like()))
            .await,
    )
    .await;
    assert_eq!(s, 404);
    assert!(d.contains("no generation"), "{d}");
    seen.push(s);

    // 409: cancelling a generation twice.
    let b = t.key("b", 10.0).await;
    let g: serde_json::Value = t
        .post_json(&b.token, create, luma_body(&clip, Some(&first)))
        .await
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    let cancel = |token: String| {
        let req = t
            .http
            .post(t.url(&format!("/generations/{id}/cancel")))
            .bearer_auth(token);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(cancel(b.token.clone()).await.status(), 200);
    let (s, d) = detail_of(cancel(b.token.clone()).await).await;
    assert_eq!(s, 409);
    assert!(d.contains("already failed"), "{d}");
    seen.push(s);

    // 413: an upload over the byte cap.
    let (s, d) = detail_of(
        t.http
            .post(format!("{}/v1/uploads", t.base()))
            .bearer_auth(&a.token)
            .body(vec![0u8; 200_001])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 413);
    assert!(d.contains("limit"), "{d}");
    seen.push(s);

    // 405: a method the route does not have, in the same JSON shape.
    let (s, d) = detail_of(
        t.http
            .delete(t.url("/credits"))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 405);
    assert!(d.contains("GET"), "{d}");
    seen.push(s);

    // 408: an upload whose body stops arriving (idle_timeout is 1 s here).
    let mut sock = tokio::net::TcpStream::connect(t.server.as_ref().unwrap().addr())
        .await
        .unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 100\r\n\r\nabc",
        a.token
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), sock.read_to_end(&mut answer))
        .await
        .expect("a stalled body is answered and closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    seen.push(408);

    // 415: a create that is not JSON.
    let (s, d) = detail_of(
        t.http
            .post(t.url(create))
            .bearer_auth(&a.token)
            .header("content-type", "text/plain")
            .body("media=clip.mp4")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 415);
    assert!(d.contains("application/json"), "{d}");
    seen.push(s);

    // 422: a media URL that is not a video.
    let c = t.key("c", 10.0).await;
    let (s, d) = detail_of(
        t.post_json(&c.token, create, luma_body(&garbage, Some(&first)))
            .await,
    )
    .await;
    assert_eq!(s, 422);
    assert!(d.contains("media.url"), "{d}");
    seen.push(s);

    // 429 on requests: a key over its request rate gets Retry-After.
    let flood = t.key("flood", 1.0).await;
    let mut limited = None;
    for _ in 0..40 {
        let resp = t.get(&flood.token, "/credits").await;
        if resp.status() == 429 {
            limited = Some(resp);
            break;
        }
    }
    let resp = limited.expect("40 quick requests never hit a limit of 5/s with bursts of 20");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(remaining(&resp), Some(1.0), "credits header on 429 too");
    let (s, d) = detail_of(resp).await;
    assert_eq!(s, 429);
    assert!(d.contains("rate_limit_per_s"), "{d}");
    seen.push(s);
    // …and other keys are not affected.
    assert_eq!(t.get(&a.token, "/credits").await.status(), 200);

    // 429 on creates: the second create within the minute.
    let e = t.key("e", 10.0).await;
    let (s, _) = detail_of(
        t.post_json(&e.token, create, luma_body(&garbage, Some(&first)))
            .await,
    )
    .await;
    assert_eq!(s, 422, "a refused create spends no token…");
    let resp = t
        .post_json(&e.token, create, luma_body(&clip, Some(&first)))
        .await;
    assert_eq!(resp.status(), 201, "…so the first accepted one has it");
    let resp = t
        .post_json(&e.token, create, luma_body(&clip, Some(&first)))
        .await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30..=60).contains(&retry), "Retry-After {retry}");
    let (_, d) = detail_of(resp).await;
    assert!(d.contains("submit_limit_per_min"), "{d}");

    // 502: the media URL's server is down.
    let f = t.key("f", 10.0).await;
    let (s, d) = detail_of(
        t.post_json(
            &f.token,
            create,
            luma_body(&closed_port().await, Some(&first)),
        )
        .await,
    )
    .await;
    assert_eq!(s, 502);
    assert!(d.contains("could not fetch"), "{d}");
    seen.push(s);

    // 504: the media URL's server never answers (fetch_timeout is 1 s here).
    let g = t.key("g", 10.0).await;
    let (s, d) = detail_of(
        t.post_json(
            &g.token,
            create,
            luma_body(&silent_server().await, Some(&first)),
        )
        .await,
    )
    .await;
    assert_eq!(s, 504);
    assert!(d.contains("did not answer in time"), "{d}");
    seen.push(s);

    // 500: the blob store breaks under the server (its temporary folder becomes a file).
    let tmp = t.dir.path().join("blobs/tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"in the way").unwrap();
    let resp = t
        .http
        .post(format!("{}/v1/uploads", t.base()))
        .bearer_auth(&a.token)
        .body(b"bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "internal");
    assert!(
        body["detail"].as_str().unwrap().contains("server log"),
        "the cause is logged, not shown: {body}"
    );
    seen.push(500);

    seen.sort_unstable();
    assert_eq!(
        seen,
        [400, 401, 402, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 502, 504]
    );
    // Every body had a machine-readable code too (checked on one).
    let body: serde_json::Value = t
        .http
        .get(t.url("/credits"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        json!({"detail": body["detail"], "code": "unauthorized"})
    );
}

fn uuid_like() -> String {
    "0f0e0d0c-0b0a-4908-8706-050403020100".into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_resolution_and_prompt_limits_are_refused_over_http() {
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.max_duration_s = 0.5;
            c.max_input_side = 100;
            c.max_prompt_chars = 50;
        },
        std::sync::Arc::new(retake_service::MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let make = |name: &str, size: &str, seconds: f64| {
        retake_testkit::clip_from(
            name,
            &[
                retake_testkit::pattern(size, "24", seconds),
                retake_testkit::args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
            ],
        )
    };
    let fits = make("svc-limit-fits.mp4", "96x64", 0.4);
    let long = make("svc-limit-long.mp4", "96x64", 1.0);
    let wide = make("svc-limit-wide.mp4", "128x64", 0.4);
    let first = files.put("f.png", edited_first_frame(&fits));
    let a = t.key("a", 10.0).await;
    let create = "/generations/video/modify";

    // A clip that fits every limit is accepted: the refusals below are the limits' doing.
    let url = files.put("fits.mp4", std::fs::read(&fits).unwrap());
    let resp = t
        .post_json(&a.token, create, luma_body(&url, Some(&first)))
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());

    let url = files.put("long.mp4", std::fs::read(&long).unwrap());
    let (s, d) = detail_of(
        t.post_json(&a.token, create, luma_body(&url, Some(&first)))
            .await,
    )
    .await;
    assert_eq!(s, 413, "{d}");
    assert!(d.contains("0.5 s") || d.contains("max_duration_s"), "{d}");

    let url = files.put("wide.mp4", std::fs::read(&wide).unwrap());
    let (s, d) = detail_of(
        t.post_json(&a.token, create, luma_body(&url, Some(&first)))
            .await,
    )
    .await;
    assert_eq!(s, 413, "{d}");
    assert!(d.contains("100"), "{d}");

    let url = files.put("fits2.mp4", std::fs::read(&fits).unwrap());
    let mut body = luma_body(&url, Some(&first));
    body["prompt"] = json!("x".repeat(51));
    let (s, d) = detail_of(t.post_json(&a.token, create, body).await).await;
    assert_eq!(s, 400, "{d}");
    assert!(d.contains("prompt") && d.contains("50"), "{d}");
}
