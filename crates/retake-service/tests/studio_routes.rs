//! The routes the studio needs beyond the SDK surfaces, over plain HTTP against the real
//! server and media pipeline: frames of an upload, an upload's bytes, a look's preview, the
//! price quote (equal to what the create then reserves and charges) and the server-sent event
//! stream of a generation.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use retake_service::ServiceConfig;

/// Prices high enough that a 1 s 128×96 clip costs more than the 0.01 minimum.
fn priced(c: &mut ServiceConfig) {
    c.catalogue = serde_json::from_value(serde_json::json!({
        "ray-2": {"price": {"per_mpx": 7.0}},
        "ray-3.2": {"price": {"per_second": {"360p": 1.5, "540p": 2.5, "720p": 3.5, "1080p": 8}}},
    }))
    .unwrap();
}

async fn get(t: &TestServer, token: Option<&str>, path: &str) -> reqwest::Response {
    let mut r = t.http.get(format!("{}{path}", t.base()));
    if let Some(k) = token {
        r = r.bearer_auth(k);
    }
    r.send().await.unwrap()
}

async fn post(
    t: &TestServer,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    t.http
        .post(format!("{}{path}", t.base()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let f = retake_media::decode_image(bytes).expect("not an image");
    (f.width(), f.height(), f.data().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_of_an_upload_are_the_keys_own_and_counted_like_keyframes() {
    let t = TestServer::start().await;
    let k = t.key("a", 10.0).await;
    let other = t.key("b", 10.0).await;
    let clip = small_clip();
    let bytes = std::fs::read(&clip).unwrap();
    let up = t.upload(&k.token, bytes.clone()).await;
    let id = up["id"].as_str().unwrap();

    // The strip: 24 source frames, 5 thumbnails from the first to the last.
    let r = get(
        &t,
        Some(&k.token),
        &format!("/v1/uploads/{id}/frames?count=5&width=64"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let strip: serde_json::Value = r.json().await.unwrap();
    assert_eq!(strip["source_frames"], 24);
    assert_eq!(strip["output_frames"], 24);
    assert_eq!(strip["source_fps"], 24.0);
    assert_eq!(strip["audio"], "none", "the test pattern has no sound");
    assert_eq!(
        (strip["width"].as_u64(), strip["height"].as_u64()),
        (Some(128), Some(96))
    );
    let thumbs = strip["thumbnails"].as_array().unwrap();
    let at: Vec<u64> = thumbs
        .iter()
        .map(|t| t["source_frame"].as_u64().unwrap())
        .collect();
    assert_eq!(at, [0, 6, 12, 17, 23]);
    let png = |t: &serde_json::Value| {
        use base64::Engine as _;
        let s = t["image"].as_str().unwrap();
        let b64 = s.strip_prefix("data:image/png;base64,").expect(s);
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    };
    let (w, h, first) = decode_png(&png(&thumbs[0]));
    assert_eq!((w, h), (64, 48));
    let (_, _, last) = decode_png(&png(&thumbs[4]));
    assert_ne!(
        first, last,
        "the test pattern moves: different frames differ"
    );
    assert!((thumbs[4]["time_s"].as_f64().unwrap() - 23.0 / 24.0).abs() < 1e-3);

    // One frame at the output size; frame 0 is the clip's first frame.
    let r = get(&t, Some(&k.token), &format!("/v1/uploads/{id}/frames/0")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let (w, h, f0) = decode_png(&r.bytes().await.unwrap());
    assert_eq!((w, h), (128, 96));
    let r = get(&t, Some(&k.token), &format!("/v1/uploads/{id}/frames/12")).await;
    let (_, _, f12) = decode_png(&r.bytes().await.unwrap());
    assert_ne!(f0, f12);
    // Each is exactly the frame that reading the clip from the start gives.
    let reader = retake_media::VideoReader::open(&clip, &retake_media::Limits::default()).unwrap();
    let all: Vec<_> = reader.map(|f| f.unwrap()).collect();
    assert_eq!(f0, all[0].data());
    assert_eq!(f12, all[12].data());
    let r = get(&t, Some(&k.token), &format!("/v1/uploads/{id}/frames/23")).await;
    let (_, _, f23) = decode_png(&r.bytes().await.unwrap());
    assert_eq!(f23, all[23].data());
    // And the strip's thumbnails are those frames scaled down.
    for (thumb, source) in thumbs.iter().zip([0usize, 6, 12, 17, 23]) {
        let small = retake_media::transform::FrameResizer::default()
            .resize(all[source].clone(), 64, 48)
            .unwrap();
        assert_eq!(
            decode_png(&png(thumb)).2,
            small.data(),
            "thumbnail of {source}"
        );
    }

    // Wrong frame numbers are 400s that say what to send.
    for (n, want) in [
        (
            "24",
            "frame 24 is past the clip's last frame; it has 24 frames (0 to 23)",
        ),
        ("-1", "not a frame number"),
        ("two", "not a frame number"),
    ] {
        let (status, detail) =
            detail_of(get(&t, Some(&k.token), &format!("/v1/uploads/{id}/frames/{n}")).await).await;
        assert_eq!(status, 400, "{n}: {detail}");
        assert!(detail.contains(want), "{n}: {detail}");
    }
    for (query, want) in [
        ("count=0", "ask for 1 to 60"),
        ("width=321", "16 to 320 pixels wide"),
    ] {
        let path = format!("/v1/uploads/{id}/frames?{query}");
        let (status, detail) = detail_of(get(&t, Some(&k.token), &path).await).await;
        assert_eq!(status, 400, "{query}: {detail}");
        assert!(detail.contains(want), "{query}: {detail}");
    }

    // No key: 401. Another key's upload: 404, whatever the frame number says.
    for path in [
        format!("/v1/uploads/{id}/frames"),
        format!("/v1/uploads/{id}/frames/0"),
        format!("/v1/uploads/{id}/content"),
    ] {
        assert_eq!(get(&t, None, &path).await.status(), 401, "{path}");
        assert_eq!(
            get(&t, Some(&other.token), &path).await.status(),
            404,
            "{path}"
        );
    }
    for n in ["999", "two"] {
        let (status, _) = detail_of(
            get(
                &t,
                Some(&other.token),
                &format!("/v1/uploads/{id}/frames/{n}"),
            )
            .await,
        )
        .await;
        assert_eq!(status, 404, "frame {n}");
    }

    // An image upload has no frames.
    let img = t.upload(&k.token, edited_first_frame(&clip)).await;
    let (status, detail) = detail_of(
        get(
            &t,
            Some(&k.token),
            &format!("/v1/uploads/{}/frames", img["id"].as_str().unwrap()),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(detail.contains("is an image"), "{detail}");

    // The upload's bytes come back whole, and by range.
    let r = get(&t, Some(&k.token), &format!("/v1/uploads/{id}/content")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes);
    let r = t
        .http
        .get(format!("{}/v1/uploads/{id}/content", t.base()))
        .bearer_auth(&k.token)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes[..10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_is_previewed_on_a_frame_or_an_image_and_a_mask_confines_it() {
    let t = TestServer::start().await;
    let k = t.key("a", 10.0).await;
    let other = t.key("b", 10.0).await;
    let clip = small_clip();
    let up = t.upload(&k.token, std::fs::read(&clip).unwrap()).await;
    let id = up["id"].as_str().unwrap();
    let frame = get(&t, Some(&k.token), &format!("/v1/uploads/{id}/frames/6")).await;
    let (_, _, source) = decode_png(&frame.bytes().await.unwrap());

    // Noir on frame 6: no chroma left anywhere.
    let r = post(
        &t,
        &k.token,
        "/v1/looks/preview",
        serde_json::json!({"look": "film_noir", "upload_id": id, "frame": 6}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    let (w, h, noir) = decode_png(&r.bytes().await.unwrap());
    assert_eq!((w, h), (128, 96));
    assert!(noir
        .chunks(3)
        .all(|p| p[0].abs_diff(p[1]) <= 1 && p[1].abs_diff(p[2]) <= 1));
    assert_ne!(noir, source);

    // Strength 0 is the frame itself; max_side scales it down.
    let r = post(
        &t,
        &k.token,
        "/v1/looks/preview",
        serde_json::json!(
        {"look": {"name": "sepia", "strength": 0.0}, "upload_id": id, "frame": 6}),
    )
    .await;
    assert_eq!(decode_png(&r.bytes().await.unwrap()).2, source);
    let r = post(
        &t,
        &k.token,
        "/v1/looks/preview",
        serde_json::json!(
        {"look": "sepia", "upload_id": id, "max_side": 64}),
    )
    .await;
    let (w, h, _) = decode_png(&r.bytes().await.unwrap());
    assert_eq!((w, h), (64, 48));

    // A mask painted white on the left half only: the right half stays the source.
    let mut mask = retake_media::RgbFrame::filled(128, 96, [0, 0, 0]);
    for y in 0..96u32 {
        for x in 0..64u32 {
            let i = ((y * 128 + x) * 3) as usize;
            mask.data_mut()[i..i + 3].copy_from_slice(&[255, 255, 255]);
        }
    }
    let mask_path = t.dir.path().join("mask.png");
    retake_media::save_png(&mask, &mask_path).unwrap();
    let m = t.upload(&k.token, std::fs::read(&mask_path).unwrap()).await;
    let r = post(
        &t,
        &k.token,
        "/v1/looks/preview",
        serde_json::json!({
        "look": {"name": "recolour", "hue": 180, "mask": {"url": m["url"]}},
        "upload_id": id, "frame": 6}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let (_, _, masked) = decode_png(&r.bytes().await.unwrap());
    let px =
        |img: &[u8], x: usize, y: usize| img[(y * 128 + x) * 3..(y * 128 + x) * 3 + 3].to_vec();
    let mut changed_left = 0;
    for y in 0..96 {
        for x in 0..128 {
            if x >= 64 {
                assert_eq!(
                    px(&masked, x, y),
                    px(&source, x, y),
                    "({x},{y}) is outside the mask"
                );
            } else if px(&masked, x, y) != px(&source, x, y) {
                changed_left += 1;
            }
        }
    }
    assert!(
        changed_left > 64 * 96 / 2,
        "the look went on the painted half: {changed_left}"
    );

    // On an image upload (the edited first frame).
    let img = t.upload(&k.token, edited_first_frame(&clip)).await;
    let r = post(
        &t,
        &k.token,
        "/v1/looks/preview",
        serde_json::json!({"look": "sepia", "upload_id": img["id"]}),
    )
    .await;
    assert_eq!(r.status(), 200);

    // Mistakes say what to fix; another key's upload is a 404.
    for (body, status, want) in [
        (
            serde_json::json!({"look": "glitter", "upload_id": id}),
            400,
            "no look `glitter`",
        ),
        (
            serde_json::json!({"look": "sepia", "upload_id": id, "frame": 99}),
            400,
            "past the clip's last frame",
        ),
        (
            serde_json::json!({"look": "sepia", "upload_id": id, "frame": -3}),
            400,
            "not a frame number",
        ),
        (
            serde_json::json!({"look": "sepia", "upload_id": img["id"], "frame": 2}),
            400,
            "is an image",
        ),
        (serde_json::json!({"look": "sepia"}), 400, "upload_id"),
    ] {
        let (s, detail) =
            detail_of(post(&t, &k.token, "/v1/looks/preview", body.clone()).await).await;
        assert_eq!(s, status, "{body}: {detail}");
        assert!(detail.contains(want), "{body}: {detail}");
    }
    let r = post(
        &t,
        &other.token,
        "/v1/looks/preview",
        serde_json::json!({"look": "sepia", "upload_id": id}),
    )
    .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_is_what_the_create_reserves_and_charges() {
    let t =
        TestServer::start_with(priced, Arc::new(retake_service::MediaPipeline::default())).await;
    let k = t.key("a", 20.0).await;
    let clip = small_clip();
    let up = t.upload(&k.token, std::fs::read(&clip).unwrap()).await;
    let url = up["url"].as_str().unwrap();

    // Luma: 128×96×24 px at 7 credits per Mpx.
    let body = serde_json::json!({"media": {"url": url}, "model": "ray-2", "look": "sepia"});
    let r = post(&t, &k.token, "/v1/quote", body.clone()).await;
    assert_eq!(r.status(), 200);
    let q: serde_json::Value = r.json().await.unwrap();
    assert_eq!(q["credits"], 2.06, "{q}");
    assert_eq!(
        (
            q["width"].as_u64(),
            q["height"].as_u64(),
            q["frames"].as_u64()
        ),
        (Some(128), Some(96), Some(24))
    );
    assert_eq!(q["model"], "ray-2");
    assert_eq!(q["available"], 20.0);
    assert_eq!(q["enough"], true);
    assert_eq!(q["resolution"], "360p");
    // Nothing was reserved by the quote.
    let c: serde_json::Value = t.get(&k.token, "/credits").await.json().await.unwrap();
    assert_eq!(c["credit_balance"], 20.0);
    let g: serde_json::Value = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap();
    assert_eq!(g["cost"], 2.06, "the generation shows what it holds");
    assert_eq!(t.wait_done(&k.token, id).await["state"], "completed");
    let c: serde_json::Value = t.get(&k.token, "/credits").await.json().await.unwrap();
    assert_eq!(c["credit_balance"], 20.0 - 2.06, "charged what was quoted");

    // Agents: per second at the output's tier; an edit body is told apart by its type.
    let frame = get(
        &t,
        Some(&k.token),
        &format!("/v1/uploads/{}/frames/12", up["id"].as_str().unwrap()),
    )
    .await;
    let kf = t
        .upload(&k.token, frame.bytes().await.unwrap().to_vec())
        .await;
    let edit = serde_json::json!({
        "type": "video_edit", "model": "ray-3.2",
        "source": {"url": url, "media_type": "video/mp4"},
        "video": {"resolution": "360p", "edit": {"keyframes": [{"url": kf["url"]}], "keyframe_indexes": [12]}},
    });
    let q: serde_json::Value = post(&t, &k.token, "/v1/quote", edit.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q["credits"], 1.5, "{q}");
    assert_eq!(q["model"], "ray-3.2");
    let r = t
        .http
        .post(format!("{}/agents/v1/generations", t.base()))
        .bearer_auth(&k.token)
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g: serde_json::Value = r.json().await.unwrap();
    assert_eq!(g["cost"], 1.5, "the edit reserves what was quoted");
    assert_eq!(
        t.wait_done(&k.token, g["id"].as_str().unwrap()).await["state"],
        "completed"
    );
    let c: serde_json::Value = t.get(&k.token, "/credits").await.json().await.unwrap();
    assert!(
        (c["credit_balance"].as_f64().unwrap() - (20.0 - 2.06 - 1.5)).abs() < 1e-9,
        "{c}"
    );

    // A quote refuses what the create refuses, in the same words.
    for body in [
        serde_json::json!({"media": {"url": url}, "model": "ray-9"}),
        serde_json::json!({"media": {"url": url}}),
        serde_json::json!({"type": "video_edit", "source": {"url": url, "media_type": "video/mp4"},
            "video": {"edit": {"keyframes": [{"url": kf["url"]}], "keyframe_indexes": [40]}}}),
    ] {
        let (qs, qd) = detail_of(post(&t, &k.token, "/v1/quote", body.clone()).await).await;
        let path = if body.get("type").is_some() {
            "/agents/v1/generations"
        } else {
            "/dream-machine/v1/generations/video/modify"
        };
        let (cs, cd) = detail_of(post(&t, &k.token, path, body.clone()).await).await;
        assert_eq!((qs, &qd), (cs, &cd), "{body}");
        assert_eq!(qs, 400, "{body}: {qd}");
    }
    // Another key's upload is not found; no key is a 401.
    let other = t.key("b", 5.0).await;
    let (s, _) = detail_of(
        post(
            &t,
            &other.token,
            "/v1/quote",
            serde_json::json!({"media": {"url": url}, "look": "sepia"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 404);
    let r = t
        .http
        .post(format!("{}/v1/quote", t.base()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// The `generation` events of an event stream, until it ends.
async fn read_events(mut r: reqwest::Response) -> Vec<(String, serde_json::Value)> {
    let mut text = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(60), r.chunk())
        .await
        .expect("the stream stalled")
        .unwrap()
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            (
                field("event:"),
                serde_json::from_str(&field("data:")).unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_reports_progress_and_ends_on_completion() {
    let gate = Gate::new();
    let (release, started) = (gate.release.clone(), gate.started.clone());
    let t = TestServer::start_with(|_| {}, Arc::new(gate)).await;
    let k = t.key("a", 10.0).await;
    let other = t.key("b", 10.0).await;
    let up = t
        .upload(&k.token, std::fs::read(small_clip()).unwrap())
        .await;
    let body = serde_json::json!({"media": {"url": up["url"]}, "look": "sepia"});
    let g: serde_json::Value = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    let path = format!("/v1/generations/{id}/events");

    assert_eq!(get(&t, None, &path).await.status(), 401);
    assert_eq!(get(&t, Some(&other.token), &path).await.status(), 404);
    let (s, _) = detail_of(get(&t, Some(&k.token), "/v1/generations/nope/events").await).await;
    assert_eq!(s, 404);

    let r = get(&t, Some(&k.token), &path).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // Release the job once it has been seen at 50 % for a while.
    let waiter = tokio::spawn(async move {
        while !started.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(1600)).await;
        release.store(true, Ordering::SeqCst);
    });
    let events = read_events(r).await;
    waiter.await.unwrap();
    assert!(events.iter().all(|(e, _)| e == "generation"), "{events:?}");
    let dreaming = events
        .iter()
        .filter(|(_, g)| g["state"] == "dreaming" && g["progress"] == 50)
        .count();
    assert!(dreaming >= 2, "progress at least once a second: {events:?}");
    let (_, last) = events.last().unwrap();
    assert_eq!(
        last["state"], "completed",
        "the stream ends on the terminal state"
    );
    assert!(last["assets"]["video"].as_str().unwrap().contains(&id));
    assert_eq!(
        events
            .iter()
            .filter(|(_, g)| g["state"] == "completed")
            .count(),
        1
    );

    // A finished generation's stream is one event.
    let events = read_events(get(&t, Some(&k.token), &path).await).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["state"], "completed");

    // The routes are in the OpenAPI document.
    let doc: serde_json::Value = get(&t, None, "/openapi.json").await.json().await.unwrap();
    for (p, m) in [
        ("/v1/uploads/{upload_id}/frames", "get"),
        ("/v1/uploads/{upload_id}/frames/{n}", "get"),
        ("/v1/uploads/{upload_id}/content", "get"),
        ("/v1/looks/preview", "post"),
        ("/v1/quote", "post"),
        ("/v1/generations/{id}/events", "get"),
    ] {
        assert!(doc["paths"][p][m].is_object(), "{p} {m}");
    }
    assert!(
        doc["paths"]["/v1/generations/{id}/events"]["get"]["responses"]["200"]["content"]
            ["text/event-stream"]
            .is_object()
    );
}
