//! Crash safety with a real SIGKILL: a server process is killed while a job is dreaming; a
//! new server on the same data folder takes the job back at once (its lease, ten minutes
//! long here, is not waited out), runs it again to completion, charges it once, duplicates
//! nothing, and announces `dreaming` again under the same webhook id.
//!
//! The server process is this test binary run again with `crash_child` selected and
//! `RETAKE_CRASH_CHILD_DIR` set; without that variable `crash_child` does nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use retake_service::{ClipPipeline, MediaPipeline, PipelineError, PipelineJob, PipelineOutput};
use serde_json::Value;

/// Never finishes on its own: the job stays dreaming until the process dies (test double).
struct Hang;

impl ClipPipeline for Hang {
    fn run(
        &self,
        _: &PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        progress(42);
        while !cancel.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(PipelineError::Cancelled)
    }
}

/// Kills the child server if the test fails before it does, so no orphan holds the output pipe.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Leases long enough that only taking back a dead process's leases can finish the test.
fn crash_config(dir: &std::path::Path) -> retake_service::ServiceConfig {
    retake_service::ServiceConfig {
        lease_ttl: Duration::from_secs(600),
        ..test_config(dir)
    }
}

/// A webhook receiver recording each delivery's id and state.
async fn hook_server() -> (Arc<std::sync::Mutex<Vec<(String, String)>>>, String) {
    let seen: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_string();
                let state = serde_json::from_str::<Value>(&body).unwrap()["state"]
                    .as_str()
                    .unwrap()
                    .to_string();
                s.lock().unwrap().push((id, state));
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (seen, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(dir) = std::env::var("RETAKE_CRASH_CHILD_DIR") else {
        return;
    };
    let config = crash_config(std::path::Path::new(&dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = retake_service::start(config, Arc::new(Hang), listener)
        .await
        .unwrap();
    println!("LISTENING {}", server.base_url());
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_dreaming_then_restart_completes_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = crash_config(dir.path());
    let files = Files::start().await;
    let (hooks, hook_url) = hook_server().await;
    let clip_path = small_clip();
    let media = files.put("c.mp4", std::fs::read(&clip_path).unwrap());
    let first = files.put("f.png", edited_first_frame(&clip_path));
    let key = retake_service::Admin::open(&config)
        .await
        .unwrap()
        .create_key("a", 2.0)
        .await
        .unwrap();

    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("RETAKE_CRASH_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let base = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest prints "test crash_child ... " on the same line first.
            .find_map(|l| {
                l.split_once("LISTENING ")
                    .map(|(_, url)| url.trim().to_string())
            })
    })
    .await
    .unwrap()
    .expect("the child server did not start");
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{base}/dream-machine/v1{p}");
    let body = serde_json::json!({
        "generation_type": "modify_video",
        "media": {"url": media},
        "first_frame": {"url": first},
        "mode": "flex_2",
        "model": "ray-2",
        "callback_url": hook_url,
    });
    let g: Value = http
        .post(api("/generations/video/modify"))
        .bearer_auth(&key.token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = g["id"].as_str().unwrap().to_string();
    let mut dreaming = false;
    for _ in 0..400 {
        let s: Value = http
            .get(api(&format!("/generations/{id}")))
            .bearer_auth(&key.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let announced = s["webhooks"][0]["status"] == "delivered";
        if s["state"] == "dreaming" && announced {
            dreaming = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dreaming, "the job never reached dreaming in the child");
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server =
        retake_service::start(config.clone(), Arc::new(MediaPipeline::default()), listener)
            .await
            .unwrap();
    let t = TestServer {
        server: Some(server),
        dir,
        config,
        http,
    };
    let done = t.wait_done(&key.token, &id).await;
    assert_eq!(done["state"], "completed", "{done}");
    let credits = t.get(&key.token, "/credits").await;
    assert_eq!(remaining(&credits), Some(1.99), "charged exactly once");
    let list: Value = t
        .get(&key.token, "/generations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 1, "nothing duplicated");
    assert_mp4_at(done["assets"]["video"].as_str().unwrap()).await;
    // The delivered `dreaming` is not sent again by the second run; `completed` follows.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while hooks.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = hooks.lock().unwrap().clone();
    let compact = id.replace('-', "");
    assert_eq!(
        seen,
        [
            (format!("msg_{compact}_dreaming"), "dreaming".to_string()),
            (format!("msg_{compact}_completed"), "completed".to_string()),
        ]
    );
    assert_eq!(
        files_under(&t.dir.path().join("blobs/tmp")),
        Vec::<std::path::PathBuf>::new(),
        "no temporary files left behind (the killed server's scratch folder is cleared too)"
    );
}
