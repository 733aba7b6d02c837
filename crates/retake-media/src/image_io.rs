//! Still images: PNG, JPEG and WebP in (EXIF orientation applied), PNG out.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::{ImageDecoder, ImageReader};

use crate::{MediaError, Result, RgbFrame};

/// Largest image side we decode; a bigger header is a damaged or hostile file.
const MAX_IMAGE_SIDE: u32 = 16384;

fn image_error(path: &Path, reason: impl Into<String>) -> MediaError {
    MediaError::Image {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Loads an image as RGB, whatever its extension says, turned upright per its EXIF tag.
pub fn load_image(path: &Path) -> Result<RgbFrame> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    if meta.len() == 0 {
        return Err(image_error(path, "the file is empty (0 bytes)"));
    }
    // Decide the format from the bytes alone: the extension may lie.
    let mut head = [0u8; 64];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| MediaError::io(path, e))?;
        f.read(&mut head).map_err(|e| MediaError::io(path, e))?
    };
    let format = match image::guess_format(&head[..n]) {
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
    let mut reader = ImageReader::open(path).map_err(|e| MediaError::io(path, e))?;
    reader.set_format(format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_error(path, format!("cannot read this {format:?} image: {e}")))?;
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
}
