//! `retake serve`, `retake worker`, `retake keys` and `retake config`, run as a user would:
//! real processes on a temporary data folder, driven over loopback HTTP.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use retake_testkit::{args, clip_from, pattern};
use serde_json::Value;

/// `retake` with a clean environment (no RETAKE_* from the developer's shell).
fn retake_cmd(a: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_retake"));
    c.args(a)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RETAKE_LOG", "warn");
    c
}

fn retake(a: &[&str]) -> Output {
    retake_cmd(a).output().expect("cannot run retake")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A `retake serve` or `retake worker` process; killed if the test fails before stopping it.
struct Server {
    child: Child,
    /// The lines it wrote to stderr up to the one we waited for.
    log: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(a: &[&str], ready: &str) -> Self {
        let mut child = retake_cmd(a)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start retake");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Server {
            child,
            log: Vec::new(),
            lines,
        };
        s.wait_line(ready);
        s
    }

    fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                self.log.push(l.clone());
                if l.contains(needle) {
                    return l;
                }
            }
        }
        panic!(
            "no `{needle}` from retake; it said:\n{}",
            self.log.join("\n")
        );
    }

    /// The base URL from "retake: serving http://…".
    fn base(&self) -> String {
        let line = self
            .log
            .iter()
            .find(|l| l.contains("serving http://"))
            .expect("not a serve process");
        let url = line.split("serving ").nth(1).unwrap();
        url.split_whitespace().next().unwrap().to_string()
    }

    /// SIGTERM, as a service manager stops it; it must exit cleanly.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit after SIGTERM: {status}");
                return;
            }
            assert!(Instant::now() < deadline, "retake ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn get(base: &str, path: &str, token: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn admin_token(data: &Path) -> String {
    let key: Value =
        serde_json::from_slice(&std::fs::read(data.join("admin-key.json")).unwrap()).unwrap();
    key["token"].as_str().unwrap().to_string()
}

#[test]
fn a_fresh_serve_makes_an_admin_key_once_and_keys_manage_access() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let serve = ["serve", "--data-dir", d, "--bind", "127.0.0.1:0"];
    let server = Server::start(&serve, "serving http://");
    let first_start = server.log.join("\n");
    assert!(first_start.contains("first start"), "{first_start}");
    assert!(
        first_start.contains(&format!("cat {}", data.join("admin-key.json").display())),
        "tells how to read the key: {first_start}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("admin-key.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the admin key");
    }
    let base = server.base();
    let admin = admin_token(&data);
    let rt = rt();
    let (s, credits) = rt.block_on(get(&base, "/dream-machine/v1/credits", &admin));
    assert_eq!((s, credits["credit_balance"].as_f64()), (200, Some(1000.0)));

    let o = retake(&[
        "keys",
        "create",
        "--name",
        "bob",
        "--credits",
        "2.5",
        "--json",
        "--data-dir",
        d,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let bob: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (bob_id, bob_token) = (
        bob["id"].as_str().unwrap().to_string(),
        bob["token"].as_str().unwrap().to_string(),
    );
    assert!(bob["webhook_secret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    let (_, c) = rt.block_on(get(&base, "/dream-machine/v1/credits", &bob_token));
    assert_eq!(c["credit_balance"], 2.5);

    let o = retake(&[
        "keys",
        "credit",
        &bob_id,
        "--credits",
        "-0.5",
        "--data-dir",
        d,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2.00 credits available"), "{}", text(&o));
    let o = retake(&["keys", "list", "--json", "--data-dir", d]);
    let keys: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert_eq!(keys[1]["name"], "bob");
    assert_eq!(keys[1]["available"], 2.0);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("rtk_"),
        "list shows no secrets"
    );
    let o = retake(&["keys", "list", "--data-dir", d]);
    assert!(text(&o).contains("bob") && text(&o).contains("active"));

    let o = retake(&["keys", "revoke", &bob_id, "--data-dir", d]);
    assert!(o.status.success(), "{}", text(&o));
    let (s, body) = rt.block_on(get(&base, "/dream-machine/v1/credits", &bob_token));
    assert_eq!(s, 401);
    assert!(body["detail"].as_str().unwrap().contains("revoked"));
    let o = retake(&["keys", "revoke", "nosuchkey", "--data-dir", d]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).starts_with("error: "), "{}", text(&o));

    server.stop();
    // A second start on the same folder finds its keys and says nothing about them.
    let again = Server::start(&serve, "serving http://");
    assert!(!again.log.join("\n").contains("first start"));
    let (s, _) = rt.block_on(get(&again.base(), "/dream-machine/v1/credits", &admin));
    assert_eq!(s, 200);
    again.stop();
}

#[test]
fn config_prints_defaults_file_environment_and_flags_with_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("retake.toml"),
        "workers = 3\nsync_timeout = \"15m\"\n",
    )
    .unwrap();
    let o = retake_cmd(&["config", "--data-dir", "/srv/retake"])
        .current_dir(dir.path())
        .env("RETAKE_BIND", "0.0.0.0:9999")
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for want in [
        "# file: retake.toml",
        "workers = 3  # from retake.toml",
        "sync_timeout = \"15m\"  # from retake.toml",
        "bind = \"0.0.0.0:9999\"  # from RETAKE_BIND",
        "data_dir = \"/srv/retake\"  # from --data-dir",
        "[catalogue.ray-2.price]\nper_mpx = 0.01582\n",
        "[catalogue.ray-flash-2]\nmax_duration_s = 15.0\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    let o = retake_cmd(&["config", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["workers"], 3);
    let o = retake_cmd(&["config"])
        .current_dir(dir.path())
        .env("RETAKE_WORKERS", "many")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("RETAKE_WORKERS"), "{}", text(&o));
    let o = retake(&["config", "--config", "/no/such/retake.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("cannot read the config file"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_api_node_and_a_separate_worker_process_finish_a_job_together() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let clip = clip_from(
        "serve-split.mp4",
        &[
            pattern("128x96", "24", 1.0),
            args(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ],
    );
    let frame = dir.path().join("first.png");
    let o = retake(&[
        "frame",
        clip.to_str().unwrap(),
        "-o",
        frame.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    let api = Server::start(
        &[
            "serve",
            "--no-workers",
            "--data-dir",
            d,
            "--bind",
            "127.0.0.1:0",
        ],
        "serving http://",
    );
    assert!(api.log.join("\n").contains("0 in-process workers"));
    let base = api.base();
    let token = admin_token(&data);
    let rt = rt();
    let id = rt.block_on(async {
        let http = reqwest::Client::new();
        let upload = |bytes: Vec<u8>| {
            let req = http
                .post(format!("{base}/v1/uploads"))
                .bearer_auth(&token)
                .body(bytes);
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let media = upload(std::fs::read(&clip).unwrap()).await;
        let first = upload(std::fs::read(&frame).unwrap()).await;
        let g: Value = http
            .post(format!("{base}/dream-machine/v1/generations/video/modify"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "generation_type": "modify_video",
                "media": {"url": media["url"]},
                "first_frame": {"url": first["url"]},
                "mode": "adhere_1",
                "model": "ray-flash-2",
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        g["id"].as_str().unwrap().to_string()
    });
    // Nobody works on it yet.
    std::thread::sleep(Duration::from_millis(800));
    let (_, g) = rt.block_on(get(
        &base,
        &format!("/dream-machine/v1/generations/{id}"),
        &token,
    ));
    assert_eq!(g["state"], "queued");
    let (_, h) = rt.block_on(get(&base, "/healthz", &token));
    assert_eq!(h["queue_depth"], 1);

    let worker = Server::start(&["worker", "--data-dir", d], "worker on");
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let (_, g) = rt.block_on(get(
            &base,
            &format!("/dream-machine/v1/generations/{id}"),
            &token,
        ));
        if g["state"] == "completed" || g["state"] == "failed" {
            break g;
        }
        assert!(Instant::now() < deadline, "not finished: {g}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(done["state"], "completed", "{done}");
    let video = rt.block_on(async {
        reqwest::get(done["assets"]["video"].as_str().unwrap())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    assert_eq!(&video[4..8], b"ftyp");
    worker.stop();
    api.stop();
}
