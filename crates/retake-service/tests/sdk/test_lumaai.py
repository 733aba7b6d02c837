"""The official `lumaai` Python SDK against a running retake server.

Started by `cargo test -p retake-service --test sdk`, which starts the server and a loopback
file server and passes everything in the environment:
RETAKE_BASE_URL (…/dream-machine/v1), RETAKE_API_KEY, RETAKE_OTHER_KEY, RETAKE_MEDIA_URL,
RETAKE_FIRST_FRAME_URL, RETAKE_CREDITS (the key's starting balance).
"""

import os
import time

import httpx
import lumaai
import pytest

BASE = os.environ["RETAKE_BASE_URL"]
KEY = os.environ["RETAKE_API_KEY"]
OTHER = os.environ["RETAKE_OTHER_KEY"]
MEDIA = os.environ["RETAKE_MEDIA_URL"]
FIRST = os.environ["RETAKE_FIRST_FRAME_URL"]
CREDITS = float(os.environ["RETAKE_CREDITS"])


def client(key=KEY):
    return lumaai.LumaAI(auth_token=key, base_url=BASE, max_retries=0)


def test_create_poll_download_list_delete():
    c = client()
    g = c.generations.video.modify(
        generation_type="modify_video",
        media={"url": MEDIA},
        first_frame={"url": FIRST},
        mode="adhere_2",
        model="ray-flash-2",
        prompt="a watercolour painting",
    )
    assert isinstance(g, lumaai.types.Generation)
    assert g.state == "queued"
    assert g.id
    assert g.created_at is not None and g.created_at.tzinfo is not None
    assert g.request.media.url == MEDIA
    assert g.request.first_frame.url == FIRST
    assert g.request.mode == "adhere_2"
    assert g.model == "ray-flash-2"

    deadline = time.time() + 120
    while g.state not in ("completed", "failed"):
        assert time.time() < deadline, "generation did not finish in 120 s"
        time.sleep(0.2)
        g = c.generations.get(g.id)
    assert g.state == "completed", g.failure_reason
    assert g.failure_reason is None

    video = httpx.get(g.assets.video)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"

    page = c.generations.list(limit=10, offset=0)
    assert isinstance(page, lumaai.types.GenerationListResponse)
    assert [x.id for x in page.generations] == [g.id]
    assert page.count == 1 and page.has_more is False

    assert c.credits.get().credit_balance == pytest.approx(CREDITS - 0.01)

    with pytest.raises(lumaai.NotFoundError):
        client(OTHER).generations.get(g.id)

    assert c.generations.delete(g.id) is None
    with pytest.raises(lumaai.NotFoundError) as e:
        c.generations.get(g.id)
    assert "no generation" in e.value.body["detail"]
    assert c.generations.list().generations == []


def test_errors_surface_as_sdk_exceptions_with_details():
    with pytest.raises(lumaai.AuthenticationError) as e:
        client("rtk_nope_nope").credits.get()
    assert "invalid API key" in e.value.body["detail"]

    with pytest.raises(lumaai.BadRequestError) as e:
        client().generations.video.modify(
            generation_type="modify_video",
            media={"url": MEDIA},
            mode="flex_1",
            model="ray-2",
            prompt="prompt only",
        )
    assert "first_frame.url" in e.value.body["detail"]

    with pytest.raises(lumaai.UnprocessableEntityError) as e:
        client().generations.video.modify(
            generation_type="modify_video",
            media={"url": FIRST},  # an image is not a video
            first_frame={"url": FIRST},
            mode="flex_1",
            model="ray-2",
        )
    assert "media.url" in e.value.body["detail"]


def test_idempotent_retries_and_cancel_through_the_sdk():
    c = client()
    request = dict(
        generation_type="modify_video",
        media={"url": MEDIA},
        first_frame={"url": FIRST},
        mode="flex_1",
        model="ray-2",
    )
    retry = {"Idempotency-Key": "sdk-retry-1"}
    a = c.generations.video.modify(**request, extra_headers=retry)
    b = c.generations.video.modify(**request, extra_headers=retry)
    assert a.id == b.id
    assert len(c.generations.list().generations) == 1

    # Cancel is an extension the SDK has no method for; its generic client reaches it.
    g = c.post(f"/generations/{a.id}/cancel", cast_to=lumaai.types.Generation)
    assert g.state == "failed"
    assert "cancelled" in g.failure_reason
    assert c.credits.get().credit_balance == pytest.approx(CREDITS - 0.01)
    with pytest.raises(lumaai.ConflictError):
        c.post(f"/generations/{a.id}/cancel", cast_to=lumaai.types.Generation)


def test_a_built_in_look_through_extra_body():
    # retake's `look` extension, sent the way Stainless SDKs send any extra field.
    c = client()
    g = c.generations.video.modify(
        generation_type="modify_video",
        media={"url": MEDIA},
        mode="flex_1",
        model="ray-flash-2",
        extra_body={"look": {"name": "sepia", "strength": 0.6}},
    )
    assert g.to_dict()["request"]["look"] == {"name": "sepia", "strength": 0.6}
    deadline = time.time() + 120
    while g.state not in ("completed", "failed"):
        assert time.time() < deadline, "generation did not finish in 120 s"
        time.sleep(0.2)
        g = c.generations.get(g.id)
    assert g.state == "completed", g.failure_reason
    with pytest.raises(lumaai.BadRequestError) as e:
        c.generations.video.modify(
            generation_type="modify_video",
            media={"url": MEDIA},
            mode="flex_1",
            model="ray-2",
            extra_body={"look": "glitter"},
        )
    assert "film_noir" in e.value.body["detail"]
