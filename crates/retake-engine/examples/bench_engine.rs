//! Times the propagator per stage over a synthetic clip (no codec): where the engine's time
//! goes. `bench/propagation.sh` runs it beside the end-to-end timing.
//!
//! `cargo run --release -p retake-engine --example bench_engine [-- WIDTH HEIGHT FRAMES PROFILE]`

use retake_engine::edits::painterly;
use retake_engine::{Mode, Profile, Propagator, Scene, SceneKind};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (w, h, n) = (num(0, 1280), num(1, 720), num(2, 48));
    let profile: Profile = args
        .get(3)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or_default();
    let scene = Scene::new(SceneKind::Demo, w, h, n, 1)?;
    let frames: Vec<_> = (0..n).map(|i| scene.frame(i)).collect();
    let key = painterly(&frames[0]);
    let mut prop = Propagator::with_settings(
        &key,
        &frames[0],
        &Mode::Flex1.params(),
        1,
        profile.settings(),
    )?;
    prop.push(&frames[0])?;
    let before = prop.times();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    for fr in &frames[1..] {
        prop.push(fr)?;
    }
    let total = t.elapsed().as_secs_f64() * 1e3 / (n - 1) as f64;
    let cpu = (cpu_seconds() - cpu0) * 1e3 / (n - 1) as f64;
    let after = prop.times();
    let per = |a: std::time::Duration, b: std::time::Duration| {
        (a - b).as_secs_f64() * 1e3 / (n - 1) as f64
    };
    println!(
        "{w}x{h}, {n} frames, profile {profile}, {} threads",
        rayon::current_num_threads()
    );
    println!("| stage | ms/frame | share |\n|---|---|---|");
    for (name, ms) in [
        (
            "colour conversion and guide channels",
            per(after.guides, before.guides),
        ),
        (
            "optical flow, forward and backward",
            per(after.flow, before.flow),
        ),
        (
            "PatchMatch search (field carried along the flow)",
            per(after.search, before.search),
        ),
        (
            "full-resolution render and temporal blend",
            per(after.render, before.render),
        ),
    ] {
        println!("| {name} | {ms:.1} | {:.0} % |", 100.0 * ms / total);
    }
    println!(
        "| propagator total | {total:.1} | {:.2} frames/s |",
        1e3 / total
    );
    println!(
        "CPU time {cpu:.1} ms/frame over all threads (wall time is {:.0} % of it; on an idle \
         machine with every core free it would be about CPU / cores)",
        100.0 * total / cpu.max(1e-9)
    );
    Ok(())
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`; 0 elsewhere).
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
