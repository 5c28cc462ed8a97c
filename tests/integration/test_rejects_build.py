"""Rejects of real builds: every code a build writes is in the reject table, and the bytes stay.

Two recipes on ``../shared/data`` between them write eleven reject codes in seven stages:

* ``zoo``: Amazon Fine Food reviews (three sources over one file: a schema bound, a key that
  repeats, answer choices that leave out 5 stars, a template dividing by zero, a completion left
  empty for 1-star rows, a short ``max_length``) and SMS spam, with exact and near dedup and a
  capped mixture;
* ``chatzoo``: DialogSum dialogues as chat messages, some of them broken on purpose (cut JSON
  lines, a string for a list, an unknown role, no assistant turn, an empty assistant turn).

The expected sha256 of ``rejects.jsonl`` (the build folder's path written as ``<dir>``) and of
every shard were recorded on the code before the reject table existed (commit d4f50a9, where
rejects were built from free-text stage and code strings), so the table changed no byte.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from html import escape
from pathlib import Path

import pytest

from ftdata.build.orchestrate import compile_recipe

from tests.conftest import shared, write_native_templates, write_recipe
from tests.integration.test_chat import CHATML
from tests.unit.templating.test_chat import chat_tokenizer


def _templates(folder: Path, name: str, templates: list[dict]) -> dict:
    write_native_templates(folder / f"{name}.yaml", templates)
    return {"file": f"{name}.yaml"}


def zoo_recipe(folder: Path) -> Path:
    """Reviews and SMS spam, built to reject in every stage but ``read`` (see the module docstring)."""
    lines = shared("amazon_fine_food", "Reviews.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "food.csv").write_text("".join(lines[:1200]), encoding="utf-8")
    sms = shared("sms_spam", "SMSSpamCollection").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "sms.tsv").write_text("".join(sms[:1500]), encoding="utf-8")
    rating = _templates(folder, "rating", [
        {"name": "stars", "prompt": "Review: {{Text}}\nStars (1-4)?", "completion": "{{Score}}",
         "answer_choices": "1 ||| 2 ||| 3 ||| 4"},
        {"name": "ratio", "prompt": "{{Summary}} {{ HelpfulnessNumerator // (HelpfulnessDenominator - 1) }}",
         "completion": "{{Score}}"}])
    headline = _templates(folder, "headline", [
        {"name": "headline", "prompt": "Write a headline:\n\n{{Text}}",
         "completion": "{{ Summary if Score != '1' else '' }}"}])
    spam = _templates(folder, "spam", [{"name": "spam", "prompt": "Is this spam? {{text}}", "completion": "{{label}}"}])
    return write_recipe(folder, {
        "name": "zoo", "output": "out", "seed": 5, "max_length": 160, "overflow": "drop", "max_reject_share": 1.0,
        "sources": [
            {"name": "rating", "task": "rating", "path": "food.csv", "key": "Id",
             "columns": {"Score": {"type": "int", "min": 1, "max": 5},
                         "HelpfulnessNumerator": {"type": "int", "max": 20},
                         "HelpfulnessDenominator": {"type": "int"}},
             "templates": [rating]},
            {"name": "headline", "task": "headline", "path": "food.csv", "key": "ProductId",
             "columns": {"Summary": {"type": "str", "required": False}}, "templates": [headline]},
            {"name": "spam", "task": "spam", "path": "sms.tsv", "format": "csv",
             "csv": {"delimiter": "\t", "header": False, "columns": ["label", "text"]}, "templates": [spam]}],
        "split": {"ratios": {"train": 0.8, "test": 0.2}},
        "dedup": {"exact": True, "near": True},
        "mixture": {"method": "proportional", "cap": 100}})


def chat_zoo_recipe(folder: Path) -> Path:
    """DialogSum as chat messages, every tenth row broken in one of five ways."""
    chat_tokenizer(folder / "tok", CHATML)
    lines = []
    dev = shared("dialogsum", "dialogsum.dev.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    for i, line in enumerate(dev):
        d = json.loads(line)
        msgs = [{"role": "user", "content": d["dialogue"]}, {"role": "assistant", "content": d["summary"]}]
        if i % 50 == 10:
            msgs = "not a list"
        if i % 50 == 20:
            msgs[1]["content"] = ""
        if i % 50 == 30:
            msgs[0]["role"] = "narrator"
        if i % 50 == 40:
            msgs = msgs[:1]
        text = json.dumps({"id": d["fname"], "messages": msgs})
        lines.append(text[: len(text) // 2] if i % 50 == 45 else text)
    (folder / "dialogs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return write_recipe(folder, {
        "name": "chatzoo", "output": "out", "seed": 3, "max_length": 256, "overflow": "drop",
        "max_reject_share": 1.0, "tokenizer": "tok", "chat": {"messages_column": "messages", "system": "Summarize."},
        "sources": [{"name": "dialogs", "path": "dialogs.jsonl", "key": "id", "templates": []}],
        "split": {"ratios": {"train": 0.9, "test": 0.1}}})


def digests(folder: Path, out: Path) -> dict[str, str]:
    """sha256 of ``rejects.jsonl`` (``folder`` written as ``<dir>``) and of every shard."""
    rejects = (out / "rejects.jsonl").read_bytes().replace(str(folder).encode(), b"<dir>")
    got = {"rejects.jsonl": hashlib.sha256(rejects).hexdigest()}
    for p in sorted(out.glob("*/data-*.arrow")):
        got[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return got


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    return folder, compile_recipe(zoo_recipe(folder))


@pytest.fixture(scope="module")
def chat_zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chatzoo")
    return folder, compile_recipe(chat_zoo_recipe(folder))


def _records(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]


# recorded at d4f50a9 (before the reject table), see the module docstring; rejects.jsonl re-recorded
# when phase-A rejects came out in input order whatever the batch size (tests/integration/test_reject_order.py):
# the same lines as the build of the commit before (7867302; sorted, byte-equal), in another order
ZOO = {
    "rejects.jsonl": "89e2c703293dca32761f57df5ae7ff1d773ca31eed3d681be3509f4516d694b4",
    "test/data-00000-of-00001.arrow": "151e4249df124ab74aab34ae310331e57643326123df64a97dcb2afed316c36c",
    "train/data-00000-of-00001.arrow": "c3046d6f78dd4ae6b9651e8ffbcc1ea6bc7143e381559705cdbffb7d6badb872",
}
# re-recorded when chat builds began to store the conversation (columns messages, tools) and the
# chat input rules got their own codes: every column the shards had before is equal to the
# recording above it (checked column by column against a build of the previous commit), the empty
# assistant turns are empty_assistant_turn (were no_trained_token), the unknown role unknown_role;
# rejects.jsonl re-recorded with ZOO's (input order: the same lines, sorted, as 7867302's build)
CHAT_ZOO = {
    "rejects.jsonl": "4b5a333aaa85aa0d61f1b5f4141f474225348a7a5401f9a118a41390c58de305",
    "test/data-00000-of-00001.arrow": "e8210b3bb4be8bfb8d02e9c674bd0dc9b07db9946aa51b03aed29b2f1b1829b4",
    "train/data-00000-of-00001.arrow": "74bb86114c3d47cf9975f1867774bead551e3800bf8295f6f6b42a23f0bdef1a",
}


def test_zoo_rejects_and_shards_are_byte_identical(zoo):
    folder, res = zoo
    assert Counter(r["code"] for r in _records(res.output)) == {
        "not_sampled": 1859, "duplicate_key": 982, "not_an_answer_choice": 762, "too_long": 298,
        "render_error": 240, "duplicate": 35, "does_not_apply": 32, "near_duplicate": 32, "schema": 4}
    assert digests(folder, res.output) == ZOO


def test_chat_zoo_rejects_and_shards_are_byte_identical(chat_zoo):
    folder, res = chat_zoo
    assert Counter(r["code"] for r in _records(res.output)) == {
        "too_long": 137, "bad_messages": 8, "empty_assistant_turn": 4, "unknown_role": 4, "unreadable": 4}
    assert digests(folder, res.output) == CHAT_ZOO


@pytest.mark.parametrize("build", ["zoo", "chat_zoo", "reviews_out"])
def test_every_code_a_build_writes_is_in_the_table(build, request):
    from ftdata.rejects import Code

    got = request.getfixturevalue(build)
    out = got if isinstance(got, Path) else got[1].output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for r in _records(out):
        assert r["code"] in Code._value2member_map_, r
        assert Code(r["code"]).stage == r["stage"], r
    assert set(manifest["counts"]["rejects_by_code"]) <= set(Code._value2member_map_)
    by_stage = Counter()
    for code, n in manifest["counts"]["rejects_by_code"].items():
        by_stage[Code(code).stage.value] += n
    assert by_stage == manifest["counts"]["rejects_by_stage"]


def test_report_and_summary_show_each_code_with_its_meaning(zoo):
    from ftdata.inspect.summary import summary_text
    from ftdata.rejects import Code

    _, res = zoo
    text = summary_text(res.manifest, res.output)
    html = (res.output / "report.html").read_text(encoding="utf-8")  # written by the build
    for code in res.manifest["counts"]["rejects_by_code"]:
        assert f"{Code(code).meaning}" in text.split(f"  {code} ", 1)[1].splitlines()[0]
        assert f"<td class=t>{code}</td>" in html and f"<td class=t>{escape(Code(code).meaning)}</td>" in html


@pytest.mark.parametrize("recipe, extra, message", [
    (zoo_recipe, {}, "source 'rating' line 4 (key 3), template 'stars': too long: 228 tokens > max_length 160"),
    (zoo_recipe, {"layout": "seq2seq", "max_length": 60},
     "source 'rating' line 3 (key 2), template 'stars': too long: prompt is 102 tokens > max_length 60"),
    # rows 11, 21 and 31 are rejected before it (bad messages, nothing to train): the error still
    # names the right row of the chunk
    (chat_zoo_recipe, {"max_length": 700},
     "source 'dialogs' line 35 (key dev_34), template 'messages': too long: 707 tokens > max_length 700"),
], ids=["causal", "seq2seq", "chat"])
def test_overflow_error_names_the_first_example_over_max_length(tmp_path, recipe, extra, message):
    """The same error as at d4f50a9, where it travelled as an 'ERROR:'-prefixed reject string."""
    import yaml

    from ftdata.errors import BuildError

    path = recipe(tmp_path)
    r = yaml.safe_load(path.read_text(encoding="utf-8")) | {"overflow": "error"} | extra
    with pytest.raises(BuildError) as info:
        compile_recipe(write_recipe(tmp_path, r))
    assert str(info.value) == message + " (overflow: error)"
    assert not (tmp_path / "out").exists()
