#!/usr/bin/env python3
"""How close can a frame come back through 4:2:0 with no compression at all? (issue 14)

For each PNG given: converts RGB to BT.709 studio-range YUV as retake's encoder does, rounds
to 8 bits, subsamples chroma, upsamples it again and converts back to RGB; prints the RGB PSNR
against the PNG. This is the ceiling any 4:2:0 encoder can reach on that frame, whatever its
quantiser. Variants:

  444          no subsampling (only 8-bit rounding)
  420          2x2 average, read back by replication (retake's writer and reader today)
  420+luma     2x2 average, then each pixel's luma chosen to best match its RGB given the
               shared chroma (a "sharp YUV"-style luma adjustment), read by replication
  bil          2x2 average, read back with bilinear chroma (as browsers do)
  bil-lsq      chroma solved by least squares for a bilinear reader, plus the luma adjustment

    python bench/chroma_ceiling.py FRAME.png...      (needs numpy and Pillow)
"""

import sys

import numpy as np
from PIL import Image

KR, KB = 0.2126, 0.0722
KG = 1 - KR - KB


def to_yuv(rgb):
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = (KR * r + KG * g + KB * b) * 219 / 255 + 16
    u = (-KR / (2 * (1 - KB)) * r - KG / (2 * (1 - KB)) * g + 0.5 * b) * 224 / 255 + 128
    v = (0.5 * r - KG / (2 * (1 - KR)) * g - KB / (2 * (1 - KR)) * b) * 224 / 255 + 128
    return y, u, v


def to_rgb(y, u, v):
    yy = (y - 16) * 255 / 219
    cu, cv = (u - 128) * 255 / 224, (v - 128) * 255 / 224
    r = yy + 2 * (1 - KR) * cv
    g = yy - 2 * KB * (1 - KB) / KG * cu - 2 * KR * (1 - KR) / KG * cv
    b = yy + 2 * (1 - KB) * cu
    return np.clip(np.round(np.stack([r, g, b], -1)), 0, 255)


def q8(x):
    return np.clip(np.round(x), 0, 255)


def psnr(a, b):
    mse = ((a - b) ** 2).mean()
    return 10 * np.log10(255**2 / mse)


def down(c):
    return c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2).mean((1, 3))


def up_rep(c):
    return c.repeat(2, 0).repeat(2, 1)


def bil_matrix(n):
    """Centre-sited 2x bilinear upsampling of n samples, edges clamped."""
    m = np.zeros((2 * n, n))
    for i in range(n):
        m[2 * i, i] += 0.75
        m[2 * i, max(i - 1, 0)] += 0.25
        m[2 * i + 1, i] += 0.75
        m[2 * i + 1, min(i + 1, n - 1)] += 0.25
    return m


def up_bil(c):
    return bil_matrix(c.shape[0]) @ c @ bil_matrix(c.shape[1]).T


def lsq_down(full, iters=40):
    """Chroma plane whose bilinear upsampling best matches `full` (gradient descent)."""
    mh, mw = bil_matrix(full.shape[0] // 2), bil_matrix(full.shape[1] // 2)
    c = down(full)
    for _ in range(iters):
        c = c - 0.25 * (mh.T @ (mh @ c @ mw.T - full) @ mw)
    return c


def luma_adjust(rgb, y, uu, vv):
    """Per pixel, the 8-bit luma within +-40 of `y` that best matches `rgb` given chroma."""
    base = q8(y)
    best_err = np.full(y.shape, np.inf)
    best = base.copy()
    for d in range(-40, 41):
        yc = np.clip(base + d, 0, 255)
        err = ((to_rgb(yc, uu, vv) - rgb) ** 2).sum(-1)
        better = err < best_err
        best_err[better] = err[better]
        best[better] = yc[better]
    return best


def main():
    print("| frame | 444 | 420 | 420+luma | bil | bil-lsq |")
    print("|---|---|---|---|---|---|")
    for path in sys.argv[1:]:
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(float)
        y, u, v = to_yuv(rgb)
        u2, v2 = q8(down(u)), q8(down(v))
        rows = [
            psnr(rgb, to_rgb(q8(y), q8(u), q8(v))),
            psnr(rgb, to_rgb(q8(y), up_rep(u2), up_rep(v2))),
            psnr(rgb, to_rgb(luma_adjust(rgb, y, up_rep(u2), up_rep(v2)), up_rep(u2), up_rep(v2))),
            psnr(rgb, to_rgb(q8(y), up_bil(u2), up_bil(v2))),
        ]
        ul, vl = up_bil(q8(lsq_down(u))), up_bil(q8(lsq_down(v)))
        rows.append(psnr(rgb, to_rgb(luma_adjust(rgb, y, ul, vl), ul, vl)))
        print(f"| {path.rsplit('/', 1)[-1]} | " + " | ".join(f"{p:.2f}" for p in rows) + " |")


if __name__ == "__main__":
    main()
