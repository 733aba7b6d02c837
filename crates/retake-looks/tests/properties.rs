//! Each look's defining property, checked on synthetic frames: what makes noir noir, sepia
//! sepia, a comic a comic. Plus what every look shares: strength 0 is the identity, the
//! change grows with the strength, a mask confines it, and the output never depends on the
//! number of threads.

use retake_looks::{HslShift, Look, LookError, LookName, Mask};
use retake_media::RgbFrame;

const W: u32 = 320;
const H: u32 = 180;

fn frame(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> RgbFrame {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend(f(x, y));
        }
    }
    RgbFrame::from_raw(w, h, data).unwrap()
}

/// A hue sweep across, lightness down, with saturated patches: colour everywhere.
fn colourful() -> RgbFrame {
    frame(W, H, |x, y| {
        let hue = x as f32 / W as f32 * 360.0;
        let l = 0.15 + 0.7 * y as f32 / H as f32;
        let c = hsl(hue, 0.8, l);
        if (20..60).contains(&x) && (20..60).contains(&y) {
            return [230, 40, 30];
        }
        c
    })
}

fn hsl(h: f32, s: f32, l: f32) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h.rem_euclid(360.0) / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r, g, b].map(|v| ((v + m) * 255.0).round() as u8)
}

/// The square of [`shapes`]: x in [SQ0, SQ1), y in [SQ0_Y, SQ1_Y).
const SQ: (u32, u32, u32, u32) = (100, 220, 40, 140);
const BG: [u8; 3] = [205, 190, 170];
const FG: [u8; 3] = [40, 70, 130];

fn in_square(x: u32, y: u32) -> bool {
    (SQ.0..SQ.1).contains(&x) && (SQ.2..SQ.3).contains(&y)
}

/// Distance in pixels (chessboard) from (x, y) to the square's border.
fn to_border(x: u32, y: u32) -> u32 {
    let (x, y) = (x as i32, y as i32);
    let (x0, x1, y0, y1) = (SQ.0 as i32, SQ.1 as i32 - 1, SQ.2 as i32, SQ.3 as i32 - 1);
    if in_square(x as u32, y as u32) {
        (x - x0).min(x1 - x).min(y - y0).min(y1 - y) as u32
    } else {
        let dx = (x0 - x).max(x - x1).max(0);
        let dy = (y0 - y).max(y - y1).max(0);
        (dx.max(dy) - 1).max(0) as u32
    }
}

/// A light flat background with a dark blue square: flat regions and straight edges.
fn shapes() -> RgbFrame {
    frame(W, H, |x, y| if in_square(x, y) { FG } else { BG })
}

/// A grey ramp, black on the left to white on the right.
fn ramp() -> RgbFrame {
    frame(W, H, |x, _| [(x * 255 / (W - 1)) as u8; 3])
}

fn apply(name: LookName, strength: f32, f: &RgbFrame) -> RgbFrame {
    Look::new(name, strength).unwrap().apply(f, None).unwrap()
}

fn pixels(f: &RgbFrame) -> impl Iterator<Item = (u32, u32, [u8; 3])> + '_ {
    (0..f.height()).flat_map(move |y| (0..f.width()).map(move |x| (x, y, f.pixel(x, y))))
}

fn luma(p: [u8; 3]) -> f32 {
    0.2126 * p[0] as f32 + 0.7152 * p[1] as f32 + 0.0722 * p[2] as f32
}

fn chroma(p: [u8; 3]) -> u8 {
    p.iter().max().unwrap() - p.iter().min().unwrap()
}

/// Hue in degrees of an 8-bit colour.
fn hue(p: [u8; 3]) -> f32 {
    let [r, g, b] = p.map(|v| v as f32);
    let max = r.max(g).max(b);
    let d = max - r.min(g).min(b);
    if d == 0.0 {
        return 0.0;
    }
    let h = if max == r {
        ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    };
    h * 60.0
}

fn mean(v: impl Iterator<Item = f32>) -> f32 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    assert!(n > 0, "mean of nothing");
    s / n as f32
}

fn mean_abs_diff(a: &RgbFrame, b: &RgbFrame) -> f32 {
    mean(
        a.data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| (*x as f32 - *y as f32).abs()),
    )
}

#[test]
fn strength_zero_is_the_identity_and_the_change_grows_with_strength() {
    for src in [colourful(), shapes()] {
        for name in LookName::ALL {
            assert_eq!(apply(name, 0.0, &src), src, "{name} at strength 0");
            let diffs: Vec<f32> = [0.25, 0.5, 0.75, 1.0]
                .iter()
                .map(|&s| mean_abs_diff(&apply(name, s, &src), &src))
                .collect();
            assert!(diffs[3] > 1.0, "{name} barely changes: {diffs:?}");
            for pair in diffs.windows(2) {
                assert!(pair[1] > pair[0], "{name} is not monotone: {diffs:?}");
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let src = colourful();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| LookName::ALL.map(|n| apply(n, 0.8, &src)))
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn film_noir_has_no_colour_more_contrast_and_dark_corners() {
    let out = apply(LookName::FilmNoir, 1.0, &colourful());
    for (x, y, p) in pixels(&out) {
        assert_eq!(chroma(p), 0, "colour left at ({x}, {y}): {p:?}");
    }
    // Contrast: mid-grey stays near the middle, quarter tones move apart.
    let r = apply(LookName::FilmNoir, 1.0, &ramp());
    let (q1, q3) = (
        r.pixel(W / 4, H / 2)[0] as i32,
        r.pixel(3 * W / 4, H / 2)[0] as i32,
    );
    assert!(q3 - q1 > 160 * 2 / 3 + 40, "quarter tones {q1} and {q3}");
    let grey = apply(LookName::FilmNoir, 1.0, &frame(W, H, |_, _| [128; 3]));
    assert!(grey.pixel(0, 0)[0] + 30 < grey.pixel(W / 2, H / 2)[0]);
}

#[test]
fn sepia_is_brown_monochrome() {
    let out = apply(LookName::Sepia, 1.0, &colourful());
    for (x, y, p) in pixels(&out) {
        assert!(
            p[0] >= p[1] && p[1] >= p[2],
            "not warm at ({x}, {y}): {p:?}"
        );
        if chroma(p) >= 8 {
            let h = hue(p);
            assert!((20.0..=45.0).contains(&h), "hue {h} at ({x}, {y}): {p:?}");
        }
    }
    // One tone per lightness: the hue sweep's columns of equal luma come out alike.
    let src = ramp();
    let a = apply(LookName::Sepia, 1.0, &src);
    assert!(a.pixel(10, 0) != a.pixel(300, 0) && a.pixel(10, 0) == a.pixel(10, 170));
}

#[test]
fn bleach_bypass_desaturates_and_hardens_contrast() {
    let src = colourful();
    let out = apply(LookName::BleachBypass, 1.0, &src);
    let sat = |f: &RgbFrame| mean(pixels(f).map(|(_, _, p)| chroma(p) as f32));
    assert!(
        sat(&out) < 0.8 * sat(&src),
        "{} vs {}",
        sat(&out),
        sat(&src)
    );
    let spread = |f: &RgbFrame| {
        let m = mean(pixels(f).map(|(_, _, p)| luma(p)));
        mean(pixels(f).map(|(_, _, p)| (luma(p) - m).powi(2))).sqrt()
    };
    let r = ramp();
    let out = apply(LookName::BleachBypass, 1.0, &r);
    assert!(
        spread(&out) > 1.1 * spread(&r),
        "{} vs {}",
        spread(&out),
        spread(&r)
    );
}

#[test]
fn teal_orange_tints_shadows_teal_and_highlights_orange() {
    let out = apply(LookName::TealOrange, 1.0, &ramp());
    for x in [40, 60, 80] {
        let p = out.pixel(x, 90).map(i32::from);
        assert!(
            p[2] > p[0] + 8 && p[1] > p[0],
            "shadow at x={x} is not teal: {p:?}"
        );
        let p = out.pixel(x, 90);
        assert!(
            (150.0..=210.0).contains(&hue(p)),
            "shadow hue {} at x={x}",
            hue(p)
        );
    }
    for x in [230, 255, 280] {
        let p = out.pixel(x, 90).map(i32::from);
        assert!(p[0] > p[2] + 8, "highlight at x={x} is not orange: {p:?}");
        let p = out.pixel(x, 90);
        assert!(
            (15.0..=50.0).contains(&hue(p)),
            "highlight hue {} at x={x}",
            hue(p)
        );
    }
    // A skin tone stays warm and a sky blue turns towards teal.
    let skin = apply(
        LookName::TealOrange,
        1.0,
        &frame(8, 8, |_, _| [200, 150, 120]),
    );
    assert!((15.0..=40.0).contains(&hue(skin.pixel(4, 4))));
    let sky = apply(
        LookName::TealOrange,
        1.0,
        &frame(8, 8, |_, _| [90, 120, 220]),
    );
    assert!(
        hue(sky.pixel(4, 4)) < 215.0,
        "sky hue {}",
        hue(sky.pixel(4, 4))
    );
}

#[test]
fn comic_posterises_to_five_brightness_levels_keeps_hues_and_inks_the_edges() {
    let levels = [0u8, 64, 128, 191, 255];
    let out = apply(LookName::Comic, 1.0, &colourful());
    for (x, y, p) in pixels(&out) {
        let v = *p.iter().max().unwrap();
        assert!(levels.contains(&v), "brightness {v} of {p:?} at ({x}, {y})");
    }
    // Flat areas keep their colour: a shadowed lemon stays yellow, a kiwi green.
    for src in [[142u8, 122, 69], [96, 130, 60]] {
        let out = apply(LookName::Comic, 1.0, &frame(64, 64, |_, _| src));
        let p = out.pixel(32, 32);
        assert!((hue(p) - hue(src)).abs() <= 8.0, "{src:?} became {p:?}");
    }
    let out = apply(LookName::Comic, 1.0, &shapes());
    let (mut on_edge, mut inked, mut flat_inked) = (0, 0, 0);
    let (bg, fg) = (out.pixel(5, 5), out.pixel(160, 90));
    for (x, y, p) in pixels(&out) {
        let d = to_border(x, y);
        if d == 0 {
            on_edge += 1;
            inked += (p == [0; 3]) as usize;
        } else if d >= 4 {
            flat_inked += (p == [0; 3]) as usize;
            assert_eq!(p, if in_square(x, y) { fg } else { bg }, "({x}, {y})");
        }
    }
    assert!(
        inked * 10 >= on_edge * 9,
        "{inked} of {on_edge} edge pixels inked"
    );
    assert_eq!(flat_inked, 0, "ink away from the edges");
}

#[test]
fn oil_paint_keeps_flat_regions_flat_and_edges_sharp_and_smooths_texture() {
    let out = apply(LookName::OilPaint, 1.0, &shapes());
    let (bg, fg) = (out.pixel(5, 5), out.pixel(160, 90));
    for (x, y, p) in pixels(&out) {
        let d = to_border(x, y);
        if d >= 2 {
            assert_eq!(p, if in_square(x, y) { fg } else { bg }, "({x}, {y})");
        }
    }
    // Across the left edge, at most one pixel between the two colours.
    let between = (SQ.0 - 6..SQ.0 + 6)
        .filter(|&x| ![bg, fg].contains(&out.pixel(x, 90)))
        .count();
    assert!(between <= 1, "{between} blurred pixels across the edge");
    // Fine texture becomes strokes: a noisy patch's spread shrinks.
    let noisy = frame(W, H, |x, y| {
        let n = ((x * 7919 + y * 104_729) % 61) as u8;
        [100 + n, 100 + n, 100 + n]
    });
    let painted = apply(LookName::OilPaint, 1.0, &noisy);
    let sd = |f: &RgbFrame| {
        let m = mean(pixels(f).map(|(_, _, p)| p[0] as f32));
        mean(pixels(f).map(|(_, _, p)| (p[0] as f32 - m).powi(2))).sqrt()
    };
    assert!(
        sd(&painted) < 0.5 * sd(&noisy),
        "{} vs {}",
        sd(&painted),
        sd(&noisy)
    );
}

#[test]
fn watercolour_washes_lighter_pools_pigment_at_edges_and_shows_paper() {
    let src = shapes();
    let out = apply(LookName::Watercolour, 1.0, &src);
    let region = |pick: &dyn Fn(u32, u32) -> bool| {
        mean(
            pixels(&out)
                .filter(|(x, y, _)| pick(*x, *y))
                .map(|(_, _, p)| luma(p)),
        )
    };
    let fg_inside = region(&|x, y| in_square(x, y) && to_border(x, y) >= 8);
    let fg_edge = region(&|x, y| in_square(x, y) && to_border(x, y) == 0);
    let bg_inside = region(&|x, y| !in_square(x, y) && to_border(x, y) >= 8);
    let bg_edge = region(&|x, y| !in_square(x, y) && to_border(x, y) == 0);
    assert!(
        fg_inside > luma(FG) + 20.0,
        "wash {fg_inside} vs {}",
        luma(FG)
    );
    assert!(bg_inside > luma(BG), "wash {bg_inside} vs {}", luma(BG));
    assert!(
        fg_edge + 15.0 < fg_inside,
        "edge {fg_edge} vs inside {fg_inside}"
    );
    assert!(
        bg_edge + 15.0 < bg_inside,
        "edge {bg_edge} vs inside {bg_inside}"
    );
    // Paper grain: a flat wash is not perfectly flat, but close.
    let inside: Vec<f32> = pixels(&out)
        .filter(|(x, y, _)| in_square(*x, *y) && to_border(*x, *y) >= 8)
        .map(|(_, _, p)| luma(p))
        .collect();
    let sd = mean(inside.iter().map(|v| (v - fg_inside).powi(2))).sqrt();
    assert!((0.5..10.0).contains(&sd), "grain spread {sd}");
}

#[test]
fn pencil_sketch_is_grey_white_on_flat_paper_and_dark_on_edges() {
    let out = apply(LookName::PencilSketch, 1.0, &colourful());
    assert!(pixels(&out).all(|(_, _, p)| chroma(p) <= 2));
    let out = apply(LookName::PencilSketch, 1.0, &shapes());
    let region = |pick: &dyn Fn(u32, u32) -> bool| {
        mean(
            pixels(&out)
                .filter(|(x, y, _)| pick(*x, *y))
                .map(|(_, _, p)| luma(p)),
        )
    };
    let paper = region(&|x, y| !in_square(x, y) && to_border(x, y) >= 12);
    let fg_inside = region(&|x, y| in_square(x, y) && to_border(x, y) >= 12);
    let line = region(&|x, y| in_square(x, y) && to_border(x, y) <= 1);
    assert!(paper > 215.0, "paper {paper}");
    assert!(line + 60.0 < paper, "line {line} vs paper {paper}");
    assert!(line + 20.0 < fg_inside, "line {line} vs inside {fg_inside}");
}

#[test]
fn neon_night_darkens_the_scene_and_lights_edges_in_magenta_to_cyan() {
    let src = shapes();
    let out = apply(LookName::NeonNight, 1.0, &src);
    let flat: Vec<[u8; 3]> = pixels(&out)
        .filter(|(x, y, _)| to_border(*x, *y) >= 25)
        .map(|(_, _, p)| p)
        .collect();
    assert!(
        flat.iter().all(|p| p[2] >= p[0]),
        "flat areas are not a blue night"
    );
    let flat_luma = mean(flat.iter().map(|p| luma(*p)));
    assert!(
        flat_luma < 0.5 * luma(BG).min(luma(FG)) + 20.0,
        "{flat_luma}"
    );
    let edge: Vec<[u8; 3]> = pixels(&out)
        .filter(|(x, y, _)| to_border(*x, *y) == 0)
        .map(|(_, _, p)| p)
        .collect();
    assert!(mean(edge.iter().map(|p| luma(*p))) > flat_luma + 60.0);
    for p in edge {
        let h = hue(p);
        assert!(chroma(p) > 90, "tube not saturated: {p:?}");
        assert!((165.0..=335.0).contains(&h), "tube hue {h}: {p:?}");
    }
}

#[test]
fn recolour_turns_hue_saturation_and_lightness() {
    let red = frame(16, 16, |x, _| if x < 8 { [220, 30, 30] } else { [128; 3] });
    let look = |hsl: HslShift, s: f32| {
        Look::new(LookName::Recolour, s)
            .unwrap()
            .with_hsl(hsl)
            .unwrap()
            .apply(&red, None)
            .unwrap()
    };
    let green = look(HslShift::default(), 1.0);
    let p = green.pixel(2, 2);
    assert!((hue(p) - 120.0).abs() < 3.0, "{p:?}");
    assert_eq!(green.pixel(12, 2), [128; 3], "grey has no hue to turn");
    let half = look(HslShift::default(), 0.5);
    assert!((hue(half.pixel(2, 2)) - 60.0).abs() < 3.0);
    let grey = look(
        HslShift {
            hue: 0.0,
            saturation: -1.0,
            lightness: 0.0,
        },
        1.0,
    );
    assert!(chroma(grey.pixel(2, 2)) <= 1);
    let white = look(
        HslShift {
            hue: 0.0,
            saturation: 0.0,
            lightness: 1.0,
        },
        1.0,
    );
    assert_eq!(white.pixel(12, 2), [255; 3]);
}

#[test]
fn a_mask_confines_the_look() {
    let src = colourful();
    // Painted: white on the left third, black in the middle, mid-grey on the right.
    let paint = frame(W, H, |x, _| match x * 3 / W {
        0 => [255; 3],
        1 => [0; 3],
        _ => [128; 3],
    });
    let mask = Mask::from_image(&paint);
    for name in [LookName::Recolour, LookName::FilmNoir, LookName::Comic] {
        let full = apply(name, 1.0, &src);
        let out = Look::new(name, 1.0)
            .unwrap()
            .apply(&src, Some(&mask))
            .unwrap();
        for (x, y, p) in pixels(&out) {
            match x * 3 / W {
                0 => assert_eq!(p, full.pixel(x, y), "{name} at ({x}, {y})"),
                1 => assert_eq!(p, src.pixel(x, y), "{name} at ({x}, {y})"),
                _ => {
                    let (s, f) = (src.pixel(x, y), full.pixel(x, y));
                    for c in 0..3 {
                        let mid = (s[c] as f32 + f[c] as f32) / 2.0;
                        assert!((p[c] as f32 - mid).abs() <= 1.5, "{name} at ({x}, {y})");
                    }
                }
            }
        }
    }
}

#[test]
fn bad_requests_say_what_to_change() {
    for s in [-0.1, 1.01, f32::NAN, f32::INFINITY] {
        let e = Look::new(LookName::Sepia, s).unwrap_err();
        assert!(matches!(e, LookError::BadStrength(_)));
        assert!(e.to_string().contains("from 0 (no change) to 1"), "{e}");
    }
    let e = Look::new(LookName::FilmNoir, 1.0)
        .unwrap()
        .with_hsl(HslShift::default())
        .unwrap_err();
    assert!(e.to_string().contains("only to the `recolour` look"), "{e}");
    let bad = HslShift {
        hue: 0.0,
        saturation: 2.0,
        lightness: 0.0,
    };
    let e = Look::new(LookName::Recolour, 1.0)
        .unwrap()
        .with_hsl(bad)
        .unwrap_err();
    assert!(
        e.to_string().starts_with("saturation must be from -1"),
        "{e}"
    );
    let small = Mask::from_image(&frame(W / 2, H / 2, |_, _| [255; 3]));
    let e = Look::new(LookName::Sepia, 1.0)
        .unwrap()
        .apply(&shapes(), Some(&small))
        .unwrap_err()
        .to_string();
    assert!(e.contains("160x90") && e.contains("320x180"), "{e}");
    // Past 4096x4096 pixels a frame is refused before any work (or memory) is spent on it.
    let huge = RgbFrame::from_raw(4097, 4096, vec![0; 4097 * 4096 * 3]).unwrap();
    let e = Look::new(LookName::OilPaint, 1.0)
        .unwrap()
        .apply(&huge, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("4097x4096") && e.contains("scale it down"),
        "{e}"
    );
}

#[test]
fn looks_scale_with_the_frame() {
    // A preview made small looks like the full-size result made small: the pencil's line
    // along an edge is four times as wide at 1280x720 as at 320x180.
    let line_width = |scale: u32| {
        let f = frame(W * scale, H * scale, |x, y| {
            if in_square(x / scale, y / scale) {
                [150; 3]
            } else {
                BG
            }
        });
        let out = apply(LookName::PencilSketch, 1.0, &f);
        let paper = luma(out.pixel(10 * scale, 90 * scale));
        ((SQ.0 - 20) * scale..(SQ.0 + 20) * scale)
            .filter(|&x| luma(out.pixel(x, 90 * scale)) < paper - 40.0)
            .count() as f32
    };
    let (small, big) = (line_width(1), line_width(4));
    assert!(small >= 1.0, "no line at 320x180");
    assert!(
        (3.0..=5.0).contains(&(big / small)),
        "{small} px vs {big} px"
    );
}

#[test]
fn tiny_and_odd_frames_work() {
    for (w, h) in [(1, 1), (2, 3), (7, 1), (1, 9), (33, 17)] {
        let f = frame(w, h, |x, y| [(x * 40) as u8, (y * 30) as u8, 200]);
        for name in LookName::ALL {
            let out = apply(name, 1.0, &f);
            assert_eq!((out.width(), out.height()), (w, h), "{name}");
        }
    }
}
