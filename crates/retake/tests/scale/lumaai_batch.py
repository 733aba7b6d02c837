"""Drives a scaled-out retake through the official `lumaai` SDK: creates N generations, prints
`CREATED <id>` for each, then polls until every one is finished (riding out the database
restart the test makes meanwhile: a failed poll is tried again), downloads each video from
its signed link, and prints `DONE <id> <state> <bytes>`.

Started by `cargo test -p retake --test scale`, with RETAKE_BASE_URL (…/dream-machine/v1),
RETAKE_API_KEY, RETAKE_MEDIA_URL, RETAKE_FIRST_FRAME_URL and RETAKE_COUNT in the environment.
"""

import os
import sys
import time

import httpx
import lumaai

BASE = os.environ["RETAKE_BASE_URL"]
KEY = os.environ["RETAKE_API_KEY"]
MEDIA = os.environ["RETAKE_MEDIA_URL"]
FIRST = os.environ["RETAKE_FIRST_FRAME_URL"]
COUNT = int(os.environ["RETAKE_COUNT"])

client = lumaai.LumaAI(auth_token=KEY, base_url=BASE, max_retries=3)

ids = []
for i in range(COUNT):
    g = client.generations.video.modify(
        generation_type="modify_video",
        media={"url": MEDIA},
        first_frame={"url": FIRST},
        mode="flex_1",
        model="ray-flash-2",
        extra_headers={"Idempotency-Key": f"batch-{i}"},
    )
    assert g.state == "queued", g
    ids.append(g.id)
    print("CREATED", g.id, flush=True)

deadline = time.time() + 150
pending = list(ids)
while pending:
    assert time.time() < deadline, f"not finished in 150 s: {pending}"
    for gid in list(pending):
        try:
            g = client.generations.get(gid)
        except lumaai.APIError as e:  # the database is restarting; ask again
            print("RETRY", gid, type(e).__name__, flush=True)
            time.sleep(0.2)
            continue
        if g.state in ("completed", "failed"):
            size = 0
            if g.state == "completed":
                video = httpx.get(g.assets.video, timeout=30)
                assert video.status_code == 200, video.status_code
                assert video.content[4:8] == b"ftyp"
                size = len(video.content)
            print("DONE", gid, g.state, size, g.failure_reason or "", flush=True)
            pending.remove(gid)
    time.sleep(0.2)
print("ALL DONE", flush=True)
sys.exit(0)
