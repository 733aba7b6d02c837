//! How faithfully the encoder keeps a clip: re-encodes CLIP exactly as `retake modify` writes
//! its output (optionally with FIRST.png as frame 0, as an edited first frame), decodes the
//! result and prints one JSON line: size, bit rate, PSNR of frame 0 against what went in, and
//! the mean PSNR over all frames, and the encoder's speed (frames per second of wall time spent
//! in `VideoWriter::push` and `finish`, colour conversion included).
//!
//! `cargo run --release -p retake-media --example encode_fidelity -- CLIP [FIRST.png]
//!  [--cap 1920x1080] [--bpp 0.12] [--max-qp Q] [--encoder openh264|x264|x264-444]
//!  [--crf F] [--first-qp Q] [--frames N]`
//!
//! x264 needs `--features ffmpeg`.

use retake_media::{load_image, EncodeSettings, Limits, SizeCap, VideoReader, VideoWriter};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut clip = None;
    let mut first = None;
    let mut limits = Limits::default();
    let mut settings = EncodeSettings::default();
    let mut max_frames = usize::MAX;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cap" => {
                let v = args.next().ok_or("--cap needs WxH")?;
                let (l, s) = v.split_once('x').ok_or("--cap needs WxH")?;
                limits.output_cap = SizeCap {
                    long: l.parse()?,
                    short: s.parse()?,
                    upscale: false,
                };
            }
            "--bpp" => {
                settings.bits_per_pixel = args.next().ok_or("--bpp needs a value")?.parse()?
            }
            "--max-qp" => settings.max_qp = args.next().ok_or("--max-qp needs a value")?.parse()?,
            "--encoder" => {
                settings.encoder = args.next().ok_or("--encoder needs a name")?.parse()?
            }
            "--crf" => settings.crf = args.next().ok_or("--crf needs a value")?.parse()?,
            "--first-qp" => {
                settings.first_qp = args.next().ok_or("--first-qp needs a value")?.parse()?
            }
            "--frames" => max_frames = args.next().ok_or("--frames needs a value")?.parse()?,
            _ if clip.is_none() => clip = Some(PathBuf::from(a)),
            _ => first = Some(PathBuf::from(a)),
        }
    }
    let clip = clip.ok_or(
        "usage: encode_fidelity CLIP [FIRST.png] [--cap WxH] [--bpp B] [--max-qp Q] \
         [--encoder NAME] [--crf F] [--first-qp Q] [--frames N]",
    )?;
    let mut reader = VideoReader::open(&clip, &limits)?;
    let (w, h) = reader.output_size();
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out.mp4");
    let mut inputs = Vec::new();
    while let Some(mut f) = reader.next_frame()? {
        if inputs.is_empty() {
            if let Some(p) = &first {
                f = load_image(p)?;
            }
        }
        inputs.push(f);
        if inputs.len() >= max_frames {
            break;
        }
    }
    let start = std::time::Instant::now();
    let mut writer = VideoWriter::create(&out, w, h, None, settings)?;
    for f in &inputs {
        writer.push(f)?;
    }
    writer.finish()?;
    let encode_s = start.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&out)?.len();
    let mut back = VideoReader::open(&out, &limits)?;
    let (mut sum, mut n, mut first_psnr) = (0.0, 0usize, 0.0);
    while let Some(f) = back.next_frame()? {
        let p = retake_testkit::psnr(f.data(), inputs[n].data());
        if std::env::var_os("FIDELITY_FRAMES").is_some() {
            eprintln!("frame {n}: {p:.2} dB");
        }
        if n == 0 {
            first_psnr = p;
        }
        sum += p;
        n += 1;
    }
    let secs = n as f64 / settings.fps as f64;
    println!(
        "{{\"width\": {w}, \"height\": {h}, \"frames\": {n}, \"bytes\": {bytes}, \"kbps\": {:.0}, \
         \"first_frame_psnr\": {first_psnr:.2}, \"mean_psnr\": {:.2}, \"encoder\": \"{}\", \
         \"encode_fps\": {:.1}}}",
        bytes as f64 * 8.0 / secs / 1000.0,
        sum / n.max(1) as f64,
        settings.encoder,
        n as f64 / encode_s
    );
    Ok(())
}
