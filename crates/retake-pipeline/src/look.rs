//! Built-in looks in the pipeline: a look applied to a keyframe (the first frame, yours or
//! the clip's) before the engine carries it through the clip, and the same step for a single
//! image (`retake look`), so the CLI and the server's workers style frames one way.

use std::path::{Path, PathBuf};

use retake_looks::{Look, LookError, Mask};
use retake_media::transform::FrameResizer;
use retake_media::{load_image, FrameProcessor, FrameSink, MediaError, RgbFrame};
use serde::Serialize;

use crate::check::check_mask_shape;
use crate::PipelineError;

/// A built-in look to apply, and where it goes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LookRequest {
    /// The look, its strength and (for recolour) its hue, saturation and lightness.
    #[serde(flatten)]
    pub look: Look,
    /// An image painted over the frame: white where the look goes, black where it does not.
    pub mask: Option<PathBuf>,
}

impl LookRequest {
    /// A look over the whole frame.
    pub fn new(look: Look) -> Self {
        Self { look, mask: None }
    }

    /// Whether the look is a colour grade of each pixel on its own (noir, sepia, bleach
    /// bypass, teal and orange, recolour) with no mask: then it can be applied to every frame
    /// of a clip directly, exactly and with nothing to propagate.
    pub fn per_pixel(&self) -> bool {
        self.mask.is_none() && self.look.name().per_pixel()
    }
}

/// A look's refusal as the pipeline's: every one is a wrong input.
pub(crate) fn look_error(e: LookError) -> PipelineError {
    PipelineError::Input(e.to_string())
}

/// Reads a mask for a `width`×`height` frame: used as is at that size, resized when only its
/// scale differs, refused when its shape differs.
pub fn load_mask(path: &Path, width: u32, height: u32) -> Result<Mask, PipelineError> {
    let img = load_image(path).map_err(|e| match e {
        MediaError::Io { source, .. } => {
            PipelineError::Input(format!("look mask {}: {source}", path.display()))
        }
        MediaError::Image { reason, .. } => PipelineError::Input(format!(
            "look mask {}: not a PNG, JPEG or WebP image retake can read: {reason}",
            path.display()
        )),
        other => PipelineError::Media(other),
    })?;
    check_mask_shape(img.width(), img.height(), width, height)
        .map_err(|m| PipelineError::Input(format!("look mask {}: {m}", path.display())))?;
    let img = FrameResizer::default().resize(img, width, height)?;
    Ok(Mask::from_image(&img))
}

/// The frame with the look, its mask read from disk and fitted to the frame.
pub fn apply_look(frame: &RgbFrame, look: &LookRequest) -> Result<RgbFrame, PipelineError> {
    let mask = match &look.mask {
        Some(path) => Some(load_mask(path, frame.width(), frame.height())?),
        None => None,
    };
    look.look.apply(frame, mask.as_ref()).map_err(look_error)
}

/// The processing stage for a per-pixel look: every frame styled directly.
pub(crate) struct PerFrameLook(pub Look);

impl FrameProcessor for PerFrameLook {
    type Error = PipelineError;

    fn push(&mut self, _: usize, f: RgbFrame, emit: &mut FrameSink<'_>) -> Result<(), Self::Error> {
        emit(self.0.apply(&f, None).map_err(look_error)?)?;
        Ok(())
    }

    fn finish(&mut self, _: &mut FrameSink<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use retake_looks::LookName;
    use retake_media::save_png;

    #[test]
    fn a_mask_of_another_scale_is_resized_and_of_another_shape_refused() {
        let dir = tempfile::tempdir().unwrap();
        let half = dir.path().join("half.png");
        save_png(&RgbFrame::filled(32, 18, [255; 3]), &half).unwrap();
        let m = load_mask(&half, 64, 36).unwrap();
        assert_eq!((m.width(), m.height()), (64, 36));
        assert!(m.values().iter().all(|v| *v == 255));
        let square = dir.path().join("square.png");
        save_png(&RgbFrame::filled(36, 36, [255; 3]), &square).unwrap();
        let e = load_mask(&square, 64, 36).unwrap_err().to_string();
        assert!(e.contains("36x36") && e.contains("64x36"), "{e}");
        let missing = load_mask(&dir.path().join("nope.png"), 64, 36).unwrap_err();
        assert!(matches!(missing, PipelineError::Input(_)), "{missing}");
    }

    #[test]
    fn only_unmasked_grades_run_per_frame() {
        let noir = LookRequest::new(Look::new(LookName::FilmNoir, 1.0).unwrap());
        assert!(noir.per_pixel());
        let masked = LookRequest {
            mask: Some("m.png".into()),
            ..noir.clone()
        };
        assert!(!masked.per_pixel());
        assert!(!LookRequest::new(Look::new(LookName::Comic, 1.0).unwrap()).per_pixel());
    }
}
