//! Service configuration: one flat struct with defaults in code, overridden by a TOML file and
//! then by `RETAKE_<SETTING>` environment variables (`retake config` prints the result).
//!
//! Every setting is a top-level key of the file and has one variable: `max_bytes` in the file
//! is `RETAKE_MAX_BYTES` in the environment. Durations are written like `30s`, `500ms`, `2m`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use retake_media::{EncoderKind, Limits, Resolution, SizeCap};
use retake_pipeline::{ComputeDType, DeviceChoice, EngineOptions, VaeChoice};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalogue::Catalogue;
use crate::fetch::{AllowNet, FetchConfig};

mod forms;
mod storage;
use forms::{allow_nets, duration, optional_number, size_cap};
pub use storage::{BlobLocation, VideoLinks};

/// Prefix of every environment variable the configuration reads.
pub const ENV_PREFIX: &str = "RETAKE_";

/// Everything `retake serve` and `retake worker` can be told. [`ServiceConfig::default`]
/// works on a fresh machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Folder for the SQLite database, blobs, the admin key and the server's secret (with
    /// PostgreSQL and S3 set, only scratch files).
    pub data_dir: PathBuf,
    /// Where state lives: `sqlite:PATH`, or `postgres://USER:PASSWORD@HOST:PORT/DB` for
    /// several machines; unset is the SQLite file in `data_dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Most PostgreSQL connections one process opens.
    pub database_pool: usize,
    /// Where inputs, outputs and uploads live: `local` (the data folder) or
    /// `s3://BUCKET/PREFIX` (an S3-compatible bucket, for several machines).
    pub blob_store: String,
    /// The S3 server's URL, for self-hosted servers (`http://minio:9000`); unset is AWS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region.
    pub s3_region: String,
    /// S3 access key id (unset: `AWS_ACCESS_KEY_ID` and the usual AWS sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key (unset: `AWS_SECRET_ACCESS_KEY`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_secret_access_key: Option<String>,
    /// `path` (`endpoint/bucket/key`, what self-hosted servers expect), `virtual`
    /// (`bucket.endpoint/key`, AWS) or `auto` (path with `s3_endpoint`, else virtual).
    pub s3_addressing: String,
    /// How `assets.video` links are made: `signed` (by the API, with `link_secret`) or
    /// `presigned` (S3 presigned URLs, served by the bucket; needs `blob_store = s3://…`).
    pub video_links: VideoLinks,
    /// Secret that signs video links (32+ characters, the same on every API node and worker);
    /// unset is a random one kept in the data folder (one machine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_secret: Option<String>,
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Base URL clients reach the server at (for asset links); default `http://{bind}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// In-process workers; 0 runs an API-only node.
    pub workers: usize,
    /// Log level: error, warn, info, debug or trace.
    pub log: String,
    /// Credits the admin key made on first start begins with.
    pub admin_credits: f64,
    /// A cap, in seconds, on every model's longest clip (the catalogue's `max_duration_s`);
    /// 0: no cap beyond the catalogue's.
    pub max_duration_s: f64,
    /// Largest accepted clip file (download or upload), bytes.
    pub max_bytes: u64,
    /// Largest accepted input width or height, pixels.
    pub max_input_side: u32,
    /// Output size cap, LONGxSHORT; larger inputs are scaled down.
    #[serde(with = "size_cap")]
    pub size_cap: SizeCap,
    /// Highest output resolution tier a request may ask for (`video.resolution` on
    /// `/agents/v1`): `360p`, `540p`, `720p` or `1080p`.
    pub max_resolution: Resolution,
    /// Longest accepted prompt, characters.
    pub max_prompt_chars: usize,
    /// Largest accepted first-frame image, bytes.
    pub max_image_bytes: u64,
    /// Private networks media and callback URLs may reach anyway (CIDR; for local testing).
    #[serde(with = "allow_nets")]
    pub fetch_allow: Vec<AllowNet>,
    /// Whole-download timeout for a media URL.
    #[serde(with = "duration")]
    pub fetch_timeout: Duration,
    /// Connect timeout for media and callback URLs.
    #[serde(with = "duration")]
    pub fetch_connect_timeout: Duration,
    /// Redirects followed at most.
    pub fetch_max_redirects: usize,
    /// Time a client has to send a request's line and headers (also how long an idle
    /// keep-alive connection stays open).
    #[serde(with = "duration")]
    pub header_timeout: Duration,
    /// Longest pause while a request body arrives or a response is written; a connection
    /// quiet for longer is closed.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Longest time from the end of the headers to the end of the request body.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long uploads are kept before they are deleted.
    #[serde(with = "duration")]
    pub upload_ttl: Duration,
    /// How long the synchronous Segmind endpoint waits for a result before answering 504.
    #[serde(with = "duration")]
    pub sync_timeout: Duration,
    /// Requests per second each key may make (sustained); 0 turns the limit off.
    pub rate_limit_per_s: f64,
    /// Requests a key may make in a burst above the sustained rate.
    pub rate_limit_burst: f64,
    /// Generations each key may submit per minute (sustained); 0 turns the limit off.
    pub submit_limit_per_min: f64,
    /// Submissions a key may make in a burst.
    pub submit_limit_burst: f64,
    /// How long a worker's lease lasts without a heartbeat.
    #[serde(with = "duration")]
    pub lease_ttl: Duration,
    /// How often an idle worker looks for work (it is also woken on submit).
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// Runs of one job before it is failed for good (a crash mid-job counts as a run).
    pub max_attempts: u32,
    /// How long signed asset links stay valid.
    #[serde(with = "duration")]
    pub link_ttl: Duration,
    /// Webhook deliveries attempted per event before giving up.
    pub webhook_attempts: u32,
    /// Wait before the first webhook retry; doubles each time (capped at 5 minutes).
    #[serde(with = "duration")]
    pub webhook_backoff: Duration,
    /// Timeout of one webhook delivery.
    #[serde(with = "duration")]
    pub webhook_timeout: Duration,
    /// A diffusers model folder (or a folder of them) for prompt-only requests; without it a
    /// request needs `first_frame`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_dir: Option<PathBuf>,
    /// Which model in `model_dir`, when it holds several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diffusion_model: Option<String>,
    /// Denoising steps per keyframe (default: 2 for SD-Turbo, 20 for other models).
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_number")]
    pub diffusion_steps: Option<usize>,
    /// Longer side, in pixels, at which keyframes are diffused (default: the model's own).
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_number")]
    pub diffusion_size: Option<u32>,
    /// Where this node's workers run diffusion: `cpu`, `cuda` or `cuda:N` (the last two in a
    /// build with the `cuda` feature).
    pub diffusion_device: String,
    /// Weight and compute precision: `auto` (f32 on a CPU, f16 on a GPU), `f32`, `f16`, `bf16`.
    pub diffusion_dtype: String,
    /// Autoencoder for keyframes: `auto` (the model's tiny one when it has one), `full`,
    /// `tiny`, or an autoencoder folder.
    pub diffusion_vae: String,
    /// Video encoder of the outputs: `auto` (this build's default: `openh264`, or `x264` in a
    /// build with the `ffmpeg` feature), `openh264`, `x264`, `x264-444` (the last two need
    /// that feature; see the README's "Encoders").
    pub encoder: String,
    /// Every model's longest clip and price (a table; it must stay the last setting, as TOML
    /// writes tables after plain values).
    pub catalogue: Catalogue,
}

/// The data folder used when none is configured: `$XDG_DATA_HOME/retake`,
/// `~/.local/share/retake`, or `./retake-data` when there is no home folder.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("retake");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/retake");
    }
    PathBuf::from("retake-data")
}

impl Default for ServiceConfig {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            data_dir: default_data_dir(),
            database_url: None,
            database_pool: 16,
            blob_store: "local".into(),
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_addressing: "auto".into(),
            video_links: VideoLinks::Signed,
            link_secret: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8787)),
            public_url: None,
            workers: 1,
            log: "info".into(),
            admin_credits: 1000.0,
            max_duration_s: 0.0,
            max_bytes: limits.max_file_bytes,
            max_input_side: limits.max_input_side,
            size_cap: limits.output_cap,
            max_resolution: Resolution::P1080,
            max_prompt_chars: 2000,
            max_image_bytes: 20_000_000,
            fetch_allow: Vec::new(),
            fetch_timeout: Duration::from_secs(120),
            fetch_connect_timeout: Duration::from_secs(10),
            fetch_max_redirects: 5,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(600),
            max_connections: 512,
            upload_ttl: Duration::from_secs(24 * 3600),
            sync_timeout: Duration::from_secs(600),
            rate_limit_per_s: 50.0,
            rate_limit_burst: 100.0,
            submit_limit_per_min: 60.0,
            submit_limit_burst: 10.0,
            lease_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            max_attempts: 3,
            link_ttl: Duration::from_secs(3600),
            webhook_attempts: 6,
            webhook_backoff: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(15),
            model_dir: None,
            diffusion_model: None,
            diffusion_steps: None,
            diffusion_size: None,
            diffusion_device: "cpu".into(),
            diffusion_dtype: "auto".into(),
            diffusion_vae: "auto".into(),
            encoder: "auto".into(),
            catalogue: Catalogue::default(),
        }
    }
}

/// Why a configuration could not be loaded; each says which setting and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("the config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key in the file is not a setting.
    #[error("{origin}: `{key}` is not a setting; run `retake config` to see them all")]
    Unknown {
        /// The file.
        origin: String,
        /// The key.
        key: String,
    },
    /// A setting that moved elsewhere; the message says where.
    #[error("{origin}: `{key}` is no longer a setting: {hint}")]
    Moved {
        /// File or variable it came from.
        origin: String,
        /// The old setting.
        key: String,
        /// Where it went.
        hint: &'static str,
    },
    /// A value has the wrong form.
    #[error("{origin}: {key} = {value:?} is not valid: {message}")]
    Value {
        /// File or variable it came from.
        origin: String,
        /// The setting.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// Values are well-formed but do not make sense together or are out of range.
    #[error("setting `{key}`: {message}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// What to change.
        message: String,
    },
}

/// Where the effective configuration came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigSources {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// For each setting not at its default: the file or variable that set it.
    pub origins: BTreeMap<String, String>,
}

/// A configuration with its sources.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    /// The settings.
    pub config: ServiceConfig,
    /// Where they came from.
    pub sources: ConfigSources,
}

impl ServiceConfig {
    /// The encoder `encoder` names, `None` for `auto` (the build's default); one this build
    /// lacks is an error naming the setting and the way to get it.
    pub fn encoder_kind(&self) -> Result<Option<EncoderKind>, ConfigError> {
        if self.encoder.trim().eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        let bad = |message: String| ConfigError::Invalid {
            key: "encoder",
            message,
        };
        let kind: EncoderKind = self.encoder.parse().map_err(bad)?;
        if !kind.is_built() {
            return Err(bad(format!(
                "the {} encoder is not in this build of retake: it needs the `ffmpeg` feature \
                 (see the README's \"Encoders\"); use `auto` or `openh264`",
                kind.name()
            )));
        }
        Ok(Some(kind))
    }

    /// How this node runs its diffusion model; a device or precision it cannot read is an
    /// error naming the setting (`validate` calls this, so a loaded configuration has none).
    pub fn diffusion_options(&self) -> Result<EngineOptions, ConfigError> {
        let bad = |key: &'static str| move |message: String| ConfigError::Invalid { key, message };
        Ok(EngineOptions {
            device: self
                .diffusion_device
                .parse::<DeviceChoice>()
                .map_err(bad("diffusion_device"))?,
            dtype: self
                .diffusion_dtype
                .parse::<ComputeDType>()
                .map_err(bad("diffusion_dtype"))?,
            vae: self
                .diffusion_vae
                .parse::<VaeChoice>()
                .map_err(bad("diffusion_vae"))?,
            steps: self.diffusion_steps,
            resolution: self.diffusion_size,
            ..EngineOptions::default()
        })
    }
}

/// The environment variable of a setting (`max_bytes` → `RETAKE_MAX_BYTES`).
pub fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn defaults_object() -> serde_json::Map<String, Value> {
    match serde_json::to_value(ServiceConfig::default()) {
        Ok(Value::Object(mut m)) => {
            // Optional settings are left out when unset; list them so they can be set.
            for key in [
                "database_url",
                "s3_endpoint",
                "s3_access_key_id",
                "s3_secret_access_key",
                "link_secret",
                "public_url",
                "model_dir",
                "diffusion_model",
                "diffusion_steps",
                "diffusion_size",
            ] {
                m.entry(key).or_insert(Value::Null);
            }
            m
        }
        _ => serde_json::Map::new(),
    }
}

/// Settings that moved, with where they went (so an old file gets an answer, not a guess).
const MOVED: &[(&str, &str)] = &[(
    "price_per_mpx",
    "prices are per model now, in the catalogue: `[catalogue.ray-2]` \
     `price = { per_mpx = 0.01582 }` (and likewise `ray-flash-2`); see `retake config`",
)];

fn moved(origin: &str, key: &str) -> Result<(), ConfigError> {
    match MOVED.iter().find(|(k, _)| *k == key) {
        Some((k, hint)) => Err(ConfigError::Moved {
            origin: origin.to_string(),
            key: k.to_string(),
            hint,
        }),
        None => Ok(()),
    }
}

/// Lays `over` onto `base`: a table setting (the catalogue) is merged entry by entry and,
/// inside an entry, field by field, so a file or variable changes only what it names; a
/// field's own value (a price rule) is replaced whole. Anything else is replaced.
fn overlay(base: &mut Value, over: Value, depth: usize) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) if depth > 0 => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => overlay(slot, v, depth - 1),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Levels of a table setting that merge rather than replace (setting → model → field).
const TABLE_DEPTH: usize = 2;

/// Turns an environment value into the JSON type the setting has.
fn env_value(current: &Value, raw: &str) -> Value {
    let t = raw.trim();
    match current {
        // A table setting: JSON, or a TOML inline table such as
        // `{ ray-2 = { max_duration_s = 8 } }`.
        Value::Object(_) => serde_json::from_str::<Value>(t)
            .ok()
            .filter(Value::is_object)
            .or_else(|| {
                let doc = toml::from_str::<toml::Table>(&format!("v = {t}")).ok()?;
                serde_json::to_value(doc.get("v")?).ok()
            })
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Value::Number(_) => serde_json::from_str::<Value>(t)
            .ok()
            .filter(Value::is_number)
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Value::Bool(_) => match t.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Value::Bool(true),
            "0" | "false" | "no" | "off" => Value::Bool(false),
            _ => Value::String(raw.to_string()),
        },
        Value::Array(_) => Value::Array(
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        Value::Null if t.is_empty() => Value::Null,
        _ => Value::String(raw.to_string()),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

impl ServiceConfig {
    /// Defaults, then `file` (which must exist when given), then `RETAKE_*` variables from
    /// `env` (pass `std::env::vars()`; unrelated variables are ignored).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<LoadedConfig, ConfigError> {
        let mut obj = defaults_object();
        let mut sources = ConfigSources::default();
        let mut origin_of: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
                path: path.to_path_buf(),
                message: first_line(&e.to_string()),
            })?;
            let origin = path.display().to_string();
            for (key, value) in table {
                moved(&origin, &key)?;
                let Some(slot) = obj.get_mut(&key) else {
                    return Err(ConfigError::Unknown { origin, key });
                };
                let v = serde_json::to_value(&value).unwrap_or(Value::Null);
                overlay(slot, v, TABLE_DEPTH);
                origin_of.insert(key, origin.clone());
            }
            sources.file = Some(path.to_path_buf());
        }
        let env: BTreeMap<String, String> = env.into_iter().collect();
        for (key, _) in MOVED {
            if env.contains_key(&env_var(key)) {
                moved(&env_var(key), key)?;
            }
        }
        let keys: Vec<String> = obj.keys().cloned().collect();
        for key in keys {
            let var = env_var(&key);
            if let (Some(raw), Some(slot)) = (env.get(&var), obj.get_mut(&key)) {
                let v = env_value(slot, raw);
                overlay(slot, v, TABLE_DEPTH);
                origin_of.insert(key, var);
            }
        }
        // Deserialize setting by setting first, so an error names its setting and origin.
        for (key, origin) in &origin_of {
            let mut probe = defaults_object();
            let v = obj.get(key).cloned().unwrap_or(Value::Null);
            probe.insert(key.clone(), v.clone());
            if let Err(e) = serde_json::from_value::<ServiceConfig>(Value::Object(probe)) {
                return Err(ConfigError::Value {
                    origin: origin.clone(),
                    key: key.clone(),
                    value: value_text(&v),
                    message: first_line(&e.to_string()),
                });
            }
        }
        let config: ServiceConfig =
            serde_json::from_value(Value::Object(obj)).map_err(|e| ConfigError::Invalid {
                key: "config",
                message: e.to_string(),
            })?;
        config.validate()?;
        sources.origins = origin_of;
        Ok(LoadedConfig { config, sources })
    }

    /// Checks ranges; the message says what to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: String| Err(ConfigError::Invalid { key, message });
        if self.workers > 256 {
            return bad(
                "workers",
                format!("{} is too many; use 0 to 256", self.workers),
            );
        }
        if !(self.admin_credits.is_finite() && self.admin_credits >= 0.0) {
            return bad("admin_credits", "must be a number ≥ 0".into());
        }
        if !(self.max_duration_s.is_finite() && self.max_duration_s >= 0.0) {
            return bad(
                "max_duration_s",
                "must be a number of seconds ≥ 0 (0: only the catalogue's limits)".into(),
            );
        }
        self.catalogue
            .validate()
            .map_err(|message| ConfigError::Invalid {
                key: "catalogue",
                message,
            })?;
        for (key, v) in [
            ("rate_limit_per_s", self.rate_limit_per_s),
            ("rate_limit_burst", self.rate_limit_burst),
            ("submit_limit_per_min", self.submit_limit_per_min),
            ("submit_limit_burst", self.submit_limit_burst),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(key, "must be a number ≥ 0 (0 turns the limit off)".into());
            }
        }
        for (key, d) in [
            ("lease_ttl", self.lease_ttl),
            ("poll_interval", self.poll_interval),
            ("fetch_timeout", self.fetch_timeout),
            ("fetch_connect_timeout", self.fetch_connect_timeout),
            ("sync_timeout", self.sync_timeout),
            ("link_ttl", self.link_ttl),
            ("webhook_timeout", self.webhook_timeout),
            ("header_timeout", self.header_timeout),
            ("idle_timeout", self.idle_timeout),
            ("request_timeout", self.request_timeout),
            ("upload_ttl", self.upload_ttl),
        ] {
            if d < Duration::from_millis(10) {
                return bad(key, "must be at least 10ms".into());
            }
        }
        if self
            .diffusion_steps
            .is_some_and(|n| !(1..=200).contains(&n))
        {
            return bad("diffusion_steps", "use 1 to 200".into());
        }
        if self
            .diffusion_size
            .is_some_and(|n| !(64..=2048).contains(&n))
        {
            return bad("diffusion_size", "use 64 to 2048 pixels".into());
        }
        self.diffusion_options()?;
        self.encoder_kind()?;
        if !(1..=1_000_000).contains(&self.max_connections) {
            return bad(
                "max_connections",
                format!(
                    "{} is out of range; use 1 to 1000000 (and keep it under the open-file \
                     limit, `ulimit -n`)",
                    self.max_connections
                ),
            );
        }
        if self.max_attempts == 0 {
            return bad("max_attempts", "must be at least 1".into());
        }
        if let Some(u) = &self.public_url {
            let ok = url::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
                .unwrap_or(false);
            if !ok {
                return bad(
                    "public_url",
                    format!("`{u}` is not an http(s) URL such as https://retake.example.com"),
                );
            }
        }
        self.validate_storage()?;
        if self.log.parse::<tracing::Level>().is_err() {
            return bad(
                "log",
                format!(
                    "`{}` is not a level; use error, warn, info, debug or trace",
                    self.log
                ),
            );
        }
        Ok(())
    }

    /// The base URL used in asset links, without a trailing slash.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }

    /// How outgoing requests (media, webhooks) are made.
    pub fn fetch(&self) -> FetchConfig {
        FetchConfig {
            allow: self.fetch_allow.clone(),
            timeout: self.fetch_timeout,
            connect_timeout: self.fetch_connect_timeout,
            max_redirects: self.fetch_max_redirects,
        }
    }

    /// The settings as TOML, each line noting where its value came from when not a default;
    /// secrets are masked.
    pub fn to_toml(&self, sources: &ConfigSources) -> String {
        let body = toml::to_string(&self.masked()).unwrap_or_default();
        let mut out = String::new();
        let mut table: Option<String> = None;
        for line in body.lines() {
            out.push_str(line);
            // Inside a table (`[catalogue.ray-2]`), keys are the table's, not settings; the
            // table's first header carries the setting's origin.
            let key = if let Some(header) = line.strip_prefix('[') {
                let setting = header
                    .split(['.', ']'])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let first = table.as_deref() != Some(setting.as_str());
                table = Some(setting.clone());
                first.then_some(setting)
            } else if table.is_none() {
                Some(
                    line.split(" = ")
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                )
            } else {
                None
            };
            if let Some(origin) = key.and_then(|k| sources.origins.get(&k)) {
                out.push_str(&format!("  # from {origin}"));
            }
            out.push('\n');
        }
        if self.public_url.is_none() {
            out.push_str(&format!(
                "# public_url is not set: links use http://{}\n",
                self.bind
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let c = ServiceConfig::default();
        let text = c.to_toml(&ConfigSources::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retake.toml");
        std::fs::write(&path, text).unwrap();
        let back = ServiceConfig::load(Some(&path), Vec::new()).unwrap();
        assert_eq!(back.config, c);
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retake.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9000\"\nworkers = 4\nlease_ttl = \"1m\"\nmax_bytes = 5\n",
        )
        .unwrap();
        let loaded = ServiceConfig::load(
            Some(&path),
            env(&[
                ("RETAKE_WORKERS", "2"),
                ("RETAKE_FETCH_ALLOW", "127.0.0.0/8, ::1"),
                ("RETAKE_SIZE_CAP", "640x960"),
                ("RETAKE_PUBLIC_URL", "https://r.example.com/"),
                ("RETAKE_UNRELATED", "x"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        let c = &loaded.config;
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.workers, 2, "the environment wins over the file");
        assert_eq!(c.lease_ttl, Duration::from_secs(60));
        assert_eq!(c.max_bytes, 5);
        assert_eq!(c.fetch_allow.len(), 2);
        assert_eq!((c.size_cap.long, c.size_cap.short), (960, 640));
        assert_eq!(
            c.base_url(c.bind),
            "https://r.example.com",
            "trailing slash dropped"
        );
        assert_eq!(loaded.sources.origins["workers"], "RETAKE_WORKERS");
        assert_eq!(
            loaded.sources.origins["bind"],
            path.display().to_string().as_str()
        );
        let printed = c.to_toml(&loaded.sources);
        assert!(
            printed.contains("workers = 2  # from RETAKE_WORKERS"),
            "{printed}"
        );
    }

    #[test]
    fn the_encoder_setting_is_read_and_checked_against_the_build() {
        let kind = |v: &str| {
            ServiceConfig::load(None, env(&[("RETAKE_ENCODER", v)]))
                .map(|l| l.config.encoder_kind().unwrap())
        };
        assert_eq!(kind("auto").unwrap(), None, "auto is the build's default");
        assert_eq!(kind("OpenH264").unwrap(), Some(EncoderKind::OpenH264));
        let e = kind("h265").unwrap_err().to_string();
        assert!(e.contains("encoder") && e.contains("openh264, x264"), "{e}");
        let x264 = kind("x264");
        if EncoderKind::X264.is_built() {
            assert_eq!(x264.unwrap(), Some(EncoderKind::X264));
        } else {
            let e = x264.unwrap_err().to_string();
            assert!(
                e.contains("encoder") && e.contains("`ffmpeg` feature"),
                "{e}"
            );
        }
    }

    #[test]
    fn mistakes_name_the_setting_and_where_it_came_from() {
        let cases: [(&[(&str, &str)], &str); 6] = [
            (&[("RETAKE_WORKERS", "many")], "RETAKE_WORKERS: workers"),
            (&[("RETAKE_LEASE_TTL", "soon")], "write it like 30s"),
            (&[("RETAKE_BIND", "localhost")], "RETAKE_BIND: bind"),
            (&[("RETAKE_SIZE_CAP", "big")], "LONGxSHORT"),
            (&[("RETAKE_FETCH_ALLOW", "10.0.0.0/99")], "prefix"),
            (&[("RETAKE_LOG", "loud")], "not a level"),
        ];
        for (vars, want) in cases {
            let e = ServiceConfig::load(None, env(vars))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{vars:?}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "workrs = 2\n").unwrap();
        let e = ServiceConfig::load(Some(&path), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("`workrs` is not a setting"), "{e}");
        std::fs::write(&path, "workers = \n").unwrap();
        let e = ServiceConfig::load(Some(&path), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("not valid TOML"), "{e}");
        let e = ServiceConfig::load(Some(&dir.path().join("none.toml")), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
        let e = ServiceConfig::load(None, env(&[("RETAKE_MAX_ATTEMPTS", "0")])).unwrap_err();
        assert!(e.to_string().contains("max_attempts"), "{e}");
    }

    #[test]
    fn diffusion_settings_come_from_the_environment_and_are_checked() {
        let loaded = ServiceConfig::load(
            None,
            env(&[
                ("RETAKE_MODEL_DIR", "/models"),
                ("RETAKE_DIFFUSION_MODEL", "sd-turbo"),
                ("RETAKE_DIFFUSION_STEPS", "4"),
                ("RETAKE_DIFFUSION_SIZE", "384"),
                ("RETAKE_DIFFUSION_DEVICE", "cuda:1"),
                ("RETAKE_DIFFUSION_DTYPE", "f16"),
                ("RETAKE_DIFFUSION_VAE", "tiny"),
            ]),
        )
        .unwrap();
        let c = &loaded.config;
        let o = c.diffusion_options().unwrap();
        assert_eq!(
            (o.device, o.dtype),
            (DeviceChoice::Cuda(1), ComputeDType::F16)
        );
        assert_eq!((o.steps, o.resolution), (Some(4), Some(384)));
        assert_eq!(o.vae, VaeChoice::Tiny);
        let d = ServiceConfig::default().diffusion_options().unwrap();
        assert_eq!((d.device, d.dtype), (DeviceChoice::Cpu, ComputeDType::Auto));
        assert_eq!(d.vae, VaeChoice::Auto);
        assert_eq!(c.model_dir.as_deref(), Some(Path::new("/models")));
        assert_eq!(c.diffusion_model.as_deref(), Some("sd-turbo"));
        assert_eq!((c.diffusion_steps, c.diffusion_size), (Some(4), Some(384)));
        assert_eq!(loaded.sources.origins["model_dir"], "RETAKE_MODEL_DIR");
        for (vars, want) in [
            (
                &[("RETAKE_DIFFUSION_STEPS", "lots")][..],
                "not a whole number",
            ),
            (&[("RETAKE_DIFFUSION_STEPS", "0")][..], "diffusion_steps"),
            (&[("RETAKE_DIFFUSION_SIZE", "9000")][..], "64 to 2048"),
            (&[("RETAKE_DIFFUSION_DEVICE", "tpu")][..], "cuda:N"),
            (&[("RETAKE_DIFFUSION_DTYPE", "f64")][..], "diffusion_dtype"),
            (&[("RETAKE_DIFFUSION_VAE", " ")][..], "diffusion_vae"),
        ] {
            let e = ServiceConfig::load(None, env(vars))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{vars:?}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("retake.toml");
        std::fs::write(&path, "model_dir = \"/m\"\ndiffusion_steps = 3\n").unwrap();
        let c = ServiceConfig::load(Some(&path), Vec::new()).unwrap().config;
        assert_eq!(
            (c.model_dir.as_deref(), c.diffusion_steps),
            (Some(Path::new("/m")), Some(3))
        );
    }
}
