//! The `look` extension over HTTP: built-in looks on the Luma and Segmind surfaces, with and
//! without a mask, and the answer to a request this server cannot otherwise serve.

mod common;

use common::*;
use retake_media::{save_png, Limits, RgbFrame, VideoReader};
use retake_pipeline::looks::LookName;
use serde_json::{json, Value};

/// Downloads a finished generation's video and decodes its frames.
async fn frames_of(done: &Value) -> Vec<RgbFrame> {
    let url = done["assets"]["video"].as_str().unwrap();
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let path = retake_testkit::scratch("svc-look-out.mp4");
    std::fs::write(&path, &bytes).unwrap();
    let mut r = VideoReader::open(&path, &Limits::default()).unwrap();
    let mut frames = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        frames.push(f);
    }
    frames
}

fn chroma(p: [u8; 3]) -> u8 {
    p.iter().max().unwrap() - p.iter().min().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_by_name_restyles_the_clip_with_no_first_frame_and_no_model() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("looks", 10.0).await;
    let clip = files.put("c.mp4", std::fs::read(small_clip()).unwrap());
    let mut body = luma_body(&clip, None);
    body["look"] = json!("noir");
    let resp = t
        .post_json(&k.token, "/generations/video/modify", body)
        .await;
    assert_eq!(resp.status().as_u16(), 201);
    let g: Value = resp.json().await.unwrap();
    // Normalised in the echoed request.
    assert_eq!(
        g["request"]["look"],
        json!({"name": "film_noir", "strength": 1.0})
    );
    let done = t.wait_done(&k.token, g["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done}");
    let frames = frames_of(&done).await;
    assert_eq!(frames.len(), 24);
    for (i, f) in frames.iter().enumerate() {
        let worst = (0..f.height())
            .flat_map(|y| (0..f.width()).map(move |x| (x, y)))
            .map(|(x, y)| chroma(f.pixel(x, y)))
            .max()
            .unwrap();
        assert!(worst <= 6, "frame {i} has colour: {worst}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masked_recolour_through_segmind_changes_only_the_painted_part() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("mask", 10.0).await;
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    // White on the left half, black on the right, at twice the clip's 128x96.
    let mut m = Vec::new();
    for _ in 0..192 {
        for x in 0..256 {
            m.extend([if x < 128 { 255u8 } else { 0 }; 3]);
        }
    }
    let mask_png = retake_testkit::scratch("svc-mask.png");
    save_png(&RgbFrame::from_raw(256, 192, m).unwrap(), &mask_png).unwrap();
    let mask = files.put("m.png", std::fs::read(&mask_png).unwrap());
    let resp = t
        .http
        .post(format!("{}/v2/modify-video", t.base()))
        .header("x-api-key", &k.token)
        .json(&json!({
            "video_url": clip,
            "look": {"name": "recolour", "hue": 180, "mask": {"url": mask}},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().await.unwrap()
    );
    let v: Value = resp.json().await.unwrap();
    let done = t
        .wait_done(&k.token, v["request_id"].as_str().unwrap())
        .await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["request"]["look"]["mask"]["url"], mask);
    let out = &frames_of(&done).await[0];
    let mut src = VideoReader::open(&clip_path, &Limits::default()).unwrap();
    let src = src.next_frame().unwrap().unwrap();
    // Mean difference to the source per side (away from the mask's edge).
    let side = |xs: std::ops::Range<u32>| {
        let mut sum = 0.0;
        let mut n = 0.0;
        for y in 0..96 {
            for x in xs.clone() {
                let (a, b) = (out.pixel(x, y), src.pixel(x, y));
                sum += (0..3)
                    .map(|c| (a[c] as f64 - b[c] as f64).abs())
                    .sum::<f64>()
                    / 3.0;
                n += 1.0;
            }
        }
        sum / n
    };
    let (painted, left_alone) = (side(0..56), side(72..128));
    assert!(
        painted > 30.0,
        "the painted half barely changed: {painted:.1}"
    );
    assert!(
        left_alone < 6.0,
        "the unpainted half changed: {left_alone:.1}"
    );
}

#[tokio::test]
async fn requests_this_server_cannot_serve_are_answered_with_the_looks() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("help", 10.0).await;
    let clip = files.put("c.mp4", std::fs::read(small_clip()).unwrap());
    let mut prompt_only = luma_body(&clip, None);
    prompt_only["prompt"] = json!("film noir");
    let nothing = luma_body(&clip, None);
    for (body, says) in [
        (
            prompt_only,
            "prompt-only modification needs a diffusion model",
        ),
        (nothing, "nothing to change"),
    ] {
        let resp = t
            .post_json(&k.token, "/generations/video/modify", body)
            .await;
        let (status, d) = detail_of(resp).await;
        assert_eq!(status, 400);
        assert!(d.contains(says), "{d}");
        assert!(d.contains("\"look\": {\"name\": \"watercolour\""), "{d}");
        for l in LookName::ALL {
            assert!(d.contains(l.name()) && d.contains(l.description()), "{d}");
        }
    }
    // Segmind's synchronous route says the same, in its own field names.
    let resp = t
        .http
        .post(format!("{}/v1/modify-video", t.base()))
        .header("x-api-key", &k.token)
        .json(&json!({"video_url": clip, "prompt": "film noir"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.unwrap();
    let e = v["error"].as_str().unwrap();
    assert!(
        e.contains("first_frame_url") && e.contains("pencil_sketch"),
        "{e}"
    );
}

#[tokio::test]
async fn bad_looks_are_refused_with_what_to_fix() {
    let t = TestServer::start().await;
    let files = Files::start().await;
    let k = t.key("bad", 10.0).await;
    let clip = files.put("c.mp4", std::fs::read(small_clip()).unwrap());
    let square = retake_testkit::scratch("svc-square.png");
    save_png(&RgbFrame::filled(50, 50, [255; 3]), &square).unwrap();
    let square = files.put("square.png", std::fs::read(&square).unwrap());
    let text = files.put("text.png", b"not an image".to_vec());
    let cases = [
        (
            json!("glitter"),
            400,
            "no look `glitter`; the looks are: film_noir",
        ),
        (json!(3), 400, "look must be a look's name"),
        (
            json!({"name": "comic", "strength": 1.2}),
            400,
            "look.strength",
        ),
        (
            json!({"name": "sepia", "hue": 40}),
            400,
            "only to the `recolour` look",
        ),
        (
            json!({"name": "recolour", "mask": {"url": square}}),
            400,
            "the mask is 50x50 but the frame is 128x96",
        ),
        (
            json!({"name": "recolour", "mask": {"url": text}}),
            422,
            "look.mask.url",
        ),
    ];
    for (look, status, says) in cases {
        let mut body = luma_body(&clip, None);
        body["look"] = look.clone();
        let resp = t
            .post_json(&k.token, "/generations/video/modify", body)
            .await;
        let (s, d) = detail_of(resp).await;
        assert_eq!(s, status, "{look}: {d}");
        assert!(d.contains(says), "{look}: {d}");
    }
    // Nothing was charged for any of them.
    let credits: Value = t.get(&k.token, "/credits").await.json().await.unwrap();
    assert_eq!(credits["credit_balance"], 10.0);
}
