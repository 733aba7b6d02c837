//! Runs schemathesis (PyPI) against the running server's `/openapi.json`: every operation is
//! fuzzed with schema-valid and schema-violating requests, and every answer is checked for
//! server errors and against the document (status codes, content types, headers, bodies).
//! Needs `pip install schemathesis`.
//!
//! One check is left out: `positive_data_acceptance` wants every schema-valid create to
//! succeed, but a create is only valid if its URL serves a real video, which a schema cannot
//! say. The URL fields are plain strings in the schema for the same reason, so the fuzzer
//! never makes the server fetch from the network.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_and_no_schema_violations() {
    let python = python_with("schemathesis");
    let t = TestServer::start_with(
        |c| c.fetch_timeout = Duration::from_secs(2),
        std::sync::Arc::new(retake_service::MediaPipeline::default()),
    )
    .await;
    let files = Files::start().await;
    let k = t.key("fuzz", 100.0).await;
    // A real completed generation, so the id-taking operations are fuzzed against real data
    // too and its Generation and Task objects are checked against the schema.
    let clip_path = small_clip();
    let clip = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let g: serde_json::Value = t
        .post_json(
            &k.token,
            "/generations/video/modify",
            luma_body(&clip, Some(&first)),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(t.wait_done(&k.token, &id).await["state"], "completed");

    // A real clip upload, so the frame routes are fuzzed against real frames too.
    let up = t.upload(&k.token, std::fs::read(&clip_path).unwrap()).await;
    let upload = up["id"].as_str().unwrap();

    let config = t.dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        // Only the read-only frame and content routes get it: a stateful run that deletes an
        // upload it just made must name that one.
        format!(
            "[parameters]\n\"path.id\" = \"{id}\"\n\"path.task_id\" = \"{id}\"\n\n\
             [[operations]]\n\
             include-path-regex = \"^/v1/uploads/\\\\{{upload_id\\\\}}/(frames|content)\"\n\
             parameters = {{ \"path.upload_id\" = \"{upload}\" }}\n"
        ),
    )
    .unwrap();
    let report = t.dir.path().join("st-report");
    let schema = format!("{}/openapi.json", t.base());
    let token = k.token.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([
                "-c",
                "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'st'; \
                 sys.exit(schemathesis())",
            ])
            .arg("--no-color")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &schema])
            // Both of the document's schemes, with the same key, so that the fuzzer's own
            // value for one of them does not turn every create into a 401 (two keys).
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--header", &format!("x-api-key: {token}")])
            .args([
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
            ])
            // One worker: Debian's Python 3.11 can fail hypothesis's own source parsing when
            // two threads parse at once ("AST constructor recursion depth mismatch",
            // CPython gh-106905, fixed in 3.12).
            .args(["--max-examples", "25", "--seed", "1", "--workers", "1"])
            .args(["--request-timeout", "30"])
            .arg("--report-dir")
            .arg(&report)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    // 18 Luma, Segmind, uploads and operations routes, RunAPI's 7, the studio's info and its
    // 6 routes (frames, a frame, an upload's content, preview, quote, events), and the agents
    // surface's 11 (5 for generations, 6 for files).
    assert!(text.contains("43 selected / 43 total"), "{text}");
    assert!(!text.contains("FAILURES"), "{text}");
}
