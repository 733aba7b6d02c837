//! Entry points for the fuzz targets in `fuzz/` and for the bounded fuzz run in the tests:
//! the request parsers of every API surface, fed arbitrary bytes. Not part of the API.
//!
//! The Luma create body goes through its parser and validation. The Segmind bodies (JSON
//! and multipart forms) go through the real router of a real service on a temporary data
//! folder, so the framework's extractors, the form reader and the upload writer are covered
//! too; the caller's create rate is used up first, so a request that parses stops with 429
//! just before anything would be fetched. Every answer must be a success or an error in the
//! one JSON shape, and never a 5xx.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::api::ErrorBody;
use crate::config::ServiceConfig;
use crate::domain::ModifyVideoRequest;
use crate::pipeline::{ClipPipeline, PipelineError, PipelineJob, PipelineOutput};
use crate::store::KeyRecord;

/// The boundary the multipart target's bodies use.
pub const BOUNDARY: &str = "retakefuzzboundary";

/// The Luma create body: JSON parsing and validation.
pub fn luma_create(body: &[u8]) {
    if let Ok(req) = ModifyVideoRequest::from_json(body) {
        let catalogue = crate::catalogue::Catalogue::default();
        if let Ok(v) = req.validate(2000, &catalogue, crate::catalogue::Surface::Luma) {
            let lower = v.media_url.to_ascii_lowercase();
            assert!(lower.starts_with("http://") || lower.starts_with("https://"));
            assert!(v.prompt.as_ref().is_none_or(|p| p.chars().count() <= 2000));
        }
    }
}

struct NeverRuns;

impl ClipPipeline for NeverRuns {
    fn run(
        &self,
        _: &PipelineJob,
        _: &dyn Fn(u8),
        _: &std::sync::atomic::AtomicBool,
    ) -> Result<PipelineOutput, PipelineError> {
        Err(PipelineError::Failed(
            "the fuzzing harness runs no jobs".into(),
        ))
    }
}

/// A service on a temporary data folder and a key whose create rate is used up.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    token: String,
    _dir: tempfile_dir::TempDir,
}

/// A throwaway folder (the crate has no `tempfile` dependency outside its tests).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<Self> {
            let p = std::env::temp_dir().join(format!(
                "retake-fuzz-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&p)?;
            Ok(Self(p))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Harness {
    /// Builds the service (panics if it cannot: a harness without a service is useless).
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = tempfile_dir::TempDir::new().expect("a temporary folder");
        let config = ServiceConfig {
            data_dir: dir.path().to_path_buf(),
            workers: 0,
            log: "error".into(),
            max_bytes: 1 << 20,
            max_image_bytes: 1 << 20,
            submit_limit_per_min: 1e-9,
            submit_limit_burst: 1.0,
            rate_limit_per_s: 0.0,
            ..ServiceConfig::default()
        };
        let (svc, token) = rt.block_on(async {
            let admin = crate::Admin::open(&config).await.expect("the store opens");
            let key = admin.create_key("fuzz", 1000.0).await.expect("a key");
            let bound = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
            let (svc, _webhooks) = crate::server::build(config, Arc::new(NeverRuns), bound)
                .await
                .expect("the service starts");
            // Use up the create rate: a request that parses stops at 429, before any fetch.
            let record: Option<KeyRecord> = svc.store.key(&key.id).await.ok().flatten();
            if let Some(k) = record {
                let _ = svc.submit_limiter.check(&k.id);
            }
            (svc, key.token)
        });
        Self {
            app: crate::api::router(svc),
            rt,
            token,
            _dir: dir,
        }
    }

    fn send(&self, path: &str, content_type: &str, body: &[u8]) {
        let req = Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_vec()))
            .expect("a request");
        let mut app = self.app.clone();
        self.rt.block_on(async move {
            let resp = match tower_service::Service::call(&mut app, req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            assert!(
                !status.is_server_error(),
                "{status}: {}",
                String::from_utf8_lossy(&bytes)
            );
            if status.is_client_error() {
                let e: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "{status} is not the JSON error shape ({e}): {}",
                        String::from_utf8_lossy(&bytes)
                    )
                });
                assert!(!e.detail.is_empty() && !e.code.is_empty());
                assert_eq!(e.error.as_deref(), Some(e.detail.as_str()));
            } else {
                assert_ne!(
                    status,
                    StatusCode::OK,
                    "a create was accepted past its rate"
                );
            }
        });
    }

    /// Segmind's JSON body, through `POST /v2/modify-video`.
    pub fn segmind_json(&self, body: &[u8]) {
        self.send("/v2/modify-video", "application/json", body);
    }

    /// Segmind's multipart form (boundary [`BOUNDARY`]), through `POST /v2/modify-video`.
    pub fn segmind_multipart(&self, body: &[u8]) {
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        self.send("/v2/modify-video", &ct, body);
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}
