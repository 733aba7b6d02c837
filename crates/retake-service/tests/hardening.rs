//! What an attacker or a careless client tries against the server: connections that stall
//! (hundreds at once), more connections than the cap, bodies over the limit (announced or
//! chunked), requests the framework itself refuses, create-rate games, and uploads of
//! other keys. Each against the real server on loopback, with raw sockets where a client
//! library would be too polite.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use retake_service::MediaPipeline;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_stalled_connections_are_closed_while_others_are_served() {
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.header_timeout = Duration::from_secs(2);
            c.idle_timeout = Duration::from_secs(2);
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let k = t.key("a", 1.0).await;
    let a = addr(&t);
    // Three kinds of stall, 80 of each: a request line cut off mid-word, a connection that
    // never says anything, and an upload that announces 1000 bytes and sends 3.
    let mut stalled = Vec::new();
    for i in 0..240 {
        let mut s = TcpStream::connect(a).await.unwrap();
        match i % 3 {
            0 => s.write_all(b"GET /healthz HTT").await.unwrap(),
            1 => {}
            _ => {
                let head = format!(
                    "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
                     Content-Length: 1000\r\n\r\nabc",
                    k.token
                );
                s.write_all(head.as_bytes()).await.unwrap();
            }
        }
        stalled.push((i % 3, s));
    }
    // Meanwhile ordinary requests are answered (a generous bound: this is behaviour, not a
    // benchmark).
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let started = Instant::now();
        let resp = client
            .get(format!("{}/healthz", t.base()))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("a normal request is served while hundreds stall");
        assert_eq!(resp.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // Every stalled connection is closed by the server; the stalled upload is told why.
    for (kind, mut s) in stalled {
        let got = read_until_closed(&mut s, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("a stalled connection of kind {kind} stayed open"));
        if kind == 2 {
            assert!(status_line(&got).contains("408"), "{}", status_line(&got));
            let body = body_json(&got);
            assert_eq!(body["code"], "request_timeout", "{body}");
            assert!(
                body["detail"].as_str().unwrap_or("").contains("stalled"),
                "{body}"
            );
        }
    }
    // A client that stops after the headers of a request it never finishes is a stall too,
    // and keep-alive connections left idle are closed.
    let mut idle = TcpStream::connect(a).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut idle, Duration::from_secs(30))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(status_line(&got).contains("200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_clients_wait_for_a_free_slot() {
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.max_connections = 4;
            c.header_timeout = Duration::from_secs(2);
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let a = addr(&t);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(a).await.unwrap();
        s.write_all(b"GET /healthz HT").await.unwrap();
        held.push(s);
    }
    // Give the server a moment to take all four.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fifth = tokio::spawn(
        reqwest::Client::new()
            .get(format!("{}/healthz", t.base()))
            .timeout(Duration::from_secs(30))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !fifth.is_finished(),
        "a fifth connection is not served while four are open"
    );
    // Once the stalled four time out, the fifth gets its answer.
    let resp = fifth.await.unwrap().expect("served once a slot freed");
    assert_eq!(resp.status(), 200);
    for mut s in held {
        assert!(read_until_closed(&mut s, Duration::from_secs(30))
            .await
            .is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_refused_before_they_are_read() {
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.max_bytes = 100_000;
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let k = t.key("a", 1.0).await;
    let a = addr(&t);
    // 150 MB announced with `Expect: 100-continue`: the answer is 413 at once, without
    // `100 Continue` and without reading a byte.
    let mut s = TcpStream::connect(a).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 150000000\r\nExpect: 100-continue\r\n\r\n",
        k.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let got = read_until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("the connection is answered and closed");
    assert!(status_line(&got).contains("413"), "{}", status_line(&got));
    assert!(!String::from_utf8_lossy(&got).contains("100 Continue"));
    let body = body_json(&got);
    assert_eq!(body["code"], "too_large", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("150.0 MB"),
        "{body}"
    );

    // A chunked body has no length up front: it is cut off at the limit.
    let mut s = TcpStream::connect(a).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        k.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("2710\r\n{}\r\n", "x".repeat(10_000));
    for _ in 0..30 {
        // The server stops reading at the limit; later writes may fail.
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let got = read_until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("answered and closed");
    assert!(status_line(&got).contains("413"), "{}", status_line(&got));
    assert_eq!(body_json(&got)["code"], "too_large");
    let uploads: Value = t
        .http
        .get(format!("{}/v1/uploads", t.base()))
        .bearer_auth(&k.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(uploads["count"], 0, "{uploads}");
    let left = files_under(&t.dir.path().join("blobs/tmp"));
    assert!(left.is_empty(), "no partial upload left: {left:?}");

    // Headers over 64 KB are refused by the parser itself.
    let mut s = TcpStream::connect(a).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let _ = s.write_all(head.as_bytes()).await;
    let got = read_until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("answered and closed");
    assert!(status_line(&got).contains("431"), "{}", status_line(&got));

    // A JSON create over 256 KB is 413 in the one error shape.
    let big = json!({"media": {"url": "https://x/a.mp4"}, "prompt": "a".repeat(300_000)});
    let (s, d) = detail_of(
        t.post_json(&k.token, "/generations/video/modify", big)
            .await,
    )
    .await;
    assert_eq!(s, 413, "{d}");
    assert!(d.contains("KB; the limit is 256 KB"), "{d}");
}

#[tokio::test]
async fn the_frameworks_own_rejections_are_json_too() {
    let t = TestServer::start_with(|c| c.workers = 0, Arc::new(MediaPipeline::default())).await;
    let k = t.key("a", 1.0).await;
    let json_error = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        let body: Value = resp.json().await.unwrap();
        assert!(ct.starts_with("application/json"), "{status}: {ct}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        (status, body)
    };
    // An id that does not decode is just an id nobody has.
    let (s, b) = json_error(t.get(&k.token, "/generations/%FF%FE").await).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("not_found")), "{b}");
    let (s, b) = json_error(
        t.http
            .get(format!("{}/v1/uploads/%FF%FE", t.base()))
            .bearer_auth(&k.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404, "{b}");
    // A method the route lacks.
    let (s, b) = json_error(
        t.http
            .put(format!("{}/v1/uploads", t.base()))
            .bearer_auth(&k.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{b}"
    );
    assert!(b["detail"].as_str().unwrap().contains("POST"), "{b}");
    // The Segmind routes add `error` to framework errors as to their own.
    let (s, b) = json_error(
        t.http
            .get(format!("{}/v2/requests/%FF%FE/status", t.base()))
            .header("x-api-key", &k.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["error"], b["detail"], "{b}");
}

#[tokio::test]
async fn refused_creates_do_not_use_up_the_create_rate_and_retries_never_429() {
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.submit_limit_per_min = 0.01;
            c.submit_limit_burst = 2.0;
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let k = t.key("a", 10.0).await;
    let create = "/generations/video/modify";
    // Five refused creates (a private address, an unreadable clip)…
    for _ in 0..5 {
        let (s, d) = detail_of(
            t.post_json(
                &k.token,
                create,
                luma_body("http://10.0.0.1/x.mp4", Some(&first)),
            )
            .await,
        )
        .await;
        assert_eq!(s, 400, "{d}");
    }
    let (s, d) = detail_of(
        t.post_json(&k.token, create, luma_body(&first, Some(&first)))
            .await,
    )
    .await;
    assert_eq!(s, 422, "{d}");
    // …leave the burst of two whole; the same create retried at once, three times in
    // parallel, is one generation and never 429.
    let retry = || {
        t.http
            .post(t.url(create))
            .bearer_auth(&k.token)
            .header("idempotency-key", "once")
            .json(&luma_body(&clip, Some(&first)))
            .send()
    };
    let (r1, r2, r3) = tokio::join!(retry(), retry(), retry());
    let mut ids = Vec::new();
    for r in [r1, r2, r3] {
        let r = r.unwrap();
        assert!(matches!(r.status().as_u16(), 200 | 201), "{}", r.status());
        ids.push(r.json::<Value>().await.unwrap()["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let second = t
        .post_json(&k.token, create, luma_body(&clip, Some(&first)))
        .await;
    assert_eq!(second.status(), 201, "the second of the burst");
    let (s, d) = detail_of(
        t.post_json(&k.token, create, luma_body(&clip, Some(&first)))
            .await,
    )
    .await;
    assert_eq!(s, 429, "only now is the burst used up: {d}");
}

#[tokio::test]
async fn uploads_are_listed_fetched_deleted_and_expire() {
    let t = TestServer::start_with(
        |c| {
            c.workers = 0;
            c.upload_ttl = Duration::from_secs(2);
            c.lease_ttl = Duration::from_millis(400);
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let k = t.key("a", 1.0).await;
    let other = t.key("b", 1.0).await;
    let png = edited_first_frame(&small_clip());
    // A file no record knows (left by a crash, or by a version before records): swept too.
    let orphan = t.dir.path().join(format!(
        "blobs/uploads/{}/0f0e0d0c0b0a49088706050403020100",
        k.id
    ));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"left behind").unwrap();
    let up = |token: &str, bytes: Vec<u8>| {
        t.http
            .post(format!("{}/v1/uploads", t.base()))
            .bearer_auth(token)
            .body(bytes)
            .send()
    };
    let resp = up(&k.token, png.clone()).await.unwrap();
    assert_eq!(resp.status(), 201);
    let u: Value = resp.json().await.unwrap();
    let id = u["id"].as_str().unwrap().to_string();
    assert_eq!(u["bytes"], png.len());
    assert_eq!(u["content_type"], "image/png");
    assert_eq!(u["url"], format!("{}/v1/uploads/{id}", t.base()));
    use sha2::Digest as _;
    assert_eq!(
        u["sha256"],
        format!("{:x}", sha2::Sha256::digest(&png)),
        "{u}"
    );
    let second: Value = up(&k.token, b"hello".to_vec())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["content_type"], "application/octet-stream");

    let get = |token: &str, path: &str| {
        t.http
            .get(format!("{}/v1/uploads{path}", t.base()))
            .bearer_auth(token)
            .send()
    };
    let list: Value = get(&k.token, "?limit=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 1);
    assert_eq!(list["has_more"], true);
    assert_eq!(list["uploads"][0]["id"], second["id"], "newest first");
    let one: Value = get(&k.token, &format!("/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, u);
    // Another key sees nothing, cannot delete it, and its create gets 404 for the URL.
    assert_eq!(
        get(&other.token, &format!("/{id}")).await.unwrap().status(),
        404
    );
    let none: Value = get(&other.token, "").await.unwrap().json().await.unwrap();
    assert_eq!(none["count"], 0);
    let del = |token: &str, id: &str| {
        t.http
            .delete(format!("{}/v1/uploads/{id}", t.base()))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(del(&other.token, &id).await.unwrap().status(), 404);
    let (s, d) = detail_of(
        t.post_json(
            &other.token,
            "/generations/video/modify",
            luma_body(u["url"].as_str().unwrap(), None),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400, "nothing to change comes first: {d}");
    let (s, d) = detail_of(
        t.post_json(
            &other.token,
            "/generations/video/modify",
            luma_body(u["url"].as_str().unwrap(), u["url"].as_str()),
        )
        .await,
    )
    .await;
    assert_eq!(s, 404, "{d}");
    assert!(d.contains("media.url") && d.contains("no upload"), "{d}");
    // The owner deletes one; the blob goes with it.
    assert_eq!(del(&k.token, &id).await.unwrap().status(), 204);
    assert_eq!(
        get(&k.token, &format!("/{id}")).await.unwrap().status(),
        404
    );
    assert_eq!(del(&k.token, &id).await.unwrap().status(), 404);
    // The other expires after upload_ttl and is swept with its file, and the orphan too.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list: Value = get(&k.token, "").await.unwrap().json().await.unwrap();
        let kept = walk(&t.dir.path().join("blobs/uploads"));
        if list["count"] == 0 && kept.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never expired: {list}, files {kept:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn failed_webhook_deliveries_show_on_the_generation_and_in_the_metrics() {
    let t = TestServer::start_with(
        |c| {
            c.webhook_attempts = 2;
            c.webhook_backoff = Duration::from_millis(50);
        },
        Arc::new(MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let k = t.key("a", 1.0).await;
    // A receiver that is not there: every attempt is refused.
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", gone.local_addr().unwrap());
    drop(gone);
    let mut body = luma_body(&clip, Some(&first));
    body["callback_url"] = json!(hook);
    let g: Value = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap();
    let g = wait_for(&t, &k.token, id, 60, |g| {
        g["state"] == "completed" && g["webhooks"][1]["status"] == "failed"
    })
    .await;
    for (i, event) in ["dreaming", "completed"].into_iter().enumerate() {
        let w = &g["webhooks"][i];
        assert_eq!(w["event"], event, "{g}");
        assert_eq!(w["status"], "failed", "{g}");
        assert_eq!(w["attempts"], 2, "{g}");
        assert!(
            w["last_error"]
                .as_str()
                .unwrap()
                .contains("could not fetch"),
            "{g}"
        );
    }
    let metrics = t
        .http
        .get(format!("{}/metrics", t.base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "retake_webhooks_total{outcome=\"failed\"} 2\n",
        "retake_webhooks_total{outcome=\"delivered\"} 0\n",
        "retake_webhook_attempts_failed_total 4\n",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

/// The request parsers of every surface, fed seeds and their mutations for a bounded time
/// (the long, coverage-guided runs are `fuzz/`'s): no panic, no 5xx, every error JSON.
#[test]
fn the_request_parser_fuzz_targets_survive_a_bounded_run() {
    use retake_service::fuzzing;
    let budget = retake_testkit::mutate::budget();
    let clip = std::fs::read(small_clip()).unwrap();
    let png = edited_first_frame(&small_clip());

    let mut luma: Vec<Vec<u8>> = [
        luma_body("https://x.example/c.mp4", Some("https://x.example/f.png")),
        json!({"generation_type": "modify_video", "media": {"url": "http://1.2.3.4/a"},
               "prompt": "noir", "mode": "reimagine_3", "model": "ray-flash-2",
               "callback_url": "https://hook.example/x"}),
        json!({"media": {}, "first_frame": {"url": ""}, "mode": 7}),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect();
    luma.extend(regressions("luma_create"));
    let r = retake_testkit::mutate::run("luma_create", &luma, budget, fuzzing::luma_create);
    assert!(r.execs > luma.len() as u64, "{r:?}");

    let h = fuzzing::Harness::new();
    let mut segmind: Vec<Vec<u8>> = [
        json!({"video_url": "https://x.example/c.mp4", "first_frame_url": "https://x.example/f.png",
               "mode": "flex_2", "model": "ray-2"}),
        json!({"video_url": "https://x.example/c.mp4", "prompt": "a watercolour"}),
        json!({"video_url": ""}),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect();
    segmind.extend(regressions("segmind_json"));
    let r = retake_testkit::mutate::run("segmind_json", &segmind, budget, |b| h.segmind_json(b));
    assert!(r.execs > segmind.len() as u64, "{r:?}");

    let mut forms = vec![
        form(&[
            ("video", Some("c.mp4"), &clip),
            ("first_frame", Some("f.png"), &png),
            ("mode", None, b"adhere_2"),
        ]),
        form(&[
            ("video_url", None, b"https://x.example/c.mp4"),
            ("prompt", None, b"make it snow"),
            ("model", None, b"ray-flash-2"),
        ]),
        form(&[
            ("other", None, b"ignored"),
            ("first_frame", Some("f.png"), b""),
        ]),
    ];
    forms.extend(regressions("segmind_multipart"));
    let r = retake_testkit::mutate::run("segmind_multipart", &forms, budget, |b| {
        h.segmind_multipart(b)
    });
    assert!(r.execs > forms.len() as u64, "{r:?}");
}
