//! `retake look` and `retake looks`: a built-in look on one image, and the list of them.

use std::io::Write;
use std::path::Path;

use retake_media::{load_image, save_png};
use retake_pipeline::looks::{catalogue, HslShift, Look, LookName};
use retake_pipeline::{apply_look, LookRequest};

use crate::cli::HslArgs;
use crate::commands::modify::pipeline_error;
use crate::exit::{input_error, output_error, CliError};

/// The look the flags describe; hue, saturation and lightness are refused for any look but
/// recolour, and checked against their ranges.
pub fn look_request(
    name: LookName,
    strength: f32,
    mask: Option<&Path>,
    hsl: &HslArgs,
) -> Result<LookRequest, CliError> {
    let usage = |e: retake_pipeline::looks::LookError| CliError::usage(e.into());
    let mut look = Look::new(name, strength).map_err(usage)?;
    if hsl.hue.is_some() || hsl.saturation.is_some() || hsl.lightness.is_some() {
        let d = HslShift::default();
        look = look
            .with_hsl(HslShift {
                hue: hsl.hue.unwrap_or(d.hue),
                saturation: hsl.saturation.unwrap_or(d.saturation),
                lightness: hsl.lightness.unwrap_or(d.lightness),
            })
            .map_err(usage)?;
    }
    if let Some(m) = mask {
        crate::exit::require_file(m)?;
    }
    Ok(LookRequest {
        look,
        mask: mask.map(Path::to_path_buf),
    })
}

/// Styles `image` with the look and writes a PNG.
pub fn run(
    image: &Path,
    look: &LookRequest,
    output: &Path,
    json: bool,
    quiet: bool,
) -> Result<(), CliError> {
    crate::exit::require_file(image)?;
    let frame = load_image(image).map_err(input_error)?;
    let styled = apply_look(&frame, look).map_err(pipeline_error)?;
    save_png(&styled, output).map_err(output_error)?;
    if json {
        let report = serde_json::json!({
            "output": output,
            "width": styled.width(),
            "height": styled.height(),
            "look": look,
        });
        println!("{report:#}");
    } else if !quiet {
        eprintln!(
            "wrote {} ({}x{}, {} at strength {}); carry it through a clip with `retake modify \
             CLIP --first-frame {}`",
            output.display(),
            styled.width(),
            styled.height(),
            look.look.name(),
            look.look.strength(),
            output.display()
        );
    }
    Ok(())
}

/// Prints the looks, one a line, or as JSON.
pub fn list(json: bool) -> Result<(), CliError> {
    let looks = catalogue();
    let text = if json {
        let v = serde_json::to_value(&looks).map_err(|e| CliError::internal(e.into()))?;
        format!("{v:#}\n")
    } else {
        let width = looks.iter().map(|l| l.name.len()).max().unwrap_or(0);
        let mut t: String = looks
            .iter()
            .map(|l| format!("{:width$}  {}\n", l.name, l.description))
            .collect();
        t.push_str(
            "\nUse one with `retake look FRAME.png --look NAME [--strength 0-1] [--mask M.png] \
             -o OUT.png`,\nor on a clip with `retake modify CLIP --look NAME [--look-strength \
             0-1]`. recolour also\ntakes --hue DEG, --saturation S and --lightness L.\n",
        );
        t
    };
    // A reader that stops early (`retake looks | head -3`) is not an error.
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::internal(e.into())),
        _ => Ok(()),
    }
}
