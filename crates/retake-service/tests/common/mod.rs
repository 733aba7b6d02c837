//! Shared test rig: the real server on a free loopback port with a temporary data folder,
//! a loopback file server for input media, and clips made by ffmpeg.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as AxPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use retake_service::{
    Admin, AllowNet, ClipPipeline, CreatedKey, MediaPipeline, RunningServer, ServiceConfig,
};
use tokio::net::TcpListener;

/// A running server with its data folder and an HTTP client.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub dir: tempfile::TempDir,
    pub config: ServiceConfig,
    pub http: reqwest::Client,
}

/// The config tests use: loopback allow-listed, short leases and fast retries, rate limits
/// out of the way (the tests of limits set their own).
pub fn test_config(dir: &Path) -> ServiceConfig {
    ServiceConfig {
        data_dir: dir.to_path_buf(),
        lease_ttl: Duration::from_secs(3),
        poll_interval: Duration::from_millis(100),
        webhook_backoff: Duration::from_millis(100),
        fetch_allow: vec![AllowNet::parse("127.0.0.0/8").unwrap()],
        rate_limit_per_s: 10_000.0,
        rate_limit_burst: 10_000.0,
        submit_limit_per_min: 10_000.0,
        submit_limit_burst: 1_000.0,
        ..ServiceConfig::default()
    }
}

impl TestServer {
    /// Starts the server with the real media pipeline.
    pub async fn start() -> Self {
        Self::start_with(|_| {}, Arc::new(MediaPipeline::default())).await
    }

    /// Starts the server with a config tweak and a pipeline.
    pub async fn start_with(
        tweak: impl FnOnce(&mut ServiceConfig),
        pipeline: Arc<dyn ClipPipeline>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = retake_service::start(config.clone(), pipeline, listener)
            .await
            .unwrap();
        Self {
            server: Some(server),
            dir,
            config,
            http: reqwest::Client::new(),
        }
    }

    pub fn base(&self) -> String {
        self.server.as_ref().unwrap().base_url().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/dream-machine/v1{path}", self.base())
    }

    /// Makes a key with `credits`.
    pub async fn key(&self, name: &str, credits: f64) -> CreatedKey {
        Admin::open(&self.config)
            .await
            .unwrap()
            .create_key(name, credits)
            .await
            .unwrap()
    }

    /// Stores `bytes` with `POST /v1/uploads` for `token`; the answer (201) as JSON.
    pub async fn upload(&self, token: &str, bytes: Vec<u8>) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}/v1/uploads", self.base()))
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    pub async fn post_json(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Polls a generation until it is completed or failed.
    pub async fn wait_done(&self, token: &str, id: &str) -> serde_json::Value {
        for _ in 0..1200 {
            let g: serde_json::Value = self
                .get(token, &format!("/generations/{id}"))
                .await
                .json()
                .await
                .unwrap();
            if g["state"] == "completed" || g["state"] == "failed" {
                return g;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("generation {id} did not finish in 120 s");
    }
}

/// Reads the `x-remaining-credits` header.
pub fn remaining(resp: &reqwest::Response) -> Option<f64> {
    resp.headers()
        .get("x-remaining-credits")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A loopback HTTP server handing out files (and redirects) by name.
#[derive(Clone, Default)]
pub struct Files {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    pub addr: Option<SocketAddr>,
}

#[derive(Clone)]
enum Entry {
    Bytes(Vec<u8>),
    Redirect(String),
}

async fn serve_file(State(files): State<Files>, AxPath(name): AxPath<String>) -> Response {
    let entry = files.inner.lock().unwrap().get(&name).cloned();
    match entry {
        Some(Entry::Bytes(b)) => b.into_response(),
        Some(Entry::Redirect(to)) => (StatusCode::FOUND, [("location", to)]).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Files {
    pub async fn start() -> Self {
        let mut files = Files::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        files.addr = Some(listener.local_addr().unwrap());
        let app = Router::new()
            .route("/f/{name}", get(serve_file))
            .with_state(files.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        files
    }

    /// Serves `bytes` as `/f/{name}` and returns its URL.
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> String {
        self.inner
            .lock()
            .unwrap()
            .insert(name.into(), Entry::Bytes(bytes));
        self.url(name)
    }

    /// Serves a redirect to `to` as `/f/{name}`.
    pub fn redirect(&self, name: &str, to: &str) -> String {
        self.inner
            .lock()
            .unwrap()
            .insert(name.into(), Entry::Redirect(to.into()));
        self.url(name)
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/f/{name}", self.addr.unwrap())
    }
}

/// A 1 s, 128×96, 24 fps H.264 clip (24 frames) made by ffmpeg.
pub fn small_clip() -> PathBuf {
    retake_testkit::clip_from(
        "svc-small.mp4",
        &[
            retake_testkit::pattern("128x96", "24", 1.0),
            retake_testkit::args(&["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12"]),
        ],
    )
}

/// The first frame of `clip`, hue-rotated as if edited, as PNG bytes.
pub fn edited_first_frame(clip: &Path) -> Vec<u8> {
    let out = retake_testkit::fixture_dir().join(format!(
        "svc-first-{}.png",
        clip.file_name().unwrap().to_string_lossy()
    ));
    if !out.exists() {
        let tmp = retake_testkit::scratch("first.png");
        retake_testkit::ffmpeg(&[
            "-i",
            &clip.to_string_lossy(),
            "-vf",
            "hue=h=120",
            "-frames:v",
            "1",
            &tmp.to_string_lossy(),
        ]);
        std::fs::rename(&tmp, &out).unwrap();
    }
    std::fs::read(out).unwrap()
}

/// A pipeline that reports 50 % and then holds the job until it is cancelled or `release` is
/// set (test double; the real one is `MediaPipeline`). `started` turns true once it runs.
pub struct Gate {
    pub release: Arc<std::sync::atomic::AtomicBool>,
    pub started: Arc<std::sync::atomic::AtomicBool>,
}

impl Gate {
    pub fn new() -> Self {
        Self {
            release: Arc::default(),
            started: Arc::default(),
        }
    }
}

impl ClipPipeline for Gate {
    fn run(
        &self,
        job: &retake_service::PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<retake_service::PipelineOutput, retake_service::PipelineError> {
        use std::sync::atomic::Ordering;
        self.started.store(true, Ordering::SeqCst);
        progress(50);
        while !self.release.load(Ordering::SeqCst) {
            if cancel.load(Ordering::SeqCst) {
                return Err(retake_service::PipelineError::Cancelled);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        MediaPipeline::default().run(job, progress, cancel)
    }
}

/// The real pipeline, except that a prompt of `__fail__` fails the way a damaged clip does
/// (test double for a failure after the request was accepted).
pub struct FailOnPrompt(pub MediaPipeline);

impl ClipPipeline for FailOnPrompt {
    fn run(
        &self,
        job: &retake_service::PipelineJob,
        progress: &dyn Fn(u8),
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<retake_service::PipelineOutput, retake_service::PipelineError> {
        if job.prompt.as_deref() == Some("__fail__") {
            return Err(retake_service::PipelineError::Input(
                "frame 3 could not be decoded; re-encode the clip".into(),
            ));
        }
        self.0.run(job, progress, cancel)
    }
}

/// The JSON body of a Luma create for `media` (and `first`).
pub fn luma_body(media: &str, first: Option<&str>) -> serde_json::Value {
    let mut b = serde_json::json!({
        "generation_type": "modify_video",
        "media": {"url": media},
        "mode": "flex_1",
        "model": "ray-2",
    });
    if let Some(f) = first {
        b["first_frame"] = serde_json::json!({ "url": f });
    }
    b
}

/// Downloads a generation's video from its (signed) URL and checks it is an MP4.
pub async fn assert_mp4_at(url: &str) {
    let video = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(&video[4..8], b"ftyp", "{url} is not an MP4");
}

/// Status and `detail` of an error response.
pub async fn detail_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body["detail"].as_str().unwrap_or("").to_string())
}

/// Polls until `check` holds for the generation (or panics after `secs`).
pub async fn wait_for(
    t: &TestServer,
    token: &str,
    id: &str,
    secs: u64,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let g: serde_json::Value = t
            .get(token, &format!("/generations/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if check(&g) {
            return g;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "generation {id} never got there: {g}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The interpreter for the Python tests: `$PYTHON`, else `python3`; panics with the install
/// command when `modules` cannot be imported.
pub fn python_with(modules: &str) -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let check = std::process::Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output();
    let pkgs = "lumaai luma-agents segmind requests pytest schemathesis";
    match check {
        Ok(o) if o.status.success() => python,
        Ok(o) => panic!(
            "the Python tests need their packages: run `bash scripts/setup.sh` or \
             `pip install {pkgs}` and set PYTHON ({})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run {python} ({e}); install Python 3 and `pip install {pkgs}`"),
    }
}

// --- raw sockets and files, for the hardening tests ---

/// Reads from a socket until the server closes it, or `limit` passes (then `None`).
pub async fn read_until_closed(
    sock: &mut tokio::net::TcpStream,
    limit: std::time::Duration,
) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        match tokio::time::timeout(left, tokio::io::AsyncReadExt::read(sock, &mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

pub fn status_line(response: &[u8]) -> String {
    String::from_utf8_lossy(response)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

pub fn body_json(response: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(response);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

pub fn addr(t: &TestServer) -> std::net::SocketAddr {
    t.server.as_ref().unwrap().addr()
}

/// Every file under `dir`.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A multipart form in the fuzz harness's framing.
pub fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let b = retake_service::fuzzing::BOUNDARY;
    let mut out = Vec::new();
    for (name, file, value) in parts {
        out.extend_from_slice(format!("--{b}\r\n").as_bytes());
        match file {
            Some(f) => out.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    out
}

pub fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    retake_testkit::mutate::corpus_files(&dir)
        .into_iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

/// Every file under `dir`, however deep.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}
