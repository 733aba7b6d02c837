//! Still images: PNG, JPEG and WebP in (EXIF orientation applied), PNG out.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::{ImageDecoder, ImageReader};

use crate::{MediaError, Result, RgbFrame};

/// Largest image side we decode; a bigger header is a damaged or hostile file.
const MAX_IMAGE_SIDE: u32 = 16384;

/// Most pixels we decode (an 8K frame is 33 MP). A few hundred bytes of JPEG can declare
/// 16384×16384 within the side limit, and decoding that costs seconds and over 600 MB: a
/// header past this is refused before anything is decoded.
const MAX_IMAGE_PIXELS: u64 = 40_000_000;

fn image_error(path: &Path, reason: impl Into<String>) -> MediaError {
    MediaError::Image {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Loads an image as RGB, whatever its extension says, turned upright per its EXIF tag.
pub fn load_image(path: &Path) -> Result<RgbFrame> {
    let bytes = std::fs::read(path).map_err(|e| MediaError::io(path, e))?;
    decode(&bytes, path)
}

/// Decodes an image held in memory, like [`load_image`] (errors name it `image`).
pub fn decode_image(bytes: &[u8]) -> Result<RgbFrame> {
    decode(bytes, Path::new("image"))
}

fn decode(bytes: &[u8], path: &Path) -> Result<RgbFrame> {
    if bytes.is_empty() {
        return Err(image_error(path, "the file is empty (0 bytes)"));
    }
    // Decide the format from the bytes alone: the extension may lie.
    let format = match image::guess_format(&bytes[..bytes.len().min(64)]) {
        Ok(f @ (image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP)) => {
            f
        }
        Ok(other) => {
            return Err(image_error(
                path,
                format!("{other:?} images are not supported; use PNG, JPEG or WebP"),
            ))
        }
        Err(_) => {
            return Err(image_error(
                path,
                "not a PNG, JPEG or WebP image (the contents match no supported format)",
            ))
        }
    };
    // The JPEG decoder fills a cut-off image with grey and reports nothing: check that the
    // file reaches its end-of-image marker first.
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(image_error(
            path,
            "the JPEG ends early (it was cut off while being copied or uploaded); send the \
             whole file",
        ));
    }
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_error(path, format!("cannot read this {format:?} image: {e}")))?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS {
        return Err(image_error(
            path,
            format!(
                "the image says it is {w}x{h} ({:.0} MP); the largest retake reads is {} MP \
                 — send it at the clip's size",
                (u64::from(w) * u64::from(h)) as f64 / 1e6,
                MAX_IMAGE_PIXELS / 1_000_000
            ),
        ));
    }
    let orientation = decoder
        .orientation()
        .map_err(|e| image_error(path, format!("bad orientation data: {e}")))?;
    let mut img = image::DynamicImage::from_decoder(decoder)
        .map_err(|e| image_error(path, format!("cannot decode this {format:?} image: {e}")))?;
    img.apply_orientation(orientation);
    let rgb = img.into_rgb8();
    let (w, h) = rgb.dimensions();
    RgbFrame::from_raw(w, h, rgb.into_raw())
}

/// Whether a JPEG's markers run from its start-of-image to an end-of-image marker, i.e. the
/// file was not cut short. Bytes after the end marker (some cameras add some) are allowed.
fn jpeg_is_complete(b: &[u8]) -> bool {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut i = 2;
    loop {
        // Skip to the next marker: stray bytes are tolerated (as decoders do), fill bytes
        // (repeated 0xFF) too.
        match b[i.min(b.len())..].iter().position(|&x| x == 0xFF) {
            Some(p) => i += p,
            None => return false,
        }
        while b.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = b.get(i) else {
            return false;
        };
        i += 1;
        match marker {
            0xD9 => return true,
            // Markers without a length: restart, TEM, and a stuffed zero (not a marker).
            0xD0..=0xD7 | 0x01 | 0x00 => continue,
            _ => {
                let Some(len) = b.get(i..i + 2) else {
                    return false;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 || i + len > b.len() {
                    return false;
                }
                i += len;
                if marker == 0xDA {
                    // Entropy-coded data runs to the first marker that is neither a
                    // stuffed zero nor a restart.
                    loop {
                        match b[i..].iter().position(|&x| x == 0xFF) {
                            Some(p) => i += p,
                            None => return false,
                        }
                        match b.get(i + 1) {
                            None => return false,
                            Some(0x00 | 0xD0..=0xD7) => i += 2,
                            Some(0xFF) => i += 1,
                            Some(_) => break,
                        }
                    }
                }
            }
        }
    }
}

/// A temporary path beside `path`, on the same filesystem so a rename is atomic.
pub(crate) fn temp_beside(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.{}.{suffix}", std::process::id()))
}

/// Saves a frame as PNG, writing a temporary file and renaming it into place.
pub fn save_png(frame: &RgbFrame, path: &Path) -> Result<()> {
    let tmp = temp_beside(path, "png.tmp");
    let write = || -> std::result::Result<(), String> {
        let file = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
        let mut out = BufWriter::new(file);
        image::write_buffer_with_format(
            &mut out,
            frame.data(),
            frame.width(),
            frame.height(),
            image::ExtendedColorType::Rgb8,
            image::ImageFormat::Png,
        )
        .map_err(|e| e.to_string())?;
        let file = out.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    };
    write().map_err(|reason| {
        let _ = std::fs::remove_file(&tmp);
        image_error(path, format!("cannot write PNG: {reason}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_and_garbage_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = RgbFrame::filled(5, 3, [10, 20, 30]);
        f.data_mut()[0] = 200;
        let p = dir.path().join("a.png");
        save_png(&f, &p).unwrap();
        assert_eq!(load_image(&p).unwrap(), f);
        let bad = dir.path().join("b.png");
        std::fs::write(&bad, b"this is not an image at all").unwrap();
        let e = load_image(&bad).unwrap_err().to_string();
        assert!(e.contains("not a PNG, JPEG or WebP"), "{e}");
        let empty = dir.path().join("c.jpg");
        std::fs::write(&empty, b"").unwrap();
        assert!(load_image(&empty)
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn a_tiny_file_that_declares_a_huge_image_is_refused_before_decoding() {
        // Found by the `image` fuzz target: 399 bytes of JPEG whose frame header says
        // 12288x16384 (201 MP), which took ~10 s and over 600 MB to decode.
        let bytes = include_bytes!("../../../fuzz/regressions/image/huge-declared-jpeg");
        let e = decode_image(bytes).unwrap_err().to_string();
        assert!(e.contains("12288x16384") && e.contains("40 MP"), "{e}");
    }

    #[test]
    fn a_jpeg_must_reach_its_end_marker() {
        // SOI, a comment segment, SOS with two bytes of scan data (one stuffed 0xFF), EOI.
        let whole = [
            0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x04, b'h', b'i', 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF,
            0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ];
        assert!(jpeg_is_complete(&whole));
        let mut trailing = whole.to_vec();
        trailing.extend_from_slice(b"camera data");
        assert!(jpeg_is_complete(&trailing), "bytes after EOI are allowed");
        for cut in 0..whole.len() - 1 {
            assert!(!jpeg_is_complete(&whole[..cut]), "cut at {cut}");
        }
        assert!(
            !jpeg_is_complete(b"\xFF\xD8\xFF\xC0\xFF\xFF"),
            "a length past the end"
        );
    }
}
