//! CPU benchmark of one 512×512 img2img keyframe on a full-size SD-Turbo-shaped model with
//! random weights (nothing is downloaded).
//!
//! ```text
//! cargo run --release --example bench -- [--dtype f32|f16] [--steps 1,4] [--size 512]
//!     [--vae full,tiny] [--repeat N] [--model-dir DIR] [--device cpu|cuda]
//! ```
//! `--vae` lists the autoencoders to measure (the model is written with a TAESD-shaped tiny
//! autoencoder too); each is loaded in turn. `--repeat N` measures every row N times.
//! Prints a Markdown table for BENCHMARKS.md. Peak memory is the process's peak RSS after the
//! random model has been written (the counter is reset before loading).

use retake_diffusion::keyframes::{KeyframeParams, KeyframeRequest};
use retake_diffusion::tiny::{write_tiny_model, Preset, TinySpec};
use retake_diffusion::{ComputeDType, DeviceChoice, DiffusionEngine, EngineOptions, VaeChoice};
use retake_media::RgbFrame;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// User + system CPU seconds of this process so far (all threads), from /proc: a figure that
/// other processes' load disturbs far less than wall time.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // Linux reports clock ticks of 1/100 s on every common configuration.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn reset_peak() {
    // Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let dtype = match arg("--dtype").as_deref().unwrap_or("f32") {
        "f16" => ComputeDType::F16,
        "bf16" => ComputeDType::Bf16,
        _ => ComputeDType::F32,
    };
    let steps: Vec<usize> = arg("--steps")
        .unwrap_or_else(|| "1,4".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let size: u32 = arg("--size").and_then(|s| s.parse().ok()).unwrap_or(512);
    let vaes: Vec<VaeChoice> = arg("--vae")
        .unwrap_or_else(|| "full,tiny".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let repeat: usize = arg("--repeat").and_then(|s| s.parse().ok()).unwrap_or(1);
    let device: DeviceChoice = arg("--device")
        .unwrap_or_else(|| "cpu".into())
        .parse()
        .map_err(|e: String| e)?;
    let storage = if dtype == ComputeDType::F32 {
        candle_core::DType::F32
    } else {
        candle_core::DType::F16
    };

    let tmp = tempfile::tempdir()?;
    // `--model-dir DIR` keeps the random model between runs (written there when absent).
    let dir = arg("--model-dir")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("sd-turbo-random"));
    let t = Instant::now();
    if dir.join("model_index.json").is_file() {
        eprintln!("reusing the random model in {}", dir.display());
    } else {
        write_model(&dir, storage)?;
        eprintln!(
            "wrote random SD-Turbo-shaped model in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let mut data = Vec::with_capacity((size * size * 3) as usize);
    for y in 0..size {
        for x in 0..size {
            data.extend([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]);
        }
    }
    let frame = RgbFrame::from_raw(size, size, data)?;
    let params = KeyframeParams::from_mode(&retake_engine::Mode::Flex2.params());

    println!("| steps | dtype | VAE | text enc s | VAE enc s | UNet s/step | VAE dec s | keyframe total s | keyframe CPU s | peak RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for vae in &vaes {
        reset_peak();
        let t = Instant::now();
        let opts = EngineOptions {
            dtype,
            resolution: Some(size),
            vae: vae.clone(),
            device,
            ..Default::default()
        };
        let mut eng = DiffusionEngine::load(&dir, opts)?;
        let load_s = t.elapsed().as_secs_f64();
        eprintln!(
            "loaded {} ({:?}, {} VAE) in {load_s:.1} s, peak {:.0} MiB",
            eng.architecture(),
            eng.dtype(),
            eng.vae().kind(),
            peak_rss_mib()
        );
        for &n in &steps {
            for r in 0..repeat {
                // Prompts differ per row: the engine keeps recent prompts' embeddings.
                let (p1, p2) = (
                    format!("a film noir street, take {n}.{r}"),
                    format!("a film noir street, keyframe {n}.{r}"),
                );
                eng.set_steps(Some(n));
                // Component timings, then the whole keyframe through the public session API.
                let t = Instant::now();
                let ctx = eng.encode_prompt(&p1)?;
                eng.device().synchronize()?;
                let text_s = t.elapsed().as_secs_f64();
                let img =
                    retake_diffusion::image::frame_to_tensor(&frame, eng.dtype(), eng.device())?;
                let t = Instant::now();
                let z = eng.encode_image(&img)?;
                eng.device().synchronize()?;
                let enc_s = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let _ = eng.unet_forward(&z, 499.0, &ctx, None)?;
                eng.device().synchronize()?;
                let unet_s = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let _ = eng.decode_latents(&z)?;
                eng.device().synchronize()?;
                let dec_s = t.elapsed().as_secs_f64();
                let req = KeyframeRequest {
                    frames: std::slice::from_ref(&frame),
                    prompt: &p2,
                    negative_prompt: "",
                    params,
                    seed: 1,
                    first_frame: None,
                };
                let (t, cpu) = (Instant::now(), cpu_seconds());
                let out = eng.restyle_keyframes(&req, &mut |_| {}, &AtomicBool::new(false))?;
                let total = t.elapsed().as_secs_f64();
                let cpu = cpu_seconds() - cpu;
                assert_eq!(out.len(), 1);
                println!(
                    "| {n} | {:?} | {} | {text_s:.2} | {enc_s:.2} | {unet_s:.2} | {dec_s:.2} | {total:.2} | {cpu:.1} | {:.0} |",
                    eng.dtype(),
                    eng.vae().kind(),
                    peak_rss_mib()
                );
            }
        }
    }
    Ok(())
}

fn write_model(
    dir: &std::path::Path,
    storage: candle_core::DType,
) -> Result<(), Box<dyn std::error::Error>> {
    write_tiny_model(
        dir,
        TinySpec {
            preset: Preset::SdTurbo,
            sd2: true,
            dtype: storage,
            fp16_variant: storage != candle_core::DType::F32,
            seed: 0,
            tiny_vae: true,
        },
    )?;
    Ok(())
}
