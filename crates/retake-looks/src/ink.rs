//! Drawn looks: a comic (posterised flat colour, ink outlines) and a pencil sketch.

use rayon::prelude::*;

use crate::paint::kuwahara;
use crate::plane::{luma, scaled, Plane};

/// Brightness levels in the comic look (black, a quarter, half, three quarters, full).
pub(crate) const COMIC_LEVELS: u32 = 5;

/// Comic: detail flattened (Kuwahara), then each colour posterised the way a colourist
/// would: its brightness (HSV value) to [`COMIC_LEVELS`] levels, its saturation to four and
/// its hue to 12° steps, so flat areas come out flat but keep their own colour (a lemon
/// stays yellow; posterising each channel on its own would turn it olive). Black ink
/// wherever the flattened image has an edge.
pub(crate) fn comic(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let flat = kuwahara(w, h, src, scaled(w, h, 3.0));
    let lum = Plane::from_fn(w, h, &flat, luma);
    let ink = lum.gradient().dilate(scaled(w, h, 1.0).saturating_sub(1));
    let steps = (COMIC_LEVELS - 1) as f32;
    flat.par_iter()
        .zip(ink.data.par_iter())
        .map(|(&c, &edge)| {
            if edge > 0.12 {
                return [0.0; 3];
            }
            let [hue, sat, val] = rgb_to_hsv(c);
            let hue = (hue / 12.0).round() * 12.0;
            let sat = ((sat * 1.2).min(1.0) * 3.0).round() / 3.0;
            let val = (val * steps).round() / steps;
            hsv_to_rgb([hue, sat, val])
        })
        .collect()
}

/// RGB in `[0, 1]` to hue (degrees), saturation and value (the brightest channel).
fn rgb_to_hsv(c: [f32; 3]) -> [f32; 3] {
    let max = c[0].max(c[1]).max(c[2]);
    let d = max - c[0].min(c[1]).min(c[2]);
    if d <= 1e-6 || max <= 1e-6 {
        return [0.0, 0.0, max];
    }
    let h = if max == c[0] {
        let h = (c[1] - c[2]) / d;
        if h < 0.0 {
            h + 6.0
        } else {
            h
        }
    } else if max == c[1] {
        (c[2] - c[0]) / d + 2.0
    } else {
        (c[0] - c[1]) / d + 4.0
    };
    [h * 60.0, d / max, max]
}

/// Hue (degrees, 0–360), saturation and value back to RGB; the brightest channel is the
/// value exactly.
fn hsv_to_rgb([h, s, v]: [f32; 3]) -> [f32; 3] {
    let hp = (h / 60.0) % 6.0;
    let c = v * s;
    let x = c * (1.0 - ((hp % 2.0) - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

/// Pencil sketch: the luma divided by its blurred negative (a colour dodge), which is white
/// where the image is flat and dark along edges, times diagonal hatching where the image
/// is dark (crossed where it is darker still). Grey only.
pub(crate) fn pencil_sketch(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let lum = Plane::from_fn(w, h, src, luma);
    let inverse = Plane {
        w,
        h,
        data: lum.data.iter().map(|v| 1.0 - v).collect(),
    }
    .blur(scaled(w, h, 8.0));
    let period = scaled(w, h, 7.0).max(3) as i64;
    let line = |d: i64| {
        // Thin dark lines, one pixel at small sizes, two at 720p and up.
        let m = d.rem_euclid(period);
        if m == 0 || (period > 5 && m == 1) {
            1.0
        } else {
            0.0
        }
    };
    (0..w * h)
        .into_par_iter()
        .map(|i| {
            let g = lum.data[i];
            let dodge = (g / (1.0 - inverse.data[i]).max(1e-3)).min(1.0);
            let stroke = dodge * dodge;
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            let dark = 1.0 - g;
            let hatch = 1.0
                - 0.45 * ((dark - 0.45) / 0.2).clamp(0.0, 1.0) * line(x + y)
                - 0.45 * ((dark - 0.7) / 0.15).clamp(0.0, 1.0) * line(x - y);
            // A little of the tone, so that shapes read as well as their outlines.
            let tone = 0.8 + 0.2 * g;
            [stroke * hatch * tone; 3]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trips_and_value_is_the_brightest_channel() {
        for c in [
            [0.9, 0.8, 0.3],
            [0.1, 0.5, 0.2],
            [0.3, 0.3, 0.3],
            [0.2, 0.1, 0.7],
        ] {
            let back = hsv_to_rgb(rgb_to_hsv(c));
            for k in 0..3 {
                assert!((back[k] - c[k]).abs() < 1e-5, "{c:?} -> {back:?}");
            }
        }
        let c = hsv_to_rgb([48.0, 2.0 / 3.0, 0.75]);
        assert_eq!(c.iter().copied().fold(0.0, f32::max), 0.75);
    }
}
