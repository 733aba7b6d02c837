//! Checks on the inputs that both the CLI and the server make before any work starts.

use retake_media::transform::FrameResizer;
use retake_media::RgbFrame;

use crate::PipelineError;

/// How far the first frame's aspect ratio may differ from the clip's and still be resized.
pub const ASPECT_TOLERANCE: f64 = 0.01;

/// Refuses an edited first frame whose shape is not the clip's output shape (aspect within
/// [`ASPECT_TOLERANCE`]); the message says which size is expected.
pub fn check_first_frame_shape(kw: u32, kh: u32, width: u32, height: u32) -> Result<(), String> {
    let aspect = |a: u32, b: u32| a as f64 / b.max(1) as f64;
    let ratio = aspect(kw, kh) / aspect(width, height);
    if (ratio - 1.0).abs() <= ASPECT_TOLERANCE {
        return Ok(());
    }
    Err(format!(
        "the first frame is {kw}x{kh} but the clip's frames are {width}x{height} (aspect {:.3} \
         vs {:.3}); edit the frame `retake frame` exports, without cropping, or resize yours \
         to {width}x{height}",
        aspect(kw, kh),
        aspect(width, height)
    ))
}

/// Refuses a look's mask whose shape is not the frame's (aspect within
/// [`ASPECT_TOLERANCE`]); a mask of another scale is resized when used.
pub fn check_mask_shape(mw: u32, mh: u32, width: u32, height: u32) -> Result<(), String> {
    let ratio = (mw as f64 / mh.max(1) as f64) / (width as f64 / height.max(1) as f64);
    if (ratio - 1.0).abs() <= ASPECT_TOLERANCE {
        return Ok(());
    }
    Err(format!(
        "the mask is {mw}x{mh} but the frame is {width}x{height}; paint the mask over the \
         frame itself (export it with `retake frame`), at {width}x{height} or a scale of it"
    ))
}

/// Refuses a clip with a single frame: there is no motion to carry an edit along.
pub fn check_motion(source_frames: usize, output_frames: usize) -> Result<(), String> {
    if source_frames < 2 || output_frames < 2 {
        return Err(
            "the clip has a single frame, so there is no motion to carry the edit \
                    along; use the edited image itself"
                .into(),
        );
    }
    Ok(())
}

/// The edited first frame at the clip's output size: used as is when the size matches,
/// resized when only the scale differs, refused otherwise.
pub fn fit_first_frame(img: RgbFrame, width: u32, height: u32) -> Result<RgbFrame, PipelineError> {
    if (img.width(), img.height()) == (width, height) {
        return Ok(img);
    }
    check_first_frame_shape(img.width(), img.height(), width, height)
        .map_err(PipelineError::Input)?;
    FrameResizer::default()
        .resize(img, width, height)
        .map_err(PipelineError::Media)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_shape_passes_and_other_shapes_name_the_size() {
        assert!(check_first_frame_shape(1280, 720, 640, 360).is_ok());
        assert!(check_first_frame_shape(1282, 720, 1280, 720).is_ok());
        let e = check_first_frame_shape(720, 720, 1280, 720).unwrap_err();
        assert!(e.contains("1280x720") && e.contains("720x720"), "{e}");
    }

    #[test]
    fn fit_resizes_a_scaled_frame_and_refuses_a_crop() {
        let big = RgbFrame::filled(128, 72, [10, 20, 30]);
        let f = fit_first_frame(big, 64, 36).unwrap();
        assert_eq!((f.width(), f.height()), (64, 36));
        assert_eq!(&f.data()[..3], &[10, 20, 30]);
        let square = RgbFrame::filled(64, 64, [0; 3]);
        assert!(matches!(
            fit_first_frame(square, 64, 36),
            Err(PipelineError::Input(_))
        ));
    }

    #[test]
    fn one_frame_is_refused() {
        assert!(check_motion(1, 24).is_err());
        assert!(check_motion(2, 1).is_err());
        assert!(check_motion(2, 2).is_ok());
    }
}
