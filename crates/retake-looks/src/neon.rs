//! Neon night: the scene darkened to a blue night, every edge lit as a neon tube.

use rayon::prelude::*;

use crate::grade::{hsl_to_rgb, rgb_to_hsl};
use crate::plane::{luma, scaled, Plane};

/// Tube hues: magenta, and cyan; colours between pass through electric blue.
const MAGENTA: f32 = 310.0;
const CYAN: f32 = 185.0;

/// Neon night: the frame dimmed and cooled; edges (of a lightly smoothed luma) drawn as
/// tubes of magenta or cyan (or the electric blue between) — warm colours and dark sides glow
/// magenta, cool colours and light sides cyan — with a wide soft glow around them.
pub(crate) fn neon_night(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let lum = Plane::from_fn(w, h, src, luma).box_mean(1);
    let tube = Plane {
        w,
        h,
        data: lum
            .gradient()
            .data
            .iter()
            .map(|g| ((g - 0.04) / 0.2).clamp(0.0, 1.0))
            .collect(),
    };
    let glow = tube.blur(scaled(w, h, 10.0));
    (0..w * h)
        .into_par_iter()
        .map(|i| {
            let c = src[i];
            let [hue, sat, light] = rgb_to_hsl(c);
            // Which colour this pixel's tube is: by hue where there is colour, else by
            // lightness.
            let by_hue = 0.5 - 0.5 * (hue - 20.0).to_radians().cos();
            let by_light = light;
            let k = (sat * (1.0 - (2.0 * light - 1.0).abs()) * 3.0).min(1.0);
            let t = by_light + (by_hue - by_light) * k;
            // Mostly one colour or the other.
            let t = t * t * (3.0 - 2.0 * t);
            let neon = hsl_to_rgb([MAGENTA + (CYAN - MAGENTA) * t, 1.0, 0.55]);
            let night = [c[0] * 0.22, c[1] * 0.28, c[2] * 0.45 + 0.02];
            // Capped so that a tube stays its colour rather than burning out to white.
            let e = (tube.data[i] + 0.9 * glow.data[i]).min(1.0);
            [0, 1, 2].map(|k| night[k] + neon[k] * e)
        })
        .collect()
}
