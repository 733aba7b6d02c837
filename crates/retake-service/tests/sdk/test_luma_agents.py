"""The official `luma-agents` Python SDK against a running retake server.

Started by `cargo test -p retake-service --test agents_sdk`, which starts the server and a
loopback file server, makes the clip and the edited frames, and passes everything in the
environment:
RETAKE_AGENTS_URL (…/agents/v1), RETAKE_CREDITS_URL (the Luma surface's /credits),
RETAKE_API_KEY, RETAKE_OTHER_KEY, RETAKE_CLIP (a 640×480, 24 fps, 1 s clip),
RETAKE_KEYFRAMES (INDEX=PATH,… : edited frames at 480×360), RETAKE_KEYFRAME_URL (the last
keyframe again, served over HTTP), RETAKE_CHAIN_KEYFRAME (an edited frame for the second
edit), RETAKE_MAX_BYTES (the server's byte limit) and RETAKE_OUT (a folder: the outputs are
written there for the Rust side to check frame by frame).
"""

import base64
import json
import os
import time

import httpx
import luma_agents
import pytest
from luma_agents.types import CreateFileResponse

BASE = os.environ["RETAKE_AGENTS_URL"]
CREDITS_URL = os.environ["RETAKE_CREDITS_URL"]
KEY = os.environ["RETAKE_API_KEY"]
OTHER = os.environ["RETAKE_OTHER_KEY"]
CLIP = os.environ["RETAKE_CLIP"]
KEYFRAMES = [
    (int(i), p)
    for i, p in (kv.split("=", 1) for kv in os.environ["RETAKE_KEYFRAMES"].split(","))
]
KEYFRAME_URL = os.environ["RETAKE_KEYFRAME_URL"]
CHAIN_KEYFRAME = os.environ["RETAKE_CHAIN_KEYFRAME"]
MAX_BYTES = int(os.environ["RETAKE_MAX_BYTES"])
OUT = os.environ["RETAKE_OUT"]


def client(key=KEY):
    return luma_agents.Luma(auth_token=key, base_url=BASE, max_retries=0)


def credits(key=KEY):
    r = httpx.get(CREDITS_URL, headers={"Authorization": f"Bearer {key}"})
    r.raise_for_status()
    return r.json()["credit_balance"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def upload_inline(c, path, mime, purpose="input"):
    """The Files API's multipart mode: the bytes in the `file` part, in one request."""
    data = read(path)
    r = c.post(
        "/files",
        cast_to=CreateFileResponse,
        body={"mime_type": mime, "size_bytes": len(data), "purpose": purpose,
              "filename": os.path.basename(path)},
        files=[("file", (os.path.basename(path), data, mime))],
        options={"headers": {"Content-Type": "multipart/form-data"}},
    )
    assert r.upload is None
    return r


def upload_presigned(c, path, mime):
    """The Files API's presigned mode: ask for an upload URL, PUT the bytes, complete."""
    data = read(path)
    r = c.files.create(mime_type=mime, size_bytes=len(data), purpose="reference",
                       filename=os.path.basename(path))
    assert r.state == "pending" and r.file.state == "pending"
    assert r.upload is not None and r.upload.method == "PUT"
    put = httpx.put(r.upload.url, content=data, headers=r.upload.headers or {})
    assert put.status_code in (200, 201, 204), put.text
    f = c.files.complete(r.id)
    return wait_ready(c, f.id)


def wait_ready(c, file_id):
    deadline = time.time() + 30
    f = c.files.get(file_id)
    while f.state == "pending":
        assert time.time() < deadline, "the file stayed pending"
        time.sleep(0.1)
        f = c.files.get(file_id)
    assert f.state == "ready", f.failure_reason
    return f


def wait_done(c, gen_id, timeout=180):
    deadline = time.time() + timeout
    g = c.generations.get(gen_id)
    while g.state not in ("completed", "failed"):
        assert time.time() < deadline, f"generation did not finish in {timeout} s"
        time.sleep(0.2)
        g = c.generations.get(gen_id)
    return g


def download(url, name):
    video = httpx.get(url)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(video.content)


def test_upload_edit_with_keyframes_chain_and_delete():
    c = client()
    clip = upload_inline(c, CLIP, "video/mp4")
    assert clip.id == clip.file.id
    clip = wait_ready(c, clip.id)
    assert clip.mime_type == "video/mp4" and clip.size_bytes == os.path.getsize(CLIP)
    assert clip.purpose == "input" and clip.filename == os.path.basename(CLIP)

    (i0, p0), (i1, p1), (i2, _) = KEYFRAMES
    k0 = upload_presigned(c, p0, "image/png")
    assert k0.state == "ready" and k0.purpose == "reference"
    listed = c.files.list()
    assert {clip.id, k0.id} <= {f.id for f in listed.data}
    assert [f.id for f in c.files.list(purpose="reference").data] == [k0.id]
    assert listed.has_more is False

    before = credits()
    g = c.generations.create(
        type="video_edit",
        model="ray-3.2",
        prompt="the same scene in green",
        source={"file_id": clip.id},
        video={
            "resolution": "360p",
            "edit": {
                "strength": "adhere_1",
                "keyframes": [
                    {"file_id": k0.id},
                    {"data": base64.b64encode(read(p1)).decode(), "media_type": "image/png"},
                    {"url": KEYFRAME_URL},
                ],
                "keyframe_indexes": [i0, i1, i2],
            },
        },
    )
    assert isinstance(g, luma_agents.types.Generation)
    assert g.state == "queued" and g.type == "video_edit" and g.model == "ray-3.2"
    assert g.output is None and g.failure_code is None
    # retake's extras ride along in the SDK's model.
    extra = g.model_extra
    assert extra["video"]["resolution"] == "360p"
    assert (extra["video"]["width"], extra["video"]["height"]) == (480, 360)
    assert extra["keyframe_frames"] == [i0, i1, i2]
    assert extra["strength"] == "adhere_1"
    # Reserved at create: 1 s of 360p.
    assert credits() == pytest.approx(before - extra["cost"])

    done = wait_done(c, g.id)
    assert done.state == "completed", done.failure_reason
    assert done.output[0].type == "video"
    download(done.output[0].url, "edit.mp4")
    assert credits() == pytest.approx(before - extra["cost"])

    # Chained off the first edit's output; 540p asked for, but a 360-line source is kept.
    ck = upload_inline(c, CHAIN_KEYFRAME, "image/png", purpose="reference")
    g2 = c.generations.create(
        type="video_edit",
        model="ray-3.2",
        prompt="",
        source={"generation_id": g.id},
        video={"resolution": "540p",
               "edit": {"keyframes": [{"file_id": ck.id}], "keyframe_indexes": [0]}},
    )
    v2 = g2.model_extra["video"]
    assert (v2["width"], v2["height"], v2["requested_resolution"]) == (480, 360, "540p")
    assert "upscale" in v2["note"]
    assert g2.model_extra["auto_controls"] is True
    assert g2.model_extra["strength"] == "flex_1"
    done2 = wait_done(c, g2.id)
    assert done2.state == "completed", done2.failure_reason
    download(done2.output[0].url, "chain.mp4")

    # The edit is a generation like any other: the Luma surface shows it too.
    luma = httpx.get(CREDITS_URL.replace("/credits", f"/generations/{g.id}"),
                     headers={"Authorization": f"Bearer {KEY}"})
    assert luma.status_code == 200, luma.text
    assert luma.json()["state"] == "completed" and luma.json()["model"] == "ray-3.2"
    assert luma.json()["request"]["mode"] == "adhere_1"

    with open(os.path.join(OUT, "ids.json"), "w") as f:
        json.dump({"edit": g.id, "chain": g2.id}, f)

    # Delete: the files, then the chained generation (retake's extension route).
    assert c.files.delete(clip.id) is None
    with pytest.raises(luma_agents.NotFoundError):
        c.files.get(clip.id)
    with pytest.raises(luma_agents.BadRequestError) as e:
        c.generations.create(type="video_edit", prompt="", source={"file_id": clip.id},
                             video={"edit": {"keyframes": [{"file_id": ck.id}],
                                             "keyframe_indexes": [0]}})
    assert f"no file `{clip.id}`" in e.value.body["detail"]
    c.delete(f"/generations/{g2.id}", cast_to=httpx.Response)
    with pytest.raises(luma_agents.NotFoundError):
        c.generations.get(g2.id)
    # The other key sees none of it.
    with pytest.raises(luma_agents.NotFoundError):
        client(OTHER).generations.get(g.id)
    with pytest.raises(luma_agents.NotFoundError):
        client(OTHER).files.get(k0.id)


def edit(c, bare=False, **video_edit):
    """A create with a good source and the given `video.edit`, overridable per field; a good
    keyframe at frame 0 unless keyframes are given (or `bare`), so that the field under test
    is what gets refused."""
    source = video_edit.pop("source", None) or {"file_id": edit.clip}
    if not bare and "keyframes" not in video_edit:
        video_edit.update(keyframes=[{"file_id": edit.kf}], keyframe_indexes=[0])
    video = {"edit": video_edit}
    return c.generations.create(type="video_edit", prompt="", source=source, video=video)


def refused(exc, fn, *needles):
    with pytest.raises(exc) as e:
        fn()
    detail = e.value.body["detail"]
    for n in needles:
        assert n in detail, detail
    return e.value


def test_every_bad_request_is_refused_by_name_and_charges_nothing():
    c = client()
    edit.clip = upload_inline(c, CLIP, "video/mp4").id
    kf = edit.kf = upload_inline(c, KEYFRAMES[0][1], "image/png", purpose="reference").id
    data = base64.b64encode(read(KEYFRAMES[0][1])).decode()
    good = {"file_id": kf}
    before = credits()
    bad = luma_agents.BadRequestError

    refused(bad, lambda: edit(c, keyframes=[good, good], keyframe_indexes=[0]),
            "video.edit.keyframes has 2 entries but video.edit.keyframe_indexes has 1")
    refused(bad, lambda: edit(c, keyframes=[good], keyframe_indexes=[24]),
            "video.edit.keyframe_indexes", "source frame 24", "24 frames (0 to 23)")
    refused(bad, lambda: edit(c, keyframes=[good, good], keyframe_indexes=[5, 5]),
            "keyframe_indexes[0] and [1] are both 5")
    refused(bad, lambda: edit(c, keyframes=[{"url": KEYFRAME_URL, "data": data,
                                             "media_type": "image/png"}],
                              keyframe_indexes=[0]),
            "video.edit.keyframes[0] has both url and data")
    refused(bad, lambda: edit(c, source={"url": KEYFRAME_URL, "data": data,
                                         "media_type": "video/mp4"}),
            "source has both url and data")
    refused(bad, lambda: edit(c, keyframes=[{"data": "not base64!", "media_type": "image/png"}],
                              keyframe_indexes=[0]),
            "video.edit.keyframes[0].data is not valid base64")
    too_big = base64.b64encode(b"\0" * (MAX_BYTES + 1)).decode()
    e = refused(luma_agents.APIStatusError,
                lambda: edit(c, source={"data": too_big, "media_type": "video/mp4"}),
                "source.data is", "the limit is")
    assert e.status_code == 413
    unknown = "0b7d2f1e-1c2a-4e4b-8f3a-0d6c1f2e3a4b"
    refused(bad, lambda: edit(c, source={"file_id": unknown}),
            f"source.file_id: no file `{unknown}` for this key")
    theirs = upload_inline(client(OTHER), CLIP, "video/mp4").id
    refused(bad, lambda: edit(c, source={"file_id": theirs}),
            f"source.file_id: no file `{theirs}` for this key")
    refused(bad, lambda: edit(c, keyframes=[{"file_id": edit.clip}], keyframe_indexes=[0]),
            "video.edit.keyframes[0].file_id", "is a video", "image")
    # A generation that is not completed yet cannot be chained off.
    g = edit(c, keyframes=[good], keyframe_indexes=[0])
    refused(bad, lambda: edit(c, source={"generation_id": g.id},
                              keyframes=[good], keyframe_indexes=[0]),
            "source.generation_id", "not completed")
    cancelled = c.post(f"/generations/{g.id}/cancel", cast_to=luma_agents.types.Generation)
    assert cancelled.state == "failed" and cancelled.failure_code == "generation_failed"
    refused(bad, lambda: edit(c, source={"generation_id": g.id},
                              keyframes=[good], keyframe_indexes=[0]),
            "is failed, not completed")
    refused(bad, lambda: edit(c, source={"generation_id": unknown}),
            f"no generation `{unknown}` for this key")
    # Only video edits.
    for kind in ("image", "video", "image_edit", "video_reframe", "layering"):
        refused(bad, lambda: c.generations.create(type=kind, prompt="a cat"),
                f"type `{kind}` is not served", "retake edits video only")
    refused(bad, lambda: c.generations.create(type="video_edit", model="uni-1", prompt="x",
                                              source={"file_id": edit.clip}),
            "model `uni-1` does not edit video here; use `ray-3.2`")
    refused(bad, lambda: edit(c, controls={"face": {"enabled": True}}),
            "controls.face.enabled", "cannot detect faces")
    refused(bad, lambda: edit(c, controls={"depth": {"blur": 2}}),
            "controls.depth.blur is 2")
    refused(bad, lambda: edit(c, bare=True), "nothing to change")

    # Refused requests cost nothing; the cancelled one was released.
    assert credits() == pytest.approx(before)
