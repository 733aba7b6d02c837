#!/usr/bin/env python3
"""Where each clip's local edit belongs in every frame, found without retake's optical flow.

The flow-based retention that `retake eval` reports follows retake's own flow estimate, so it
favours outputs that follow that flow, right or wrong. The real-footage table scores local
edits against tracks made here instead, by another method: sparse corner tracking
(OpenCV's pyramidal Lucas-Kanade on Shi-Tomasi corners, forward-backward checked) in a
hand-chosen context around the edit, and one motion model per frame fitted to those tracks
with RANSAC, from frame 0 straight to frame k (a similarity, a full affine, or a homography
for a plane that turns). For the cup, whose edit recolours every dark pixel, the edit is a function of
the pixel and needs no track: `retention` applies it to each frame.

    track.py make CLIP SOURCE.mp4 OUT.json        the per-frame 3x3 transforms (frame 0 -> k)
    track.py check CLIP SOURCE.mp4 FIRST.png TRACK.json SHEET.png
                                                  the edit's outline drawn where the track
                                                  puts it, to check the track by eye
    track.py retention CLIP SOURCE.mp4 FIRST.png OUTPUT.mp4 TRACK.json
                                                  edit retention along the track (JSON)

The tracks are committed in bench/footage/tracks/ (checked by eye with `check`), so scoring
needs only numpy and Pillow; `make` and `check` need OpenCV (opencv-python-headless).
"""

import json
import sys

import numpy as np

from edits import frames, recolour_dark

# Per clip: the context whose corners are tracked (x0, y0, x1, y1 in frame-0 pixels; the
# object the edit sits on, not the background behind it) and the motion model.
CONTEXT = {
    # The man's left shoulder and lapel, his shirt front and the bow tie's left end.
    "carphone": {"box": (26, 96, 96, 144), "model": "similarity"},
    # The lid of the box around the sticker.
    "box": {"box": (225, 15, 425, 105), "model": "homography"},
    # The path and grass around the painted logo (a static camera; walkers are outliers).
    "walkers": {"box": (250, 150, 420, 270), "model": "similarity"},
    # The whole picture: a hand-held camera turning, the post and the tree move together.
    "tree": {"box": (0, 0, 320, 240), "model": "similarity"},
}

EDIT_THRESHOLD = 20.0  # mean |edited - source| (0-255) that makes a pixel part of the edit
OCCLUDED = 40.0  # mean |source_k - warped source_0| past which a tracked pixel is hidden


SKIN = 18.0  # red minus blue (0-255) past which a dark pixel is skin, not the black cup


def recolour_cup(a):
    """The cup edit wherever the cup is in a frame: every dark pixel recoloured, as edits.py
    does inside its box on frame 0, except skin. The shaded underside of the forearm holding
    the cup is dark too and reaches the frame's right edge; the user's edit never touched it,
    and counting it made frame 0's own edit score 0.57 against this truth (0.99 without it)."""
    from PIL import Image

    img = Image.fromarray(a.astype(np.uint8))
    h, w = a.shape[:2]
    out = np.asarray(recolour_dark(img, (0, 0, w, h), (40, 90, 230))).astype(np.float32)
    a = a.astype(np.float32)
    skin = (a[..., 0] - a[..., 2]) > SKIN
    out[skin] = a[skin]
    return out


# Edits that are a function of the pixel: the truth in frame k is the edit applied to it.
PER_PIXEL = {"cup": recolour_cup}


def make(clip, source, out):
    import cv2

    cfg = CONTEXT[clip]
    x0, y0, x1, y1 = cfg["box"]
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames(source)]
    h, w = grey[0].shape
    win = max(9, round(min(w, h) / 24) | 1)
    lk = dict(winSize=(win, win), maxLevel=3,
              criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    ctx = np.zeros((h, w), np.uint8)
    ctx[y0:y1, x0:x1] = 255

    def corners(img, mask, n=300):
        p = cv2.goodFeaturesToTrack(img, maxCorners=n, qualityLevel=0.005, minDistance=3,
                                    mask=mask, blockSize=5)
        return np.zeros((0, 2), np.float32) if p is None else p.reshape(-1, 2)

    cur = corners(grey[0], ctx)
    origin = cur.copy()
    transforms = [np.eye(3)]
    for k in range(1, len(grey)):
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(grey[k - 1], grey[k], cur, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(grey[k], grey[k - 1], nxt, None, **lk)
        ok = (st.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back - cur, axis=1) < 0.5)
        cur, origin = nxt[ok], origin[ok]
        m, inl = fit(cfg["model"], origin, cur)
        if m is None:
            m = transforms[-1]
        else:
            keep = inl.ravel() == 1
            cur, origin = cur[keep], origin[keep]
        transforms.append(m)
        # Fresh corners where the tracked ones thinned out, given their frame-0 origin.
        if len(cur) < 60:
            mask = cv2.warpPerspective(ctx, m, (w, h), flags=cv2.INTER_NEAREST)
            for p in cur:
                cv2.circle(mask, (int(p[0]), int(p[1])), 4, 0, -1)
            new = corners(grey[k], mask, 200)
            if len(new):
                back0 = apply(np.linalg.inv(m), new)
                cur = np.vstack([cur, new]).astype(np.float32)
                origin = np.vstack([origin, back0]).astype(np.float32)
    json.dump({"clip": clip, "model": cfg["model"], "context": cfg["box"],
               "transforms": [np.asarray(t).round(5).tolist() for t in transforms]},
              open(out, "w"), indent=None)


def fit(model, a, b):
    """A 3x3 transform taking points `a` to `b`, fitted with RANSAC, and the inlier mask."""
    import cv2

    if len(a) < 8:
        return None, None
    if model == "homography":
        m, inl = cv2.findHomography(a, b, cv2.RANSAC, 1.0, maxIters=4000, confidence=0.999)
        return m, inl
    f = cv2.estimateAffine2D if model == "affine" else cv2.estimateAffinePartial2D
    m, inl = f(a, b, method=cv2.RANSAC, ransacReprojThreshold=1.0, maxIters=4000,
               confidence=0.999, refineIters=20)
    return (None, None) if m is None else (np.vstack([m, [0, 0, 1]]), inl)


def apply(m, pts):
    """Points (n x 2) through a 3x3 transform."""
    p = np.hstack([pts, np.ones((len(pts), 1))]) @ np.asarray(m).T
    return (p[:, :2] / p[:, 2:3]).astype(np.float32)


def load_rgb(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(np.float32)


def warp(img, m, size):
    """`img` (frame 0) carried by the 3x3 transform `m` into frame k (bilinear, inverse map)."""
    h, w = size
    inv = np.linalg.inv(np.asarray(m, dtype=np.float64))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    d = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    sx = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / d
    sy = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / d
    inside = (sx >= 0) & (sy >= 0) & (sx <= img.shape[1] - 1) & (sy <= img.shape[0] - 1)
    sx = np.clip(sx, 0, img.shape[1] - 1)
    sy = np.clip(sy, 0, img.shape[0] - 1)
    x0 = np.minimum(sx.astype(int), img.shape[1] - 2)
    y0 = np.minimum(sy.astype(int), img.shape[0] - 2)
    fx, fy = sx - x0, sy - y0
    if img.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bot = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    out = top * (1 - fy) + bot * fy
    return out, inside


def truth_edits(clip, source, first, track):
    """Per frame: (edit vector per pixel, edit weight per pixel) where the edit belongs."""
    src = list(frames(source))
    s0 = src[0].astype(np.float32)
    e0 = load_rgb(first) - s0
    size = s0.shape[:2]
    for k, s in enumerate(src):
        s = s.astype(np.float32)
        if clip in PER_PIXEL:
            e = PER_PIXEL[clip](s) - s
            yield s, e, None
            continue
        m = np.asarray(track["transforms"][k], dtype=np.float64)
        e, inside = warp(e0, m, size)
        s0k, _ = warp(s0, m, size)
        # Hidden where the source there no longer looks like frame 0's (an occluder), after
        # the local change of light (median difference over the edit) is taken out.
        d = s - s0k
        yield s, e, (inside, d)


def retention(clip, source, first, output, track_path):
    track = json.load(open(track_path)) if clip not in PER_PIXEL else None
    scores, visible = [], []
    outs = frames(output)
    n_edit0 = None
    for k, ((s, e, aux), o) in enumerate(zip(truth_edits(clip, source, first, track), outs)):
        o = o.astype(np.float32)
        size = np.abs(e).mean(axis=2)
        region = size >= EDIT_THRESHOLD
        if aux is not None:
            inside, d = aux
            region &= inside
            if region.any():
                shift = np.median(d[region], axis=0)
                hidden = np.abs(d - shift).mean(axis=2) > OCCLUDED
                region &= ~hidden
        wt = (e * e).sum(axis=2) * region
        if k == 0:
            n_edit0 = wt.sum()
            continue
        if wt.sum() <= 0:
            scores.append(None)
            visible.append(0.0)
            continue
        # The best of the placements within one pixel of the track: a track is good to about
        # a pixel, and a smeared or misplaced edit cannot win by that slack.
        best = 0.0
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                es = np.roll(e, (dy, dx), axis=(0, 1))
                ws = np.roll(wt, (dy, dx), axis=(0, 1))
                dot = ((o - s) * es).sum(axis=2)
                r = np.clip(dot / np.maximum((es * es).sum(axis=2), 1e-6), 0, 1)
                best = max(best, float((r * ws).sum() / ws.sum()))
        scores.append(best)
        visible.append(float(wt.sum() / max(n_edit0, 1e-6)))
    valid = [x for x in scores if x is not None]
    n = len(scores)
    quarters = []
    for q in range(4):
        part = [x for x in scores[q * n // 4:(q + 1) * n // 4] if x is not None]
        quarters.append(sum(part) / len(part) if part else None)
    print(json.dumps({
        "tracked_retention": sum(valid) / max(len(valid), 1),
        "tracked_retention_by_quarter": quarters,
        "tracked_retention_last_quarter": quarters[3],
        "tracked_visible_last_quarter": float(np.mean(visible[3 * n // 4:])) if n else 0.0,
        "frames": n + 1,
    }))


def check(clip, source, first, track_path, sheet):
    import cv2

    track = json.load(open(track_path)) if clip not in PER_PIXEL else None
    src = list(frames(source))
    n = len(src)
    picks = sorted(set(round(k * (n - 1) / 7) for k in range(8)))
    e0 = load_rgb(first) - src[0].astype(np.float32)
    tiles = []
    for k in picks:
        img = src[k].copy()
        if track is None:
            s = src[k].astype(np.float32)
            region = (np.abs(PER_PIXEL[clip](s) - s).mean(axis=2) >= EDIT_THRESHOLD)
        else:
            m = np.asarray(track["transforms"][k])
            e, _ = warp(e0, m, img.shape[:2])
            region = np.abs(e).mean(axis=2) >= EDIT_THRESHOLD
            x0, y0, x1, y1 = track["context"]
            box = apply(m, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64))
            cv2.polylines(img, [box.round().astype(np.int32)], True, (0, 255, 255), 1)
        cnt, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL,
                                  cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(img, cnt, -1, (255, 0, 255), 1)
        scale = 2 if img.shape[1] < 400 else 1
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        cv2.putText(img, str(k), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
        tiles.append(img)
    rows = [np.concatenate(tiles[i:i + 4], axis=1) for i in range(0, len(tiles), 4)]
    if len(rows) > 1 and rows[-1].shape[1] < rows[0].shape[1]:
        pad = rows[0].shape[1] - rows[-1].shape[1]
        rows[-1] = np.pad(rows[-1], ((0, 0), (0, pad), (0, 0)))
    from PIL import Image

    Image.fromarray(np.concatenate(rows, axis=0)).save(sheet, optimize=True)


def main(argv):
    if len(argv) == 4 and argv[0] == "make":
        make(*argv[1:4])
    elif len(argv) == 6 and argv[0] == "check":
        check(*argv[1:6])
    elif len(argv) == 6 and argv[0] == "retention":
        retention(*argv[1:6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
