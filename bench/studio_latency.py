"""Template studio: time from a keystroke to the updated render on the page.

    python bench/studio_latency.py [--rows 6] [--delay-ms 120] [--shots DIR]

Serves the studio on DialogSum dev (500 rows, key ``fname``) with the template
``Summarize the following conversation.\\n\\n{{dialogue}}\\n\\nSummary: ||| {{summary}}`` and
the shipped tokenizer, opens it in headless Chromium (Debian's package, via Playwright), and
runs a scripted edit sequence: on each of ``--rows`` rows spread over the file it types a
phrase into the prompt one key at a time and deletes it again. The page records, for every
render it applies, the time from the keystroke's event timestamp to the moment the new
fragments (prompt, completion, tokens, row) are in the DOM. Keys pressed while a render is in
flight are coalesced into the next request; that request is timed from the oldest of them.

Two passes: ``paced`` (``--delay-ms`` between keys, a quick typist) and ``burst`` (keys as
fast as the browser takes them). Prints median, p90 and max per pass, and the server-side
render time (the same one-row build call the page makes) for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROMPT, SHARED  # noqa: E402

from ftdata.studio.app import StudioServer  # noqa: E402
from ftdata.studio.session import Studio  # noqa: E402

PHRASE = " Be brief."
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-extensions", "--no-first-run"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def summary(xs: list[float]) -> dict:
    return {"n": len(xs), "median_ms": round(statistics.median(xs), 1), "p90_ms": round(pct(xs, 0.9), 1),
            "max_ms": round(max(xs), 1)}


def run_pass(page, keys: list[str], rows: list[str], delay_ms: float) -> list[float]:
    page.evaluate("() => { window.studio.timings = []; }")
    for key in rows:
        page.fill("#jump-key", key)
        page.press("#jump-key", "Enter")
        page.wait_for_function(f"() => document.querySelector('#row-key')?.textContent === {json.dumps(key)}")
        page.click("#f-prompt")
        page.keyboard.press("Control+End")
        for k in keys:
            page.keyboard.press(k)
            if delay_ms:
                page.wait_for_timeout(delay_ms)
        # wait for the last render to land before the next row
        page.wait_for_function("() => document.querySelector('#out-prompt')?.textContent.endsWith('Summary:')",
                               timeout=30_000)
    page.wait_for_timeout(300)
    return [t["keystroke_to_dom_ms"] for t in page.evaluate("() => window.studio.timings")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=6, help="rows of DialogSum dev to edit on")
    ap.add_argument("--delay-ms", type=float, default=120, help="pause between keys in the paced pass")
    ap.add_argument("--shots", type=Path, default=None, help="folder for screenshots")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    source = SHARED / "dialogsum" / "dialogsum.dev.jsonl"
    with tempfile.TemporaryDirectory() as d:
        tpl = Path(d) / "t.yaml"
        tpl.write_text(json.dumps({"templates": [{"name": "summarize", "prompt": PROMPT, "completion": "{{summary}}",
                                                  "metrics": ["ROUGE"]}]}), encoding="utf-8")
        studio = Studio(tpl, source, key="fname")
        step = len(studio.rows) // args.rows
        rows = [studio.rows[i * step].key for i in range(args.rows)]
        key = studio.drafts[0].key
        t_server = []
        for i in range(0, len(studio.rows), 5):
            t0 = time.perf_counter()
            studio.render(key, i)
            t_server.append((time.perf_counter() - t0) * 1000)
        keys = [("Space" if c == " " else c) for c in PHRASE] + ["Backspace"] * len(PHRASE)
        server = StudioServer(studio).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=ARGS)
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(server.url)
                page.wait_for_selector("#out-prompt")
                paced = run_pass(page, keys, rows, args.delay_ms)
                burst = run_pass(page, keys, rows, 0)
                if args.shots:
                    args.shots.mkdir(parents=True, exist_ok=True)
                    page.keyboard.type(" Be brief.")
                    page.wait_for_function("() => document.querySelector('#out-prompt').textContent.endsWith('brief.')")
                    page.wait_for_function("() => !document.querySelector('#lint.stale')")
                    page.screenshot(path=str(args.shots / "studio-dialogsum.png"), full_page=True)
                    page.keyboard.type(" {{ summary")
                    page.wait_for_function("() => document.querySelector('#err-prompt').textContent.startsWith('line 5')"
                                           " && !document.querySelector('#lint.stale')")
                    page.screenshot(path=str(args.shots / "studio-dialogsum-error.png"), full_page=True)
                browser.close()
        finally:
            server.stop()
    out = {"rows": len(studio.rows), "edit_rows": rows, "keys_per_row": len(keys),
           "paced": {"delay_ms": args.delay_ms, **summary(paced)}, "burst": summary(burst),
           "server_render": summary(t_server), "loadavg_1min": round(os.getloadavg()[0], 2),
           "cpus": os.cpu_count()}
    print(json.dumps(out, indent=2))
    print(f"\nkeystroke -> updated render (DialogSum dev, {len(rows)} rows x {len(keys)} keys): "
          f"paced median {out['paced']['median_ms']} ms (p90 {out['paced']['p90_ms']}), "
          f"burst median {out['burst']['median_ms']} ms (p90 {out['burst']['p90_ms']}); "
          f"server render median {out['server_render']['median_ms']} ms")


if __name__ == "__main__":
    main()
