"""Exports: each target's documented contract, row for row against the compiled directory."""

from __future__ import annotations

import json
import shutil

import datasets
import pytest
import yaml

from ftdata.constants import IGNORE_INDEX, OWNER_FILE
from ftdata.consume.export import export
from ftdata.errors import FtdataError
from ftdata.inspect.load import load_compiled


@pytest.fixture(scope="module")
def compiled(reviews_out):
    return load_compiled(reviews_out)


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_trl_is_input_ids_and_unshifted_labels(reviews_out, compiled, tmp_path):
    res = export(reviews_out, "trl", tmp_path / "trl")
    dd = datasets.load_from_disk(str(tmp_path / "trl"))
    assert list(dd) == list(compiled) and res.columns == ["input_ids", "labels"]
    for split in dd:
        assert dd[split].column_names == ["input_ids", "labels"]
        assert dd[split]["input_ids"] == compiled[split]["input_ids"]
        assert dd[split]["labels"] == compiled[split]["labels"]  # unshifted: same length, same positions
    assert "completion_only_loss" in (tmp_path / "trl" / "README.md").read_text()


def test_axolotl_has_exactly_three_keys(reviews_out, compiled, tmp_path):
    export(reviews_out, "axolotl", tmp_path / "ax")
    for split in compiled:
        rows = _read_jsonl(tmp_path / "ax" / f"{split}.jsonl")
        assert len(rows) == compiled[split].num_rows
        for row, ex in zip(rows, compiled[split]):
            assert set(row) == {"input_ids", "attention_mask", "labels"}
            assert row["input_ids"] == ex["input_ids"] and row["labels"] == ex["labels"]
            assert row["attention_mask"] == [1] * len(row["input_ids"])


def test_llamafactory_is_a_tokenized_path(reviews_out, compiled, tmp_path):
    res = export(reviews_out, "llamafactory", tmp_path / "lf")
    dd = datasets.load_from_disk(str(tmp_path / "lf"))
    # LLaMA-Factory's get_dataset_module: "train" -> train_dataset, "validation" -> eval_dataset
    assert isinstance(dd, datasets.DatasetDict) and list(dd) == ["train", "validation"]
    assert res.notes and "test split left out" in res.notes[0]
    for split in dd:
        assert dd[split].column_names == ["input_ids", "attention_mask", "labels"]
        assert dd[split]["labels"] == compiled[split]["labels"]
    # the config beside it (LLaMA-Factory's own parser reads it in test_llamafactory_config.py)
    cfg = yaml.safe_load((tmp_path / "lf" / "llamafactory_sft.yaml").read_text())
    assert cfg["tokenized_path"] == str((tmp_path / "lf").resolve()) and cfg["template"] == "empty"
    assert (cfg["dataset"], cfg["eval_dataset"], cfg["do_train"], cfg["do_eval"]) == (
        "ftdata_reviews", "ftdata_reviews_validation", True, True)
    assert cfg["model_name_or_path"] == "ftdata:tiny-bpe" and cfg["cutoff_len"] == 384
    assert "has no model; set model_name_or_path" in res.notes[1]
    assert "llamafactory_sft.yaml" in res.files
    only_train = export(reviews_out, "llamafactory", tmp_path / "lf-train", splits=["train"])
    cfg = yaml.safe_load((tmp_path / "lf-train" / "llamafactory_sft.yaml").read_text())
    assert "eval_dataset" not in cfg and "do_eval" not in cfg and only_train.rows.keys() == {"train"}


def test_torchtune_tokens_and_unshifted_labels(reviews_out, compiled, tmp_path):
    export(reviews_out, "torchtune", tmp_path / "tt")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "tt" / "train.parquet"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.column_names == ["tokens", "labels"]
    for row, ex in zip(ds, compiled["train"]):
        assert row["tokens"] == ex["input_ids"]
        assert row["labels"] == ex["labels"] and len(row["labels"]) == len(row["tokens"])


def test_openai_jsonl_is_chat_messages(reviews_out, compiled, tmp_path):
    export(reviews_out, "openai-jsonl", tmp_path / "oa")
    rows = _read_jsonl(tmp_path / "oa" / "train.jsonl")
    assert len(rows) == compiled["train"].num_rows
    for row, ex in zip(rows, compiled["train"]):
        assert row == {"messages": [{"role": "user", "content": ex["prompt"]},
                                    {"role": "assistant", "content": ex["completion"]}]}


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_plain_exports_round_trip(reviews_out, compiled, tmp_path, fmt):
    export(reviews_out, fmt, tmp_path / fmt)
    dd = datasets.load_dataset(str(tmp_path / fmt), cache_dir=str(tmp_path / "cache"))
    assert sorted(dd) == sorted(compiled)
    for split in compiled:
        assert dd[split].num_rows == compiled[split].num_rows
        for col in ("input_ids", "labels", "prompt", "completion", "row_key", "answer_choices"):
            assert dd[split][col] == compiled[split][col]


def test_refusals(reviews_out, tmp_path):
    with pytest.raises(FtdataError, match="did you mean 'trl'"):
        export(reviews_out, "trll", tmp_path / "x")
    with pytest.raises(FtdataError, match="no split 'tset'.*did you mean 'test'"):
        export(reviews_out, "trl", tmp_path / "x", splits=["tset"])
    with pytest.raises(FtdataError, match="inside the compiled directory"):
        export(reviews_out, "trl", reviews_out / "exp")
    export(reviews_out, "parquet", tmp_path / "busy")
    with pytest.raises(FtdataError, match="--overwrite"):
        export(reviews_out, "jsonl", tmp_path / "busy")
    export(reviews_out, "jsonl", tmp_path / "busy", overwrite=True, splits=["test"])
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == [OWNER_FILE, "README.md", "test.jsonl"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_overwrite_replaces_only_an_earlier_export(reviews_out, tmp_path):
    """--overwrite never deletes a folder or a file that ftdata did not write as an export."""
    from click.testing import CliRunner

    from ftdata.cli.app import main

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    for flags in (["--overwrite"], []):
        r = CliRunner().invoke(main, ["export", str(reviews_out), "--to", "jsonl", str(mine), *flags])
        assert r.exit_code == 2, r.output
        assert r.output.startswith("error:") and str(mine) in r.output and "not an ftdata export" in r.output
        assert "pass --overwrite" not in r.output  # no advice to do what is refused
        assert _files(mine) == {"notes.txt": b"my notes\n"}
    # a file at the destination, and a folder whose marker names another format
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    with pytest.raises(FtdataError, match="not an ftdata export"):
        export(reviews_out, "jsonl", a_file, overwrite=True)
    assert a_file.read_text() == "keep me\n"
    (mine / OWNER_FILE).write_text('{"format": "someone-else/1"}\n')
    with pytest.raises(FtdataError, match="not an ftdata export"):
        export(reviews_out, "jsonl", mine, overwrite=True)
    assert sorted(_files(mine)) == [OWNER_FILE, "notes.txt"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    # an earlier export is replaced, whatever format it had, and nothing of it is left
    exp = tmp_path / "exp"
    export(reviews_out, "trl", exp)
    r = CliRunner().invoke(main, ["export", str(reviews_out), "--to", "jsonl", str(exp), "--split", "test",
                                  "--overwrite"])
    assert r.exit_code == 0, r.output
    assert sorted(_files(exp)) == [OWNER_FILE, "README.md", "test.jsonl"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_seq2seq_layout_refused_for_token_targets(reviews_out, tmp_path):
    s2s = tmp_path / "s2s"
    shutil.copytree(reviews_out, s2s)
    m = json.loads((s2s / "manifest.json").read_text())
    m["layout"] = "seq2seq"
    (s2s / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(FtdataError, match="causal-layout"):
        export(s2s, "axolotl", tmp_path / "ax")
    export(s2s, "openai-jsonl", tmp_path / "oa")  # text targets do not care


def test_packed_rows_keep_seq_lengths_for_trl_only(reviews_packed_out, tmp_path):
    packed = load_compiled(reviews_packed_out)
    export(reviews_packed_out, "trl", tmp_path / "trl")
    dd = datasets.load_from_disk(str(tmp_path / "trl"))
    assert dd["train"].column_names == ["input_ids", "labels", "seq_lengths"]
    assert dd["train"]["seq_lengths"] == packed["train"]["seq_lengths"]
    assert dd["train"]["labels"] == packed["train"]["labels"]
    assert all(sum(r["seq_lengths"]) == len(r["input_ids"]) for r in dd["train"])
    for fmt in ("axolotl", "llamafactory", "torchtune"):
        with pytest.raises(FtdataError, match="packed"):
            export(reviews_packed_out, fmt, tmp_path / fmt)
    with pytest.raises(FtdataError, match="'prompt' and 'completion'"):
        export(reviews_packed_out, "openai-jsonl", tmp_path / "oa")
    export(reviews_packed_out, "parquet", tmp_path / "pq")  # plain exports keep every column


def test_cli_export_json_and_clean_errors(reviews_out, tmp_path):
    from click.testing import CliRunner

    from ftdata.cli.app import main

    r = CliRunner().invoke(main, ["export", str(reviews_out), "--to", "torchtune", str(tmp_path / "tt"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["columns"] == ["tokens", "labels"] and out["rows"]["train"] > 0
    r = CliRunner().invoke(main, ["export", str(reviews_out), "--to", "trl", str(tmp_path / "tt")])
    assert r.exit_code == 2 and "error:" in r.output and "--overwrite" in r.output
    r = CliRunner().invoke(main, ["export", str(reviews_out), "--to", "axolotll", str(tmp_path / "x")])
    assert r.exit_code == 2 and "axolotl" in r.output


@pytest.mark.parametrize("fmt", ["axolotl", "llamafactory"])
def test_seq2seq_collator_keeps_labels(reviews_out, tmp_path, fmt):
    """axolotl's and LLaMA-Factory's SFT collators extend transformers' DataCollatorForSeq2Seq."""
    from transformers import DataCollatorForSeq2Seq

    from ftdata.tokenize.tokenizer import load_tokenizer

    export(reviews_out, fmt, tmp_path / fmt)
    if fmt == "axolotl":
        rows = _read_jsonl(tmp_path / fmt / "train.jsonl")[:4]
    else:
        rows = [dict(r) for r in datasets.load_from_disk(str(tmp_path / fmt))["train"].select(range(4))]
    batch = DataCollatorForSeq2Seq(load_tokenizer("ftdata:tiny-bpe"), padding=True, label_pad_token_id=IGNORE_INDEX,
                                   return_tensors="pt")([dict(r) for r in rows])
    for i, r in enumerate(rows):
        n = len(r["labels"])
        assert batch["labels"][i, :n].tolist() == r["labels"] and set(batch["labels"][i, n:].tolist()) <= {IGNORE_INDEX}
        assert batch["input_ids"][i, :n].tolist() == r["input_ids"] and batch["attention_mask"][i, :n].sum() == n
