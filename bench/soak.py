"""Soak test driver (run by bench/soak.sh, not in CI).

Drives one `retake serve` with mixed traffic for DURATION seconds: Luma and Segmind creates
(uploads and URLs, some with a callback to a flaky receiver), polls, downloads (whole and
ranged), cancels, deletes, lists, uploads and their deletion, bad requests, and stalled
sockets. Every 30 s it samples the server's memory, open descriptors, connections, blob
files and database rows. At the end it lets every generation finish and checks:

- every generation reached a final state;
- each key's credits add up to the cent (start - 0.01 per completed generation; nothing
  reserved);
- nothing leaked: descriptors and connections back to their level after warm-up, no input
  or temporary blobs, one output file per completed generation that was not deleted, one
  upload file per upload record, no jobs left in the queue;
- memory stayed flat (the last samples against those after warm-up).

Prints a Markdown summary (and writes it, with every sample, to OUT as JSON). Exits 1 when a
check fails.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BASE = os.environ["BASE"]
DATA = os.environ["DATA"]
PID = int(os.environ["SERVER_PID"])
DURATION = float(os.environ.get("DURATION", "1800"))
CLIENTS = int(os.environ.get("CLIENTS", "4"))
OUT = os.environ.get("OUT", "soak.json")
MEDIA = os.environ["MEDIA"]  # folder with clip.mp4 and first.png
KEYS = json.loads(os.environ["KEYS"])  # [{"id", "token", "webhook_secret", "credits"}]
PRICE = 0.01  # every soak clip is 128x96x24 frames: the minimum charge

lock = threading.Lock()
stats = {}
gens = {}  # id -> {"key": i, "state": last seen, "deleted": bool, "charged": None|bool}
uploads = {}  # upload id -> key index
errors = []  # unexpected answers


def count(name, n=1):
    with lock:
        stats[name] = stats.get(name, 0) + n


def unexpected(what):
    with lock:
        if len(errors) < 50:
            errors.append(what)
    count("unexpected")


def request(method, path, key=None, body=None, headers=None, raw=False, timeout=60):
    url = path if path.startswith("http") else BASE + path
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = "Bearer " + KEYS[key]["token"]
    data = None
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            payload = r.read()
            return r.status, payload if raw else (json.loads(payload) if payload else None), r.headers
    except urllib.error.HTTPError as e:
        payload = e.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            unexpected(f"{method} {path}: {e.code} not JSON: {payload[:200]!r}")
            parsed = None
        return e.code, parsed, e.headers


# --- the flaky webhook receiver -------------------------------------------------------

hooks = []  # (webhook-id, generation id, state)


class Hook(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        roll = random.random()
        if roll < 0.05:
            time.sleep(3)  # slow
        if roll > 0.7:
            self.send_response(500)  # flaky: the sender retries
            self.end_headers()
            count("hook_refused")
            return
        g = json.loads(body)
        msg = f'{self.headers["webhook-id"]}.{self.headers["webhook-timestamp"]}.'.encode() + body
        signed = False
        for k in KEYS:
            secret = base64.b64decode(k["webhook_secret"].removeprefix("whsec_"))
            want = "v1," + base64.b64encode(hmac.new(secret, msg, hashlib.sha256).digest()).decode()
            signed |= self.headers["webhook-signature"] == want
        if not signed:
            unexpected(f"bad webhook signature for {g['id']}")
        with lock:
            hooks.append((self.headers["webhook-id"], g["id"], g["state"]))
        self.send_response(200)
        self.end_headers()


hook_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
HOOK_URL = f"http://127.0.0.1:{hook_server.server_address[1]}/hook"
threading.Thread(target=hook_server.serve_forever, daemon=True).start()

# A loopback file server for media URLs.
class Files(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=MEDIA, **kw)

    def log_message(self, *a):
        pass


files_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
MEDIA_URL = f"http://127.0.0.1:{files_server.server_address[1]}"
threading.Thread(target=files_server.serve_forever, daemon=True).start()

CLIP = open(os.path.join(MEDIA, "clip.mp4"), "rb").read()
FIRST = open(os.path.join(MEDIA, "first.png"), "rb").read()
MODES = ["adhere_1", "adhere_2", "flex_1", "flex_2", "reimagine_1", "reimagine_3"]


def upload(key, data):
    s, u, _ = request("POST", "/v1/uploads", key, body=data)
    if s != 201:
        unexpected(f"upload: {s} {u}")
        return None
    with lock:
        uploads[u["id"]] = key
    count("uploads")
    return u


# --- sampling ------------------------------------------------------------------------

samples = []


def server_sample():
    status = open(f"/proc/{PID}/status").read()
    rss = int(next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1])
    fds = len(os.listdir(f"/proc/{PID}/fd"))
    port = BASE.rsplit(":", 1)[1]
    conns = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True,
    ).stdout.count("\n")
    blobs = {}
    for sub in ["inputs", "outputs", "uploads", "tmp"]:
        n = 0
        for _, _, fs in os.walk(os.path.join(DATA, "blobs", sub)):
            n += len(fs)
        blobs[sub] = n
    db = sqlite3.connect(f"file:{os.path.join(DATA, 'retake.db')}?mode=ro", uri=True, timeout=30)
    rows = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ["generations", "jobs", "uploads"]}
    db.close()
    return {"t": round(time.time() - START), "rss_kb": rss, "fds": fds, "conns": conns,
            "blobs": blobs, "rows": rows}


def sampler(stop):
    while not stop.wait(30):
        try:
            s = server_sample()
            with lock:
                samples.append(s)
        except Exception as e:  # noqa: BLE001 - a failed sample is reported, not fatal
            unexpected(f"sample failed: {e}")


# --- the clients ---------------------------------------------------------------------

def create(key, rng):
    first = upload(key, FIRST) if rng.random() < 0.5 else None
    media = upload(key, CLIP) if rng.random() < 0.5 else None
    body = {
        "generation_type": "modify_video",
        "media": {"url": media["url"] if media else MEDIA_URL + "/clip.mp4"},
        "first_frame": {"url": first["url"] if first else MEDIA_URL + "/first.png"},
        "mode": rng.choice(MODES),
        "model": rng.choice(["ray-2", "ray-flash-2"]),
    }
    if rng.random() < 0.5:
        body["callback_url"] = HOOK_URL
    if rng.random() < 0.3:
        s, g, _ = request("POST", "/v2/modify-video", key, body={
            "video_url": body["media"]["url"], "first_frame_url": body["first_frame"]["url"],
            "mode": body["mode"]}, headers={"x-api-key": KEYS[key]["token"]})
        ok, gid = s == 200, (g or {}).get("request_id")
    else:
        s, g, _ = request("POST", "/dream-machine/v1/generations/video/modify", key, body=body)
        ok, gid = s == 201, (g or {}).get("id")
    if not ok:
        unexpected(f"create: {s} {g}")
        return
    with lock:
        gens[gid] = {"key": key, "key_id": KEYS[key]["id"], "state": "queued",
                     "deleted": False, "callback": "callback_url" in body}
    count("creates")
    # Uploads are copied into the generation; delete some right away, keep the rest.
    for u in (first, media):
        if u and rng.random() < 0.5:
            s, _, _ = request("DELETE", f"/v1/uploads/{u['id']}", key)
            if s == 204:
                with lock:
                    uploads.pop(u["id"], None)
                count("upload_deletes")
            else:
                unexpected(f"upload delete: {s}")


def poll(key, rng):
    with lock:
        mine = [g for g, v in gens.items() if v["key"] == key and not v["deleted"]]
    if not mine:
        return
    gid = rng.choice(mine)
    s, g, _ = request("GET", f"/dream-machine/v1/generations/{gid}", key)
    count("polls")
    if s != 200:
        unexpected(f"poll: {s} {g}")
        return
    with lock:
        gens[gid]["state"] = g["state"]
    if g["state"] == "completed":
        if rng.random() < 0.5:
            headers = {"Range": "bytes=0-1023"} if rng.random() < 0.5 else {}
            s, data, _ = request("GET", g["assets"]["video"], raw=True, headers=headers)
            count("downloads")
            want = 206 if headers else 200
            if s != want or (s == 200 and data[4:8] != b"ftyp"):
                unexpected(f"download: {s}")
        if rng.random() < 0.15:
            s, _, _ = request("DELETE", f"/dream-machine/v1/generations/{gid}", key)
            if s == 204:
                with lock:
                    gens[gid]["deleted"] = True
                count("deletes")
            else:
                unexpected(f"delete: {s}")
    elif g["state"] in ("queued", "dreaming") and rng.random() < 0.05:
        s, c, _ = request("POST", f"/dream-machine/v1/generations/{gid}/cancel", key)
        if s == 200:
            count("cancels")
            with lock:
                gens[gid]["state"] = "failed"
        elif s == 409:
            count("cancel_too_late")
        else:
            unexpected(f"cancel: {s} {c}")


def misc(key, rng):
    roll = rng.random()
    if roll < 0.3:
        s, _, _ = request("GET", "/dream-machine/v1/generations?limit=20", key)
        ok = s == 200
    elif roll < 0.5:
        s, _, _ = request("GET", "/v1/uploads?limit=50", key)
        ok = s == 200
    elif roll < 0.7:
        s, _, _ = request("GET", "/dream-machine/v1/generations/not-a-generation", key)
        ok = s == 404
    elif roll < 0.8:
        s, _, _ = request("POST", "/dream-machine/v1/generations/video/modify", key,
                          body={"media": {"url": "http://10.0.0.1/x.mp4"},
                                "first_frame": {"url": MEDIA_URL + "/first.png"}})
        ok = s == 400
    elif roll < 0.9:
        s, _, _ = request("GET", "/dream-machine/v1/credits", key)
        ok = s == 200
    else:
        # A stalled connection: half a request line, then nothing; the server closes it.
        host, port = BASE.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=60)
        sock.sendall(b"GET /healthz HTT")
        closed = sock.recv(1) == b""
        sock.close()
        ok = closed
        count("stalls")
    count("misc")
    if not ok:
        unexpected(f"misc {roll:.2f}: {s if roll < 0.9 else 'stall not closed'}")


def client(n, deadline):
    rng = random.Random(n)
    key = n % len(KEYS)
    while time.time() < deadline:
        _, h, _ = request("GET", "/healthz")
        roll = rng.random()
        if roll < 0.12 and h and h["queue_depth"] < 4:
            create(key, rng)
        elif roll < 0.75:
            poll(key, rng)
        else:
            misc(key, rng)
        time.sleep(rng.uniform(0.05, 0.3))


# --- the run -------------------------------------------------------------------------

START = time.time()
stop = threading.Event()
threading.Thread(target=sampler, args=(stop,), daemon=True).start()
deadline = START + DURATION
workers = [threading.Thread(target=client, args=(i, deadline)) for i in range(CLIENTS)]
for w in workers:
    w.start()
for w in workers:
    w.join()
traffic_s = time.time() - START

# Let everything finish: no generation left queued or dreaming.
final_deadline = time.time() + 900
while True:
    pending = []
    for gid, v in list(gens.items()):
        if v["deleted"]:
            continue
        s, g, _ = request("GET", f"/dream-machine/v1/generations/{gid}", v["key"])
        if s != 200:
            unexpected(f"final poll {gid}: {s}")
            continue
        v["state"] = g["state"]
        v["reason"] = g.get("failure_reason") or ""
        v["webhooks"] = g.get("webhooks", [])
        if g["state"] not in ("completed", "failed"):
            pending.append(gid)
    if not pending or time.time() > final_deadline:
        break
    time.sleep(5)
time.sleep(20)  # webhook retries of the last events
for gid, v in gens.items():
    if not v["deleted"]:
        _, g, _ = request("GET", f"/dream-machine/v1/generations/{gid}", v["key"])
        v["webhooks"] = (g or {}).get("webhooks", [])
time.sleep(35)  # connections of the clients close; one more sample
stop.set()
end = server_sample()
samples.append(end)

# --- checks --------------------------------------------------------------------------

checks = {}
states = [v["state"] for v in gens.values() if not v["deleted"]]
checks["every generation final"] = all(s in ("completed", "failed") for s in states)
odd = [v["reason"] for v in gens.values()
       if v["state"] == "failed" and not v["deleted"] and "cancelled" not in v.get("reason", "")]
checks["nothing failed but cancels"] = not odd

completed_per_key = [0] * len(KEYS)
for v in gens.values():
    # Deleted ones were deleted only after they completed: charged.
    if v["state"] == "completed" or v["deleted"]:
        completed_per_key[v["key"]] += 1
credit_lines = []
credits_ok = True
keys_now = {k["id"]: k for k in json.loads(subprocess.run(
    [os.environ["RETAKE"], "keys", "list", "--json"], env={**os.environ, "RETAKE_DATA_DIR": DATA},
    capture_output=True, text=True, check=True).stdout)}
for i, k in enumerate(KEYS):
    want = round(k["credits"] - PRICE * completed_per_key[i], 2)
    now = keys_now[k["id"]]
    ok = abs(now["available"] - want) < 0.005 and abs(now["reserved"]) < 0.005
    credits_ok &= ok
    credit_lines.append(f"{k['id']}: {now['available']:.2f} available, {now['reserved']:.2f} "
                        f"reserved; expected {want:.2f} ({completed_per_key[i]} charged)")
checks["credits add up to the cent"] = credits_ok

live_outputs = sum(1 for v in gens.values() if v["state"] == "completed" and not v["deleted"])
checks["one output file per completed generation"] = end["blobs"]["outputs"] == live_outputs
checks["no input or temporary blobs left"] = end["blobs"]["inputs"] == 0 and end["blobs"]["tmp"] == 0
checks["upload files match upload records"] = end["blobs"]["uploads"] == end["rows"]["uploads"] == len(uploads)
checks["generation rows match"] = end["rows"]["generations"] == len(states)
checks["job queue empty"] = end["rows"]["jobs"] == 0

warm = [s for s in samples if s["t"] >= 300] or samples
base = sorted(s["fds"] for s in warm[:5])[len(warm[:5]) // 2]
checks["no descriptor leak"] = end["fds"] <= base + 8
checks["no connection leak"] = end["conns"] <= 2
rss_warm = sorted(s["rss_kb"] for s in warm[:5])[len(warm[:5]) // 2]
rss_last = sorted(s["rss_kb"] for s in samples[-5:])[len(samples[-5:]) // 2]
checks["memory flat (last 5 samples within 25% of those after warm-up)"] = rss_last <= rss_warm * 1.25

# Webhooks: delivered ones carry one id per event; failed ones are visible on the generation.
ids = {}
for wid, gid, st in hooks:
    ids.setdefault((gid, st), set()).add(wid)
checks["one webhook id per event"] = all(len(v) == 1 for v in ids.values())
with_callback = [v for v in gens.values() if v.get("callback") and not v["deleted"]]
undelivered = sum(1 for v in with_callback for w in v.get("webhooks", []) if w["status"] != "delivered")
checks["no unexpected answers"] = not errors

summary = {
    "traffic_s": round(traffic_s), "clients": CLIENTS, "generations": len(gens),
    "completed": sum(1 for s in states if s == "completed") + sum(v["deleted"] for v in gens.values()),
    "failed": sum(1 for s in states if s == "failed"), "stats": stats,
    "webhooks_received": len(hooks), "webhook_events_not_delivered": undelivered,
    "rss_kb_after_warmup": rss_warm, "rss_kb_end": rss_last,
    "fds_after_warmup": base, "fds_end": end["fds"], "conns_end": end["conns"],
    "end": end, "checks": checks, "credits": credit_lines, "errors": errors,
}
with open(OUT, "w") as f:
    json.dump({"summary": summary, "samples": samples}, f, indent=1)

print(f"| measure | value |\n|---|---|")
print(f"| traffic | {round(traffic_s)} s, {CLIENTS} clients |")
print(f"| generations | {len(gens)} ({summary['completed']} completed, {summary['failed']} failed, "
      f"{stats.get('cancels', 0)} cancelled, {stats.get('deletes', 0)} deleted) |")
print(f"| requests | {sum(stats.get(k, 0) for k in ['polls', 'downloads', 'misc', 'uploads', 'creates'])} "
      f"({stats.get('downloads', 0)} downloads, {stats.get('uploads', 0)} uploads, "
      f"{stats.get('stalls', 0)} stalled sockets) |")
print(f"| webhooks | {len(hooks)} delivered to a receiver refusing 30 %, "
      f"{stats.get('hook_refused', 0)} refusals retried; {undelivered} events not delivered |")
print(f"| memory (RSS) | {rss_warm / 1024:.0f} MB after warm-up, {rss_last / 1024:.0f} MB at the end |")
print(f"| descriptors | {base} after warm-up, {end['fds']} at the end; {end['conns']} connections open |")
print(f"| blobs at the end | {end['blobs']} |")
print(f"| rows at the end | {end['rows']} |")
for line in credit_lines:
    print(f"| credits | {line} |")
for name, ok in checks.items():
    print(f"| check: {name} | {'pass' if ok else 'FAIL'} |")
if errors:
    print("\nunexpected answers:", *errors[:20], sep="\n  ")
if odd:
    print("\nfailures other than cancels:", *odd[:20], sep="\n  ")
sys.exit(0 if all(checks.values()) else 1)
