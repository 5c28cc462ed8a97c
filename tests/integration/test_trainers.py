"""The trainer stage: collation, metrics, refusals, and end-to-end runs on real data (CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from click.testing import CliRunner  # noqa: E402

from ftdata.build.orchestrate import compile_recipe  # noqa: E402
from ftdata.cli.app import main  # noqa: E402
from ftdata.constants import COMPLETED, IGNORE_INDEX  # noqa: E402
from ftdata.errors import FtdataError  # noqa: E402
from trainers.data import Collator  # noqa: E402
from trainers.tiny import build_tiny_model, save_tiny_model  # noqa: E402

from tests.conftest import (  # noqa: E402
    make_word_tokenizer,
    shared,
    write_native_templates,
    write_recipe,
)

SPAM_TEMPLATE = {
    "name": "is_spam",
    "prompt": "Is this text message spam or ham?\n\n{{text}}\n\nAnswer:",
    "completion": "{{label}}",
    "answer_choices": "ham ||| spam",
    "metrics": ["Accuracy"],
}


def compile_sms(folder: Path) -> Path:
    tpl = write_native_templates(folder / "spam.yaml", [SPAM_TEMPLATE])
    recipe = write_recipe(folder, {
        "name": "sms_spam", "output": "out", "seed": 1,
        "sources": [{"name": "sms", "path": str(shared("sms_spam", "SMSSpamCollection")), "format": "tsv",
                     "csv": {"delimiter": "\t", "quoting": "none", "header": False, "columns": ["label", "text"]},
                     "key": "@line", "templates": [{"file": str(tpl)}]}],
        "tokenizer": "ftdata:tiny-bpe", "max_length": 128,
    })
    return compile_recipe(recipe).output




# -- collation ---------------------------------------------------------------------------


def test_packed_rows_keep_documents_apart():
    """A packed row gives each document the same logits as on its own (block-diagonal mask)."""
    net, _ = build_tiny_model("llama", seed=3)
    net.eval()
    net.config.use_cache = False  # as in training: a KV cache would hide the packing from the mask
    a, b = [10, 11, 12, 13], [20, 21, 22]
    packed = {"input_ids": a + b, "labels": a + b, "position_ids": [0, 1, 2, 3, 0, 1, 2], "seq_lengths": [4, 3]}
    short = {"input_ids": b, "labels": b, "position_ids": [0, 1, 2], "seq_lengths": [3]}
    batch = Collator(pad_id=1)([packed, short])
    assert "attention_mask" not in batch
    assert batch["position_ids"].tolist()[1] == [0, 1, 2, 0, 1, 2, 3]  # padding is its own document
    assert batch["labels"].tolist()[1][3:] == [IGNORE_INDEX] * 4
    with torch.no_grad():
        out = net(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        alone_a = net(input_ids=torch.tensor([a])).logits
        alone_b = net(input_ids=torch.tensor([b])).logits
    torch.testing.assert_close(out[0, :4], alone_a[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out[0, 4:], alone_b[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out[1, :3], alone_b[0], atol=1e-5, rtol=1e-4)


# -- metrics -----------------------------------------------------------------------------


# -- refusals ----------------------------------------------------------------------------
def test_refuses_directory_without_completed(sms, tiny_llama, tmp_path):
    from trainers.full import train_full

    broken = tmp_path / "broken"
    shutil.copytree(sms, broken)
    (broken / COMPLETED).unlink()
    with pytest.raises(FtdataError, match="COMPLETED"):
        train_full(broken, str(tiny_llama), tmp_path / "run", max_steps=1)


def test_refuses_model_with_another_tokenizer(sms, tmp_path):
    from trainers.full import train_full

    tok = make_word_tokenizer(tmp_path / "wordtok")
    other = save_tiny_model("llama", tmp_path / "other", tokenizer=str(tok))
    with pytest.raises(FtdataError, match="tokenizer mismatch"):
        train_full(sms, str(other), tmp_path / "run", max_steps=1)
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(other), "-o", str(tmp_path / "r2")])
    assert res.exit_code == 2 and "tokenizer mismatch" in res.output


def test_refuses_layout_mismatch(sms, tmp_path):
    from trainers.full import train_full

    t5 = save_tiny_model("t5", tmp_path / "t5")
    with pytest.raises(FtdataError, match="encoder-decoder"):
        train_full(sms, str(t5), tmp_path / "run", max_steps=1)


def test_bad_option_names_the_option(sms, tiny_llama, tmp_path):
    from trainers.full import train_full

    with pytest.raises(FtdataError, match="lr"):
        train_full(sms, str(tiny_llama), tmp_path / "run", lr=-1)


# -- the run folder: replaced only when an earlier run made it ----------------------------
def test_overwrite_refuses_a_folder_no_run_made(sms, tiny_llama, tmp_path):
    from trainers._run import prepare_run_dir

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "-o", str(mine), "--overwrite",
                                    "--max-steps", "1"])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error:") and str(mine) in res.output and "not an ftdata run folder" in res.output
    assert "pass --overwrite" not in res.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    for overwrite in (True, False):
        with pytest.raises(FtdataError, match="not an ftdata run folder"):
            prepare_run_dir(mine, overwrite)
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    with pytest.raises(FtdataError, match="not an ftdata run folder"):
        prepare_run_dir(a_file, True)
    assert (mine / "notes.txt").read_text() == "my notes\n" and a_file.read_text() == "keep me\n"
    # compare trains into OUT/runs/<method>: a folder of the user's there is refused before any work
    (tmp_path / "cmp" / "runs").mkdir(parents=True)
    mine.rename(tmp_path / "cmp" / "runs" / "lora")
    res = CliRunner().invoke(main, ["compare", str(sms), "--model", str(tiny_llama), "-o", str(tmp_path / "cmp"),
                                    "--overwrite", "--max-steps", "1"])
    assert res.exit_code == 2 and "not an ftdata run folder" in res.output, res.output
    assert [p.name for p in (tmp_path / "cmp" / "runs" / "lora").iterdir()] == ["notes.txt"]


def test_overwrite_replaces_an_earlier_run(sms, tiny_llama, tmp_path):
    from trainers._run import prepare_run_dir

    run = prepare_run_dir(tmp_path / "run", False)  # what a run killed before its first save leaves
    assert prepare_run_dir(run, False) == run  # nothing in it yet: no --overwrite needed
    opts = ["--max-steps", "1", "--max-rows", "8", "--batch-size", "4"]
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "-o", str(run), *opts])
    assert res.exit_code == 0, res.output
    (run / "summary.json").write_text("{}")  # to see it replaced
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "-o", str(run), *opts])
    assert res.exit_code == 2 and "pass --overwrite" in res.output
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "-o", str(run), "--method", "lora",
                                    "--overwrite", *opts])
    assert res.exit_code == 0, res.output
    assert (run / "adapter").is_dir() and not (run / "model").exists() and (run / COMPLETED).exists()
    assert json.loads((run / "summary.json").read_text())["method"] == "lora"


# -- end to end --------------------------------------------------------------------------
# Chosen so a 2-layer, 64-wide llama separates spam from ham on 2 CPU cores in well under a minute.
# Random (not length-grouped) batches: spam messages are long, so length-sorted batches are
# nearly one class each and the model only learns the prior (macro-F1 ~46 in our runs).
# Measured while tuning: validation macro-F1 94.6 after 120 steps.
SPAM_TRAIN = {"max_steps": 120, "lr": 5e-3, "batch_size": 32, "warmup_ratio": 0.1, "logging_steps": 20,
              "group_by_length": False}


@pytest.mark.slow
def test_sms_spam_full_finetune_beats_base(sms, tiny_llama, tmp_path):
    from trainers.evaluate import evaluate_model
    from trainers.full import train_full

    summary = train_full(sms, str(tiny_llama), tmp_path / "run", **SPAM_TRAIN)
    run = tmp_path / "run"
    for name in ("model/model.safetensors", "manifest.json", "train_log.jsonl", "loss.png", "summary.json", "COMPLETED"):
        assert (run / name).exists(), name
    assert json.loads((run / "manifest.json").read_text())["hashes"] == json.loads((sms / "manifest.json").read_text())["hashes"]
    assert summary["trainable_params"] == summary["total_params"]
    assert 0 < summary["padding_efficiency"] <= 1

    base = evaluate_model(sms, str(tiny_llama))["tasks"]["sms"]["metrics"]
    tuned = evaluate_model(sms, str(run), output=tmp_path / "eval")["tasks"]["sms"]["metrics"]
    assert tuned["macro_f1"] > 80, tuned
    assert tuned["macro_f1"] > base["macro_f1"] + 20, (base, tuned)
    preds = [json.loads(line) for line in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == json.loads((sms / "manifest.json").read_text())["counts"]["splits"]["test"]["examples"]
    assert set(preds[0]["choice_scores"]) == {"ham", "spam"}
    assert "macro_f1" in (tmp_path / "eval" / "eval.md").read_text()


@pytest.mark.slow
def test_lora_trains_only_the_adapter(sms, tiny_llama, tmp_path):
    from safetensors.torch import load_file

    from trainers.evaluate import evaluate_model
    from trainers.lora import train_lora

    before = load_file(str(tiny_llama / "model.safetensors"))
    summary = train_lora(sms, str(tiny_llama), tmp_path / "run", max_steps=20, lr=1e-2, batch_size=16, max_rows=320)
    assert summary["base_weights_unchanged"] is True
    assert 0 < summary["trainable_params"] < summary["total_params"] / 5
    assert summary["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    adapter = load_file(str(tmp_path / "run" / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in k for k in adapter)
    assert sum(v.numel() for v in adapter.values()) == summary["trainable_params"]
    assert any(float(v.abs().sum()) > 0 for k, v in adapter.items() if "lora_B" in k)  # B starts at zero
    after = load_file(str(tiny_llama / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before)
    rep = evaluate_model(sms, str(tmp_path / "run"), max_rows=40)  # base + adapter from the run folder
    assert rep["adapter"].endswith("adapter") and rep["tasks"]["sms"]["n"] == 40
    res = CliRunner().invoke(main, ["eval", str(sms), "--model", str(tiny_llama), "--adapter", str(tmp_path / "run"),
                                    "--max-rows", "10", "--json", "-o", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["tasks"]["sms"]["n"] == 10
    assert (tmp_path / "ev" / "eval.md").exists()


@pytest.mark.slow
def test_seq2seq_small_slice(tmp_path, dialogsum_template):
    from trainers.evaluate import evaluate_model
    from trainers.full import train_full

    recipe = write_recipe(tmp_path, {
        "name": "dialogsum_s2s", "output": "out", "seed": 7, "layout": "seq2seq", "max_length": 512,
        "sources": [{"name": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                     "templates": [{"file": str(dialogsum_template)}]}],
    })
    data = compile_recipe(recipe).output
    t5 = save_tiny_model("t5", tmp_path / "t5")
    summary = train_full(data, str(t5), tmp_path / "run", max_steps=6, lr=1e-3, batch_size=4, max_rows=48)
    assert summary["layout"] == "seq2seq" and summary["steps"] == 6
    rep = evaluate_model(data, str(tmp_path / "run"), max_rows=6, max_new_tokens=8, output=tmp_path / "eval")
    scores = rep["tasks"]["dialogsum"]["metrics"]
    assert set(scores) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert len((tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()) == 6


@pytest.mark.slow
def test_compare_one_command(sms, tiny_llama, tmp_path, dialogsum_template):
    recipe = write_recipe(tmp_path, {
        "name": "dialogsum", "output": "held", "seed": 7, "max_length": 1024,
        "sources": [{"name": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
                     "templates": [{"file": str(dialogsum_template)}]}],
    })
    held = compile_recipe(recipe).output
    res = CliRunner().invoke(main, [
        "compare", str(sms), "--model", str(tiny_llama), "-o", str(tmp_path / "cmp"), "--shots", "0,2",
        "--heldout", str(held), "--max-steps", "3", "--max-rows", "64", "--batch-size", "8",
        "--eval-max-rows", "12", "--max-new-tokens", "4"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["setting"] for r in rep["rows"]] == ["base 0-shot", "base 2-shot", "full fine-tune", "lora fine-tune"]
    lora = rep["rows"][3]
    assert lora["trainable_params"] < rep["rows"][2]["trainable_params"]
    assert lora["heldout"]["dialogsum"]["metrics"]["rougeL"] >= 0
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "held-out dialogsum rougeL" in md and "peak mem" in md
    shots = [json.loads(x) for x in (tmp_path / "cmp" / "evals" / "base-2shot" / "predictions.jsonl").read_text().splitlines()]
    assert shots[0]["prompt"].count("Is this text message spam or ham?") == 3


def test_tiny_model_cli(tmp_path):
    res = CliRunner().invoke(main, ["tiny-model", "gpt2", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g" / "tokenizer.json").exists() and "parameters" in res.output


def test_tiny_model_replaces_only_a_tiny_model(tmp_path):
    mine = tmp_path / "my-model"
    mine.mkdir()
    (mine / "config.json").write_text('{"mine": true}\n')  # a model of the user's: same file names
    res = CliRunner().invoke(main, ["tiny-model", "llama", str(mine)])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error:") and str(mine) in res.output and "not an ftdata tiny model" in res.output
    assert [p.name for p in mine.iterdir()] == ["config.json"] and (mine / "config.json").read_text() == '{"mine": true}\n'
    tiny, fresh = tmp_path / "tiny", tmp_path / "fresh"
    for arch, out in (("t5", tiny), ("gpt2", tiny), ("gpt2", fresh)):  # an earlier tiny model is replaced
        res = CliRunner().invoke(main, ["tiny-model", arch, str(out)])
        assert res.exit_code == 0, res.output
    assert json.loads((tiny / "config.json").read_text())["model_type"] == "gpt2"
    assert sorted(p.name for p in tiny.iterdir()) == sorted(p.name for p in fresh.iterdir())  # nothing of t5 left
