"""The official `segmind` Python SDK, and the plain `requests` calls of Segmind's page, against
a running retake server.

Started by `cargo test --test segmind`, which starts the server and a loopback file server and
passes everything in the environment: RETAKE_SEGMIND_BASE (…/v1, the SDK's base URL),
RETAKE_API_KEY, RETAKE_POOR_KEY (no credits), RETAKE_MEDIA_URL, RETAKE_FIRST_FRAME_URL,
RETAKE_CLIP_PATH, RETAKE_FRAME_PATH, RETAKE_CREDITS_URL (the Luma credits endpoint).
"""

import os
import time

import httpx
import pytest
import requests
import segmind
from segmind import InferenceFailed, SegmindClient, SegmindError

BASE = os.environ["RETAKE_SEGMIND_BASE"]
KEY = os.environ["RETAKE_API_KEY"]
POOR = os.environ["RETAKE_POOR_KEY"]
MEDIA = os.environ["RETAKE_MEDIA_URL"]
FIRST = os.environ["RETAKE_FIRST_FRAME_URL"]
CLIP = os.environ["RETAKE_CLIP_PATH"]
FRAME = os.environ["RETAKE_FRAME_PATH"]
CREDITS_URL = os.environ["RETAKE_CREDITS_URL"]
SERVER = BASE.rsplit("/v1", 1)[0]


def client(key=KEY):
    # Nothing changed but the base URL; a generous timeout for a synchronous video call.
    return SegmindClient(api_key=key, base_url=BASE, timeout=120.0)


def credits():
    r = httpx.get(CREDITS_URL, headers={"x-api-key": KEY})
    r.raise_for_status()
    return r.json()["credit_balance"]


def is_mp4(data):
    return data[4:8] == b"ftyp"


def test_run_sync_with_urls_answers_the_mp4_and_remaining_credits():
    before = credits()
    r = client().run_sync(
        "modify-video",
        video_url=MEDIA,
        first_frame_url=FIRST,
        prompt="a watercolour painting",
        mode="flex_2",
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "video/mp4"
    assert is_mp4(r.content)
    assert float(r.headers["x-remaining-credits"]) == pytest.approx(before - 0.01)
    assert credits() == pytest.approx(before - 0.01)
    # The generation is visible from the Luma side under the id the answer names.
    luma = CREDITS_URL.replace("/credits", "/generations/" + r.headers["x-generation-id"])
    g = httpx.get(luma, headers={"x-api-key": KEY}).json()
    assert g["state"] == "completed" and g["request"]["mode"] == "flex_2"


def test_multipart_form_with_the_files_themselves():
    c = client()
    # The SDK's own HTTP client (its base URL and x-api-key) posting the files as a form.
    with open(CLIP, "rb") as video, open(FRAME, "rb") as frame:
        r = c._request(
            "POST",
            "/modify-video",
            files={
                "video": ("clip.mp4", video, "video/mp4"),
                "first_frame": ("frame.png", frame, "image/png"),
            },
            data={"mode": "adhere_3", "prompt": "ink drawing"},
        )
    assert r.status_code == 200
    assert is_mp4(r.content)
    assert "x-remaining-credits" in r.headers


def test_run_uses_the_async_v2_flow():
    out = client().run("modify-video", video_url=MEDIA, first_frame_url=FIRST, mode="reimagine_1")
    assert out["status"] == "COMPLETED"
    assert out["progress"] == 100
    video = httpx.get(out["output"])
    assert video.status_code == 200 and is_mp4(video.content)


def test_errors_come_back_as_segmind_errors_with_details():
    with pytest.raises(SegmindError) as e:
        client("rtk_nope_nope").run_sync("modify-video", video_url=MEDIA, first_frame_url=FIRST)
    assert e.value.status == 401
    assert "invalid API key" in e.value.detail

    with pytest.raises(SegmindError) as e:
        client(POOR).run_sync("modify-video", video_url=MEDIA, first_frame_url=FIRST)
    assert e.value.status == 402
    assert "credits" in e.value.detail

    with pytest.raises(SegmindError) as e:
        client().run_sync("modify-video", first_frame_url=FIRST)
    assert e.value.status == 400
    assert "video_url is required" in e.value.detail

    with pytest.raises(SegmindError) as e:
        client().run_sync("modify-video", video_url=FIRST, first_frame_url=FIRST)
    assert e.value.status == 422
    assert "video_url" in e.value.detail and "media.url" not in e.value.detail

    with pytest.raises(SegmindError) as e:
        client().run_sync("modify-video", video_url=MEDIA, first_frame_url=FIRST, mode="wild")
    assert e.value.status == 400
    assert "mode `wild` is unknown" in e.value.detail


def test_a_job_that_fails_in_processing_reports_why():
    # The test server's pipeline refuses a clip whose prompt is "__fail__" the way a damaged
    # clip is refused, after the request was accepted.
    with pytest.raises(InferenceFailed) as e:
        client().run("modify-video", video_url=MEDIA, first_frame_url=FIRST, prompt="__fail__")
    assert "re-encode" in e.value.detail
    assert e.value.status_body["status"] == "FAILED"

    before = credits()
    with pytest.raises(SegmindError) as e:
        client().run_sync("modify-video", video_url=MEDIA, first_frame_url=FIRST, prompt="__fail__")
    assert e.value.status == 422
    assert "re-encode" in e.value.detail
    assert credits() == pytest.approx(before), "a failed generation is not charged"


def page_request(endpoint, with_files):
    """Posts the request the way Segmind's page does with `requests`: the inputs go under
    `video_url` and `first_frame_url`, as open files in a form, or as URLs in JSON when there
    are no files. Only the host differs from the page."""
    url = SERVER + endpoint
    headers = {"x-api-key": KEY}
    data = {"mode": "adhere_1", "prompt": "woman in a yarn doll style"}
    if not with_files:
        data["video_url"] = MEDIA
        data["first_frame_url"] = FIRST
        return requests.post(url, json=data, headers=headers, timeout=120)
    with open(CLIP, "rb") as video, open(FRAME, "rb") as frame:
        files = {"video_url": video, "first_frame_url": frame}
        return requests.post(url, data=data, files=files, headers=headers, timeout=120)


def wait_v2(queued):
    for _ in range(600):
        r = requests.get(queued["status_url"], headers={"x-api-key": KEY}, timeout=30)
        status = r.json()
        if status["status"] in ("COMPLETED", "FAILED"):
            return status
        time.sleep(0.1)
    raise AssertionError("the request never finished")


@pytest.mark.parametrize("with_files", [True, False], ids=["files", "urls"])
def test_the_pages_sample_code_runs_synchronously(with_files):
    before = credits()
    r = page_request("/v1/modify-video", with_files)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    assert is_mp4(r.content)
    assert float(r.headers["x-remaining-credits"]) == pytest.approx(before - 0.01)


@pytest.mark.parametrize("with_files", [True, False], ids=["files", "urls"])
def test_the_pages_sample_code_runs_asynchronously(with_files):
    r = page_request("/v2/modify-video", with_files)
    assert r.status_code == 200, r.text
    status = wait_v2(r.json())
    assert status["status"] == "COMPLETED", status
    video = requests.get(status["output"], timeout=30)
    assert video.status_code == 200 and is_mp4(video.content)
def test_a_built_in_look_is_a_plain_parameter():
    # The SDK forwards parameters verbatim, so retake's `look` needs nothing special.
    r = client().run_sync("modify-video", video_url=MEDIA, look="film_noir")
    assert r.status_code == 200
    assert is_mp4(r.content)
