#!/usr/bin/python3
"""`loopsan report --format html`, checked in headless Chromium.

  victim   runs tests/victims/timeline_victim under the shim with timeline=1, checks the report's
           timeline lines, makes the page, and clicks the blocking call's marker on the timeline:
           the panel must show the guilty function. Keeps a screenshot (ARTIFACTS/html_report.png).
  big      a generated report of 10,000 distinct findings on 40 threads (with timeline lines):
           the page loads in under 15 s and a click still works; prints the figures.
  hostile  tests/golden/html/hostile.jsonl (quotes, newlines, invalid UTF-8, </script>, markup,
           U+2028, very long names): the page renders, nothing in it runs or becomes markup.

Run with Debian's /usr/bin/python3 (python3-selenium); Chromium runs with --headless=new
--no-sandbox (tests run as root) --disable-gpu.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


def browser():
    opts = Options()
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(path):
            opts.binary_location = path
            break
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1300",
              "--disable-dev-shm-usage"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def load(driver, path, limit_s=30):
    t0 = time.monotonic()
    driver.get("file://" + os.path.abspath(path))
    WebDriverWait(driver, limit_s).until(
        lambda d: d.execute_script("return document.body && document.body.dataset.ready === '1'"))
    return time.monotonic() - t0


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def real_click_at(driver, element, x, y):
    """A real pointer click (chromedriver's input events) at (x, y) CSS pixels inside element."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    box = driver.execute_script(
        "var r = arguments[0].getBoundingClientRect(); return [r.left, r.top];", element)
    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(int(box[0] + x), int(box[1] + y))
    actions.pointer_action.click()
    actions.perform()


def make_html(cli, inputs, out, extra=()):
    t0 = time.monotonic()
    with open(out, "wb") as f:
        r = subprocess.run([cli, "report", "--format", "html", *extra, *inputs], stdout=f,
                           stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        fail("loopsan report --format html failed: " + r.stderr.decode(errors="replace"))
    return time.monotonic() - t0, r.stderr.decode(errors="replace")


def read_report(path):
    lines = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    return ([l for l in lines if l["type"] == "finding"], [l for l in lines if l["type"] == "timeline"],
            [l for l in lines if l["type"] == "summary"])


def victim(args, work):
    reports = os.path.join(work, "reports")
    os.mkdir(reports)
    env = dict(os.environ)
    env["LD_PRELOAD"] = args.shim
    env["LOOPSAN_OPTIONS"] = "timeline=1:report_dir=" + reports + ":log_to_stderr=0"
    r = subprocess.run([os.path.join(args.victims, "timeline_victim")], env=env,
                       capture_output=True, timeout=60)
    check(r.returncode == 0 and b"done" in r.stdout, "the victim ran to its end")
    files = [os.path.join(reports, f) for f in os.listdir(reports)]
    check(len(files) == 1, "one report file")
    findings, timeline, summary = read_report(files[0])
    kinds = sorted(f["kind"] for f in findings)
    check("blocking-call" in kinds, "blocking-call found (the sleep is always reported): %s" % kinds)
    check(summary and summary[0].get("timeline_dropped") == 0, "summary: timeline_dropped 0")
    lanes = {}
    for line in timeline:
        lane = lanes.setdefault(line["tid"], {"name": line["name"], "role": line["role"], "events": []})
        lane["events"] += line["events"]
    loop = [l for l in lanes.values() if l["name"] == "ev-loop"]
    check(len(loop) == 1 and loop[0]["role"] == "loop", "a lane for the loop thread, role loop")
    ev = loop[0]["events"]
    busy = [e for e in ev if e[0] == "busy"]
    long_busy = [e for e in busy if e[2] >= 700]
    check(len(long_busy) == 1, "one busy span of >= 700 ms: crunch_numbers' 800 ms")
    # The stall detector's watchdog may miss a stall on a machine loaded far beyond its cores
    # (it is a sampler): the timeline, written by the loop thread itself, never does.
    stalls = [f for f in findings if f["kind"] == "loop-stall"]
    if stalls:
        check(all(long_busy[0][1] <= f["time_ms"] <= long_busy[0][1] + long_busy[0][2] + 5
                  for f in stalls),
              "the busy span covers the loop-stall finding (at %s ms)" % stalls[0]["time_ms"])
    else:
        print("note: no loop-stall finding this time (loaded machine?): %s" % os.getloadavg()[0])
    blocks = [e for e in ev if e[0] == "block"]
    check(any(len(e) > 3 and "sleep" in e[3] and e[2] >= 50 for e in blocks),
          "a blocking call on the loop, with its name: %s" % blocks)
    check(any(e[0] == "loop" for e in ev), "the loop's start")
    worker = [l for l in lanes.values() if l["name"] == "pool-worker"]
    check(len(worker) == 1, "a lane for the pool worker")
    wev = worker[0]["events"]
    check(len([e for e in wev if e[0] == "queue" and e[2] >= 50 and e[3] == "workers"]) >= 2,
          "queue waits of the pool's tasks")
    check(len([e for e in wev if e[0] == "task" and e[2] >= 50]) == 3, "three task runs")
    check(any(e[0] == "exit" for e in wev), "the worker's exit")

    html = os.path.join(work, "report.html")
    make_html(args.cli, [reports], html)
    driver = browser()
    try:
        load(driver, html)
        check(console_errors(driver) == [], "no console errors")
        names = driver.execute_script("return window.loopsanReport.laneNames()")
        check("ev-loop" in names, "the timeline has the loop thread's lane: %s" % names)
        index = driver.execute_script(
            "return window.loopsanReport.findingList.findIndex(f => f.kind === 'blocking-call')")
        point = driver.execute_script("return window.loopsanReport.markerPoint(arguments[0])", index)
        check(point is not None, "the blocking call has a marker")
        canvas = driver.find_element(By.ID, "timeline")
        real_click_at(driver, canvas, point["x"], point["y"])
        panel = driver.find_element(By.ID, "panel")
        WebDriverWait(driver, 5, poll_frequency=0.02).until(lambda d: "refresh_cache" in panel.text)
        check("blocking-call" in panel.text and "refresh_cache" in panel.text,
              "a click on the marker shows the stack panel with the guilty function")
        check(len(panel.find_elements(By.CSS_SELECTOR, "pre.stack")) >= 1, "the panel has stacks")
        # The pointer off the timeline: no tooltip over the panel in the screenshot.
        away = ActionBuilder(driver)
        away.pointer_action.move_to_location(5, 5)
        away.perform()
        os.makedirs(args.artifacts, exist_ok=True)
        shot = os.path.join(args.artifacts, "html_report.png")
        driver.save_screenshot(shot)
        shutil.copy(html, os.path.join(args.artifacts, "html_report.html"))
        print("screenshot: " + shot)
        check(console_errors(driver) == [], "still no console errors")
    finally:
        driver.quit()


def big_report(path, findings=10000, threads=40, seed=1):
    rnd = random.Random(seed)
    kinds = ["blocking-call", "loop-stall", "pool-starvation", "hung-wait", "unretrieved-exception",
             "cross-thread-call"]
    tids = [1000 + i for i in range(threads)]
    roles = ["main"] + ["loop"] * 8 + ["pool"] * 24 + ["other"] * (threads - 33)
    with open(path, "w") as out:
        out.write(json.dumps({"type": "start", "schema": 1, "version": "0", "pid": 4242, "ppid": 1,
                              "exe": "/usr/bin/bigserver", "argv": ["bigserver"],
                              "start_time": "2026-01-01T00:00:00Z", "options": {}, "hooks": {}}) + "\n")
        for i, tid in enumerate(tids):
            events = []
            t = 0.0
            while t < 600000 and len(events) < 2000:
                d = rnd.uniform(1, 40)
                code = "busy" if roles[i] == "loop" else rnd.choice(["task", "queue", "gil"])
                events.append([code, round(t, 3), round(d, 3)] + (["workers"] if code != "busy" else []))
                t += d + rnd.uniform(50, 400)
            for k in range(0, len(events), 1000):
                out.write(json.dumps({"type": "timeline", "tid": tid, "name": "thread-%d" % i,
                                      "role": roles[i], "events": events[k:k + 1000]}) + "\n")
        for n in range(findings):
            i = rnd.randrange(threads)
            frames = [{"ip": "0x%x" % (0x400000 + n * 16 + k), "module": "/nonexistent/bigserver",
                       "offset": "0x%x" % (n * 16 + k), "function": "handler_%d_%d(int)" % (n, k)}
                      for k in range(12)]
            out.write(json.dumps({"type": "finding", "kind": kinds[n % len(kinds)], "id": "id%08d" % n,
                                  "seq": n + 1, "time_ms": rnd.randrange(600000),
                                  "thread": {"tid": tids[i], "name": "thread-%d" % i, "role": roles[i]},
                                  "message": "finding number %d on thread-%d" % (n, i), "call": "read",
                                  "duration_ms": rnd.randrange(100, 2000), "stack": frames}) + "\n")
        out.write(json.dumps({"type": "summary", "findings": findings, "by_kind": {}, "repeats": {},
                              "threads_created": threads, "exit": {"how": "exit", "status": 0},
                              "duration_ms": 600000, "timeline_dropped": 0}) + "\n")


def big(args, work):
    report = os.path.join(work, "loopsan.bigserver.4242.jsonl")
    big_report(report)
    html = os.path.join(work, "big.html")
    cli_s, _ = make_html(args.cli, [report], html, extra=["--no-symbolize"])
    size = os.path.getsize(html)
    driver = browser()
    try:
        load_s = load(driver, html, limit_s=60)
        timing = driver.execute_script(
            "var n = performance.getEntriesByType('navigation')[0];"
            "return [n ? n.domContentLoadedEventEnd : 0, n ? n.loadEventEnd : 0,"
            " window.loopsanReport.renderMs, window.loopsanReport.findings, window.loopsanReport.lanes]")
        print("big report: report.jsonl %.1f MB, html %.1f MB, loopsan report %.1f s, "
              "Chromium load (driver.get to ready) %.2f s, DOMContentLoaded %.0f ms, load %.0f ms, "
              "first render %.0f ms, %d findings, %d lanes"
              % (os.path.getsize(report) / 1e6, size / 1e6, cli_s, load_s, timing[0], timing[1],
                 timing[2], timing[3], timing[4]))
        check(timing[3] == 10000 and timing[4] == 40, "10,000 findings on 40 lanes")
        check(load_s < 15, "loads in under 15 s (%.2f s)" % load_s)
        check(console_errors(driver) == [], "no console errors")
        # Responsive: a real click on a list row shows its panel at once.
        t0 = time.monotonic()
        row = driver.find_elements(By.CSS_SELECTOR, "#list .row:not(.group)")[3]
        text = row.text
        ActionChains(driver).move_to_element(row).click().perform()
        panel = driver.find_element(By.ID, "panel")
        WebDriverWait(driver, 5, poll_frequency=0.02).until(lambda d: "handler_" in panel.text)
        click_s = time.monotonic() - t0
        print("big report: list click to panel %.0f ms" % (click_s * 1000))
        check(click_s < 10, "a click on a list row shows the panel (%s...)" % text[:40])
        # Zoom with the wheel and click a marker.
        index = driver.execute_script(
            "return window.loopsanReport.findingList.findIndex(f => f.message.indexOf('finding number 77 ') === 0)")
        point = driver.execute_script("return window.loopsanReport.markerPoint(arguments[0])", index)
        canvas = driver.find_element(By.ID, "timeline")
        real_click_at(driver, canvas, point["x"], point["y"])
        WebDriverWait(driver, 5, poll_frequency=0.02).until(lambda d: "thread-" in panel.text and "handler_" in panel.text)
        check("finding number" in panel.text, "a marker click on the big timeline shows a finding")
        draw_ms = driver.execute_script("return window.loopsanReport.drawMs()")
        select_ms = driver.execute_script(
            "var t = performance.now(); window.loopsanReport.select(5000);"
            " return performance.now() - t")
        print("big report: one timeline redraw %.0f ms (whole run, 40 lanes, 80,000 spans, "
              "10,000 markers); selecting a finding %.0f ms" % (draw_ms, select_ms))
        check(draw_ms < 1000, "a redraw takes under a second")
        filt = driver.find_element(By.ID, "filter")
        filt.send_keys("number 9999 ")
        WebDriverWait(driver, 5, poll_frequency=0.02).until(
            lambda d: d.find_element(By.ID, "count").text.startswith("1 of"))
        check(True, "the filter narrows 10,000 findings to one")
        os.makedirs(args.artifacts, exist_ok=True)
        driver.save_screenshot(os.path.join(args.artifacts, "html_report_big.png"))
    finally:
        driver.quit()


def hostile(args, work):
    fixture = os.path.join(args.fixtures, "hostile.jsonl")
    html = os.path.join(work, "hostile.html")
    _, stderr = make_html(args.cli, [fixture], html, extra=["--no-symbolize"])
    # A line with stray bytes of invalid UTF-8 is still a finding (read with U+FFFD in their
    # place); only the timeline line without a thread is malformed.
    check("skipped 1 line" in stderr,
          "the timeline line without a thread is counted as malformed: " + stderr.strip())
    page = open(html, "rb").read()
    check(page.count(b"</script>") == 2, "no </script> from the data in the page")
    check(b"\xe2\x80\xa8" not in page.split(b"loopsan-data")[1], "U+2028 escaped in the data block")
    driver = browser()
    try:
        load(driver, html)
        check(console_errors(driver) == [], "no console errors")
        check(driver.execute_script("return window.pwned === undefined"), "no script from the data ran")
        check(len(driver.find_elements(By.CSS_SELECTOR, "img, iframe, b.evil")) == 0,
              "no markup from the data")
        names = driver.execute_script("return window.loopsanReport.laneNames()")
        check(any("</script>" in n for n in names), "the hostile thread name is a lane, as text")
        check(any(len(n) > 5000 for n in names), "the very long name is a lane")
        rows = lambda: driver.find_elements(By.CSS_SELECTOR, "#list .row:not(.group)")
        check(len(rows()) == 5, "five findings in the list (the invalid UTF-8 one included)")
        list_text = driver.execute_script("return document.getElementById('list').textContent")
        check("\ufffd" in list_text, "invalid UTF-8 shown as U+FFFD")
        for i in range(5):
            # Each click re-renders the list: find the row again.
            ActionChains(driver).move_to_element(rows()[i]).click().perform()
            WebDriverWait(driver, 5, poll_frequency=0.02).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, "#list .row.selected"))
            text = driver.execute_script("return document.getElementById('panel').textContent")
            check(driver.find_elements(By.CSS_SELECTOR, "#panel h2") and len(text) > 20,
                  "finding %d shows its panel" % i)
        ActionChains(driver).move_to_element(rows()[0]).click().perform()
        text = driver.execute_script("return document.getElementById('panel').textContent")
        check("</script><script>window.pwned=1</script>" in text and
              '<img src=x onerror="window.pwned=1">' in text and "<\u2026>bold<\u2026>" in text and
              'sleep"\n<i>' in text,
              "hostile strings shown literally in the panel (names shortened as the text report does)")
        check(driver.execute_script("return window.pwned === undefined"), "still nothing ran")
        check(console_errors(driver) == [], "still no console errors")
    finally:
        driver.quit()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["victim", "big", "hostile"])
    p.add_argument("--shim", required=True)
    p.add_argument("--cli", required=True)
    p.add_argument("--victims", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--artifacts", required=True)
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="loopsan-html-")
    try:
        {"victim": victim, "big": big, "hostile": hostile}[args.mode](args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
