//! A small local edit on a textured object that slides and turns over many frames must stay
//! where it was painted: the layer's map is registered against the keyframe each frame, so
//! the small errors of per-frame flow fits do not add up (chained alone, they put the sticker
//! more than a pixel off by the end of such a clip).

use retake_engine::{Mode, Propagator};
use retake_media::RgbFrame;

const W: usize = 160;
const H: usize = 120;
const FRAMES: usize = 96;
/// The sticker's radius and its offset from the object's centre (frame 0).
const STICKER_R: f32 = 5.0;
const OFFSET: [f32; 2] = [9.0, -7.0];
const OBJECT_R: f32 = 34.0;

/// A deterministic value in 0..1 for integer coordinates.
fn hash(x: i64, y: i64, seed: i64) -> f32 {
    let mut h = (x.wrapping_mul(0x9E37_79B9)
        ^ y.wrapping_mul(0x85EB_CA6B)
        ^ seed.wrapping_mul(0xC2B2_AE35)) as u64;
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    (h % 10_000) as f32 / 10_000.0
}

/// Smooth value noise at scale `s` (bilinear between hashed lattice values).
fn noise(x: f32, y: f32, s: f32, seed: i64) -> f32 {
    let (u, v) = (x / s, y / s);
    let (x0, y0) = (u.floor(), v.floor());
    let (fx, fy) = (u - x0, v - y0);
    let (fx, fy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (i, j) = (x0 as i64, y0 as i64);
    let a = hash(i, j, seed) + (hash(i + 1, j, seed) - hash(i, j, seed)) * fx;
    let b = hash(i, j + 1, seed) + (hash(i + 1, j + 1, seed) - hash(i, j + 1, seed)) * fx;
    a + (b - a) * fy
}

/// The object's pose in frame `k`: centre and turn (radians).
fn pose(k: usize) -> ([f32; 2], f32) {
    let t = k as f32 / (FRAMES - 1) as f32;
    ([48.0 + 62.0 * t, 58.0 + 8.0 * (3.0 * t).sin()], 0.6 * t)
}

/// Where a point of the object, given in frame 0, is in frame `k`.
fn carry(p: [f32; 2], k: usize) -> [f32; 2] {
    let (c0, a0) = pose(0);
    let (c, a) = pose(k);
    let (dx, dy) = (p[0] - c0[0], p[1] - c0[1]);
    let (s, co) = (a - a0).sin_cos();
    [c[0] + co * dx - s * dy, c[1] + s * dx + co * dy]
}

/// Frame `k`: a textured background and a textured disc (its texture turning with it), with
/// a little sensor noise.
fn frame(k: usize) -> RgbFrame {
    let (c, a) = pose(k);
    let (s, co) = a.sin_cos();
    let mut f = RgbFrame::filled(W as u32, H as u32, [0, 0, 0]);
    for y in 0..H {
        for x in 0..W {
            let (dx, dy) = (x as f32 - c[0], y as f32 - c[1]);
            let rgb = if dx * dx + dy * dy <= OBJECT_R * OBJECT_R {
                // Object coordinates (frame 0's orientation).
                let (u, v) = (co * dx + s * dy, -s * dx + co * dy);
                let n = 0.6 * noise(u + 100.0, v + 100.0, 5.0, 1)
                    + 0.4 * noise(u + 100.0, v + 100.0, 2.5, 2);
                [60.0 + 150.0 * n, 90.0 + 90.0 * n, 120.0 + 40.0 * n]
            } else {
                let n = 0.6 * noise(x as f32, y as f32, 6.0, 3)
                    + 0.4 * noise(x as f32, y as f32, 3.0, 4);
                [70.0 + 110.0 * n, 110.0 + 80.0 * n, 60.0 + 60.0 * n]
            };
            let grain = 8.0 * (hash(x as i64, y as i64, 100 + k as i64) - 0.5);
            let i = (y * W + x) * 3;
            for (o, c) in f.data_mut()[i..i + 3].iter_mut().zip(rgb) {
                *o = (c + grain).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    f
}

/// Where the sticker is in frame 0.
fn sticker_centre() -> [f32; 2] {
    let (c, _) = pose(0);
    [c[0] + OFFSET[0], c[1] + OFFSET[1]]
}

/// Frame 0 with a yellow sticker with a red middle painted on the object.
fn keyframe(f0: &RgbFrame) -> RgbFrame {
    let c = sticker_centre();
    let mut out = f0.clone();
    for y in 0..H {
        for x in 0..W {
            let d = ((x as f32 - c[0]).powi(2) + (y as f32 - c[1]).powi(2)).sqrt();
            if d <= STICKER_R {
                let rgb = if d <= 0.45 * STICKER_R {
                    [220, 30, 40]
                } else {
                    [250, 220, 30]
                };
                out.data_mut()[(y * W + x) * 3..(y * W + x) * 3 + 3].copy_from_slice(&rgb);
            }
        }
    }
    out
}

/// The centre of the sticker's yellow in an output frame, near `guess`: the weighted centroid
/// of strongly yellow pixels within 15 pixels.
fn found(out: &RgbFrame, guess: [f32; 2]) -> Option<[f32; 2]> {
    let (mut sx, mut sy, mut n) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..H {
        for x in 0..W {
            if (x as f32 - guess[0]).abs() > 15.0 || (y as f32 - guess[1]).abs() > 15.0 {
                continue;
            }
            let p = &out.data()[(y * W + x) * 3..(y * W + x) * 3 + 3];
            let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
            // Yellow: red and green high, blue low.
            let yellow = ((r.min(g) - b - 80.0) / 60.0).clamp(0.0, 1.0);
            sx += yellow * x as f32;
            sy += yellow * y as f32;
            n += yellow;
        }
    }
    (n > 10.0).then(|| [sx / n, sy / n])
}

#[test]
fn a_sticker_on_a_sliding_turning_object_stays_within_a_pixel_of_its_place() {
    let frames: Vec<RgbFrame> = (0..FRAMES).map(frame).collect();
    let key = keyframe(&frames[0]);
    let mut p = Propagator::new(&key, &frames[0], &Mode::Flex1.params(), 7).unwrap();
    let start = found(&key, sticker_centre()).unwrap();
    let mut worst: (f32, usize) = (0.0, 0);
    let mut last = None;
    for (k, f) in frames.iter().enumerate() {
        let out = p.push(f).unwrap();
        if k < FRAMES / 2 {
            continue;
        }
        // The sticker's own centroid in frame 0, carried by the object's exact motion.
        let truth = carry(start, k);
        let at = found(&out, truth)
            .unwrap_or_else(|| panic!("frame {k}: the sticker is gone from the output"));
        let err = ((at[0] - truth[0]).powi(2) + (at[1] - truth[1]).powi(2)).sqrt();
        if err > worst.0 {
            worst = (err, k);
        }
        last = Some(err);
    }
    let last = last.unwrap();
    eprintln!(
        "sticker placement: {last:.2} px off at the last frame, worst {:.2} px (frame {})",
        worst.0, worst.1
    );
    assert!(
        last < 1.0,
        "the sticker is {last:.2} px from its place at the last frame"
    );
    assert!(
        worst.0 < 1.0,
        "the sticker was {:.2} px off at frame {}",
        worst.0,
        worst.1
    );
}
