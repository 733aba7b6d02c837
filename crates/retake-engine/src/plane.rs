//! Float image planes (grey and colour) and the conversions and resamplings the engine needs.

use crate::EngineError;
use retake_media::RgbFrame;

/// A single-channel f32 image, row-major, values nominally in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    w: usize,
    h: usize,
    data: Vec<f32>,
}

impl Plane {
    /// A plane of zeros.
    pub fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            data: vec![0.0; w * h],
        }
    }

    /// Wraps a buffer of `w * h` values.
    pub fn from_vec(w: usize, h: usize, data: Vec<f32>) -> Result<Self, EngineError> {
        if data.len() != w * h || w == 0 || h == 0 {
            return Err(EngineError::Frame(format!(
                "{w}x{h} plane needs {} values, got {}",
                w * h,
                data.len()
            )));
        }
        Ok(Self { w, h, data })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.h
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The value at integer (x, y), clamped to the border.
    #[inline]
    pub fn at(&self, x: isize, y: isize) -> f32 {
        let x = x.clamp(0, self.w as isize - 1) as usize;
        let y = y.clamp(0, self.h as isize - 1) as usize;
        self.data[y * self.w + x]
    }

    /// Bilinear sample at continuous (x, y) (pixel centres at integers), clamped to the border.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        self.sample_taps(&Taps::new(x, y, self.w, self.h))
    }

    /// Bilinear sample through taps made for an image of this size.
    #[inline(always)]
    pub(crate) fn sample_taps(&self, t: &Taps) -> f32 {
        let [a, b, c, d] = t.i.map(|i| self.data[i]);
        let top = a + (b - a) * t.fx;
        let bot = c + (d - c) * t.fx;
        top + (bot - top) * t.fy
    }

    /// BT.601 luma of a frame, scaled to `[0, 1]`.
    pub fn luma(frame: &RgbFrame) -> Self {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let data = frame
            .data()
            .chunks_exact(3)
            .map(|p| (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0)
            .collect();
        Self { w, h, data }
    }

    /// Box-downsamples by an integer factor (the last partial block is averaged too).
    pub fn downsample(&self, f: usize) -> Self {
        if f <= 1 {
            return self.clone();
        }
        let (nw, nh) = (self.w.div_ceil(f), self.h.div_ceil(f));
        let mut out = Self::new(nw, nh);
        for y in 0..nh {
            for x in 0..nw {
                let (mut s, mut n) = (0.0, 0.0);
                for yy in y * f..((y + 1) * f).min(self.h) {
                    for xx in x * f..((x + 1) * f).min(self.w) {
                        s += self.data[yy * self.w + xx];
                        n += 1.0;
                    }
                }
                out.data[y * nw + x] = s / n;
            }
        }
        out
    }

    /// Mean over a (2r + 1)² window, clamped at the borders (two running-sum passes).
    pub fn box_blur(&self, r: usize) -> Self {
        let (w, h) = (self.w, self.h);
        let pass = |src: &[f32], len: usize, stride: usize, lines: usize, line_step: usize| {
            let mut out = vec![0.0f32; src.len()];
            let n = (2 * r + 1) as f32;
            for l in 0..lines {
                let at =
                    |k: isize| src[l * line_step + k.clamp(0, len as isize - 1) as usize * stride];
                let mut acc: f32 = (-(r as isize)..=r as isize).map(at).sum();
                for k in 0..len {
                    out[l * line_step + k * stride] = acc / n;
                    acc += at(k as isize + r as isize + 1) - at(k as isize - r as isize);
                }
            }
            out
        };
        let rows = pass(&self.data, w, 1, h, w);
        let data = pass(&rows, h, w, w, 1);
        Self { w, h, data }
    }

    /// Halves the size with a 2x2 box filter (for pyramids).
    pub fn half(&self) -> Self {
        self.downsample(2)
    }

    /// Central-difference gradients (x, y).
    pub fn gradients(&self) -> (Plane, Plane) {
        let (w, h) = (self.w, self.h);
        let mut gx = Self::new(w, h);
        let mut gy = Self::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (xi, yi) = (x as isize, y as isize);
                gx.data[y * w + x] = 0.5 * (self.at(xi + 1, yi) - self.at(xi - 1, yi));
                gy.data[y * w + x] = 0.5 * (self.at(xi, yi + 1) - self.at(xi, yi - 1));
            }
        }
        (gx, gy)
    }

    /// Gradient magnitude (Sobel-free central differences), an edge map.
    pub fn edges(&self) -> Plane {
        let (gx, gy) = self.gradients();
        let data = gx
            .data
            .iter()
            .zip(&gy.data)
            .map(|(a, b)| (a * a + b * b).sqrt())
            .collect();
        Self {
            w: self.w,
            h: self.h,
            data,
        }
    }
}

/// Integer corner and fractions for a clamped bilinear lookup.
#[inline]
pub(crate) fn bilinear_setup(x: f32, y: f32, w: usize, h: usize) -> (usize, usize, f32, f32) {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let i0 = x as usize;
    let j0 = y as usize;
    (i0.min(w - 1), j0.min(h - 1), x - i0 as f32, y - j0 as f32)
}

/// The four neighbours (row-major indices) and fractions of a clamped bilinear lookup in a
/// `w`×`h` image.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Taps {
    i: [usize; 4],
    fx: f32,
    fy: f32,
}

impl Taps {
    /// Taps for continuous (x, y) in a `w`×`h` image, clamped to the border.
    #[inline(always)]
    pub(crate) fn new(x: f32, y: f32, w: usize, h: usize) -> Self {
        let (i0, j0, fx, fy) = bilinear_setup(x, y, w, h);
        let (i1, j1) = ((i0 + 1).min(w - 1), (j0 + 1).min(h - 1));
        Self {
            i: [j0 * w + i0, j0 * w + i1, j1 * w + i0, j1 * w + i1],
            fx,
            fy,
        }
    }
}

/// A three-channel f32 image, interleaved RGB, values in `[0, 255]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ColorImage {
    w: usize,
    h: usize,
    data: Vec<[f32; 3]>,
}

impl ColorImage {
    /// A black image.
    pub fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            data: vec![[0.0; 3]; w * h],
        }
    }

    /// Converts an 8-bit frame.
    pub fn from_frame(frame: &RgbFrame) -> Self {
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        let data = frame
            .data()
            .chunks_exact(3)
            .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
            .collect();
        Self { w, h, data }
    }

    /// Rounds back to an 8-bit frame.
    pub fn to_frame(&self) -> Result<RgbFrame, EngineError> {
        let mut bytes = Vec::with_capacity(self.w * self.h * 3);
        for p in &self.data {
            for c in p {
                // Rounds half up on the clamped value: the same as `round` here, without a libm call.
                bytes.push((c.clamp(0.0, 255.0) + 0.5) as u8);
            }
        }
        RgbFrame::from_raw(self.w as u32, self.h as u32, bytes)
            .map_err(|e| EngineError::Frame(e.to_string()))
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.h
    }

    /// Pixels, row-major.
    pub fn data(&self) -> &[[f32; 3]] {
        &self.data
    }

    /// Pixels, mutable.
    pub fn data_mut(&mut self) -> &mut [[f32; 3]] {
        &mut self.data
    }

    /// Bilinear sample at continuous (x, y), clamped to the border.
    #[inline(always)]
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        self.sample_taps(&Taps::new(x, y, self.w, self.h))
    }

    /// Bilinear sample through taps made for an image of this size: several images of one
    /// size sampled at one point share the taps.
    #[inline(always)]
    pub(crate) fn sample_taps(&self, t: &Taps) -> [f32; 3] {
        let [a, b, c, d] = t.i.map(|i| self.data[i]);
        let mut out = [0.0; 3];
        for k in 0..3 {
            let top = a[k] + (b[k] - a[k]) * t.fx;
            let bot = c[k] + (d[k] - c[k]) * t.fx;
            out[k] = top + (bot - top) * t.fy;
        }
        out
    }

    /// Box-downsamples by an integer factor.
    pub fn downsample(&self, f: usize) -> Self {
        if f <= 1 {
            return self.clone();
        }
        let (nw, nh) = (self.w.div_ceil(f), self.h.div_ceil(f));
        let mut out = Self::new(nw, nh);
        for y in 0..nh {
            for x in 0..nw {
                let (mut s, mut n) = ([0.0f32; 3], 0.0);
                for yy in y * f..((y + 1) * f).min(self.h) {
                    for xx in x * f..((x + 1) * f).min(self.w) {
                        let p = self.data[yy * self.w + xx];
                        s[0] += p[0];
                        s[1] += p[1];
                        s[2] += p[2];
                        n += 1.0;
                    }
                }
                out.data[y * nw + x] = [s[0] / n, s[1] / n, s[2] / n];
            }
        }
        out
    }

    /// BT.601 luma in `[0, 1]`.
    pub fn luma(&self) -> Plane {
        let data = self
            .data
            .iter()
            .map(|p| (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]) / 255.0)
            .collect();
        Plane {
            w: self.w,
            h: self.h,
            data,
        }
    }
}

/// Checks that a frame has the expected size.
pub(crate) fn check_size(
    what: &'static str,
    f: &RgbFrame,
    w: usize,
    h: usize,
) -> Result<(), EngineError> {
    let (gw, gh) = (f.width() as usize, f.height() as usize);
    if gw != w || gh != h {
        return Err(EngineError::SizeMismatch {
            what,
            got_w: gw,
            got_h: gh,
            want_w: w,
            want_h: h,
        });
    }
    Ok(())
}
