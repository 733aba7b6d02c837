//! Test fixtures made by a second, independent tool chain: Debian's ffmpeg with x264 and its
//! AAC encoder. Clips are generated on first use into a per-process temporary folder, so
//! nothing binary is committed. `.ci/run` installs ffmpeg; without it these helpers fail
//! with a message saying so.

pub mod mutate;
pub mod services;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The folder fixtures are cached in, shared by all test processes. Each fixture's name
/// carries a hash of the arguments that made it, so a changed recipe makes a new file.
pub fn fixture_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join("retake-fixtures");
        std::fs::create_dir_all(&dir).expect("cannot create the fixture folder");
        dir
    })
}

/// A fresh scratch path unique to this process and call, in the fixture folder.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    fixture_dir().join(format!("scratch-{}-{n}-{name}", std::process::id()))
}

fn recipe_hash(args: &[&str]) -> u64 {
    // FNV-1a: stable across runs and Rust versions, unlike DefaultHasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for a in args {
        for b in a.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

fn tool(name: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {name} ({e}); install ffmpeg (`apt-get install ffmpeg`)")
    });
    assert!(
        out.status.success(),
        "{name} {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs ffmpeg quietly with these arguments, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let mut all = vec!["-hide_banner", "-loglevel", "error", "-nostdin", "-y"];
    all.extend_from_slice(args);
    tool("ffmpeg", &all);
}

/// Runs ffprobe and parses its JSON output.
pub fn ffprobe_json(path: &Path, extra: &[&str]) -> serde_json::Value {
    let p = path.to_string_lossy();
    let mut args = vec!["-v", "error", "-of", "json"];
    args.extend_from_slice(extra);
    args.push(&p);
    let out = tool("ffprobe", &args);
    serde_json::from_slice(&out.stdout).expect("ffprobe printed invalid JSON")
}

/// Makes (once) a clip named `name` with the given ffmpeg arguments placed between the
/// inputs and the output. The arguments must fully describe the clip.
pub fn clip(name: &str, args: &[&str]) -> PathBuf {
    let path = fixture_dir().join(format!("{:016x}-{name}", recipe_hash(args)));
    if !path.exists() {
        let tmp = scratch(name);
        let t = tmp.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        all.push(&t);
        ffmpeg(&all);
        std::fs::rename(&tmp, &path).expect("cannot move the fixture into place");
    }
    path
}

/// A moving test pattern (testsrc2) of the given size, rate and length as ffmpeg input args.
pub fn pattern(size: &str, fps: &str, seconds: f64) -> Vec<String> {
    vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("testsrc2=size={size}:rate={fps}:duration={seconds}"),
    ]
}

/// A sine tone as ffmpeg input args.
pub fn tone(seconds: f64) -> Vec<String> {
    vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("sine=frequency=440:sample_rate=48000:duration={seconds}"),
    ]
}

/// Builds a clip from owned argument pieces.
pub fn clip_from(name: &str, parts: &[Vec<String>]) -> PathBuf {
    let flat: Vec<String> = parts.iter().flatten().cloned().collect();
    let refs: Vec<&str> = flat.iter().map(String::as_str).collect();
    clip(name, &refs)
}

/// String arguments, for use with [`clip_from`].
pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Decodes every frame (in presentation order, no frame-rate conversion, rotation ignored)
/// and returns each frame's 8-bit luma plane exactly as coded (studio range, no scaling).
pub fn ffmpeg_luma_frames(path: &Path, width: usize, height: usize) -> Vec<Vec<u8>> {
    let raw = scratch("decode.yuv");
    let p = path.to_string_lossy();
    let r = raw.to_string_lossy();
    ffmpeg(&[
        "-noautorotate",
        "-i",
        &p,
        "-map",
        "0:v:0",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        &r,
    ]);
    let bytes = std::fs::read(&raw).expect("cannot read ffmpeg's decode");
    let _ = std::fs::remove_file(&raw);
    let frame = width * height + 2 * width.div_ceil(2) * height.div_ceil(2);
    bytes
        .chunks_exact(frame)
        .map(|f| f[..width * height].to_vec())
        .collect()
}

/// Decodes to RGB at a given size with ffmpeg's own scaler and rotation (what a player shows).
pub fn ffmpeg_rgb_frames(path: &Path, width: u32, height: u32, extra_vf: &str) -> Vec<Vec<u8>> {
    let raw = scratch("decode.rgb");
    let p = path.to_string_lossy();
    let r = raw.to_string_lossy();
    let mut vf = format!("scale={width}:{height}:flags=lanczos");
    if !extra_vf.is_empty() {
        vf = format!("{extra_vf},{vf}");
    }
    ffmpeg(&[
        "-i",
        &p,
        "-map",
        "0:v:0",
        "-vf",
        &vf,
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        &r,
    ]);
    let bytes = std::fs::read(&raw).expect("cannot read ffmpeg's decode");
    let _ = std::fs::remove_file(&raw);
    bytes
        .chunks(width as usize * height as usize * 3)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Decodes the first audio stream to mono 48 kHz f32 samples.
pub fn ffmpeg_audio_mono(path: &Path) -> Vec<f32> {
    let raw = scratch("decode.pcm");
    let p = path.to_string_lossy();
    let r = raw.to_string_lossy();
    ffmpeg(&[
        "-i", &p, "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "f32le", &r,
    ]);
    let bytes = std::fs::read(&raw).expect("cannot read ffmpeg's audio decode");
    let _ = std::fs::remove_file(&raw);
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Peak signal-to-noise ratio of two equal-length 8-bit buffers, in dB (99 when identical).
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "PSNR of buffers of different sizes");
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum::<f64>()
        / a.len().max(1) as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// Per-packet (size, MD5) of one stream, as ffprobe reports them.
pub fn packet_hashes(path: &Path, stream: &str) -> Vec<(u64, String)> {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            stream,
            "-show_packets",
            "-show_data_hash",
            "MD5",
            "-show_entries",
            "packet=size,data_hash",
        ],
    );
    v["packets"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["size"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0),
                        p["data_hash"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
