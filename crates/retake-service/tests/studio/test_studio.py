"""The studio page in a real browser: Debian's Chromium, headless, driven with Selenium
against the real server on loopback (started by tests/studio.rs, which also checks the
downloaded output). Runs in file order, one browser for the module.

Environment: RETAKE_BASE (server root), RETAKE_API_KEY, RETAKE_CREDITS, RETAKE_CLIP (a small
MP4), RETAKE_MAX_BYTES (the server's upload cap), RETAKE_OUT (folder for the screenshots and
the downloaded output).
"""

import os
import time

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
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


def test_upload_look_submit_progress_result_and_download(browser):
    el(browser, "clip").send_keys(CLIP)
    wait(browser, lambda d: "uploaded" in el(d, "clip-info").text, what="the upload")
    assert int(el(browser, "clip-progress").get_attribute("value")) == 100
    assert "128×96" in el(browser, "clip-info").text
    assert uploads_count() == 1
    Select(el(browser, "look")).select_by_value("watercolour")
    assert "pigment" in el(browser, "look-help").text
    Select(el(browser, "mode")).select_by_value("flex_2")
    el(browser, "submit").click()

    # Follow the job: record what the page shows while it runs.
    states = set()
    deadline = time.time() + 60
    while time.time() < deadline:
        if el(browser, "job").is_displayed():
            states.add(el(browser, "job-state").text.split(" ")[0])
        if el(browser, "result").is_displayed():
            break
        err = visible_text(browser, "job-error") or visible_text(browser, "make-error")
        assert not err, err
        time.sleep(0.05)
    assert el(browser, "result").is_displayed(), f"no result; states seen: {states}"
    assert el(browser, "job-state").text == "completed"
    assert int(el(browser, "job-progress").get_attribute("value")) == 100
    gen_id = el(browser, "job-id").text
    seen["completed"] = gen_id
    assert browser.execute_script("return localStorage.getItem('retake.current')") is None

    g = requests.get(f"{BASE}/dream-machine/v1/generations/{gen_id}", headers=AUTH, timeout=10).json()
    assert g["state"] == "completed"
    assert g["request"]["look"]["name"] == "watercolour"
    assert g["request"]["mode"] == "flex_2"

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

    # History shows it, completed.
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, f'li.gen[data-id="{gen_id}"] .state-completed'),
        what="the history entry",
    )
    browser.execute_script("document.getElementById('out-video').pause()")
    browser.execute_script("window.scrollTo(0, 0)")
    browser.set_window_size(1280, 1900)
    browser.save_screenshot(os.path.join(OUT, "studio-desktop.png"))
    browser.set_window_size(390, 2600)
    browser.save_screenshot(os.path.join(OUT, "studio-phone.png"))
    # At phone width nothing runs off the side.
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390, width
    browser.set_window_size(1280, 1000)


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
