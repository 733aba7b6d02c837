//! Times every look on one frame (the median of several runs, in process, no file I/O):
//! what a live preview pays per frame. `bench/looks.sh` runs it for BENCHMARKS.md.
//!
//! `cargo run --release -p retake-looks --example bench_looks [-- WIDTH HEIGHT RUNS]
//! [--image IMAGE] [--save DIR]`: the frame is a synthetic scene at WIDTHxHEIGHT (default
//! 1280x720), or IMAGE; `--save` writes each look's result there as PNG.

use std::path::PathBuf;
use std::time::Instant;

use retake_looks::{Look, LookName};
use retake_media::{load_image, save_png, RgbFrame};

/// A scene with what the looks react to: smooth gradients, hard-edged shapes, fine texture.
fn scene(w: u32, h: u32) -> RgbFrame {
    let mut data = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
            let mut c = [0.25 + 0.5 * u, 0.35 + 0.4 * v, 0.75 - 0.5 * u];
            let (dx, dy) = (u - 0.35, (v - 0.5) * h as f32 / w as f32);
            if dx * dx + dy * dy < 0.02 {
                c = [0.85, 0.55, 0.4];
            }
            if (0.6..0.85).contains(&u) && (0.2..0.7).contains(&v) {
                c = [0.2, 0.3, 0.7];
            }
            let grain = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 17) as f32 / 17.0;
            for k in c.iter_mut() {
                *k = (*k + 0.06 * (grain - 0.5)).clamp(0.0, 1.0);
            }
            data.extend(c.map(|k| (k * 255.0).round() as u8));
        }
    }
    RgbFrame::from_raw(w, h, data).expect("the buffer matches the size")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| -> Option<PathBuf> {
        let i = args.iter().position(|a| a == flag)?;
        let v = args.get(i + 1).map(PathBuf::from);
        args.drain(i..(i + 2).min(args.len()));
        v
    };
    let image = take("--image");
    let save = take("--save");
    let num = |i: usize, d: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (w, h, runs) = (num(0, 1280), num(1, 720), num(2, 15).max(1));
    let frame = match &image {
        Some(p) => load_image(p)?,
        None => scene(w, h),
    };
    if let Some(dir) = &save {
        std::fs::create_dir_all(dir)?;
        save_png(&frame, &dir.join("source.png"))?;
    }
    println!(
        "{}x{}, median of {runs} runs, {} threads",
        frame.width(),
        frame.height(),
        rayon::current_num_threads()
    );
    println!("| look | ms/frame (median) | min | max | CPU ms/frame |\n|---|---|---|---|---|");
    for name in LookName::ALL {
        let look = Look::new(name, 1.0)?;
        let out = look.apply(&frame, None)?; // warm-up
        if let Some(dir) = &save {
            save_png(&out, &dir.join(format!("{}.png", name.name())))?;
        }
        let cpu0 = cpu_seconds();
        let mut ms: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                let r = look.apply(&frame, None);
                let e = t.elapsed().as_secs_f64() * 1e3;
                std::hint::black_box(r).map(|_| e)
            })
            .collect::<Result<_, _>>()?;
        let cpu = (cpu_seconds() - cpu0) * 1e3 / runs as f64;
        ms.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {cpu:.0} |",
            ms[ms.len() / 2],
            ms[0],
            ms[ms.len() - 1]
        );
    }
    Ok(())
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, in 10 ms
/// ticks; 0 elsewhere). CPU time moves less than wall time when other work shares the cores.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}
