//! One method on one real clip, written and scored as `retake modify` and `retake eval` would:
//! propagates FIRST.png (the edited frame 0) through CLIP with retake's engine (default
//! settings) or the naive flow-warp baseline, writes OUT.mp4 with the same encoder, then
//! decodes it and prints the `retake eval` scores as JSON. For quick engine experiments
//! without building the CLI; `bench/footage.sh` is the benchmark.
//!
//! `cargo run --release -p retake-engine --example footage_run -- CLIP FIRST.png OUT.mp4
//! [naive] [noeval] [score]` (`noeval`: write the output only, for timing; `score`: only
//! score an existing OUT.mp4, made by anything, against CLIP and FIRST.png)

use retake_engine::baseline::NaiveWarp;
use retake_engine::eval::ClipEvaluator;
use retake_engine::{Mode, Propagator};
use retake_media::{load_image, EncodeSettings, Limits, RgbFrame, VideoReader, VideoWriter};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: footage_run CLIP FIRST.png OUT.mp4 [naive]".into());
    }
    let (clip, first, out) = (
        PathBuf::from(&args[0]),
        PathBuf::from(&args[1]),
        PathBuf::from(&args[2]),
    );
    let naive = args[3..].iter().any(|a| a == "naive");
    let noeval = args[3..].iter().any(|a| a == "noeval");
    let score_only = args[3..].iter().any(|a| a == "score");
    let limits = Limits::default();
    let mut reader = VideoReader::open(&clip, &limits)?;
    let (w, h) = reader.output_size();
    let key = load_image(&first)?;
    let mut sources = Vec::new();
    let t = std::time::Instant::now();
    if score_only {
        while let Some(f) = reader.next_frame()? {
            sources.push(f);
        }
    } else {
        let mut writer = VideoWriter::create(&out, w, h, None, EncodeSettings::default())?;
        run(&mut reader, &mut writer, &key, naive, &mut sources)?;
        writer.finish()?;
    }
    let secs = t.elapsed().as_secs_f64();
    if noeval {
        println!("{{\"seconds\": {secs}}}");
        return Ok(());
    }
    let mut back = VideoReader::open(&out, &limits)?;
    let mut eval = ClipEvaluator::new(&key);
    for s in &sources {
        let Some(o) = back.next_frame()? else { break };
        eval.push(s, &o)?;
    }
    let mut v = serde_json::to_value(eval.finish())?;
    v["seconds"] = secs.into();
    println!("{v}");
    Ok(())
}

/// Propagates `key` through the clip with retake's engine or the naive baseline.
fn run(
    reader: &mut VideoReader,
    writer: &mut VideoWriter,
    key: &RgbFrame,
    naive: bool,
    sources: &mut Vec<RgbFrame>,
) -> Result<(), Box<dyn std::error::Error>> {
    if naive {
        let mut n = NaiveWarp::new(key);
        while let Some(f) = reader.next_frame()? {
            writer.push(&n.push(&f)?)?;
            sources.push(f);
        }
    } else {
        let mut p: Option<Propagator> = None;
        while let Some(f) = reader.next_frame()? {
            match p.as_mut() {
                None => {
                    let mut q = Propagator::new(key, &f, &Mode::Flex1.params(), 0)?;
                    q.push(&f)?;
                    writer.push(key)?;
                    p = Some(q);
                }
                Some(q) => writer.push(&q.push(&f)?)?,
            }
            sources.push(f);
        }
    }
    Ok(())
}
