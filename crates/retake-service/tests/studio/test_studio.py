"""The studio page in a real browser: Debian's Chromium, headless, driven with Selenium
against the real server on loopback (started by tests/studio.rs, which also checks the
downloaded output). Runs in file order, one browser for the module.

Environment: RETAKE_BASE (server root), RETAKE_API_KEY, RETAKE_CREDITS, RETAKE_CLIP (a small
MP4), RETAKE_MAX_BYTES (the server's upload cap), RETAKE_OUT (folder for the screenshots and
the downloaded output).
"""

import os
import struct
import time
import zlib

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE = os.environ["RETAKE_BASE"]
KEY = os.environ["RETAKE_API_KEY"]
CREDITS = float(os.environ["RETAKE_CREDITS"])
CLIP = os.environ["RETAKE_CLIP"]
MAX_BYTES = int(os.environ["RETAKE_MAX_BYTES"])
OUT = os.environ["RETAKE_OUT"]
AUTH = {"Authorization": f"Bearer {KEY}"}

# What the tests share as they go.
seen = {}


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,1000",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def wait(driver, check, secs=20, what="the page"):
    return WebDriverWait(driver, secs, poll_frequency=0.05).until(
        lambda d: check(d), message=f"waited {secs} s for {what}"
    )


def el(driver, id_):
    return driver.find_element(By.ID, id_)


def visible_text(driver, id_):
    e = el(driver, id_)
    return e.text if e.is_displayed() else ""


def uploads_count():
    r = requests.get(f"{BASE}/v1/uploads", headers=AUTH, timeout=10)
    r.raise_for_status()
    return r.json()["count"]


def sign_in(driver, key):
    box = el(driver, "key")
    box.clear()
    # Keyboard only: type the key and press Enter.
    box.send_keys(key)
    box.send_keys(Keys.ENTER)


def test_a_bad_key_is_refused_in_plain_words(browser):
    browser.get(BASE + "/")
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    browser.get(BASE + "/")
    assert browser.title == "retake studio"
    assert browser.switch_to.active_element.get_attribute("id") == "key"
    sign_in(browser, "rtk_nope_wrong")
    msg = wait(browser, lambda d: visible_text(d, "signin-error"), what="the sign-in error")
    assert "invalid API key" in msg, msg
    assert "Check the API key" in msg, msg
    assert not el(browser, "make").is_displayed()
    # A refused key is not kept.
    assert browser.execute_script(
        "return sessionStorage.getItem('retake.key') || localStorage.getItem('retake.key')"
    ) is None


def test_sign_in_shows_credits_and_refuses_an_over_limit_file(browser, tmp_path):
    sign_in(browser, KEY)
    wait(browser, lambda d: el(d, "make").is_displayed(), what="the form")
    credits = wait(browser, lambda d: el(d, "credits").text.strip("…") or None, what="credits")
    assert float(credits) == CREDITS
    # The key is kept in the tab's storage, never in the address.
    assert browser.execute_script("return sessionStorage.getItem('retake.key')") == KEY
    assert KEY not in browser.current_url
    # The nine modes and every look are offered, each explained.
    modes = [o.get_attribute("value") for o in Select(el(browser, "mode")).options]
    assert len(modes) == 9 and modes[0] == "adhere_1" and modes[-1] == "reimagine_3"
    assert el(browser, "mode-help").text
    looks = [o.get_attribute("value") for o in Select(el(browser, "look")).options]
    assert "watercolour" in looks and "film_noir" in looks and "" in looks
    # Every control has a label.
    unlabelled = browser.execute_script(
        """return [...document.querySelectorAll('input, select, textarea')]
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
             .map(e => e.id);"""
    )
    assert unlabelled == [], unlabelled

    big = tmp_path / "too-big.mp4"
    big.write_bytes(b"\0" * (MAX_BYTES + 1))
    el(browser, "clip").send_keys(str(big))
    msg = wait(browser, lambda d: visible_text(d, "clip-error"), what="the over-limit error")
    assert "this server takes clips of at most" in msg, msg
    assert el(browser, "submit").get_attribute("disabled") is not None
    assert uploads_count() == 0, "an over-limit file must not be uploaded"


def credits_now():
    r = requests.get(f"{BASE}/dream-machine/v1/credits", headers=AUTH, timeout=10)
    r.raise_for_status()
    return r.json()["credit_balance"]


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def wait_result(driver, secs=60):
    states = set()
    deadline = time.time() + secs
    while time.time() < deadline:
        if el(driver, "job").is_displayed():
            states.add(el(driver, "job-state").text.split(" ")[0])
        if el(driver, "result").is_displayed():
            return states
        err = visible_text(driver, "job-error") or visible_text(driver, "make-error")
        assert not err, err
        time.sleep(0.05)
    raise AssertionError(f"no result; states seen: {states}")


def wait_quote(driver):
    return float(wait(
        driver,
        lambda d: el(d, "quote").get_attribute("data-credits"),
        what="the price quote",
    ))


def test_upload_scrub_look_mask_quote_submit_events_compare_download(browser):
    el(browser, "clip").send_keys(CLIP)
    wait(browser, lambda d: "uploaded" in el(d, "clip-info").text, what="the upload")
    assert int(el(browser, "clip-progress").get_attribute("value")) == 100
    assert "128×96" in el(browser, "clip-info").text
    assert uploads_count() == 1

    # The timeline: thumbnails of the uploaded clip, frame f0 picked and shown.
    thumbs = wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline button.thumb") or None,
        what="the thumbnails",
    )
    assert len(thumbs) == 12, len(thumbs)
    info = el(browser, "frames-info").text
    assert "24 frames (0 to 23) at 24 fps; the output is 128×96, 24 frames at 24 fps; it has no sound" in info, info
    wait(browser, lambda d: el(d, "frame-view").get_attribute("data-frame") == "0", what="frame f0")
    # Scrub with the keyboard: five steps right is frame f5.
    scrub = el(browser, "scrub")
    for _ in range(5):
        scrub.send_keys(Keys.ARROW_RIGHT)
    wait(browser, lambda d: el(d, "frame-view").get_attribute("data-frame") == "5", what="frame f5")
    assert el(browser, "scrub-value").text == "f5"
    # A thumbnail picks its frame.
    last = thumbs[-1]
    assert last.get_attribute("data-frame") == "23"
    last.click()
    wait(browser, lambda d: el(d, "frame-view").get_attribute("data-frame") == "23", what="frame f23")
    assert last.get_attribute("aria-pressed") == "true"
    # The frame downloads as a PNG at the output size, named by its frame number.
    link = el(browser, "frame-download")
    assert link.get_attribute("download") == "frame-f23.png"
    assert link.get_attribute("href") == el(browser, "frame-view").get_attribute("src")
    assert link.get_attribute("href").startswith("blob:")
    size = browser.execute_script(
        "const i = document.getElementById('frame-view'); return [i.naturalWidth, i.naturalHeight];"
    )
    assert size == [128, 96], size
    thumbs[0].click()
    wait(browser, lambda d: el(d, "frame-view").get_attribute("data-frame") == "0", what="frame f0 again")

    # A look with a live preview of the picked frame.
    before_previews = int(el(browser, "preview").get_attribute("data-previews") or 0)
    Select(el(browser, "look")).select_by_value("recolour")
    el(browser, "hue").send_keys(Keys.END)
    wait(
        browser,
        lambda d: el(d, "preview").get_attribute("data-look") == "recolour"
        and int(el(d, "preview").get_attribute("data-previews") or 0) > before_previews,
        what="the look's preview",
    )
    assert "Preview of recolour on frame f0" in el(browser, "preview-state").text
    # Paint a mask: a stroke across the left part of the frame. Nothing painted yet: refused.
    el(browser, "mask-on").click()
    el(browser, "submit").click()
    msg = wait(browser, lambda d: visible_text(d, "make-error"), what="the empty-mask refusal")
    assert msg.startswith("The mask is empty: paint where the look goes"), msg
    canvas = el(browser, "preview")
    # Pointer actions do not scroll: bring the picture into view first.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    w = canvas.size["width"]
    ActionChains(browser).move_to_element_with_offset(canvas, -w // 3, 0).click_and_hold().move_by_offset(
        w // 6, 0
    ).move_by_offset(w // 6, 0).release().perform()
    # The preview now mixes the look in only where painted: the right edge is the frame itself.
    same_right, changed_left = browser.execute_script(
        """const c = document.getElementById('preview'), ctx = c.getContext('2d');
           const f = document.getElementById('frame-view');
           const o = document.createElement('canvas'); o.width = c.width; o.height = c.height;
           const octx = o.getContext('2d'); octx.drawImage(f, 0, 0);
           const a = ctx.getImageData(0, 0, c.width, c.height).data;
           const b = octx.getImageData(0, 0, c.width, c.height).data;
           let right = true, left = 0, y = c.height >> 1;
           for (let x = 0; x < c.width; x++) {
             const i = (y * c.width + x) * 4;
             const d = Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
             if (x > c.width * 0.9 && d > 0) right = false;
             if (x > c.width * 0.25 && x < c.width * 0.45 && d > 30) left++;
           }
           return [right, left];"""
    )
    assert same_right, "the look stays out of the unpainted part"
    assert changed_left > 5, changed_left

    # The price before submitting, from the server's own pricing.
    Select(el(browser, "mode")).select_by_value("flex_2")
    quoted = wait_quote(browser)
    assert quoted == 2.06, quoted
    assert "Cost: 2.06 credits" in el(browser, "quote").text
    before = credits_now()
    el(browser, "submit").click()

    # Follow the job over the event stream.
    states = wait_result(browser)
    assert el(browser, "job").get_attribute("data-transport") == "events", "progress came by SSE"
    assert el(browser, "job-state").text == "completed"
    assert int(el(browser, "job-progress").get_attribute("value")) == 100
    gen_id = el(browser, "job-id").text
    seen["completed"] = gen_id
    assert browser.execute_script("return localStorage.getItem('retake.current')") is None
    assert credits_now() == round(before - quoted, 2), "charged what was quoted"

    g = requests.get(f"{BASE}/dream-machine/v1/generations/{gen_id}", headers=AUTH, timeout=10).json()
    assert g["state"] == "completed"
    assert g["request"]["look"]["name"] == "recolour"
    assert g["request"]["look"]["hue"] == 180.0
    assert g["request"]["mode"] == "flex_2"
    mask_url = g["request"]["look"]["mask"]["url"]
    mask = requests.get(mask_url + "/content", headers=AUTH, timeout=10)
    assert mask.status_code == 200
    assert png_size(mask.content) == (128, 96)

    # Both videos load; the source is the local clip, the output the signed link.
    src = el(browser, "src-video").get_attribute("src")
    assert src.startswith("blob:"), src
    wait(
        browser,
        lambda d: d.execute_script(
            "const o = document.getElementById('out-video'), s = document.getElementById('src-video');"
            "return o.readyState >= 2 && s.readyState >= 2;"
        ),
        what="both videos to load",
    )
    out_duration = browser.execute_script("return document.getElementById('out-video').duration")
    assert abs(out_duration - 1.0) < 0.1, out_duration
    el(browser, "play-both").click()
    wait(
        browser,
        lambda d: d.execute_script(
            "return document.getElementById('out-video').currentTime > 0.3"
        ),
        what="playback",
    )
    drift = browser.execute_script(
        "const o = document.getElementById('out-video'), s = document.getElementById('src-video');"
        "return [o.paused, s.paused, Math.abs(o.currentTime - s.currentTime)];"
    )
    assert drift[0] is False and drift[1] is False, drift
    assert drift[2] < 0.25, drift

    # The wipe: the frame where the output is paused, output left and source right.
    browser.execute_script(
        "const o = document.getElementById('out-video'); o.pause(); o.currentTime = 0.02;"
    )
    wait(browser, lambda d: el(d, "wipe-box").get_attribute("data-drawn") == "true", what="the wipe")
    differs = browser.execute_script(
        """const a = document.getElementById('wipe-after'), b = document.getElementById('wipe-before');
           const da = a.getContext('2d').getImageData(0, 0, a.width, a.height).data;
           const db = b.getContext('2d').getImageData(0, 0, b.width, b.height).data;
           let n = 0; for (let i = 0; i < da.length; i += 4) if (Math.abs(da[i] - db[i]) > 30) n++;
           return n;"""
    )
    assert differs > 20, f"the output differs from the source where the mask was painted: {differs}"
    wipe = el(browser, "wipe")
    assert wipe.get_attribute("value") == "50"
    for _ in range(10):
        wipe.send_keys(Keys.ARROW_LEFT)
    assert wipe.get_attribute("value") == "40"
    clip = lambda: browser.execute_script("return document.getElementById('wipe-after').style.clipPath")
    assert clip() == "inset(0px 60% 0px 0px)", clip()
    box = el(browser, "wipe-box")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    bw = box.size["width"]
    ActionChains(browser).move_to_element_with_offset(box, -bw // 2 + 2, 0).click_and_hold().move_by_offset(
        int(bw * 0.8), 0
    ).release().perform()
    moved = int(wipe.get_attribute("value"))
    assert 75 <= moved <= 85, moved
    assert clip() == f"inset(0px {100 - moved}% 0px 0px)", clip()

    link = el(browser, "download")
    assert link.get_attribute("download") == f"retake-{gen_id}.mp4"
    href = link.get_attribute("href")
    assert "Bearer" not in href and KEY not in href
    # The signed link needs no key.
    video = requests.get(href, timeout=20)
    assert video.status_code == 200, video.text
    assert video.content[4:8] == b"ftyp"
    with open(os.path.join(OUT, "output.mp4"), "wb") as f:
        f.write(video.content)

    # History shows it, completed, with its cost and a thumbnail of its source.
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, f'li.gen[data-id="{gen_id}"] .state-completed'),
        what="the history entry",
    )
    row = f'li.gen[data-id="{gen_id}"]'
    assert "2.06 credits" in browser.find_element(By.CSS_SELECTOR, row + " .gen-what").text
    wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, row + " img.gen-thumb").get_attribute("src").startswith(
            "data:image/png;base64,"
        ),
        what="the history thumbnail",
    )
    browser.execute_script("window.scrollTo(0, 0)")
    page_height = "return document.documentElement.scrollHeight"
    browser.set_window_size(1280, 1000)
    browser.set_window_size(1280, min(6000, browser.execute_script(page_height) + 140))
    browser.save_screenshot(os.path.join(OUT, "studio-desktop.png"))
    browser.set_window_size(390, 1000)
    browser.set_window_size(390, min(8000, browser.execute_script(page_height) + 140))
    browser.save_screenshot(os.path.join(OUT, "studio-phone.png"))
    # At phone width nothing runs off the side.
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, width
    browser.set_window_size(1280, 1000)


def solid_png(path, width, height, rgb):
    """A PNG of one colour: an image "edited elsewhere" (no imaging library needed)."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def test_keyframes_past_the_first_frame_go_with_a_resolution(browser, tmp_path):
    el(browser, "mask-on").click()  # no mask this time
    # Frame f12: an image edited elsewhere, uploaded back for that frame.
    scrub = el(browser, "scrub")
    scrub.send_keys(Keys.HOME)
    for _ in range(12):
        scrub.send_keys(Keys.ARROW_RIGHT)
    wait(browser, lambda d: el(d, "frame-view").get_attribute("data-frame") == "12", what="frame f12")
    assert el(browser, "frame-edit-label").text == "Edited image for frame f12"
    edited = tmp_path / "f12-edited.png"
    solid_png(edited, 128, 96, (200, 40, 160))
    el(browser, "frame-edit").send_keys(str(edited))
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#keyframes li[data-frame="12"]'), what="keyframe f12")
    assert "f12-edited.png" in el(browser, "keyframes").text
    # Frame f6: its image made in the page, from the sepia look's preview.
    Select(el(browser, "look")).select_by_value("sepia")
    browser.find_element(By.CSS_SELECTOR, '#timeline button.thumb[data-frame="6"]').click()
    wait(
        browser,
        lambda d: el(d, "preview").get_attribute("data-frame") == "6"
        and el(d, "preview").get_attribute("data-look") == "sepia",
        what="the preview of f6",
    )
    assert el(browser, "use-preview").text.endswith("f6")
    el(browser, "use-preview").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#keyframes li[data-frame="6"]'), what="keyframe f6")
    # A keyframe past f0 needs the keyframe model, which takes a resolution.
    assert Select(el(browser, "model")).first_selected_option.get_attribute("value") == "ray-3.2"
    assert el(browser, "resolution").is_enabled()
    Select(el(browser, "resolution")).select_by_value("360p")
    Select(el(browser, "look")).select_by_value("")  # the keyframes carry the change
    browser.execute_script("document.getElementById('quote').removeAttribute('data-credits')")
    Select(el(browser, "mode")).select_by_value("adhere_1")
    quoted = wait_quote(browser)
    assert quoted == 1.5, quoted
    before = credits_now()
    # Without the event stream (a proxy that drops it), the page falls back to polling.
    browser.execute_script(
        """const real = window.fetch;
           window.__realFetch = real;
           window.fetch = (url, init) => String(url).endsWith('/events') ?
             Promise.reject(new TypeError('stream blocked by the test')) : real(url, init);"""
    )
    el(browser, "submit").click()
    wait_result(browser)
    assert el(browser, "job").get_attribute("data-transport") == "polling"
    browser.execute_script("window.fetch = window.__realFetch;")
    gen_id = el(browser, "job-id").text
    assert gen_id != seen["completed"]
    e = requests.get(f"{BASE}/agents/v1/generations/{gen_id}", headers=AUTH, timeout=10).json()
    assert e["state"] == "completed", e
    assert e["keyframe_frames"] == [6, 12], e
    assert e["cost"] == quoted
    assert credits_now() == round(before - quoted, 2)
    # Remove the keyframes and go back to ray-2 for what follows.
    for n in ("6", "12"):
        browser.find_element(By.CSS_SELECTOR, f'#keyframes li[data-frame="{n}"] button[aria-label^="Remove"]').click()
    assert el(browser, "keyframes-none").is_displayed()
    Select(el(browser, "model")).select_by_value("ray-2")
    assert not el(browser, "resolution").is_enabled()


def test_reload_mid_job_resumes_and_cancel_releases(browser):
    before = requests.get(f"{BASE}/dream-machine/v1/credits", headers=AUTH, timeout=10).json()
    assert not el(browser, "hsl").is_displayed()
    Select(el(browser, "look")).select_by_value("recolour")
    # Recolour's own controls appear; move the hue with the keyboard.
    assert el(browser, "hsl").is_displayed()
    hue = el(browser, "hue")
    hue.send_keys(Keys.END)
    assert el(browser, "hue-value").text == "180°"
    # The server's test pipeline holds a job with this prompt at 50 % until it is cancelled.
    el(browser, "prompt").send_keys("__hold__")
    el(browser, "submit").click()
    wait(browser, lambda d: el(d, "job-state").text.startswith("working"), what="the held job")
    gen_id = el(browser, "job-id").text
    assert gen_id and gen_id != seen["completed"]
    assert browser.execute_script("return localStorage.getItem('retake.current')") == gen_id
    g = requests.get(f"{BASE}/dream-machine/v1/generations/{gen_id}", headers=AUTH, timeout=10).json()
    assert g["request"]["look"] == {
        "name": "recolour", "strength": 1.0, "hue": 180.0, "saturation": 0.0, "lightness": 0.0
    }, g["request"]

    browser.refresh()
    # Signed in again from the tab's storage, and following the same generation.
    wait(browser, lambda d: el(d, "job").is_displayed(), what="the job after reload")
    wait(browser, lambda d: el(d, "job-id").text == gen_id, what="the same generation")
    wait(browser, lambda d: el(d, "job-state").text == "working (50 %)", what="its progress")
    assert int(el(browser, "job-progress").get_attribute("value")) == 50
    assert not el(browser, "signin").is_displayed()
    assert el(browser, "job").get_attribute("data-transport") == "events"
    # The source clip comes back from the server, and its timeline with it.
    wait(
        browser,
        lambda d: d.execute_script(
            "const v = document.getElementById('job-source');"
            "return v.src.startsWith('blob:') && v.readyState >= 2;"
        ),
        what="the source preview after reload",
    )
    assert el(browser, "job-source").is_displayed()
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline button.thumb")) == 12, what="the timeline")
    assert el(browser, "submit").is_enabled()

    el(browser, "cancel").click()
    wait(browser, lambda d: el(d, "job-state").text == "failed", what="the cancelled state")
    reason = visible_text(browser, "job-error")
    assert "cancel" in reason.lower(), reason
    assert not el(browser, "cancel").is_displayed()
    after = requests.get(f"{BASE}/dream-machine/v1/credits", headers=AUTH, timeout=10).json()
    # Cancelling released what the generation had reserved.
    assert after["credit_balance"] == before["credit_balance"]
    assert browser.execute_script("return localStorage.getItem('retake.current')") is None


def test_history_delete_removes_a_generation(browser):
    gen_id = seen["completed"]
    row = f'li.gen[data-id="{gen_id}"]'
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), what="the history row")
    button = browser.find_element(By.CSS_SELECTOR, row + " button[aria-label^='Delete']")
    button.click()
    wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, row), what="the row to go")
    r = requests.get(f"{BASE}/dream-machine/v1/generations/{gen_id}", headers=AUTH, timeout=10)
    assert r.status_code == 404


def test_no_script_errors_and_no_policy_violations(browser):
    # The whole session ran under the page's Content-Security-Policy; anything it blocked, and
    # any script error, is in the console. (Refused API calls, like the bad key's 401, are
    # logged as failed loads: those are expected.)
    problems = [
        e["message"]
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
    ]
    assert problems == [], problems
