"""The studio in a real browser: Debian's headless Chromium driven by Playwright.

Edit a template, watch the render and the token view follow, break it and see the error at
its line, navigate rows, lint, add a template, save, and read the file back from disk.
Set FTDATA_STUDIO_SHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import os
import shutil
from itertools import islice
from pathlib import Path

import pytest

from ftdata.studio.app import StudioServer
from ftdata.studio.session import Studio
from ftdata.templating.templates import load_templates

from tests.conftest import shared

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-extensions", "--disable-sync", "--no-first-run", "--mute-audio"]


# the render of the final (valid) text is on the page: no error, prompt ends as typed
SETTLED = """() => !document.querySelector('.gutter .err')
    && document.querySelector('#out-prompt')?.textContent.endsWith('Summary:')"""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium on PATH (scripts/test.sh installs Debian's chromium package)")
    return path


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def studio_server(tmp_path, dialogsum_template):
    rows = tmp_path / "dev40.jsonl"
    with open(shared("dialogsum", "dialogsum.dev.jsonl"), encoding="utf-8") as fh:
        rows.write_text("".join(islice(fh, 40)), encoding="utf-8")
    srv = StudioServer(Studio(dialogsum_template, rows, key="fname")).start()
    yield srv
    srv.stop()


def shots_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("FTDATA_STUDIO_SHOTS") or tmp_path / "shots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_edit_render_break_fix_save_in_chromium(browser, studio_server, dialogsum_template, tmp_path):
    shots = shots_dir(tmp_path)
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(studio_server.url)
    page.wait_for_selector("#out-prompt")
    assert page.inner_text("#out-prompt").startswith("Summarize the following conversation.")
    assert page.locator("#tok-seq .tk.tr").count() > 0 and page.locator("#tok-seq .tk.un").count() > 0

    # trained and untrained tokens look different
    bg = page.evaluate("""() => ['.tk.tr', '.tk.un'].map(s =>
        getComputedStyle(document.querySelector('#tok-seq ' + s)).backgroundColor)""")
    assert bg[0] != bg[1]

    # edit: the render and the token view follow
    renders = int(page.get_attribute("body", "data-renders") or 0)
    page.click("#f-prompt")
    page.keyboard.press("Control+A")
    page.keyboard.type("Write a one-line summary.\n{{ dialogue }}\nSummary:")
    # the old render also ends in "Summary:": wait for the whole new text, not a keystroke's render
    page.wait_for_function("""() => {
        const t = document.querySelector('#out-prompt')?.textContent || '';
        return t.startsWith('Write a one-line summary.') && t.endsWith('Summary:');
    }""")
    assert page.inner_text("#out-prompt").startswith("Write a one-line summary.")
    assert int(page.get_attribute("body", "data-renders")) > renders
    tokens = page.inner_text("#tok-seq")
    assert tokens.startswith("Write") and "Summary" in tokens
    page.screenshot(path=str(shots / "1-edited.png"), full_page=True)

    # break it on line 2: the error shows with its line, in the gutter and under the editor
    page.keyboard.press("ArrowUp")
    page.keyboard.press("End")
    page.keyboard.type(" {% if %}")
    # (while typing, "{% i" is an unclosed block reported at the end: wait for the final state)
    page.wait_for_function("() => document.querySelector('#err-prompt').textContent.startsWith('line 2:')")
    assert page.inner_text(".code[data-part=prompt] .gutter .err") == "2"
    assert page.inner_text("#err-prompt").startswith("line 2:")
    assert "prompt line 2" in page.inner_text("#render .error")
    page.wait_for_selector("#lint li.error")
    page.screenshot(path=str(shots / "2-syntax-error.png"), full_page=True)

    # fix it again
    for _ in range(len(" {% if %}")):
        page.keyboard.press("Backspace")
    page.wait_for_function(SETTLED)
    assert page.locator(".gutter .err").count() == 0 and page.inner_text("#err-prompt") == ""

    # lint follows the text: an unknown column is reported with did-you-mean
    page.keyboard.type(" {{ topc }}")
    page.wait_for_function("() => document.querySelector('#lint').textContent.includes('unknown_variable')")
    assert "did you mean 'topic'" in page.inner_text("#lint")
    for _ in range(len(" {{ topc }}")):
        page.keyboard.press("Backspace")
    page.wait_for_function(SETTLED)

    # rows: next, jump to a key, random
    page.click("[data-nav=next]")
    page.wait_for_function("() => document.querySelector('#row-index').textContent === '2'")
    page.fill("#jump-key", "dev_7")
    page.press("#jump-key", "Enter")
    page.wait_for_function("() => document.querySelector('#row-key').textContent === 'dev_7'")
    assert "dev_7" in page.inner_text("#row")
    page.click("[data-nav=random]")
    page.wait_for_function("() => Number(document.body.dataset.renders) > 0")

    # save: the file on disk holds the edit
    page.click("#save")
    page.wait_for_function("() => document.body.dataset.saved === '1'")
    assert "saved" in page.inner_text("#status")
    [t] = load_templates(dialogsum_template)
    assert t.prompt == "Write a one-line summary.\n{{ dialogue }}\nSummary:" and t.completion == "{{summary}}"
    page.screenshot(path=str(shots / "3-saved.png"), full_page=True)

    # a new template, scaffolded from the columns, saved next to the first
    page.click("#new")
    page.wait_for_function("() => document.querySelectorAll('#list li').length === 2")
    page.wait_for_selector("#out-prompt")
    assert "{{dialogue}}" in page.input_value("#f-prompt")
    page.click("#save")
    page.wait_for_function("() => document.body.dataset.saved === '1'")
    names = [x.name for x in load_templates(dialogsum_template)]
    assert names[0] == "summarize" and len(names) == 2
    page.screenshot(path=str(shots / "4-new-template.png"), full_page=True)
    assert errors == []
