//! The naive baseline on a real clip: warps the edited first frame along the source's flow,
//! frame after frame (see `retake_engine::baseline::NaiveWarp`), and writes the result with
//! the encoder `retake modify` uses, so `retake eval` scores it exactly like retake's own
//! output. `bench/footage.sh` runs it.
//!
//! `cargo run --release -p retake-engine --example naive_baseline -- CLIP FIRST.png OUT.mp4`

use retake_engine::baseline::NaiveWarp;
use retake_media::{load_image, EncodeSettings, Limits, VideoReader, VideoWriter};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [clip, first, out] = args.as_slice() else {
        return Err("usage: naive_baseline CLIP FIRST.png OUT.mp4".into());
    };
    let limits = Limits::default();
    let mut reader = VideoReader::open(clip, &limits)?;
    let (w, h) = reader.output_size();
    let key = load_image(first)?;
    if (key.width(), key.height()) != (w, h) {
        return Err(format!(
            "the first frame is {}x{}; the clip's frames are {w}x{h}",
            key.width(),
            key.height()
        )
        .into());
    }
    let mut naive = NaiveWarp::new(&key);
    let mut writer = VideoWriter::create(out, w, h, None, EncodeSettings::default())?;
    while let Some(f) = reader.next_frame()? {
        writer.push(&naive.push(&f)?)?;
    }
    writer.finish()?;
    Ok(())
}
