//! First-frame images as users hand them in: JPEG and WebP beside PNG, and phone photos whose
//! EXIF tag says how to turn them upright.

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, RgbImage};
use retake_media::{load_image, RgbFrame};
use retake_testkit::scratch;

/// A 64×48 picture: red on the left half, blue on the right, so a turn shows where they go.
fn halves() -> RgbImage {
    RgbImage::from_fn(64, 48, |x, _| {
        if x < 32 {
            image::Rgb([220, 30, 30])
        } else {
            image::Rgb([30, 30, 220])
        }
    })
}

fn jpeg_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 95)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// The pixel at (x, y).
fn px(f: &RgbFrame, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * f.width() + x) * 3) as usize;
    [f.data()[i], f.data()[i + 1], f.data()[i + 2]]
}

fn is_red(p: [u8; 3]) -> bool {
    p[0] > 150 && p[2] < 100
}

fn is_blue(p: [u8; 3]) -> bool {
    p[2] > 150 && p[0] < 100
}

/// A JPEG with an EXIF APP1 segment right after its start marker, holding one Orientation
/// entry (tag 0x0112, a SHORT) with `value`, little-endian TIFF as many phones write it.
fn with_exif_orientation(jpeg: &[u8], value: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes()); // first IFD right after the header
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // one value
    tiff.extend_from_slice(&value.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]); // the value field's padding
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = scratch(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn check_halves(f: &RgbFrame, path: &Path) {
    assert_eq!((f.width(), f.height()), (64, 48), "{}", path.display());
    assert!(is_red(px(f, 8, 24)), "{:?}", px(f, 8, 24));
    assert!(is_blue(px(f, 56, 24)), "{:?}", px(f, 56, 24));
}

#[test]
fn jpeg_and_webp_load_like_png() {
    let img = halves();
    let jpeg = write("halves.jpg", &jpeg_bytes(&img));
    check_halves(&load_image(&jpeg).unwrap(), &jpeg);

    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .encode(img.as_raw(), 64, 48, ExtendedColorType::Rgb8)
        .unwrap();
    let webp_path = write("halves.webp", &webp);
    let f = load_image(&webp_path).unwrap();
    check_halves(&f, &webp_path);
    // Lossless: every pixel as written.
    assert_eq!(f.data(), img.as_raw().as_slice());

    // The format comes from the bytes: a JPEG named .png still loads.
    let lying = write("really-a-jpeg.png", &jpeg_bytes(&img));
    check_halves(&load_image(&lying).unwrap(), &lying);
}

#[test]
fn exif_orientation_turns_a_phone_photo_upright() {
    let jpeg = jpeg_bytes(&halves());
    // Orientation 1: stored upright, nothing to do.
    let upright = write("exif-1.jpg", &with_exif_orientation(&jpeg, 1));
    check_halves(&load_image(&upright).unwrap(), &upright);

    // Orientation 6: display turned 90° clockwise. The left (red) half ends up on top.
    let p = write("exif-6.jpg", &with_exif_orientation(&jpeg, 6));
    let f = load_image(&p).unwrap();
    assert_eq!((f.width(), f.height()), (48, 64));
    assert!(is_red(px(&f, 24, 8)), "top {:?}", px(&f, 24, 8));
    assert!(is_blue(px(&f, 24, 56)), "bottom {:?}", px(&f, 24, 56));

    // Orientation 3: upside down. The red half ends up on the right.
    let p = write("exif-3.jpg", &with_exif_orientation(&jpeg, 3));
    let f = load_image(&p).unwrap();
    assert_eq!((f.width(), f.height()), (64, 48));
    assert!(is_blue(px(&f, 8, 24)) && is_red(px(&f, 56, 24)));
}

fn png_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn images_that_end_early_are_refused() {
    let img = halves();
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .encode(img.as_raw(), 64, 48, ExtendedColorType::Rgb8)
        .unwrap();
    for (name, whole) in [
        ("cut.jpg", jpeg_bytes(&img)),
        ("cut.png", png_bytes(&img)),
        ("cut.webp", webp),
    ] {
        // The whole file loads; two thirds of it is refused, never padded and accepted.
        let p = write(name, &whole);
        check_halves(&load_image(&p).unwrap(), &p);
        let p = write(name, &whole[..whole.len() * 2 / 3]);
        let e = load_image(&p).unwrap_err().to_string();
        assert!(
            e.contains("ends early") || e.contains("cannot decode") || e.contains("cannot read"),
            "{name}: {e}"
        );
    }
}

#[test]
fn the_image_fuzz_target_survives_a_bounded_run() {
    let img = halves();
    let jpeg = jpeg_bytes(&img);
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .encode(img.as_raw(), 64, 48, ExtendedColorType::Rgb8)
        .unwrap();
    let mut seeds = vec![
        png_bytes(&img),
        jpeg.clone(),
        with_exif_orientation(&jpeg, 6),
        webp,
    ];
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/image");
    for f in retake_testkit::mutate::corpus_files(&regressions) {
        seeds.push(std::fs::read(f).unwrap());
    }
    let r = retake_testkit::mutate::run(
        "image",
        &seeds,
        retake_testkit::mutate::budget(),
        retake_media::fuzzing::image,
    );
    assert!(r.execs > seeds.len() as u64, "{r:?}");
}
