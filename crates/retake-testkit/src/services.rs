//! Real servers for the storage tests, started on this machine and removed afterwards:
//! a throwaway PostgreSQL cluster (Debian's `postgresql` package) and an S3-compatible
//! server (moto's server mode, from the test virtual environment). `scripts/setup.sh`
//! installs both.
//!
//! Each server runs under a small watchdog shell that stops it and deletes its files as soon
//! as the test process that started it is gone, so nothing outlives a test run, not even
//! one that panicked or was killed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A free TCP port on `host` (released again; a test server binds it right after).
pub fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on {host}: {e}"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Waits until `host:port` accepts connections.
fn wait_for_port(host: &str, port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect((host, port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not start on {host}:{port}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Starts `script` (with `args`) under `sh`, as a watchdog that outlives nothing: the script
/// gets the test process's pid as `$1` and must clean up when it is gone.
fn watchdog(script: &str, args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    let pid = std::process::id().to_string();
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("retake-watchdog")
        .arg(&pid)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so ending it ends what it started too.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start sh: {e}"))
}

/// Ends a watchdog and everything in its process group.
fn end_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .output();
    let _ = child.wait();
}

/// The folder of PostgreSQL's server programs (`initdb`, `pg_ctl`): the newest version under
/// `/usr/lib/postgresql/*/bin` (where Debian puts them), else the `PATH`.
fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    match which {
        Some(o) => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        None => panic!(
            "PostgreSQL's server programs are missing: run `bash scripts/setup.sh` (it installs \
             Debian's `postgresql` package)"
        ),
    }
}

/// A throwaway PostgreSQL cluster on its own port and socket folder.
pub struct Postgres {
    /// The address it listens on (always also 127.0.0.1).
    pub host: String,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    _watchdog: Child,
}

impl Postgres {
    /// One cluster for the whole test process, listening on loopback (tests take a database
    /// each with [`Postgres::create_database`]).
    pub fn shared() -> &'static Postgres {
        static PG: OnceLock<Postgres> = OnceLock::new();
        PG.get_or_init(|| Postgres::start(&["127.0.0.1"]))
    }

    /// A new cluster listening on `addresses` (the first is the one URLs name).
    pub fn start(addresses: &[&str]) -> Postgres {
        let bin = pg_bin();
        let as_postgres = running_as_root();
        let dir = std::env::temp_dir().join(format!(
            "retake-pg-{}-{}",
            std::process::id(),
            free_port("127.0.0.1")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        if as_postgres {
            // initdb and the server refuse to run as root; the package made this user.
            let ok = Command::new("chown")
                .args(["postgres:postgres", &dir.to_string_lossy()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "cannot hand {} to the postgres user", dir.display());
        }
        let port = free_port("127.0.0.1");
        let pg = Postgres {
            host: addresses.first().copied().unwrap_or("127.0.0.1").to_string(),
            port,
            bin: bin.clone(),
            as_postgres,
            _watchdog: watchdog(
                // Stops the cluster and removes its folder once the test process is gone.
                "while kill -0 \"$1\" 2>/dev/null; do sleep 0.3; done; \
                 if [ \"$4\" = yes ]; then runuser -u postgres -- \"$3/pg_ctl\" -D \"$2/data\" -m immediate stop; \
                 else \"$3/pg_ctl\" -D \"$2/data\" -m immediate stop; fi; rm -rf \"$2\"",
                &[
                    &dir.to_string_lossy(),
                    &bin.to_string_lossy(),
                    if as_postgres { "yes" } else { "no" },
                ],
            ),
            dir,
        };
        let data = pg.dir.join("data");
        pg.pg(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "--encoding=UTF8",
                "--no-sync",
            ],
        );
        let mut listen: Vec<&str> = addresses.to_vec();
        if !listen.contains(&"127.0.0.1") {
            listen.push("127.0.0.1");
        }
        // Everyone is trusted, except the role `pwuser`, which must give its password (the
        // tests of refused credentials use it).
        let hba = format!(
            "host all pwuser 0.0.0.0/0 scram-sha-256\nlocal all all trust\n{}host all all 0.0.0.0/0 trust\n",
            std::fs::read_to_string(data.join("pg_hba.conf")).unwrap_or_default()
        );
        std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
        let opts = format!(
            "-p {port} -k {} -c listen_addresses='{}' -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400 -c shared_buffers=32MB",
            pg.dir.display(),
            listen.join(",")
        );
        std::fs::write(pg.dir.join("opts"), &opts).expect("opts");
        pg.ctl(&["start", "-w", "-t", "60", "-o", &opts]);
        pg
    }

    /// Runs one of PostgreSQL's programs (as the postgres user when we are root).
    fn pg(&self, program: &str, args: &[&str]) -> String {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
        text
    }

    fn ctl(&self, args: &[&str]) {
        let data = self.dir.join("data").to_string_lossy().into_owned();
        let log = self.dir.join("log").to_string_lossy().into_owned();
        let mut all = vec!["-D", &data, "-l", &log];
        all.extend_from_slice(args);
        self.pg("pg_ctl", &all);
    }

    /// Stops the cluster (fast: sessions are cut off, as in a crash or fail-over).
    pub fn stop(&self) {
        self.ctl(&["stop", "-m", "fast", "-w"]);
    }

    /// Starts it again after [`Postgres::stop`].
    pub fn resume(&self) {
        let opts = std::fs::read_to_string(self.dir.join("opts")).expect("opts");
        self.ctl(&["start", "-w", "-t", "60", "-o", &opts]);
    }

    /// A new empty database; returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@{}:{}/{name}", self.host, self.port)
    }

    /// Runs SQL with `psql` on database `db` and returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-A",
                "-t",
                "-q",
                "-c",
                sql,
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql (Debian's postgresql-client): {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The database name of a URL made by [`Postgres::create_database`].
    pub fn db_of(url: &str) -> &str {
        url.rsplit('/').next().unwrap_or(url)
    }
}

static NEXT_DB: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data").to_string_lossy().into_owned();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd.args(["-D", &data, "-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
        end_group(&mut self._watchdog);
    }
}

/// The Python with moto: `$PYTHON`, else the setup script's virtual environment.
pub fn python() -> String {
    if let Ok(p) = std::env::var("PYTHON") {
        return p;
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let venv =
        std::env::var("RETAKE_VENV").unwrap_or_else(|_| format!("{home}/.cache/retake-venv"));
    format!("{venv}/bin/python")
}

/// An S3-compatible server (moto's server mode) on its own port.
pub struct S3Server {
    /// Its endpoint URL, `http://HOST:PORT`.
    pub endpoint: String,
    _watchdog: Child,
    log: PathBuf,
}

impl S3Server {
    /// One server for the whole test process, on loopback, accepting any credentials.
    pub fn shared() -> &'static S3Server {
        static S3: OnceLock<S3Server> = OnceLock::new();
        S3.get_or_init(|| S3Server::start("127.0.0.1", None))
    }

    /// A new server on `host`. With `unchecked: Some(n)`, it checks credentials and IAM
    /// policies (moto's `INITIAL_NO_AUTH_ACTION_COUNT`) after letting the first `n` requests
    /// through unchecked, so a test can make its users and buckets; with `None` it accepts
    /// any credentials.
    pub fn start(host: &str, unchecked: Option<u32>) -> S3Server {
        let python = python();
        let ok = Command::new(&python)
            .args(["-c", "import moto.server"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "{python} cannot import moto: run `bash scripts/setup.sh` (it installs moto[server] \
             in the test virtual environment) or set PYTHON"
        );
        let port = free_port(host);
        let log =
            std::env::temp_dir().join(format!("retake-moto-{}-{port}.log", std::process::id()));
        let auth = unchecked.map(|n| n.to_string()).unwrap_or_default();
        let dog = watchdog(
            "if [ -n \"$6\" ]; then export INITIAL_NO_AUTH_ACTION_COUNT=\"$6\"; fi; \
             \"$2\" -m moto.server -H \"$3\" -p \"$4\" >\"$5\" 2>&1 & s=$!; \
             while kill -0 \"$1\" 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 0.3; done; \
             kill $s 2>/dev/null; rm -f \"$5\"",
            &[
                &python,
                host,
                &port.to_string(),
                &log.to_string_lossy(),
                &auth,
            ],
        );
        wait_for_port(host, port, "moto_server", &log);
        S3Server {
            endpoint: format!("http://{host}:{port}"),
            _watchdog: dog,
            log,
        }
    }

    /// Makes a bucket with an unsigned `PUT /BUCKET` (moto accepts it; with authentication
    /// on, it counts as one of the unchecked requests).
    pub fn create_bucket(&self, name: &str) {
        let out = Command::new(python())
            .args([
                "-c",
                "import sys, urllib.request as u; \
                 r = u.urlopen(u.Request(sys.argv[1] + '/' + sys.argv[2], method='PUT')); \
                 assert r.status == 200, r.status",
                &self.endpoint,
                name,
            ])
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "cannot create bucket {name}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        end_group(&mut self._watchdog);
        let _ = std::fs::remove_file(&self.log);
    }
}
