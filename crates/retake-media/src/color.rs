//! YUV ↔ RGB conversion in 16.16 fixed point, parallel over rows: 4:2:0 both ways, 4:4:4
//! (and 4:2:2) for the optional x264 encoder and the decoders that come with it.

use rayon::prelude::*;

use crate::RgbFrame;

/// Which RGB↔YCbCr matrix a stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Matrix {
    /// ITU-R BT.601 (standard definition).
    Bt601,
    /// ITU-R BT.709 (high definition).
    Bt709,
}

impl Matrix {
    /// The matrix a stream signals in its VUI, or the usual player guess from its height.
    pub fn from_vui(code: Option<u8>, height: u32) -> Self {
        match code {
            Some(1) => Matrix::Bt709,
            Some(5) | Some(6) => Matrix::Bt601,
            _ if height >= 720 => Matrix::Bt709,
            _ => Matrix::Bt601,
        }
    }

    fn kr_kb(self) -> (f64, f64) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
        }
    }
}

/// Colour description of a YUV buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColorSpec {
    /// The matrix.
    pub matrix: Matrix,
    /// Full (0–255) or studio (16–235) range.
    pub full_range: bool,
}

impl ColorSpec {
    /// BT.709 studio range: what we write.
    pub const OUTPUT: ColorSpec = ColorSpec {
        matrix: Matrix::Bt709,
        full_range: false,
    };
}

/// Planar I420 with even dimensions and tight strides.
pub struct I420 {
    /// Width in pixels (even).
    pub width: usize,
    /// Height in pixels (even).
    pub height: usize,
    /// `width * height` luma, then two `width/2 * height/2` chroma planes.
    pub data: Vec<u8>,
}

const ONE: f64 = 65536.0;

/// Converts planar YUV 4:2:0 (arbitrary strides) to an RGB frame.
///
/// `y`, `u`, `v` are the planes with their strides; chroma is upsampled by replication.
#[allow(clippy::too_many_arguments)]
pub fn yuv420_to_rgb(
    width: usize,
    height: usize,
    y: &[u8],
    y_stride: usize,
    u: &[u8],
    v: &[u8],
    uv_stride: usize,
    spec: ColorSpec,
    out: &mut [u8],
) {
    yuv_to_rgb(
        width,
        height,
        y,
        y_stride,
        u,
        v,
        uv_stride,
        (1, 1),
        spec,
        out,
    );
}

/// Converts planar YUV with chroma subsampled by `1 << shift.0` horizontally and
/// `1 << shift.1` vertically ((1, 1) is 4:2:0, (1, 0) 4:2:2, (0, 0) 4:4:4) to an RGB frame;
/// subsampled chroma is upsampled by replication.
#[allow(clippy::too_many_arguments)]
pub fn yuv_to_rgb(
    width: usize,
    height: usize,
    y: &[u8],
    y_stride: usize,
    u: &[u8],
    v: &[u8],
    uv_stride: usize,
    shift: (u32, u32),
    spec: ColorSpec,
    out: &mut [u8],
) {
    let (sx, sy) = shift;
    let (kr, kb) = spec.matrix.kr_kb();
    let kg = 1.0 - kr - kb;
    let (ys, cs, yo) = if spec.full_range {
        (1.0, 1.0, 0)
    } else {
        (255.0 / 219.0, 255.0 / 224.0, 16)
    };
    let y_mul = (ys * ONE).round() as i32;
    let r_v = (2.0 * (1.0 - kr) * cs * ONE).round() as i32;
    let g_u = (2.0 * kb * (1.0 - kb) / kg * cs * ONE).round() as i32;
    let g_v = (2.0 * kr * (1.0 - kr) / kg * cs * ONE).round() as i32;
    let b_u = (2.0 * (1.0 - kb) * cs * ONE).round() as i32;
    let clamp = |v: i32| ((v + (1 << 15)) >> 16).clamp(0, 255) as u8;
    out.par_chunks_mut(width * 3)
        .enumerate()
        .take(height)
        .for_each(|(row, line)| {
            let yrow = &y[row * y_stride..row * y_stride + width];
            let crow = (row >> sy) * uv_stride;
            for x in 0..width {
                let yy = (yrow[x] as i32 - yo) * y_mul;
                let cu = u[crow + (x >> sx)] as i32 - 128;
                let cv = v[crow + (x >> sx)] as i32 - 128;
                let px = &mut line[x * 3..x * 3 + 3];
                px[0] = clamp(yy + r_v * cv);
                px[1] = clamp(yy - g_u * cu - g_v * cv);
                px[2] = clamp(yy + b_u * cu);
            }
        });
}

/// The RGB → YUV matrix of `spec` in 16-bit fixed point, and the luma offset.
struct Forward {
    yr: i32,
    yg: i32,
    yb: i32,
    ur: i32,
    ug: i32,
    ub: i32,
    vr: i32,
    vg: i32,
    vb: i32,
    yo: i32,
}

impl Forward {
    fn of(spec: ColorSpec) -> Self {
        let (kr, kb) = spec.matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (ys, cs, yo) = if spec.full_range {
            (1.0, 1.0, 0)
        } else {
            (219.0 / 255.0, 224.0 / 255.0, 16)
        };
        let c = |v: f64| (v * ONE).round() as i32;
        Forward {
            yr: c(kr * ys),
            yg: c(kg * ys),
            yb: c(kb * ys),
            ur: c(-kr / (2.0 * (1.0 - kb)) * cs),
            ug: c(-kg / (2.0 * (1.0 - kb)) * cs),
            ub: c(0.5 * cs),
            vr: c(0.5 * cs),
            vg: c(-kg / (2.0 * (1.0 - kr)) * cs),
            vb: c(-kb / (2.0 * (1.0 - kr)) * cs),
            yo,
        }
    }

    /// The Y sample of one pixel.
    #[inline]
    fn luma(&self, r: i32, g: i32, b: i32) -> u8 {
        let y = (self.yr * r + self.yg * g + self.yb * b + (1 << 15)) >> 16;
        (y + self.yo).clamp(0, 255) as u8
    }

    /// The U and V samples of `r`, `g`, `b`, which carry `shift - 16` more bits than one
    /// pixel's (sums over 2×2 blocks: 18), rounded to nearest.
    #[inline]
    fn chroma(&self, r: i32, g: i32, b: i32, shift: u32) -> (u8, u8) {
        let half = 1 << (shift - 1);
        let u = (self.ur * r + self.ug * g + self.ub * b + half) >> shift;
        let v = (self.vr * r + self.vg * g + self.vb * b + half) >> shift;
        ((u + 128).clamp(0, 255) as u8, (v + 128).clamp(0, 255) as u8)
    }
}

/// Converts an RGB frame with even dimensions to I420, averaging chroma over 2×2 blocks.
pub fn rgb_to_i420(frame: &RgbFrame, spec: ColorSpec, out: &mut I420) {
    let w = frame.width() as usize;
    let h = frame.height() as usize;
    debug_assert!(w.is_multiple_of(2) && h.is_multiple_of(2));
    out.width = w;
    out.height = h;
    out.data.resize(w * h + 2 * (w / 2) * (h / 2), 0);
    let f = Forward::of(spec);
    let rgb = frame.data();
    let (luma, chroma) = out.data.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut((w / 2) * (h / 2));
    luma.par_chunks_mut(w * 2)
        .zip(u_plane.par_chunks_mut(w / 2))
        .zip(v_plane.par_chunks_mut(w / 2))
        .enumerate()
        .for_each(|(pair, ((ypair, urow), vrow))| {
            for x2 in 0..w / 2 {
                let (mut sr, mut sg, mut sb) = (0i32, 0i32, 0i32);
                for dy in 0..2 {
                    for dx in 0..2 {
                        let px = (pair * 2 + dy) * w + x2 * 2 + dx;
                        let r = rgb[px * 3] as i32;
                        let g = rgb[px * 3 + 1] as i32;
                        let b = rgb[px * 3 + 2] as i32;
                        ypair[dy * w + x2 * 2 + dx] = f.luma(r, g, b);
                        sr += r;
                        sg += g;
                        sb += b;
                    }
                }
                // The sums of four pixels: two more bits to shift away.
                (urow[x2], vrow[x2]) = f.chroma(sr, sg, sb, 18);
            }
        });
}

/// Converts an RGB frame to planar YUV 4:4:4 (`width * height` bytes per plane, Y then U
/// then V) with the same matrix and rounding as [`rgb_to_i420`], chroma kept at every pixel.
pub fn rgb_to_i444(frame: &RgbFrame, spec: ColorSpec, out: &mut Vec<u8>) {
    let w = frame.width() as usize;
    let h = frame.height() as usize;
    out.resize(3 * w * h, 0);
    let f = Forward::of(spec);
    let rgb = frame.data();
    let (luma, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(w * h);
    luma.par_chunks_mut(w)
        .zip(u_plane.par_chunks_mut(w))
        .zip(v_plane.par_chunks_mut(w))
        .enumerate()
        .for_each(|(row, ((yrow, urow), vrow))| {
            for x in 0..w {
                let px = (row * w + x) * 3;
                let (r, g, b) = (rgb[px] as i32, rgb[px + 1] as i32, rgb[px + 2] as i32);
                yrow[x] = f.luma(r, g, b);
                (urow[x], vrow[x]) = f.chroma(r, g, b, 16);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(spec: ColorSpec) -> f64 {
        let mut data = Vec::new();
        for i in 0..(64 * 64) {
            let (x, y) = (i % 64, i / 64);
            // Smooth colours so that 2×2 chroma averaging loses little.
            data.extend_from_slice(&[(x * 4) as u8, (y * 4) as u8, 128]);
        }
        let frame = RgbFrame::from_raw(64, 64, data).unwrap();
        let mut yuv = I420 {
            width: 0,
            height: 0,
            data: Vec::new(),
        };
        rgb_to_i420(&frame, spec, &mut yuv);
        let (yp, c) = yuv.data.split_at(64 * 64);
        let (u, v) = c.split_at(32 * 32);
        let mut back = vec![0u8; 64 * 64 * 3];
        yuv420_to_rgb(64, 64, yp, 64, u, v, 32, spec, &mut back);
        let err: f64 = frame
            .data()
            .iter()
            .zip(&back)
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum();
        err / back.len() as f64
    }

    #[test]
    fn round_trip_is_close_in_every_spec() {
        for matrix in [Matrix::Bt601, Matrix::Bt709] {
            for full_range in [false, true] {
                let e = round_trip(ColorSpec { matrix, full_range });
                assert!(e < 3.0, "{matrix:?} full={full_range}: mean error {e}");
            }
        }
    }

    #[test]
    fn full_chroma_round_trip_keeps_saturated_edges() {
        // Alternating saturated red and blue columns: 4:2:0 averages them to purple, 4:4:4
        // must give both back to within rounding.
        let mut data = Vec::new();
        for i in 0..(16 * 8) {
            data.extend_from_slice(if i % 2 == 0 {
                &[230, 20, 20]
            } else {
                &[20, 20, 230]
            });
        }
        let frame = RgbFrame::from_raw(16, 8, data).unwrap();
        let mut yuv = Vec::new();
        rgb_to_i444(&frame, ColorSpec::OUTPUT, &mut yuv);
        let (y, c) = yuv.split_at(16 * 8);
        let (u, v) = c.split_at(16 * 8);
        let mut back = vec![0u8; 16 * 8 * 3];
        yuv_to_rgb(16, 8, y, 16, u, v, 16, (0, 0), ColorSpec::OUTPUT, &mut back);
        let worst = frame
            .data()
            .iter()
            .zip(&back)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max()
            .unwrap();
        assert!(worst <= 2, "worst channel error {worst}");
    }

    #[test]
    fn grey_maps_to_neutral_chroma() {
        let frame = RgbFrame::filled(4, 4, [128, 128, 128]);
        let mut yuv = I420 {
            width: 0,
            height: 0,
            data: Vec::new(),
        };
        rgb_to_i420(&frame, ColorSpec::OUTPUT, &mut yuv);
        assert_eq!(yuv.data[0], 126); // 16 + 128 * 219/255
        assert!(yuv.data[16..].iter().all(|&c| c == 128));
    }
}
