//! Colour statistics matching: moves a frame's per-channel mean and spread (in YCbCr, where
//! brightness and colour are roughly independent) towards a reference frame's.

use retake_media::RgbFrame;

fn to_ycc(p: &[u8]) -> [f32; 3] {
    let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    [y, (b - y) * 0.564, (r - y) * 0.713]
}

fn from_ycc(c: [f32; 3]) -> [u8; 3] {
    let y = c[0];
    let r = y + c[2] / 0.713;
    let b = y + c[1] / 0.564;
    let g = (y - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b].map(|v| v.round().clamp(0.0, 255.0) as u8)
}

/// Per-channel mean and standard deviation in YCbCr.
pub fn stats(f: &RgbFrame) -> [(f32, f32); 3] {
    let n = (f.width() * f.height()) as f64;
    let mut sum = [0f64; 3];
    let mut sq = [0f64; 3];
    for p in f.data().chunks_exact(3) {
        let c = to_ycc(p);
        for k in 0..3 {
            sum[k] += c[k] as f64;
            sq[k] += (c[k] as f64).powi(2);
        }
    }
    let mut out = [(0f32, 0f32); 3];
    for k in 0..3 {
        let m = sum[k] / n;
        out[k] = (m as f32, ((sq[k] / n - m * m).max(0.0)).sqrt() as f32);
    }
    out
}

/// Moves `frame`'s YCbCr statistics towards `reference`'s by `amount` in [0, 1] (0: unchanged,
/// 1: the reference's mean and spread). The spread ratio is capped so a flat frame is not
/// blown up into noise.
pub fn match_colors(frame: &RgbFrame, reference: &RgbFrame, amount: f32) -> RgbFrame {
    let amount = amount.clamp(0.0, 1.0);
    if amount == 0.0 {
        return frame.clone();
    }
    let (s, r) = (stats(frame), stats(reference));
    let mut gain = [1f32; 3];
    let mut out = frame.clone();
    for k in 0..3 {
        gain[k] = if s[k].1 > 1e-3 {
            (r[k].1 / s[k].1).clamp(0.5, 2.0)
        } else {
            1.0
        };
    }
    for p in out.data_mut().chunks_exact_mut(3) {
        let c = to_ycc(p);
        let mut m = [0f32; 3];
        for k in 0..3 {
            let full = (c[k] - s[k].0) * gain[k] + r[k].0;
            m[k] = c[k] + amount * (full - c[k]);
        }
        p.copy_from_slice(&from_ycc(m));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, tint: [f32; 3], gain: f32) -> RgbFrame {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let v = (x + y) as f32 / (w + h) as f32 * 120.0 * gain;
                data.extend(tint.iter().map(|t| (t + v).clamp(0.0, 255.0) as u8));
            }
        }
        RgbFrame::from_raw(w, h, data).unwrap()
    }

    #[test]
    fn full_match_takes_the_reference_statistics() {
        let f = gradient(32, 16, [20.0, 60.0, 120.0], 1.0);
        let r = gradient(32, 16, [110.0, 70.0, 30.0], 0.7);
        let m = match_colors(&f, &r, 1.0);
        let (sm, sr) = (stats(&m), stats(&r));
        for k in 0..3 {
            assert!(
                (sm[k].0 - sr[k].0).abs() < 1.5,
                "{k}: {:?} vs {:?}",
                sm[k],
                sr[k]
            );
            assert!(
                (sm[k].1 - sr[k].1).abs() < 1.5,
                "{k}: {:?} vs {:?}",
                sm[k],
                sr[k]
            );
        }
        assert_eq!(match_colors(&f, &r, 0.0), f);
        let half = stats(&match_colors(&f, &r, 0.5));
        let sf = stats(&f);
        assert!((half[0].0 - (sf[0].0 + sr[0].0) / 2.0).abs() < 1.5);
    }
}
