//! Colour grades: looks that change each pixel on its own (and the vignette, by position).

use rayon::prelude::*;

use crate::plane::luma;
use crate::HslShift;

#[inline]
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[inline]
fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * t)
}

/// A contrast curve around mid-grey with a soft toe and shoulder.
#[inline]
fn contrast(y: f32, amount: f32) -> f32 {
    let c = ((y - 0.5) * amount + 0.5).clamp(0.0, 1.0);
    0.5 * c + 0.5 * c * c * (3.0 - 2.0 * c)
}

/// Darkening towards the corners: 1 at the centre, `1 - depth` in the corners.
pub(crate) fn vignette(x: usize, y: usize, w: usize, h: usize, depth: f32) -> f32 {
    let dx = (x as f32 + 0.5) / w as f32 * 2.0 - 1.0;
    let dy = (y as f32 + 0.5) / h as f32 * 2.0 - 1.0;
    let d2 = (dx * dx + dy * dy) * 0.5;
    1.0 - depth * d2 * d2.sqrt()
}

/// Film noir: luma through a hard contrast curve, shadows deepened, a vignette. No colour.
pub(crate) fn film_noir(w: usize, h: usize, src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    src.par_iter()
        .enumerate()
        .map(|(i, &c)| {
            let t = contrast(luma(c), 1.5).powf(1.15) * vignette(i % w, i / w, w, h, 0.45);
            [t; 3]
        })
        .collect()
}

/// Sepia: luma mapped through a dark-brown → tan → cream ramp (hues 24°–42°), lifted
/// blacks as in an aged print.
pub(crate) fn sepia(src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    const DARK: [f32; 3] = [0.10, 0.065, 0.04];
    const MID: [f32; 3] = [0.60, 0.44, 0.28];
    const LIGHT: [f32; 3] = [1.0, 0.94, 0.80];
    src.par_iter()
        .map(|&c| {
            let y = contrast(luma(c), 1.1);
            if y < 0.5 {
                mix(DARK, MID, y * 2.0)
            } else {
                mix(MID, LIGHT, (y - 0.5) * 2.0)
            }
        })
        .collect()
}

/// Bleach bypass: colour at half saturation with its own luma laid over it (the overlay
/// blend), which hardens contrast and silvers the colours.
pub(crate) fn bleach_bypass(src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    let overlay = |base: f32, top: f32| {
        if base < 0.5 {
            2.0 * base * top
        } else {
            1.0 - 2.0 * (1.0 - base) * (1.0 - top)
        }
    };
    src.par_iter()
        .map(|&c| {
            let y = luma(c);
            let half = mix([y; 3], c, 0.5);
            let o = half.map(|b| overlay(b, y));
            mix([luma(o); 3], o, 0.85)
        })
        .collect()
}

/// Teal and orange: hues pulled towards orange (warm colours, skin) or teal (the rest),
/// shadows tinted teal and highlights orange, a little more saturation.
pub(crate) fn teal_orange(src: &[[f32; 3]]) -> Vec<[f32; 3]> {
    const TEAL: [f32; 3] = [-0.07, 0.045, 0.06];
    const ORANGE: [f32; 3] = [0.10, 0.02, -0.09];
    src.par_iter()
        .map(|&c| {
            let [h, s, l] = rgb_to_hsl(c);
            // Pull each hue part of the way to the nearer of orange (30°) and teal (190°).
            let (to_orange, to_teal) = (wrap180(30.0 - h), wrap180(190.0 - h));
            let diff = if to_orange.abs() <= to_teal.abs() {
                to_orange
            } else {
                to_teal
            };
            let pulled = hsl_to_rgb([h + diff * 0.4, (s * 1.15).min(1.0), l]);
            let y = luma(pulled);
            let t = smoothstep(0.15, 0.85, y);
            let tint = mix(TEAL, ORANGE, t);
            let graded = [0, 1, 2].map(|k| pulled[k] + tint[k]);
            let y = luma(graded);
            let y2 = contrast(y, 1.0);
            // The contrast curve's luma with the graded colour's hue and chroma.
            fit_gamut(graded.map(|v| v + (y2 - y)))
        })
        .collect()
}

/// Brings a colour into `[0, 1]` by moving it towards the grey of its own luma, which keeps
/// its hue (clamping each channel on its own would turn it).
pub(crate) fn fit_gamut(c: [f32; 3]) -> [f32; 3] {
    let y = luma(c).clamp(0.0, 1.0);
    let mut t: f32 = 1.0;
    for v in c {
        if v > 1.0 {
            t = t.min((1.0 - y) / (v - y));
        } else if v < 0.0 {
            t = t.min(y / (y - v));
        }
    }
    c.map(|v| y + (v - y) * t.max(0.0))
}

/// Recolour: hue rotated, saturation scaled and lightness moved, each by `strength` times
/// the shift.
pub(crate) fn recolour(src: &[[f32; 3]], shift: HslShift, strength: f32) -> Vec<[f32; 3]> {
    let (dh, ds, dl) = (
        shift.hue * strength,
        shift.saturation * strength,
        shift.lightness * strength,
    );
    src.par_iter()
        .map(|&c| {
            let [h, s, l] = rgb_to_hsl(c);
            let l = if dl >= 0.0 {
                l + dl * (1.0 - l)
            } else {
                l + dl * l
            };
            hsl_to_rgb([h + dh, (s * (1.0 + ds)).clamp(0.0, 1.0), l])
        })
        .collect()
}

/// An angle difference in degrees, within (-540, 540), brought into [-180, 180].
#[inline]
fn wrap180(d: f32) -> f32 {
    if d > 180.0 {
        d - 360.0
    } else if d < -180.0 {
        d + 360.0
    } else {
        d
    }
}

/// An angle in degrees brought into [0, 360) (cheaper than `rem_euclid` for the angles seen
/// here, which are within a turn or two).
#[inline]
fn wrap360(mut h: f32) -> f32 {
    if !(-1440.0..1440.0).contains(&h) {
        return h.rem_euclid(360.0);
    }
    while h < 0.0 {
        h += 360.0;
    }
    while h >= 360.0 {
        h -= 360.0;
    }
    h
}

/// RGB in `[0, 1]` to hue (degrees, `[0, 360)`), saturation and lightness (`[0, 1]`).
pub(crate) fn rgb_to_hsl(c: [f32; 3]) -> [f32; 3] {
    let max = c[0].max(c[1]).max(c[2]);
    let min = c[0].min(c[1]).min(c[2]);
    let l = (max + min) / 2.0;
    let d = max - min;
    if d <= 1e-6 {
        return [0.0, 0.0, l];
    }
    let s = d / (1.0 - (2.0 * l - 1.0).abs()).max(1e-6);
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
    [h * 60.0, s.min(1.0), l]
}

/// Hue (degrees, any), saturation and lightness back to RGB.
pub(crate) fn hsl_to_rgb([h, s, l]: [f32; 3]) -> [f32; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = wrap360(h) / 60.0;
    let x = c * (1.0 - ((hp - 2.0 * (hp * 0.5).floor()) - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r + m, g + m, b + m]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsl_round_trips() {
        for c in [
            [0.9, 0.1, 0.2],
            [0.1, 0.8, 0.3],
            [0.2, 0.3, 0.9],
            [0.5, 0.5, 0.5],
            [1.0, 1.0, 0.0],
        ] {
            let back = hsl_to_rgb(rgb_to_hsl(c));
            for k in 0..3 {
                assert!((back[k] - c[k]).abs() < 1e-5, "{c:?} -> {back:?}");
            }
        }
        assert!((rgb_to_hsl([1.0, 0.0, 0.0])[0]).abs() < 1e-4);
        assert!((rgb_to_hsl([0.0, 1.0, 0.0])[0] - 120.0).abs() < 1e-4);
    }

    #[test]
    fn angles_wrap() {
        assert_eq!(wrap180(190.0), -170.0);
        assert_eq!(wrap180(-200.0), 160.0);
        assert_eq!(wrap360(-30.0), 330.0);
        assert_eq!(wrap360(725.0), 5.0);
        assert_eq!(wrap360(1e6), 1e6f32.rem_euclid(360.0));
        // A hue of exactly 360 is red again.
        let red = hsl_to_rgb([360.0, 1.0, 0.5]);
        assert!((red[0] - 1.0).abs() < 1e-6 && red[1].abs() < 1e-6);
    }

    #[test]
    fn fitting_into_the_gamut_keeps_the_hue() {
        for c in [[1.3, 0.9, 0.6], [-0.2, 0.3, 0.5], [0.3, 1.2, -0.3]] {
            let f = fit_gamut(c);
            assert!(f.iter().all(|v| (-1e-6..=1.0 + 1e-6).contains(v)), "{f:?}");
            let (h0, h1) = (rgb_to_hsl(c.map(|v| v * 0.1 + 0.3))[0], rgb_to_hsl(f)[0]);
            assert!((h0 - h1).abs() < 0.5, "{c:?}: hue {h0} became {h1}");
        }
        assert_eq!(fit_gamut([0.2, 0.4, 0.6]), [0.2, 0.4, 0.6]);
    }
}
