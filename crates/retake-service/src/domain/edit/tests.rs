use super::*;

fn check(body: serde_json::Value) -> Result<ValidEdit, String> {
    EditRequest::from_json(body.to_string().as_bytes())
        .and_then(|r| r.validate(20, &Catalogue::default(), Resolution::P1080))
        .map_err(|e| e.to_string())
}

fn base() -> serde_json::Value {
    serde_json::json!({
        "type": "video_edit", "model": "ray-3.2", "prompt": "neon",
        "source": {"url": "https://x/a.mp4", "media_type": "video/mp4"},
    })
}

fn with(mut v: serde_json::Value, path: &[&str], value: serde_json::Value) -> serde_json::Value {
    let mut slot = &mut v;
    for p in &path[..path.len() - 1] {
        slot = slot
            .as_object_mut()
            .unwrap()
            .entry(p.to_string())
            .or_insert(serde_json::json!({}));
    }
    slot[path[path.len() - 1]] = value;
    v
}

fn png(url: &str) -> serde_json::Value {
    serde_json::json!({"url": url})
}

#[test]
fn the_sdk_shape_with_keyframes_is_read() {
    let v = check(with(
        with(
            base(),
            &["video", "edit"],
            serde_json::json!({
                "strength": "reimagine_1",
                "keyframes": [png("https://x/0.png"), {"data": "iVBORw0K", "media_type": "image/png"},
                              {"file_id": "0b7d2f1e-1c2a-4e4b-8f3a-0d6c1f2e3a4b"}],
                "keyframe_indexes": [0, 30, 12],
            }),
        ),
        &["video", "resolution"],
        serde_json::json!("1080p"),
    ))
    .unwrap();
    assert_eq!(v.model, "ray-3.2");
    assert_eq!(v.mode, Mode::Reimagine1);
    assert!(!v.auto_mode);
    assert_eq!(v.resolution, Resolution::P1080);
    assert_eq!(
        v.keyframes.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [0, 30, 12]
    );
    assert_eq!(
        v.keyframes[1].1,
        InputRef::Data {
            data: "iVBORw0K".into(),
            media_type: "image/png".into()
        }
    );
    assert_eq!(v.source, InputRef::Url("https://x/a.mp4".into()));
    // Defaults: ray-3.2, 720p, retake picks the mode.
    let mut b = base();
    b.as_object_mut().unwrap().remove("model");
    let v = check(b).unwrap();
    assert_eq!(
        (v.model.as_str(), v.resolution, v.mode, v.auto_mode),
        ("ray-3.2", Resolution::P720, Mode::Flex2, true)
    );
}

#[test]
fn auto_controls_picks_the_mode_from_the_keyframes() {
    let kf = |n: usize| {
        with(
            base(),
            &["video", "edit"],
            serde_json::json!({
                "keyframes": (0..n).map(|i| png(&format!("https://x/{i}.png"))).collect::<Vec<_>>(),
                "keyframe_indexes": (0..n).map(|i| i * 10).collect::<Vec<_>>(),
                "auto_controls": true,
            }),
        )
    };
    assert_eq!(check(kf(0)).unwrap().mode, Mode::Flex2);
    assert_eq!(check(kf(1)).unwrap().mode, Mode::Flex1);
    assert_eq!(check(kf(3)).unwrap().mode, Mode::Adhere2);
    let start = with(base(), &["video", "start_frame"], png("https://x/f.png"));
    assert_eq!(check(start).unwrap().mode, Mode::Flex1);
    let manual = with(
        base(),
        &["video", "edit"],
        serde_json::json!({"auto_controls": false}),
    );
    let v = check(manual).unwrap();
    assert_eq!((v.mode, v.auto_mode), (Mode::Flex1, false));
}

#[test]
fn controls_map_onto_the_engine_dials() {
    let c = |controls: serde_json::Value| {
        check(with(base(), &["video", "edit", "controls"], controls)).map(|v| v.controls)
    };
    let v = c(serde_json::json!({"depth": {"blur": 0.2}})).unwrap();
    assert!((v.structure.unwrap() - 0.8).abs() < 1e-6 && v.trajectory.is_none());
    let v =
        c(serde_json::json!({"pose": {"strength": "coarse"}, "normals": {"augmentation": 0.9}}))
            .unwrap();
    assert_eq!(
        v.structure,
        Some(0.25),
        "the strongest structural signal wins"
    );
    let v =
        c(serde_json::json!({"depth": {"enabled": false}, "pose": {"enabled": false}})).unwrap();
    assert_eq!(v.structure, Some(0.0), "all structure off");
    let v = c(serde_json::json!({"trajectory": {"sparsity": 0.25}})).unwrap();
    assert_eq!(v.trajectory, Some(0.75));
    let v = c(serde_json::json!({"trajectory": {"enabled": false}, "face": {"enabled": false}}))
        .unwrap();
    assert_eq!((v.structure, v.trajectory), (None, Some(0.0)));
    let v = c(serde_json::json!({})).unwrap();
    assert!(v.is_neutral());
}

#[test]
fn every_mistake_names_the_field_and_what_to_send() {
    let kf2 = serde_json::json!({"keyframes": [png("https://x/0.png"), png("https://x/1.png")],
                                 "keyframe_indexes": [0, 5]});
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (serde_json::json!([1]), "must be a JSON object"),
        (
            with(base(), &["type"], "image".into()),
            "retake edits video only",
        ),
        (
            with(base(), &["type"], "video".into()),
            "type `video` is not served",
        ),
        (
            {
                let mut b = base();
                b.as_object_mut().unwrap().remove("type");
                b
            },
            "type is required",
        ),
        (
            with(base(), &["model"], "ray-2".into()),
            "model `ray-2` does not edit video here; use `ray-3.2`",
        ),
        (
            with(base(), &["prompt"], "x".repeat(21).into()),
            "prompt is 21 characters",
        ),
        (
            with(base(), &["colour"], "red".into()),
            "unknown field `colour`",
        ),
        (
            {
                let mut b = base();
                b.as_object_mut().unwrap().remove("source");
                b
            },
            "source is required",
        ),
        (
            with(
                base(),
                &["source"],
                serde_json::json!({"url": "https://x/a.mp4", "data": "AAAA",
                                                          "media_type": "video/mp4"}),
            ),
            "source has both url and data",
        ),
        (
            with(
                base(),
                &["source"],
                serde_json::json!({"url": "https://x/a.mp4"}),
            ),
            "source.media_type is required with source.url",
        ),
        (
            with(base(), &["source"], serde_json::json!({"data": "AAAA"})),
            "source.media_type is required with source.data",
        ),
        (
            with(
                base(),
                &["source"],
                serde_json::json!({"url": "https://x/a.png", "media_type": "image/png"}),
            ),
            "source.media_type is `image/png`",
        ),
        (
            with(
                base(),
                &["source"],
                serde_json::json!({"url": "ftp://x/a.mp4", "media_type": "video/mp4"}),
            ),
            "source.url must be an http://",
        ),
        (
            with(base(), &["source"], serde_json::json!({"file_id": "nope"})),
            "source.file_id `nope` is not an id",
        ),
        (
            with(base(), &["source"], serde_json::json!({})),
            "source needs one of url",
        ),
        (
            with(
                base(),
                &["source"],
                serde_json::json!({"data": "data:video/mp4,AAAA", "media_type": "video/mp4"}),
            ),
            "without `;base64,`",
        ),
        (
            with(base(), &["aspect_ratio"], "16:9".into()),
            "keeps the source's aspect ratio",
        ),
        (with(base(), &["web_search"], true.into()), "web_search"),
        (
            with(base(), &["style"], "manga".into()),
            "style: only `auto`",
        ),
        (
            with(
                base(),
                &["image_ref"],
                serde_json::json!([png("https://x/r.png")]),
            ),
            "image_ref",
        ),
        (
            with(base(), &["video", "duration"], "5s".into()),
            "keeps the source's duration",
        ),
        (
            with(base(), &["video", "hdr"], true.into()),
            "HDR output is not available",
        ),
        (
            with(base(), &["video", "keyframes"], serde_json::json!([])),
            "go in video.edit.keyframes",
        ),
        (
            with(base(), &["video", "end_frame"], png("https://x/e.png")),
            "video.end_frame is for type `video`",
        ),
        (
            with(base(), &["video", "resolution"], "4k".into()),
            "video.resolution: `4k` is not a resolution",
        ),
        (
            with(base(), &["video", "upscale"], true.into()),
            "video.upscale needs video.resolution",
        ),
        (
            with(base(), &["video", "edit", "strength"], "wild".into()),
            "video.edit.strength `wild` is unknown",
        ),
        (
            with(
                base(),
                &["video", "edit", "keyframes"],
                serde_json::json!([png("https://x/0.png")]),
            ),
            "keyframes has 1 entries but video.edit.keyframe_indexes has 0",
        ),
        (
            with(
                base(),
                &["video", "edit"],
                serde_json::json!({"keyframes": [png("https://x/0.png"), png("https://x/1.png")],
                                                              "keyframe_indexes": [4, 4]}),
            ),
            "keyframe_indexes[0] and [1] are both 4",
        ),
        (
            with(
                base(),
                &["video", "edit"],
                serde_json::json!({"keyframes": [png("https://x/0.png")],
                                                              "keyframe_indexes": [-1]}),
            ),
            "keyframe_indexes[0] is -1",
        ),
        (
            with(
                base(),
                &["video", "edit"],
                serde_json::json!({"keyframes": [{"generation_id": "0b7d2f1e-1c2a-4e4b-8f3a-0d6c1f2e3a4b"}],
                                                              "keyframe_indexes": [3]}),
            ),
            "video.edit.keyframes[0].generation_id cannot be a keyframe",
        ),
        (
            with(
                base(),
                &["video", "edit"],
                serde_json::json!({"keyframes": [{"data": "AAAA", "media_type": "video/mp4"}],
                                                              "keyframe_indexes": [3]}),
            ),
            "video.edit.keyframes[0].media_type is `video/mp4`",
        ),
        (
            with(
                with(base(), &["video", "edit"], kf2.clone()),
                &["video", "start_frame"],
                png("https://x/s.png"),
            ),
            "video.start_frame and video.edit.keyframes cannot both be given",
        ),
        (
            with(
                base(),
                &["video", "edit"],
                serde_json::json!({"auto_controls": true, "strength": "flex_1"}),
            ),
            "auto_controls is true but strength or controls are given",
        ),
        (
            with(
                base(),
                &["video", "edit", "controls"],
                serde_json::json!({"face": {"enabled": true}}),
            ),
            "controls.face.enabled: retake cannot detect faces",
        ),
        (
            with(
                base(),
                &["video", "edit", "controls"],
                serde_json::json!({"depth": {"blur": 1.5}}),
            ),
            "video.edit.controls.depth.blur is 1.5; use a number from 0 to 1",
        ),
        (
            with(
                base(),
                &["video", "edit", "controls"],
                serde_json::json!({"pose": {"strength": "loose"}}),
            ),
            "pose.strength is `loose`; use precise or coarse",
        ),
        (
            with(
                base(),
                &["video", "edit", "controls"],
                serde_json::json!({"trajectory": {"sparsity": -0.1}}),
            ),
            "trajectory.sparsity is -0.1",
        ),
        (
            with(
                base(),
                &["video", "edit", "controls"],
                serde_json::json!({"gaze": {}}),
            ),
            "unknown field `gaze`",
        ),
        (
            with(base(), &["callback_url"], "ftp://x".into()),
            "callback_url must be",
        ),
    ];
    for (body, want) in cases {
        let e = check(body.clone()).unwrap_err();
        assert!(e.contains(want), "{body}: {e}");
    }
    let many = with(
        base(),
        &["video", "edit"],
        serde_json::json!({
            "keyframes": (0..65).map(|i| png(&format!("https://x/{i}.png"))).collect::<Vec<_>>(),
            "keyframe_indexes": (0..65).collect::<Vec<_>>(),
        }),
    );
    assert!(check(many).unwrap_err().contains("the most is 64"));
}

#[test]
fn the_servers_highest_tier_caps_requests_and_the_default() {
    let r = |max: Resolution, ask: Option<&str>| {
        let mut b = base();
        if let Some(a) = ask {
            b = with(b, &["video", "resolution"], a.into());
        }
        EditRequest::from_json(b.to_string().as_bytes())
            .and_then(|r| r.validate(20, &Catalogue::default(), max))
            .map(|v| v.resolution)
            .map_err(|e| e.to_string())
    };
    assert_eq!(r(Resolution::P540, None), Ok(Resolution::P540));
    assert_eq!(r(Resolution::P540, Some("360p")), Ok(Resolution::P360));
    let e = r(Resolution::P540, Some("720p")).unwrap_err();
    assert!(e.contains("above this server's highest tier, 540p"), "{e}");
}
