//! Example edits of a first frame, standing in for what a user does in an image editor.
//! All are pointwise or local, so applying one to every source frame gives a ground truth.

use retake_media::RgbFrame;

fn map_pixels(frame: &RgbFrame, f: impl Fn(usize, [f32; 3]) -> [f32; 3]) -> RgbFrame {
    let mut out = frame.clone();
    for (i, p) in out.data_mut().chunks_exact_mut(3).enumerate() {
        let c = f(i, [p[0] as f32, p[1] as f32, p[2] as f32]);
        for k in 0..3 {
            p[k] = c[k].round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Rotates a colour's hue by `deg` degrees around the grey axis (luma approximately kept).
pub fn hue_rotate(c: [f32; 3], deg: f32) -> [f32; 3] {
    let (s, co) = deg.to_radians().sin_cos();
    let (a, b) = (1.0 / 3.0, (1.0f32 / 3.0).sqrt());
    let m = [
        [
            co + (1.0 - co) * a,
            a * (1.0 - co) - b * s,
            a * (1.0 - co) + b * s,
        ],
        [
            a * (1.0 - co) + b * s,
            co + a * (1.0 - co),
            a * (1.0 - co) - b * s,
        ],
        [
            a * (1.0 - co) - b * s,
            a * (1.0 - co) + b * s,
            co + a * (1.0 - co),
        ],
    ];
    [0, 1, 2].map(|r| m[r][0] * c[0] + m[r][1] * c[1] + m[r][2] * c[2])
}

/// Global recolour: hue rotated by 120 degrees.
pub fn recolour(frame: &RgbFrame) -> RgbFrame {
    map_pixels(frame, |_, c| hue_rotate(c, 120.0))
}

/// A painterly restyle: smoothed, posterised to a few tones per channel, edges inked dark.
pub fn painterly(frame: &RgbFrame) -> RgbFrame {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let d = frame.data();
    let px = |x: isize, y: isize, k: usize| -> f32 {
        let x = x.clamp(0, w as isize - 1) as usize;
        let y = y.clamp(0, h as isize - 1) as usize;
        d[(y * w + x) * 3 + k] as f32
    };
    let luma = |x: isize, y: isize| 0.299 * px(x, y, 0) + 0.587 * px(x, y, 1) + 0.114 * px(x, y, 2);
    map_pixels(frame, |i, _| {
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        let mut c = [0.0f32; 3];
        for (k, ck) in c.iter_mut().enumerate() {
            let mut s = 0.0;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    s += px(x + dx, y + dy, k);
                }
            }
            // Soft posterise: a smoothed staircase keeps the bands from flickering under motion.
            let v = s / 9.0 / 255.0 * 4.0;
            let f = v.floor();
            let t = ((v - f - 0.5) * 4.0).clamp(-0.5, 0.5) + 0.5;
            *ck = (f + t) / 4.0 * 255.0;
        }
        let gx = luma(x + 1, y) - luma(x - 1, y);
        let gy = luma(x, y + 1) - luma(x, y - 1);
        let ink = 1.0 - ((gx * gx + gy * gy).sqrt() / 120.0).min(0.6);
        c.map(|v| v * ink)
    })
}

/// A local edit: the masked region repainted red, keeping its shading.
pub fn local_edit(frame: &RgbFrame, mask: &[bool]) -> RgbFrame {
    map_pixels(frame, |i, c| {
        if mask.get(i).copied().unwrap_or(false) {
            let y = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
            [y * 1.7 + 30.0, y * 0.45, y * 0.35]
        } else {
            c
        }
    })
}

/// The three example edits, by name, for tests, the quality table and the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edit {
    /// [`recolour`].
    Recolour,
    /// [`painterly`].
    Painterly,
    /// [`local_edit`] on the scene's edit mask.
    Local,
}

impl Edit {
    /// All edits, in a stable order.
    pub const ALL: [Edit; 3] = [Edit::Recolour, Edit::Painterly, Edit::Local];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Edit::Recolour => "recolour",
            Edit::Painterly => "painterly",
            Edit::Local => "local",
        }
    }

    /// Applies the edit to frame `i` of a synthetic scene (the ground truth for that frame).
    pub fn apply(self, scene: &crate::scene::Scene, i: usize) -> RgbFrame {
        let f = scene.frame(i);
        match self {
            Edit::Recolour => recolour(&f),
            Edit::Painterly => painterly(&f),
            Edit::Local => local_edit(&f, &scene.edit_mask(i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hue_rotation_by_360_is_identity() {
        let c = hue_rotate([200.0, 30.0, 90.0], 360.0);
        assert!((c[0] - 200.0).abs() < 0.01 && (c[1] - 30.0).abs() < 0.01);
    }

    #[test]
    fn local_edit_touches_only_the_mask() {
        let f = RgbFrame::filled(4, 1, [100, 100, 100]);
        let e = local_edit(&f, &[true, false, false, false]);
        assert_ne!(e.pixel(0, 0), [100, 100, 100]);
        assert_eq!(e.pixel(1, 0), [100, 100, 100]);
    }
}
