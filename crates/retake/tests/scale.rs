//! Several machines, as the README's "Several machines" section sets them up: one API node
//! (`retake serve --no-workers`) and two worker processes (`retake worker`), each with its
//! own empty data folder and, where this machine allows it (root, `ip netns`), its own network
//! namespace joined to the others by veth links on a bridge — so only PostgreSQL, S3 and HTTP
//! cross between them. PostgreSQL is a throwaway cluster, S3 is moto, both real servers.
//!
//! 1. 20 generations through the official `lumaai` SDK; one worker is SIGKILLed mid-job and
//!    PostgreSQL is restarted mid-run: every generation completes, each is charged once.
//! 2. 200 concurrent creates spread over two API nodes, 100 idempotency keys each sent to
//!    both, by a key whose credits cover only 60: exactly 60 generations, none lost, none
//!    charged twice, the balance never below zero.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use retake_testkit::services::{free_port, python, Postgres, S3Server};
use serde_json::Value;

const LINK_SECRET: &str = "scale-test-link-secret-0123456789abcdef";
/// The port every API node listens on (each in its own namespace, or loopback ports).
const API_PORT: u16 = 8787;

/// The nodes' network: a bridge with one veth link per node namespace, or plain loopback
/// where namespaces cannot be made (then every node still has its own data folder).
struct Net {
    host: String,
    nodes: Vec<(Option<String>, String)>,
    bridge: Option<String>,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Net {
    fn make(count: usize) -> Net {
        let tag = std::process::id() % 100_000;
        let subnet = format!("10.213.{}", tag % 250);
        let bridge = format!("rtb{tag}");
        let host = format!("{subnet}.1");
        let mut net = Net {
            host: host.clone(),
            nodes: Vec::new(),
            bridge: Some(bridge.clone()),
        };
        let mut ok = ip(&["link", "add", &bridge, "type", "bridge"])
            && ip(&["addr", "add", &format!("{host}/24"), "dev", &bridge])
            && ip(&["link", "set", &bridge, "up"]);
        for i in 0..count {
            if !ok {
                break;
            }
            let ns = format!("rt{tag}n{i}");
            let (h, n) = (format!("rt{tag}h{i}"), format!("rt{tag}v{i}"));
            let addr = format!("{subnet}.{}", 10 + i);
            ok = ip(&["netns", "add", &ns])
                && ip(&["link", "add", &h, "type", "veth", "peer", "name", &n])
                && ip(&["link", "set", &n, "netns", &ns])
                && ip(&["link", "set", &h, "master", &bridge])
                && ip(&["link", "set", &h, "up"])
                && ip(&[
                    "netns",
                    "exec",
                    &ns,
                    "ip",
                    "addr",
                    "add",
                    &format!("{addr}/24"),
                    "dev",
                    &n,
                ])
                && ip(&["netns", "exec", &ns, "ip", "link", "set", &n, "up"])
                && ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
            net.nodes.push((Some(ns), addr));
        }
        if ok {
            return net;
        }
        eprintln!(
            "scale test: cannot make network namespaces here (needs root and `ip netns`); \
             the nodes run on loopback, each with its own data folder"
        );
        drop(net);
        Net {
            host: "127.0.0.1".into(),
            nodes: (0..count)
                .map(|_| (None, "127.0.0.1".to_string()))
                .collect(),
            bridge: None,
        }
    }

    fn isolated(&self) -> bool {
        self.bridge.is_some()
    }

    /// `retake ARGS` on node `i`, with a clean environment.
    fn retake(&self, i: usize, args: &[&str]) -> Command {
        let mut c = match &self.nodes[i].0 {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns])
                    .arg(env!("CARGO_BIN_EXE_retake"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_retake")),
        };
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        c
    }

    /// Where clients reach API node `i`.
    fn api_base(&self, i: usize) -> String {
        let port = if self.isolated() {
            API_PORT
        } else {
            API_PORT + i as u16
        };
        format!("http://{}:{port}", self.nodes[i].1)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for (ns, _) in &self.nodes {
            if let Some(ns) = ns {
                ip(&["netns", "del", ns]);
            }
        }
        if let Some(b) = &self.bridge {
            ip(&["link", "del", b]);
        }
    }
}

/// A `retake serve` or `retake worker` process; killed if the test ends first.
struct Node {
    child: Child,
    log: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl Node {
    fn start(mut cmd: Command, ready: &str) -> Node {
        let mut child = cmd
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
        let mut n = Node {
            child,
            log: Vec::new(),
            lines,
        };
        n.wait_line(ready, 60);
        n
    }

    fn wait_line(&mut self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.log.push(l.clone());
                if l.contains(needle) {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.drain();
                panic!("retake exited ({status}):\n{}", self.log.join("\n"));
            }
        }
        panic!("no `{needle}` from retake:\n{}", self.log.join("\n"));
    }

    fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.log.push(l);
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // What the node said, for the failure report.
            self.drain();
            let tail = self.log.len().saturating_sub(40);
            eprintln!(
                "--- node {} said:\n{}",
                self.child.id(),
                self.log[tail..].join("\n")
            );
        }
    }
}

/// Serves a folder over HTTP (the media URLs the API node fetches).
struct FileServer(Child);

impl FileServer {
    fn start(dir: &Path, host: &str) -> (FileServer, String) {
        let port = free_port(host);
        // http.server, with a listen backlog for 200 fetches at once (its default is 5).
        let script = "import functools, http.server, sys\n\
            class S(http.server.ThreadingHTTPServer):\n    request_queue_size = 1024\n\
            h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[3])\n\
            S((sys.argv[1], int(sys.argv[2])), h).serve_forever()\n";
        let child = Command::new(python())
            .args(["-c", script, host, &port.to_string()])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect((host, port)).is_err() {
            assert!(Instant::now() < deadline, "the file server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        (FileServer(child), format!("http://{host}:{port}"))
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The settings every node shares (what the README's "Several machines" section writes
/// into each machine's retake.toml), as environment variables.
fn node_env(cmd: &mut Command, db: &str, s3: &str, net: &Net) {
    cmd.env("RETAKE_DATABASE_URL", db)
        .env("RETAKE_BLOB_STORE", "s3://scale/retake")
        .env("RETAKE_S3_ENDPOINT", s3)
        .env("RETAKE_S3_ACCESS_KEY_ID", "test")
        .env("RETAKE_S3_SECRET_ACCESS_KEY", "test")
        .env("RETAKE_LINK_SECRET", LINK_SECRET)
        .env("RETAKE_LEASE_TTL", "2s")
        .env("RETAKE_POLL_INTERVAL", "300ms")
        .env("RETAKE_MAX_ATTEMPTS", "5")
        .env("RETAKE_FETCH_ALLOW", format!("{}/24,127.0.0.0/8", net.host))
        .env("RETAKE_RATE_LIMIT_PER_S", "0")
        .env("RETAKE_SUBMIT_LIMIT_PER_MIN", "0")
        .env("RETAKE_LOG", "info");
}

fn api_node(net: &Net, i: usize, data: &Path, db: &str, s3: &str) -> Node {
    let port = if net.isolated() {
        API_PORT
    } else {
        API_PORT + i as u16
    };
    let bind = format!("{}:{port}", net.nodes[i].1);
    let mut cmd = net.retake(i, &["serve", "--no-workers", "--bind", &bind, "--data-dir"]);
    cmd.arg(data);
    node_env(&mut cmd, db, s3, net);
    cmd.env("RETAKE_PUBLIC_URL", net.api_base(i));
    Node::start(cmd, "serving http://")
}

fn worker_node(net: &Net, i: usize, data: &Path, db: &str, s3: &str) -> Node {
    let mut cmd = net.retake(i, &["worker", "--workers", "1", "--data-dir"]);
    cmd.arg(data);
    node_env(&mut cmd, db, s3, net);
    Node::start(cmd, "Ctrl-C stops")
}

/// `retake keys …` on the database, from the test's own machine.
fn keys(db_local: &str, data: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_retake"))
        .arg("keys")
        .args(args)
        .arg("--json")
        .arg("--data-dir")
        .arg(data)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RETAKE_DATABASE_URL", db_local)
        .env("RETAKE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "retake keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn an_api_node_and_two_workers_on_postgres_and_s3() {
    let started = Instant::now();
    let net = Net::make(4);
    let pg = Postgres::start(&[&net.host]);
    let s3 = S3Server::start(&net.host, None);
    s3.create_bucket("scale");
    let db_local = pg.create_database();
    let db_name = Postgres::db_of(&db_local).to_string();
    let db = format!("postgres://postgres@{}:{}/{db_name}", net.host, pg.port);

    // Inputs: a 1 s, 128×96 clip and its edited first frame.
    let media_dir = tempfile::tempdir().unwrap();
    let clip = retake_testkit::clip_from(
        "scale-clip.mp4",
        &[
            retake_testkit::pattern("128x96", "24", 1.0),
            retake_testkit::args(&["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12"]),
        ],
    );
    std::fs::copy(&clip, media_dir.path().join("clip.mp4")).unwrap();
    let first = media_dir.path().join("first.png");
    retake_testkit::ffmpeg(&[
        "-i",
        &clip.to_string_lossy(),
        "-vf",
        "hue=h=120",
        "-frames:v",
        "1",
        &first.to_string_lossy(),
    ]);
    let (_files, files_url) = FileServer::start(media_dir.path(), &net.host);

    // Each node has its own empty data folder: nothing is shared but the network.
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let s3_url = s3.endpoint.clone();
    // The API node's data folder does not exist yet, as on a fresh machine.
    let api = api_node(&net, 0, &dirs[0].path().join("fresh"), &db, &s3_url);
    let mut w1 = worker_node(&net, 1, dirs[1].path(), &db, &s3_url);
    let w2 = worker_node(&net, 2, dirs[2].path(), &db, &s3_url);
    let key = keys(
        &db_local,
        dirs[4].path(),
        &["create", "--name", "scale", "--credits", "5"],
    );
    let token = key["token"].as_str().unwrap().to_string();

    // Phase 1: the SDK creates 20 generations and polls them to the end.
    let mut sdk = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scale/lumaai_batch.py"))
        .env(
            "RETAKE_BASE_URL",
            format!("{}/dream-machine/v1", net.api_base(0)),
        )
        .env("RETAKE_API_KEY", &token)
        .env("RETAKE_MEDIA_URL", format!("{files_url}/clip.mp4"))
        .env("RETAKE_FIRST_FRAME_URL", format!("{files_url}/first.png"))
        .env("RETAKE_COUNT", "20")
        .env_remove("LUMAAI_API_KEY")
        .env_remove("LUMAAI_BASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, sdk_lines) = mpsc::channel::<String>();
    let out = sdk.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut sdk_log = Vec::new();
    let mut next_line = |secs: u64| -> String {
        let l = sdk_lines
            .recv_timeout(Duration::from_secs(secs))
            .unwrap_or_else(|_| panic!("the SDK script stalled; it said:\n{}", sdk_log.join("\n")));
        sdk_log.push(l.clone());
        l
    };
    let mut created = Vec::new();
    while created.len() < 20 {
        let l = next_line(60);
        if let Some(id) = l.strip_prefix("CREATED ") {
            created.push(id.to_string());
        }
    }

    // SIGKILL worker 1 while it holds a job (its pid is in its lease's worker id).
    let marker = format!(":{}:", w1.pid());
    let deadline = Instant::now() + Duration::from_secs(60);
    let killed_job = loop {
        let held = pg.psql(
            &db_name,
            &format!("SELECT generation_id FROM jobs WHERE lease_owner LIKE '%{marker}%'"),
        );
        if !held.is_empty() {
            break held.lines().next().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "worker 1 never took a job");
        std::thread::sleep(Duration::from_millis(30));
    };
    w1.child.kill().unwrap();
    w1.child.wait().unwrap();

    // Restart PostgreSQL under the running nodes.
    pg.stop();
    std::thread::sleep(Duration::from_millis(500));
    pg.resume();

    let mut done = std::collections::BTreeMap::new();
    loop {
        let l = next_line(150);
        if let Some(rest) = l.strip_prefix("DONE ") {
            let parts: Vec<&str> = rest.splitn(4, ' ').collect();
            done.insert(
                parts[0].to_string(),
                (parts[1].to_string(), parts[2].to_string()),
            );
        }
        if l == "ALL DONE" {
            break;
        }
    }
    let status = sdk.wait().unwrap();
    assert!(
        status.success(),
        "SDK script failed:\n{}",
        sdk_log.join("\n")
    );
    assert_eq!(done.len(), 20, "{done:?}");
    for (id, (state, bytes)) in &done {
        assert_eq!(state, "completed", "{id}: {done:?}\n{}", sdk_log.join("\n"));
        assert!(bytes.parse::<u64>().unwrap() > 1000, "{id} video too small");
    }
    assert!(done.contains_key(&killed_job));
    let attempts_of_killed = pg.psql(
        &db_name,
        &format!("SELECT state || ' ' || credit_state FROM generations WHERE id = '{killed_job}'"),
    );
    assert_eq!(
        attempts_of_killed, "completed charged",
        "the killed worker's job, finished by the other"
    );
    // Charged exactly once each: 20 × 0.01 from 5.
    let listed = keys(&db_local, dirs[4].path(), &["list"]);
    let k = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "scale")
        .unwrap();
    assert_eq!(
        (k["available"].as_f64(), k["reserved"].as_f64()),
        (Some(4.8), Some(0.0))
    );
    assert_eq!(
        pg.psql(&db_name, "SELECT COUNT(*) FROM generations"),
        "20",
        "nothing duplicated"
    );
    // The nodes kept no media of their own: everything lives in the bucket. (The killed
    // worker's job folder stays until it starts again.)
    for (i, d) in dirs.iter().enumerate().filter(|(i, _)| *i != 1 && *i < 3) {
        let stray: Vec<String> = files_under(d.path())
            .into_iter()
            .filter(|f| !f.ends_with("admin-key.json"))
            .collect();
        assert!(stray.is_empty(), "node {i} kept files: {stray:?}");
    }
    drop(w2);

    // Phase 2: 200 creates at once over two API nodes.
    let api2 = api_node(&net, 3, dirs[3].path(), &db, &s3_url);
    let tight = keys(
        &db_local,
        dirs[4].path(),
        &["create", "--name", "tight", "--credits", "0.6"],
    );
    let tight_token = tight["token"].as_str().unwrap().to_string();
    let bases = [net.api_base(0), net.api_base(3)];
    let media = format!("{files_url}/clip.mp4");
    let first_url = format!("{files_url}/first.png");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let answers: Vec<(usize, u16, Value)> = rt.block_on(async {
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for i in 0..100 {
            for base in &bases {
                let (http, base, token) = (http.clone(), base.clone(), tight_token.clone());
                let body = serde_json::json!({
                    "generation_type": "modify_video",
                    "media": {"url": media},
                    "first_frame": {"url": first_url},
                    "mode": "flex_1",
                    "model": "ray-flash-2",
                });
                tasks.push(tokio::spawn(async move {
                    let r = http
                        .post(format!("{base}/dream-machine/v1/generations/video/modify"))
                        .bearer_auth(token)
                        .header("Idempotency-Key", format!("race-{i}"))
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    (i, status, r.json::<Value>().await.unwrap_or(Value::Null))
                }));
            }
        }
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        all
    });
    let mut by_key: std::collections::BTreeMap<usize, Vec<(u16, Value)>> = Default::default();
    for (i, status, body) in answers {
        assert!(status < 500, "create {i} answered {status}: {body}");
        by_key.entry(i).or_default().push((status, body));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (i, pair) in &by_key {
        let mut statuses: Vec<u16> = pair.iter().map(|(s, _)| *s).collect();
        statuses.sort_unstable();
        match statuses.as_slice() {
            [402, 402] => {}
            [200, 201] => {
                assert_eq!(pair[0].1["id"], pair[1].1["id"], "key {i}: one generation");
                ids.insert(pair[0].1["id"].as_str().unwrap().to_string());
            }
            other => panic!("idempotency key {i} answered {other:?}: {pair:?}"),
        }
    }
    assert_eq!(ids.len(), 60, "exactly as many as 0.60 credits cover");
    let tight_id = tight["id"].as_str().unwrap();
    let row = pg.psql(
        &db_name,
        &format!("SELECT balance, reserved, (SELECT COUNT(*) FROM generations WHERE key_id = '{tight_id}') FROM api_keys WHERE id = '{tight_id}'"),
    );
    assert_eq!(row, "60|60|60", "balance|reserved (hundredths)|generations");
    drop(api2);
    drop(api);
    eprintln!(
        "scale test: {} in {:.1} s",
        if net.isolated() {
            "network namespaces"
        } else {
            "loopback"
        },
        started.elapsed().as_secs_f64()
    );
}
