//! Prints the quality table: propagation (per mode) vs the naive-warp and frozen baselines on
//! every synthetic scene and edit.
//!
//! `cargo run --release -p retake-engine --example quality_table [-- WIDTH HEIGHT FRAMES MODE]`

use retake_engine::baseline::{frozen, NaiveWarp};
use retake_engine::edits::Edit;
use retake_engine::metrics::{edge_ssim, psnr, warping_error};
use retake_engine::{Mode, Propagator, Scene, SceneKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (w, h, n) = (num(0, 256), num(1, 144), num(2, 24));
    let mode: Mode = args
        .get(3)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(Mode::Flex1);
    println!("{w}x{h}, {n} frames, mode {mode}; PSNR vs edited source (dB, higher better) | warp err (mean abs RGB along true flow, lower better) | edge SSIM vs source");
    println!("| scene | edit | PSNR ours | naive | frozen | warp ours | naive | frozen | edgeSSIM ours | naive |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for kind in SceneKind::ALL {
        let scene = Scene::new(kind, w, h, n, 21)?;
        let frames: Vec<_> = (0..n).map(|i| scene.frame(i)).collect();
        for edit in Edit::ALL {
            let key = edit.apply(&scene, 0);
            let mut prop = Propagator::new(&key, &frames[0], &mode.params(), 7)?;
            let mut naive = NaiveWarp::new(&key);
            let mut s = [[0.0f64; 3]; 3];
            let mut prev: Option<[retake_media::RgbFrame; 3]> = None;
            for (i, frame) in frames.iter().enumerate() {
                let outs = [prop.push(frame)?, naive.push(frame)?, frozen(&key)];
                if let Some(p) = &prev {
                    let truth = edit.apply(&scene, i);
                    let (flow, occ) = scene.flow(i - 1);
                    for k in 0..3 {
                        s[k][0] += psnr(&outs[k], &truth)? / (n - 1) as f64;
                        s[k][1] += warping_error(&p[k], &outs[k], &flow, &occ)? / (n - 1) as f64;
                        s[k][2] += edge_ssim(&outs[k], frame)? / (n - 1) as f64;
                    }
                }
                prev = Some(outs);
            }
            println!(
                "| {kind} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} |",
                edit.name(),
                s[0][0],
                s[1][0],
                s[2][0],
                s[0][1],
                s[1][1],
                s[2][1],
                s[0][2],
                s[1][2]
            );
        }
    }
    Ok(())
}
