#!/usr/bin/env python3
"""The edited first frames of the real-footage benchmark, made reproducibly.

Every clip gets two edits of its first frame:
- local: something painted onto one object (a badge, a sticker, a recoloured cup, a logo on
  the path, a label on a window post). Not a function of the source, so only how much of it
  stays (edit retention) can be measured later on.
- global: a colour restyle that is a function of each pixel alone, so applying it to every
  source frame gives a ground truth the output can be scored against (carry-through PSNR).

    edits.py make CLIP local|global FRAME.png OUT.png
    edits.py truth-psnr CLIP SOURCE.mp4 OUTPUT.mp4     mean PSNR of frames 1.. vs the truth
    edits.py sheet OUT.png LABEL=VIDEO...              frames 0, 1/4, 1/2, 3/4 and last

Needs numpy and Pillow (bench/footage.sh puts them in a virtual environment) and ffmpeg.
"""

import colorsys
import json
import math
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw

SUPER = 4  # shapes are drawn this much larger, then scaled down, for soft edges


def star(cx, cy, r_out, r_in, points=5, turn=-math.pi / 2):
    pts = []
    for i in range(2 * points):
        r = r_out if i % 2 == 0 else r_in
        a = turn + i * math.pi / points
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def paint(frame, shapes):
    """Draws (kind, geometry, rgb) shapes over `frame` with anti-aliased edges."""
    w, h = frame.size
    layer = Image.new("RGBA", (w * SUPER, h * SUPER), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    s = SUPER
    for kind, geo, rgb in shapes:
        if kind == "disc":
            cx, cy, r = geo
            d.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], fill=rgb + (255,))
        elif kind == "poly":
            d.polygon([(x * s, y * s) for x, y in geo], fill=rgb + (255,))
        elif kind == "rect":
            x0, y0, x1, y1 = geo
            d.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], fill=rgb + (255,))
    layer = layer.resize((w, h), Image.LANCZOS)
    out = frame.convert("RGBA")
    out.alpha_composite(layer)
    return out.convert("RGB")


def recolour_dark(frame, box, rgb, below=70):
    """Tints the dark pixels inside `box` (the black cup) towards `rgb`, keeping their shading."""
    a = np.asarray(frame).astype(np.float32)
    x0, y0, x1, y1 = box
    sub = a[y0:y1, x0:x1]
    luma = sub @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    m = np.clip((below + 15 - luma) / 30.0, 0.0, 1.0)[..., None]
    shade = (luma / below).clip(0, 1.5)[..., None]
    tinted = np.clip(np.array(rgb, dtype=np.float32) * (0.35 + 0.65 * shade), 0, 255)
    a[y0:y1, x0:x1] = sub * (1 - m) + tinted * m
    return Image.fromarray(a.round().astype(np.uint8))


# Local edits, in each clip's own pixel coordinates (see SOURCES.md for the sizes).
LOCAL = {
    # A yellow badge with a red star on the man's left lapel.
    "carphone": lambda f: paint(
        f,
        [("disc", (46, 118, 7), (250, 210, 30)), ("poly", star(46, 118, 5.5, 2.3), (200, 30, 30))],
    ),
    # A red star sticker with a white rim on the box lid.
    "box": lambda f: paint(
        f,
        [("poly", star(300, 68, 30, 13), (255, 255, 255)), ("poly", star(300, 68, 24, 10), (220, 20, 40))],
    ),
    # The black cup recoloured deep blue (a recoloured object, shading kept).
    "cup": lambda f: recolour_dark(f, (225, 88, 320, 295), (40, 90, 230)),
    # A logo painted on the path the walkers cross: an orange disc with a white star.
    "walkers": lambda f: paint(
        f,
        [("disc", (330, 205, 20), (255, 120, 0)), ("poly", star(330, 205, 15, 6), (255, 255, 255))],
    ),
    # A blue label with a white bar on the window post at the left.
    "tree": lambda f: paint(
        f, [("rect", (8, 100, 34, 140), (30, 60, 220)), ("rect", (12, 116, 30, 124), (255, 255, 255))]
    ),
}


def grade_warm(a):
    """Warm film look: lifted blacks, orange highlights, a little less saturation."""
    l = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    a = 0.8 * a + 0.2 * l[..., None]
    a = a * np.array([1.12, 0.98, 0.78]) + np.array([18, 8, 4])
    return a


def grade_poster(a):
    """Poster look: four levels per channel, pushed towards magenta and teal."""
    q = np.floor(a / 64.0) * 64.0 + 32.0
    return q * np.array([1.1, 0.85, 1.05]) + np.array([0, 0, 10])


def grade_teal_orange(a):
    """Teal shadows and orange skin tones."""
    l = (a @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None] / 255.0
    shadow = np.array([-20.0, 10.0, 25.0])
    light = np.array([30.0, 8.0, -25.0])
    return a + (1 - l) * shadow + l * light


def grade_night(a):
    """Day for night: darker, blue, low saturation."""
    l = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    a = 0.35 * a + 0.65 * l[..., None]
    return a * np.array([0.55, 0.7, 1.05]) + np.array([0, 5, 20])


def grade_autumn(a):
    """Greens turned to autumn orange (a hue rotation of green-ish pixels)."""
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    greenness = np.clip((g - np.maximum(r, b)) / 40.0, 0, 1)
    out = a.copy()
    out[..., 0] = r + greenness * (g * 1.1 - r)
    out[..., 1] = g - greenness * 0.45 * g
    out[..., 2] = b * (1 - 0.5 * greenness)
    return out


GLOBAL = {
    "carphone": grade_warm,
    "box": grade_poster,
    "cup": grade_teal_orange,
    "walkers": grade_night,
    "tree": grade_autumn,
}


def apply_global(clip, rgb_u8):
    out = GLOBAL[clip](rgb_u8.astype(np.float32))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def frames(path):
    """Yields the RGB frames of a video (decoded by ffmpeg, BT.601 limited range like retake)."""
    info = json.loads(
        subprocess.check_output(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=width,height", "-of", "json", path]
        )
    )["streams"][0]
    w, h = info["width"], info["height"]
    p = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        stdout=subprocess.PIPE,
    )
    n = w * h * 3
    while True:
        buf = p.stdout.read(n)
        if len(buf) < n:
            break
        yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
    p.wait()


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 100.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def truth_psnr(clip, source, output):
    scores = []
    for i, (s, o) in enumerate(zip(frames(source), frames(output))):
        if i > 0:
            scores.append(psnr(apply_global(clip, s), o))
    print(json.dumps({"carry_through_psnr": sum(scores) / len(scores), "frames": len(scores) + 1}))


def sheet(out, entries):
    rows = []
    for label, path in (e.split("=", 1) for e in entries):
        fs = list(frames(path))
        n = len(fs)
        pick = [fs[min(n - 1, round(k * (n - 1) / 4))] for k in range(5)]
        row = np.concatenate([np.pad(p, ((0, 0), (0, 4), (0, 0)), constant_values=255) for p in pick], axis=1)
        img = Image.fromarray(row)
        canvas = Image.new("RGB", (img.width + 110, img.height + 4), (255, 255, 255))
        canvas.paste(img, (110, 0))
        ImageDraw.Draw(canvas).text((4, img.height // 2 - 6), label, fill=(0, 0, 0))
        rows.append(canvas)
    width = max(r.width for r in rows)
    total = Image.new("RGB", (width, sum(r.height for r in rows)), (255, 255, 255))
    y = 0
    for r in rows:
        total.paste(r, (0, y))
        y += r.height
    # Small frames are shown at twice their size so the edit can be seen.
    if total.width < 700:
        total = total.resize((total.width * 2, total.height * 2), Image.NEAREST)
    # 256 colours (median cut, no dithering): a quarter of the bytes of full colour, and the
    # edits, flicker and smearing the sheets are for still show.
    total.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        out, optimize=True)


def main(argv):
    if len(argv) >= 5 and argv[0] == "make":
        clip, kind, src, dst = argv[1:5]
        f = Image.open(src).convert("RGB")
        if kind == "local":
            out = LOCAL[clip](f)
        else:
            out = Image.fromarray(apply_global(clip, np.asarray(f)))
        out.save(dst)
    elif len(argv) == 4 and argv[0] == "truth-psnr":
        truth_psnr(*argv[1:4])
    elif len(argv) >= 3 and argv[0] == "sheet":
        sheet(argv[1], argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
