"""The build report: self-contained HTML, every section, and a look at it in headless Chromium."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner

from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.inspect.load import load_compiled
from ftdata.write.report import REPORT, write_report
from ftdata.write.reportstats import split_stats

from tests.conftest import ROOT, SMS_CSV, shared, write_recipe

REVIEWS = ROOT / "examples" / "reviews"
TEMPLATES = ROOT / "templates" / "reviews" / "templates.yaml"


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory):
    """Two tasks from the reviews rows; the second rejects 5-star rows so rejects show up."""
    d = tmp_path_factory.mktemp("two")
    recipe = write_recipe(d, {
        "name": "reviews-two-tasks", "output": "out", "seed": 3, "license": "Apache-2.0",
        "sources": [
            {"name": "rating", "path": str(REVIEWS / "reviews.jsonl"), "key": "review_id",
             "templates": [{"file": str(TEMPLATES), "names": ["predict_rating"]}]},
            {"name": "writing", "path": str(REVIEWS / "reviews.jsonl"), "key": "review_id",
             "columns": {"star_rating": {"type": "int", "max": 4}},
             "templates": [{"file": str(TEMPLATES), "names": ["write_review"]}]},
        ],
        "split": {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}, "group_by": "product_id"},
        "tokenizer": "ftdata:tiny-bpe", "max_length": 120,
        "mixture": {"method": "proportional", "cap": 200},
    })
    return compile_recipe(recipe).output


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def _plots(page: str) -> list[str]:
    """The embedded plots' names (their alt text), in page order."""
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)


#: The plots of every unpacked build, whatever its recipe.
PLOTS = ["token length histograms", "prompt and completion lengths", "supervised fraction histogram"]


def test_build_writes_a_self_contained_report(two_tasks):
    page = (two_tasks / REPORT).read_text()
    assert "<script" not in page and not re.search(r'(src|href)="(https?:|//|file:)', page)
    imgs = _images(page)
    assert all(i.startswith(b"\x89PNG") for i in imgs)
    # predict_rating has answer_choices; the writing source rejects rows; the recipe has a mixture
    assert _plots(page) == PLOTS[:2] + ["answer distribution"] + PLOTS[2:] + ["rejects by reason", "mixture"]
    assert len(imgs) == len(_plots(page))
    for heading in ("Token lengths per split and task", "Supervised-token fraction", "Rejects by reason",
                    "Mixture: requested versus realized", "Boundary audit"):
        assert heading in page
    m = load_compiled(two_tasks).manifest
    assert f"<b>{m['counts']['rejects']}</b>rejects" in page and m["counts"]["rejects"] > 0
    for code, n in m["counts"]["rejects_by_code"].items():  # schema (5-star rows), not_sampled (the cap)
        assert f"<td class=t>{code}</td><td>{n}</td>" in page
    for task, t in m["mixture"]["splits"]["train"]["tasks"].items():
        assert f"<td class=t>train</td><td class=t>{task}</td><td>{t['requested_share']:.6g}</td>" in page
    for check in (m.get("audit") or {}).get("notes", {}):
        assert f"<td class=t>{check}</td>" in page


def test_split_stats_count_trained_tokens_per_example(reviews_out):
    dd = load_compiled(reviews_out)
    s = split_stats(dd["train"].data.table)
    ex = dd["train"][0]
    assert s["length"][0] == len(ex["input_ids"])
    assert s["trained"][0] == sum(lab != -100 for lab in ex["labels"])
    assert s["trained"].sum() == dd.manifest["tokens"]["train"]["trained_tokens"]
    assert set(s["task"]) == {"reviews"}


def test_loose_mixture_and_audit_entries_still_render(two_tasks, tmp_path):
    m = dict(load_compiled(two_tasks).manifest)
    m["mixture"] = {"method": "examples-proportional", "tasks": {
        "rating": {"requested_rate": 0.6, "realized_rate": 0.58},
        "writing": {"requested_rate": 0.4, "realized_rate": 0.42}}}
    m["audit"] = {"double_bos": 0, "untrained_eos": 0, "prompt_not_prefix": 2}
    out = write_report(two_tasks, m, dest=tmp_path / "r.html")
    page = out.read_text()
    assert _plots(page) == PLOTS[:2] + ["answer distribution"] + PLOTS[2:] + ["rejects by reason", "mixture"]
    assert "<td>0.58</td>" in page and "<td class=t>prompt_not_prefix</td><td>2</td>" in page


def test_report_command_and_json(reviews_out, tmp_path):
    r = CliRunner().invoke(main, ["report", str(reviews_out), "-o", str(tmp_path / "rep.html"), "--json"])
    assert r.exit_code == 0, r.output
    assert '"report":' in r.output and (tmp_path / "rep.html").exists()
    r = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "error:" in r.output


def test_report_replaces_only_an_earlier_report(reviews_out, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    r = CliRunner().invoke(main, ["report", str(reviews_out), "-o", str(notes)])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error:") and str(notes) in r.output and "not an ftdata build report" in r.output
    assert notes.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no temporary file left
    rep = tmp_path / "rep.html"
    rep.write_text("<html>stale</html>")  # an earlier report, edited: no longer ftdata's
    r = CliRunner().invoke(main, ["report", str(reviews_out), "-o", str(rep)])
    assert r.exit_code == 2 and rep.read_text() == "<html>stale</html>"
    from ftdata.write.report import is_report

    rep.unlink()
    inodes = []
    for _ in range(2):  # an earlier report is replaced (by a new file: a new inode)
        r = CliRunner().invoke(main, ["report", str(reviews_out), "-o", str(rep)])
        assert r.exit_code == 0, r.output
        inodes.append(rep.stat().st_ino)
    assert inodes[0] != inodes[1] and is_report(rep) and not is_report(notes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "rep.html"]


@pytest.mark.slow
def test_report_renders_in_headless_chromium(two_tasks, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (scripts/test.sh installs Debian's chromium package)")
    page = tmp_path / "report.html"
    m = dict(load_compiled(two_tasks).manifest)
    m["mixture"] = {"tasks": {"rating": {"requested_rate": 0.6, "realized_rate": 0.58},
                              "writing": {"requested_rate": 0.4, "realized_rate": 0.42}}}
    write_report(two_tasks, m, dest=page)
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,3000", f"--screenshot={shot}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    assert px.shape == (3000, 1280, 3)

    def count(ref):
        return int((np.abs(px - np.array(ref)).sum(axis=2) < 40).sum())

    # the embedded plots were decoded and drawn: many pixels of matplotlib's first two colours
    blue, orange = count((31, 119, 180)), count((255, 127, 14))
    assert blue > 8000 and orange > 2000, (blue, orange)
    # and the page is not just images: the headings' dark text is there too
    assert count((34, 34, 34)) > 5000


def test_packed_build_is_reported_per_document(reviews_packed_out, tmp_path):
    dd = load_compiled(reviews_packed_out)
    s = split_stats(dd["train"].data.table)
    assert len(s["length"]) == dd.manifest["counts"]["splits"]["train"]["examples"]  # documents, not rows
    assert s["length"].sum() == dd.manifest["tokens"]["train"]["tokens"]
    assert s["trained"].sum() == dd.manifest["tokens"]["train"]["trained_tokens"]
    page = write_report(reviews_packed_out, dd.manifest, dest=tmp_path / "r.html").read_text()
    assert "fill ratio" in page and _plots(page) == PLOTS


def test_without_matplotlib_the_tables_remain(reviews_out, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    m = load_compiled(reviews_out).manifest
    page = write_report(reviews_out, m, dest=tmp_path / "r.html").read_text()
    assert not _images(page) and "matplotlib is not installed" in page
    assert f"<td>{m['tokens']['train']['tokens']}</td>" in page




# -- a real build: SMS spam (answer_choices) and DialogSum (a truncated field), two templates each ----

SMS_TEMPLATES = ROOT / "templates" / "sms_spam" / "templates.yaml"
DS_TEMPLATES = ROOT / "templates" / "dialogsum" / "templates.yaml"


@pytest.fixture(scope="module")
def sms_dialogsum(tmp_path_factory):
    """The first 800 SMS lines and 150 DialogSum dialogues, built with ``ftdata build --json``;
    returns (output folder, what the CLI printed)."""
    d = tmp_path_factory.mktemp("smsds")
    with open(shared("sms_spam", "SMSSpamCollection"), "rb") as fh:
        (d / "sms.txt").write_bytes(b"".join(line for _, line in zip(range(800), fh)))
    with open(shared("dialogsum", "dialogsum.dev.jsonl"), "rb") as fh:
        (d / "ds.jsonl").write_bytes(b"".join(line for _, line in zip(range(150), fh)))
    recipe = write_recipe(d, {
        "name": "sms-and-dialogsum", "output": "out", "seed": 7, "tokenizer": "ftdata:tiny-bpe", "max_length": 256,
        "split": {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}},
        "sources": [
            {"name": "sms", "task": "spam", "path": str(d / "sms.txt"), "format": "tsv", "csv": SMS_CSV,
             "templates": [{"file": str(SMS_TEMPLATES), "names": ["spam_or_ham", "spam_filter"]}]},
            {"name": "dialogsum", "task": "summarization", "key": "fname", "path": str(d / "ds.jsonl"),
             "templates": [{"file": str(DS_TEMPLATES), "names": ["summarize", "main_points"]}]}]})
    r = CliRunner().invoke(main, ["build", str(recipe), "--no-cache", "--json", "-q"])
    assert r.exit_code == 0, r.output
    return d / "out", json.loads(r.output)


class _Blocks(HTMLParser):
    """The examples of a report: per ``<pre class=ex>``, its text and its marked (trained) text."""

    def __init__(self):
        super().__init__()
        self.blocks, self._in, self._mark = [], False, False

    def handle_starttag(self, tag, attrs):
        if tag == "pre" and ("class", "ex") in attrs:
            self._in = True
            self.blocks.append({"text": "", "marked": []})
        elif tag == "mark" and self._in:
            self._mark = True
            self.blocks[-1]["marked"].append("")

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in = False
        elif tag == "mark":
            self._mark = False

    def handle_data(self, data):
        if self._in:
            self.blocks[-1]["text"] += data
            if self._mark:
                self.blocks[-1]["marked"][-1] += data


def test_report_build_seconds_are_the_clis(sms_dialogsum):
    """report.html, build_info.json and ``ftdata build`` give one build time (the report used to
    show a total taken before the tokenizer's loading and its own plots were counted)."""
    out, printed = sms_dialogsum
    info = json.loads((out / "build_info.json").read_text())
    assert printed["seconds"] == info["seconds"]["total"]
    assert f"<b>{printed['seconds']}</b>build seconds" in (out / REPORT).read_text()


def test_report_shows_templates_answers_truncation_examples_and_rejects(sms_dialogsum):
    out, _ = sms_dialogsum
    page = (out / REPORT).read_text()
    dd = load_compiled(out)
    m = dd.manifest
    assert _plots(page) == PLOTS[:2] + ["field truncation", "answer distribution"] + PLOTS[2:] + ["rejects by reason"]
    rows = {s: dd[s].to_list() for s in dd}
    # per template and split: examples, and prompt / completion medians from the labels
    for split, exs in rows.items():
        for tpl, n in m["counts"]["splits"][split]["templates"].items():
            mine = [e for e in exs if e["template"] == tpl]
            trained = [sum(x != -100 for x in e["labels"]) for e in mine]
            prompt = [len(e["input_ids"]) - t for e, t in zip(mine, trained)]
            task = mine[0]["task"]
            cells = [task, tpl, split, n, sum(len(e["input_ids"]) for e in mine)]
            assert len(mine) == n and ("<tr>" + "".join(
                f"<td class=t>{c}</td>" if isinstance(c, str) else f"<td>{c}</td>" for c in cells)) in page
            assert f"<td>{float(np.median(prompt)):g}</td><td>{max(prompt)}</td>" \
                   f"<td>{float(np.median(trained)):g}</td><td>{max(trained)}</td>" in page
    # the answers per split, counted from the written completions
    for split, exs in rows.items():
        for tpl in ("spam_or_ham", "spam_filter"):
            c = Counter(e["completion"].strip() for e in exs if e["template"] == tpl)
            total = sum(c.values())
            assert (f"<td class=t>{split}</td><td>{total}</td><td class=t>ham {c['ham']} ({c['ham'] / total:.1%}), "
                    f"spam {c['spam']} ({c['spam'] / total:.1%})</td>") in page
    # field truncation: the manifest's counts, as a share of each template's examples
    cut = m["tokens"]["train"]["field_truncated"]["tasks"]["summarization"]["templates"]["summarize"]
    share = round(cut["examples"] / m["counts"]["splits"]["train"]["templates"]["summarize"], 3)
    assert cut["examples"] > 0 and (f"<td class=t>summarize</td><td>{cut['examples']}</td><td>{cut['tokens_removed']}"
                                    f"</td><td>{cut['chars_removed']}</td><td>{share:g}</td>") in page
    # the examples: two per template from the train split; what is marked is exactly the trained tokens
    from ftdata.tokenize.tokenizer import load_tokenizer

    tok = load_tokenizer("ftdata:tiny-bpe")
    parser = _Blocks()
    parser.feed(page)
    heads = re.findall(r"<div class=exhead>.*?row <code>(.*?)</code>", page)
    assert len(parser.blocks) == len(heads) == 8
    train = {(e["row_key"], e["template"]): e for e in rows["train"]}
    tpls = re.findall(r"<div class=exhead>task <b>.*?</b> · template <b>(.*?)</b>", page)
    assert Counter(tpls) == {"spam_or_ham": 2, "spam_filter": 2, "summarize": 2, "main_points": 2}
    for block, key, tpl in zip(parser.blocks, heads, tpls):
        ex = train[(html.unescape(key), tpl)]
        ids, labels = ex["input_ids"], ex["labels"]
        assert "".join(block["marked"]) == tok.decode([i for i, lab in zip(ids, labels) if lab != -100],
                                                      skip_special_tokens=False)
        if tpl.startswith("spam"):  # short enough to be shown whole
            assert block["text"] == tok.decode(ids, skip_special_tokens=False)
            assert block["marked"][-1].strip() in (ex["completion"] + tok.eos_token).strip()
    # rejects: the reasons, with the first records of each from rejects.jsonl
    by_code = m["counts"]["rejects_by_code"]
    assert by_code and "The first" in page
    recs = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    for code in by_code:
        first = next(r for r in recs if r["code"] == code)
        assert f"<td class=t>{code}</td><td class=t>{first['source']}</td><td>{first['line']}</td>" in page
        assert html.escape(first["reason"]) in page


@pytest.mark.slow
def test_real_report_in_headless_chromium(sms_dialogsum, tmp_path):
    """The real build's report, drawn by Chromium: the plots and the marked examples are on screen."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (scripts/test.sh installs Debian's chromium package)")
    out, _ = sms_dialogsum
    page = (out / REPORT).read_text()
    assert "<script" not in page and not re.search(r'(src|href)="(https?:|//|file:)', page)
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,7000", f"--screenshot={shot}", (out / REPORT).as_uri()],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)

    def rows_with(ref, tol=40):
        hit = (np.abs(px - np.array(ref)).sum(axis=2) < tol)
        return np.flatnonzero(hit.sum(axis=1) > 3), int(hit.sum())

    blue_rows, blue = rows_with((31, 119, 180))
    green_rows, green = rows_with((44, 160, 44))
    mark_rows, mark = rows_with((215, 245, 220), tol=12)  # the trained text's background
    assert blue > 8000 and green > 2000, (blue, green)
    assert mark > 3000, mark
    # the marked examples come after the plots, and the page is drawn to its end (the audit table)
    assert mark_rows.min() > blue_rows.min()
    assert np.flatnonzero((px.sum(axis=2) < 600).any(axis=1)).max() > mark_rows.max()


def _without_build_seconds(page: str) -> str:
    return re.sub(r"<div class=card><b>[0-9.]+</b>build seconds</div>", "", page)


def test_plots_drawn_while_the_shards_are_written_are_the_reports_own(two_tasks, tmp_path, monkeypatch):
    # the report's per-example plots are drawn on a thread during phase B (PlotsAhead); the
    # report must be what drawing them afterwards gives (the build seconds aside)
    from ftdata.build.orchestrate import Build
    from ftdata.write import report

    recipe = two_tasks.parent / "recipe.yaml"
    used = []
    real, real_stats = report.PlotsAhead.images, report.PlotsAhead.stats

    def spy(self, splits, max_length):
        got = real(self, splits, max_length)
        used.append(got is not None)
        return got

    def spy_stats(self, splits):
        got = real_stats(self, splits)
        used.append(("stats", got is not None))
        return got

    monkeypatch.setattr(report.PlotsAhead, "images", spy)
    monkeypatch.setattr(report.PlotsAhead, "stats", spy_stats)
    ahead = (compile_recipe(recipe, output=tmp_path / "ahead").output / REPORT).read_text()
    assert used == [("stats", True), True]  # its statistics (tables) and plots both from the thread
    monkeypatch.setattr(Build, "_plots_ahead", lambda self, work, p: None)
    after = (compile_recipe(recipe, output=tmp_path / "after").output / REPORT).read_text()
    assert used == [("stats", True), True]
    assert _plots(ahead) == _plots(after) and len(_plots(after)) == 6
    assert _without_build_seconds(ahead) == _without_build_seconds(after)
    assert _without_build_seconds(ahead) != ahead  # the card was there to strip


def test_plots_are_drawn_afterwards_over_the_memory_budget(two_tasks, tmp_path, monkeypatch):
    from ftdata.build.orchestrate import Build
    from ftdata.write import gather

    made = []
    real = Build._plots_ahead
    monkeypatch.setattr(Build, "_plots_ahead", lambda self, work, p: made.append(real(self, work, p)) or made[-1])
    monkeypatch.setattr(gather, "IN_MEMORY_BYTES", 1000)  # the work table is larger
    page = (compile_recipe(two_tasks.parent / "recipe.yaml", output=tmp_path / "out").output / REPORT).read_text()
    assert made == [None]
    assert _plots(page) == _plots((two_tasks / REPORT).read_text())


def test_plots_ahead_are_used_only_for_the_reports_splits_and_max_length(reviews_out):
    import pyarrow as pa

    from ftdata.write.report import PlotsAhead, plot_images

    dd = load_compiled(reviews_out)
    work = pa.concat_tables([dd[s].data.table.select(["input_ids", "labels", "task", "template"]) for s in dd])
    sizes = [dd[s].num_rows for s in dd]
    starts = np.cumsum([0] + sizes)
    orders = {s: np.arange(a, a + n)[::-1] for s, a, n in zip(dd, starts, sizes)}  # any order of the rows
    ahead = PlotsAhead(work, orders, False, 77)
    splits = [s for s in dd if dd[s].num_rows]
    stats = {s: split_stats(work.take(pa.array(orders[s]))) for s in splits}
    assert ahead.images(splits, 77) == plot_images(stats, 77)
    assert ahead.images(splits, 78) is None and ahead.images(splits[::-1], 77) is None
    got = ahead.stats(splits)  # what the report reads from the shards, array for array
    assert list(got) == splits and all(got[s].keys() == stats[s].keys() for s in splits)
    assert all(np.array_equal(got[s][k], v) and got[s][k].dtype == v.dtype for s in splits for k, v in stats[s].items())
    assert ahead.stats(splits[::-1]) is None
    broken = PlotsAhead(work.drop_columns(["labels"]), orders, False, 77)  # its statistics fail
    assert broken.images(splits, 77) is None and broken.stats(splits) is None
