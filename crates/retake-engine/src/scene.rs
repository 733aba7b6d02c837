//! Deterministic synthetic clips with known motion: textured objects moving, rotating and
//! occluding each other over a textured background seen by a panning, zooming camera.
//! Each frame comes with its exact forward flow and occlusion mask, for tests and demos.

use crate::flow::FlowField;
use crate::EngineError;
use retake_media::RgbFrame;
use std::fmt;
use std::str::FromStr;

/// Which motion a synthetic clip shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SceneKind {
    /// A panning background and one object sliding across it (pure translations).
    Translate,
    /// A zooming camera and an object rotating while it moves.
    RotateZoom,
    /// A camera pan and zoom over a textured background (global motion only).
    PanZoom,
    /// A disc passing in front of a square, covering and then uncovering it.
    Occlusion,
    /// Everything at once, for the demo clip.
    Demo,
}

impl SceneKind {
    /// All kinds, in a stable order.
    pub const ALL: [SceneKind; 5] = [
        SceneKind::Translate,
        SceneKind::RotateZoom,
        SceneKind::PanZoom,
        SceneKind::Occlusion,
        SceneKind::Demo,
    ];
}

impl fmt::Display for SceneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SceneKind::Translate => "translate",
            SceneKind::RotateZoom => "rotate_zoom",
            SceneKind::PanZoom => "pan_zoom",
            SceneKind::Occlusion => "occlusion",
            SceneKind::Demo => "demo",
        })
    }
}

impl FromStr for SceneKind {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SceneKind::ALL
            .into_iter()
            .find(|k| k.to_string() == s)
            .ok_or(EngineError::InvalidParam {
                name: "scene",
                value: s.to_string(),
                hint: "use translate, rotate_zoom, pan_zoom, occlusion or demo",
            })
    }
}

/// Band-limited colour noise, defined on the continuous plane.
#[derive(Clone, Debug)]
struct Texture {
    seed: u64,
    base: [f32; 3],
    amp: [f32; 3],
    scale: f32,
}

fn hash(seed: u64, x: i64, y: i64, c: u64) -> f32 {
    let mut h = seed
        ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ c.wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^= h >> 33;
    (h >> 40) as f32 / (1u64 << 24) as f32
}

fn value_noise(seed: u64, x: f32, y: f32, c: u64) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (xi, yi) = (x0 as i64, y0 as i64);
    let a = hash(seed, xi, yi, c);
    let b = hash(seed, xi + 1, yi, c);
    let d = hash(seed, xi, yi + 1, c);
    let e = hash(seed, xi + 1, yi + 1, c);
    let top = a + (b - a) * sx;
    let bot = d + (e - d) * sx;
    top + (bot - top) * sy
}

impl Texture {
    fn new(seed: u64, scale: f32) -> Self {
        let r = |k| hash(seed, 7, 11, k);
        Self {
            seed,
            base: [
                40.0 + 170.0 * r(1),
                40.0 + 170.0 * r(2),
                40.0 + 170.0 * r(3),
            ],
            amp: [60.0 + 60.0 * r(4), 60.0 + 60.0 * r(5), 60.0 + 60.0 * r(6)],
            scale,
        }
    }

    fn at(&self, x: f32, y: f32) -> [f32; 3] {
        let mut out = [0.0; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let mut v = 0.0;
            let mut s = self.scale;
            let mut a = 0.5;
            for oct in 0..3 {
                v += a * (value_noise(self.seed, x / s, y / s, (c * 4 + oct) as u64) - 0.5);
                s *= 0.5;
                a *= 0.6;
            }
            *o = (self.base[c] + self.amp[c] * 2.0 * v).clamp(0.0, 255.0);
        }
        out
    }
}

/// One rigid textured object in screen space.
#[derive(Clone, Debug)]
struct Object {
    tex: Texture,
    disc: bool,
    half: f32,
    c0: [f32; 2],
    vel: [f32; 2],
    angle0: f32,
    spin: f32,
}

impl Object {
    fn pose(&self, t: f32) -> ([f32; 2], f32) {
        (
            [self.c0[0] + self.vel[0] * t, self.c0[1] + self.vel[1] * t],
            self.angle0 + self.spin * t,
        )
    }

    /// Object-local coordinates of a screen point at time t, if the point is on the object.
    fn local(&self, t: f32, x: f32, y: f32) -> Option<[f32; 2]> {
        let (c, a) = self.pose(t);
        let (dx, dy) = (x - c[0], y - c[1]);
        let (s, co) = a.sin_cos();
        let l = [co * dx + s * dy, -s * dx + co * dy];
        let inside = if self.disc {
            l[0] * l[0] + l[1] * l[1] <= self.half * self.half
        } else {
            l[0].abs() <= self.half && l[1].abs() <= self.half
        };
        inside.then_some(l)
    }

    fn screen(&self, t: f32, l: [f32; 2]) -> [f32; 2] {
        let (c, a) = self.pose(t);
        let (s, co) = a.sin_cos();
        [c[0] + co * l[0] - s * l[1], c[1] + s * l[0] + co * l[1]]
    }
}

/// A synthetic clip: frames, exact forward flow and occlusion, and object masks.
#[derive(Clone, Debug)]
pub struct Scene {
    kind: SceneKind,
    w: usize,
    h: usize,
    len: usize,
    bg: Texture,
    pan: [f32; 2],
    zoom: f32,
    objects: Vec<Object>,
}

/// What is visible at a pixel: the index of the topmost object, or the background.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layer {
    Object(usize),
    Background,
}

impl Scene {
    /// Builds a clip of `len` frames at `width`x`height`; motion and texture scale with the size.
    pub fn new(
        kind: SceneKind,
        width: usize,
        height: usize,
        len: usize,
        seed: u64,
    ) -> Result<Self, EngineError> {
        if width < 32 || height < 32 {
            return Err(EngineError::TooSmall {
                w: width,
                h: height,
                min: 32,
            });
        }
        if len == 0 {
            return Err(EngineError::InvalidParam {
                name: "frames",
                value: "0".into(),
                hint: "ask for at least one frame",
            });
        }
        let m = width.min(height) as f32;
        let (w, h) = (width as f32, height as f32);
        let tex = |k: u64, s: f32| Texture::new(seed.wrapping_mul(31).wrapping_add(k), s * m);
        let obj = |k: u64, disc: bool, half: f32, c0: [f32; 2], vel: [f32; 2], spin: f32| Object {
            tex: tex(k, 0.12),
            disc,
            half: half * m,
            c0: [c0[0] * w, c0[1] * h],
            vel: [vel[0] * m, vel[1] * m],
            angle0: 0.0,
            spin,
        };
        let (pan, zoom, objects) = match kind {
            SceneKind::Translate => (
                [0.010 * m, 0.004 * m],
                0.0,
                vec![obj(1, false, 0.2, [0.35, 0.5], [0.02, -0.008], 0.0)],
            ),
            SceneKind::RotateZoom => (
                [0.0, 0.0],
                0.012,
                vec![obj(1, false, 0.22, [0.45, 0.5], [0.008, 0.004], 0.05)],
            ),
            SceneKind::PanZoom => ([0.012 * m, -0.006 * m], 0.01, vec![]),
            SceneKind::Occlusion => (
                [0.004 * m, 0.0],
                0.0,
                vec![
                    obj(2, false, 0.18, [0.5, 0.5], [0.0, 0.0], 0.0),
                    obj(1, true, 0.17, [0.15, 0.5], [0.035, 0.0], 0.0),
                ],
            ),
            SceneKind::Demo => (
                [0.008 * m, -0.003 * m],
                0.006,
                vec![
                    obj(1, true, 0.14, [0.2, 0.35], [0.025, 0.006], 0.0),
                    obj(2, false, 0.15, [0.6, 0.55], [-0.006, -0.004], 0.04),
                    obj(3, false, 0.1, [0.8, 0.25], [-0.012, 0.01], -0.03),
                ],
            ),
        };
        Ok(Self {
            kind,
            w: width,
            h: height,
            len,
            bg: tex(0, 0.15),
            pan,
            zoom,
            objects,
        })
    }

    /// Which motion the clip shows.
    pub fn kind(&self) -> SceneKind {
        self.kind
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the clip has no frames (never true for a built scene).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frame width.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Frame height.
    pub fn height(&self) -> usize {
        self.h
    }

    /// Number of moving objects (valid indices for [`Scene::object_mask`]).
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    fn cam_scale(&self, t: f32) -> f32 {
        (1.0 + self.zoom).powf(t)
    }

    /// Screen point at time t → background world point.
    fn to_world(&self, t: f32, x: f32, y: f32) -> [f32; 2] {
        let (cx, cy) = (self.w as f32 / 2.0, self.h as f32 / 2.0);
        let s = self.cam_scale(t);
        [
            (x - cx) / s + cx + self.pan[0] * t,
            (y - cy) / s + cy + self.pan[1] * t,
        ]
    }

    fn to_screen(&self, t: f32, p: [f32; 2]) -> [f32; 2] {
        let (cx, cy) = (self.w as f32 / 2.0, self.h as f32 / 2.0);
        let s = self.cam_scale(t);
        [
            (p[0] - self.pan[0] * t - cx) * s + cx,
            (p[1] - self.pan[1] * t - cy) * s + cy,
        ]
    }

    fn layer(&self, t: f32, x: f32, y: f32) -> (Layer, [f32; 2]) {
        // Later objects are drawn on top.
        for (k, o) in self.objects.iter().enumerate().rev() {
            if let Some(l) = o.local(t, x, y) {
                return (Layer::Object(k), l);
            }
        }
        (Layer::Background, self.to_world(t, x, y))
    }

    /// Frame `i` (clamped to the clip).
    pub fn frame(&self, i: usize) -> RgbFrame {
        let t = i.min(self.len - 1) as f32;
        let mut data = Vec::with_capacity(self.w * self.h * 3);
        for y in 0..self.h {
            for x in 0..self.w {
                let (layer, p) = self.layer(t, x as f32, y as f32);
                let c = match layer {
                    Layer::Object(k) => self.objects[k].tex.at(p[0], p[1]),
                    Layer::Background => self.bg.at(p[0], p[1]),
                };
                data.extend(c.iter().map(|v| v.round() as u8));
            }
        }
        // The buffer length matches by construction.
        RgbFrame::from_raw(self.w as u32, self.h as u32, data)
            .unwrap_or_else(|_| RgbFrame::filled(self.w as u32, self.h as u32, [0; 3]))
    }

    /// Exact forward flow from frame `i` to frame `i + 1`, and the mask of pixels of frame `i`
    /// that are hidden or outside the picture in frame `i + 1`.
    pub fn flow(&self, i: usize) -> (FlowField, Vec<bool>) {
        let t = i as f32;
        let mut data = Vec::with_capacity(self.w * self.h);
        let mut occ = Vec::with_capacity(self.w * self.h);
        for y in 0..self.h {
            for x in 0..self.w {
                let (layer, p) = self.layer(t, x as f32, y as f32);
                let q = match layer {
                    Layer::Object(k) => self.objects[k].screen(t + 1.0, p),
                    Layer::Background => self.to_screen(t + 1.0, p),
                };
                data.push([q[0] - x as f32, q[1] - y as f32]);
                let inside = q[0] >= 0.0
                    && q[1] >= 0.0
                    && q[0] <= (self.w - 1) as f32
                    && q[1] <= (self.h - 1) as f32;
                occ.push(!inside || self.layer(t + 1.0, q[0], q[1]).0 != layer);
            }
        }
        (
            FlowField::from_vec(self.w, self.h, data)
                .unwrap_or_else(|_| FlowField::zeros(self.w, self.h)),
            occ,
        )
    }

    /// Pixels of frame `i` covered by object `k` (all false if there is no such object).
    pub fn object_mask(&self, i: usize, k: usize) -> Vec<bool> {
        let t = i.min(self.len - 1) as f32;
        let mut m = Vec::with_capacity(self.w * self.h);
        for y in 0..self.h {
            for x in 0..self.w {
                m.push(self.layer(t, x as f32, y as f32).0 == Layer::Object(k));
            }
        }
        m
    }

    /// The mask [`crate::edits::local_edit`] repaints in the test suite and demo: the first object,
    /// or the left half of the picture when the clip has no objects.
    pub fn edit_mask(&self, i: usize) -> Vec<bool> {
        if self.objects.is_empty() {
            let t = i.min(self.len - 1) as f32;
            // A fixed region of the background, so the edit moves with the camera.
            let mut m = Vec::with_capacity(self.w * self.h);
            for y in 0..self.h {
                for x in 0..self.w {
                    m.push(self.to_world(t, x as f32, y as f32)[0] < self.w as f32 * 0.45);
                }
            }
            return m;
        }
        self.object_mask(i, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_deterministic_and_move() {
        let s = Scene::new(SceneKind::Translate, 64, 48, 4, 7).unwrap();
        assert_eq!(
            s.frame(1),
            Scene::new(SceneKind::Translate, 64, 48, 4, 7)
                .unwrap()
                .frame(1)
        );
        assert_ne!(s.frame(0), s.frame(1));
    }

    #[test]
    fn occlusion_scene_uncovers_the_square() {
        let s = Scene::new(SceneKind::Occlusion, 96, 64, 20, 1).unwrap();
        let covered: Vec<usize> = (0..20)
            .map(|i| s.object_mask(i, 0).iter().filter(|&&b| b).count())
            .collect();
        let full = covered[0];
        let min = *covered.iter().min().unwrap();
        assert!(min < full, "the disc never covers the square: {covered:?}");
        assert!(
            covered[19] > min,
            "the square is never uncovered: {covered:?}"
        );
    }

    #[test]
    fn unknown_scene_name_lists_valid_ones() {
        let e = "spin".parse::<SceneKind>().unwrap_err().to_string();
        assert!(e.contains("translate") && e.contains("occlusion"));
    }
}
