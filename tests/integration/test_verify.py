"""``ftdata verify`` and the verification readers run before trainers and exporters."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

import ftdata
from ftdata.build.orchestrate import compile_recipe
from ftdata.cli.app import main
from ftdata.config.recipe import load_recipe
from ftdata.errors import FtdataError
from ftdata.inspect.load import load_compiled, read_manifest
from ftdata.inspect.verify import VerifyError, check_output

from tests.conftest import write_jsonl, write_native_templates, write_recipe


def small_recipe(folder, tokenizer, n: int = 60, output: str = "out", shard_size: int = 16, tag: str = "") -> object:
    """A quick recipe: ``n`` rows, two templates, several shards per split."""
    words = ["two", "three", "five", "six", "yes", "no", "hi", "hello"]
    rows = [{"id": f"{tag}{i}", "q": f"what is {words[i % 8]} plus {words[(i // 8) % 8]}", "a": words[(i * 3) % 8]}
            for i in range(n)]
    write_jsonl(folder / f"rows{tag}.jsonl", rows)
    tpl = write_native_templates(folder / "t.yaml", [
        {"name": "qa", "prompt": "Q: {{ q }}", "completion": "A: {{ a }}"},
        {"name": "say", "prompt": "say {{ q }}", "completion": "{{ a }} {{ a }}"}])
    return write_recipe(folder, {"name": "v", "output": output, "tokenizer": str(tokenizer), "seed": 3,
                                 "shard_size": shard_size, "batch_size": 7,
                                 "sources": [{"name": "s", "path": f"rows{tag}.jsonl", "key": "id",
                                              "templates": [{"file": str(tpl)}]}]}, name=f"recipe{tag}.yaml")


@pytest.fixture
def built(tmp_path, word_tokenizer):
    return compile_recipe(small_recipe(tmp_path, word_tokenizer)).output


def _first_shard(out):
    m = json.loads((out / "manifest.json").read_text())
    return out / m["shards"]["train"][0]["file"]


def test_a_fresh_build_verifies(built):
    rep = check_output(built)
    assert rep.ok and rep.depth == "full" and rep.shards >= 4 and rep.rows > 0
    res = CliRunner().invoke(main, ["verify", str(built)])
    assert res.exit_code == 0 and res.output.startswith("ok:"), res.output
    res = CliRunner().invoke(main, ["verify", str(built), "--quick", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["ok"] is True
    assert load_compiled(built).manifest["name"] == "v"


def test_a_flipped_byte_is_detected_and_refused(built):
    shard = _first_shard(built)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    rep = check_output(built)
    assert not rep.ok and any("sha256" in p for p in rep.problems), rep.problems
    res = CliRunner().invoke(main, ["verify", str(built)])
    assert res.exit_code == 2 and "sha256" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["verify", str(built), "--json"])
    assert res.exit_code == 2 and '"ok": false' in res.output
    # everything that hands data to a trainer or an exporter refuses it
    with pytest.raises(VerifyError, match="sha256"):
        load_compiled(built)
    with pytest.raises(VerifyError):
        ftdata.load(built)
    with pytest.raises(VerifyError):
        read_manifest(built, verify="full")
    from trainers.data import open_for_training

    with pytest.raises(FtdataError, match="does not verify"):
        open_for_training(built)
    from ftdata.consume.export import FORMATS

    res = CliRunner().invoke(main, ["export", str(built), "--to", FORMATS[0], str(built.parent / "exported")])
    assert res.exit_code == 2 and "does not verify" in res.output
    assert not (built.parent / "exported").exists()


@pytest.mark.parametrize("damage,needle", [
    ("truncate", "bytes, manifest says"),
    ("delete_shard", "missing"),
    ("extra_shard", "not listed in the manifest"),
    ("no_completed", "COMPLETED"),
    ("bad_manifest", "manifest.json"),
    ("row_count", "rows, manifest says"),
])
def test_damage_is_named(built, damage, needle):
    shard = _first_shard(built)
    if damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:-100])
    elif damage == "delete_shard":
        shard.unlink()
    elif damage == "extra_shard":
        shutil.copy(shard, shard.parent / "data-00099-of-00100.arrow")
    elif damage == "no_completed":
        (built / "COMPLETED").unlink()
    elif damage == "bad_manifest":
        (built / "manifest.json").write_text("{not json")
    elif damage == "row_count":
        m = json.loads((built / "manifest.json").read_text())
        m["shards"]["train"][0]["rows"] += 1
        (built / "manifest.json").write_text(json.dumps(m))
    rep = check_output(built, "quick")
    assert not rep.ok and any(needle in p for p in rep.problems), rep.problems
    with pytest.raises(FtdataError):
        load_compiled(built)


def test_quick_check_reads_no_data_but_catches_size_changes(built):
    # a same-size change is invisible to the quick check, by design; full catches it
    shard = _first_shard(built)
    data = bytearray(shard.read_bytes())
    data[-20] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert read_manifest(built)["name"] == "v"  # quick: sizes and row counts still match
    assert not check_output(built, "full").ok


def test_same_recipe_same_bytes_across_batch_sizes(tmp_path, word_tokenizer):
    # the batch size is an execution knob: it is not part of the recipe hash and must not
    # change a byte (the recipe *file* differs, so the recipe is passed as an object here)
    recipe, base = load_recipe(small_recipe(tmp_path, word_tokenizer, n=80))
    outs = [compile_recipe(recipe.model_copy(update={"batch_size": bs}), base=base, output=tmp_path / f"o{bs}").output
            for bs in (1, 7, 1000)]

    def files(out):  # everything but the files that hold wall times by design
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file() and p.name not in ("build_info.json", "report.html")}

    first = files(outs[0])
    assert any(k.endswith(".arrow") for k in first) and "manifest.json" in first
    for other in outs[1:]:
        assert files(other) == first
