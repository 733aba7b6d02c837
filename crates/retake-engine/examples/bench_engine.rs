//! Times flow and synthesis separately at 1280x720 over a synthetic clip.
//!
//! `cargo run --release -p retake-engine --example bench_engine [-- WIDTH HEIGHT FRAMES]`

use retake_engine::edits::painterly;
use retake_engine::{bidirectional_flow, FlowParams, Mode, Plane, Propagator, Scene, SceneKind};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (w, h, n) = (
        args.first().copied().unwrap_or(1280),
        args.get(1).copied().unwrap_or(720),
        args.get(2).copied().unwrap_or(24),
    );
    let scene = Scene::new(SceneKind::Demo, w, h, n, 1)?;
    let t = Instant::now();
    let frames: Vec<_> = (0..n).map(|i| scene.frame(i)).collect();
    eprintln!(
        "scene: {:.0} ms/frame to render (not counted)",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let key = painterly(&frames[0]);

    // Flow alone, at the working resolution the propagator uses (long side 640, finest level 1).
    let f = w.max(h).div_ceil(640);
    let lumas: Vec<Plane> = frames
        .iter()
        .map(|fr| Plane::luma(fr).downsample(f))
        .collect();
    let params = FlowParams {
        finest_level: if w.max(h) / f > 400 { 1 } else { 0 },
        ..FlowParams::default()
    };
    let t = Instant::now();
    for i in 1..n {
        bidirectional_flow(&lumas[i], &lumas[i - 1], &params)?;
    }
    let flow_ms = t.elapsed().as_secs_f64() * 1e3 / (n - 1) as f64;

    // The whole propagator (flow + patch search + full-resolution render).
    let mut prop = Propagator::new(&key, &frames[0], &Mode::Flex1.params(), 1)?;
    prop.push(&frames[0])?;
    let t = Instant::now();
    for fr in &frames[1..] {
        prop.push(fr)?;
    }
    let total_ms = t.elapsed().as_secs_f64() * 1e3 / (n - 1) as f64;
    println!(
        "{w}x{h}, {n} frames, {} threads",
        rayon::current_num_threads()
    );
    println!("flow (fwd+bwd)   {flow_ms:7.1} ms/frame");
    println!("synthesis        {:7.1} ms/frame", total_ms - flow_ms);
    println!(
        "propagator total {total_ms:7.1} ms/frame  ({:.2} frames/s)",
        1e3 / total_ms
    );
    Ok(())
}
