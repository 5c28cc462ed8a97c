"""Evaluation fidelity of the trainer stage: same seed same weights, every reference, validation
during training, the held-out set's own size, and what `ftdata compare` prints (CPU, tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from click.testing import CliRunner  # noqa: E402

from ftdata.cli.app import main  # noqa: E402


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    (f,) = list(folder.glob("*.safetensors"))
    return load_file(str(f))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


SMALL = ["--max-steps", "3", "--max-rows", "24", "--batch-size", "8", "--lr", "1e-2", "--val-split", "none"]


@pytest.mark.parametrize("method", ["lora", "full"])
def test_same_seed_same_weights(sms, tiny_llama, tmp_path, method):
    """Two `ftdata train` runs in one process with one seed give identical weights; another seed does not
    (for LoRA the adapter's random A matrices are drawn after the seed is set)."""
    def run(name, seed):
        res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "--method", method,
                                        "--seed", str(seed), "-o", str(tmp_path / name), *SMALL])
        assert res.exit_code == 0, res.output
        return _weights(tmp_path / name / ("adapter" if method == "lora" else "model"))

    torch.manual_seed(1234)  # what ran before must not matter
    a = run("a", 5)
    torch.rand(7)
    b = run("b", 5)
    assert _same(a, b)
    if method == "lora":
        c = run("c", 6)
        assert not _same(a, c)


def _val_loss(model_dir: Path, data: Path, rows: int, batch_size: int) -> float:
    """Mean validation loss of a saved model, batched as the Trainer's evaluation batches it."""
    import transformers as tf

    from ftdata.inspect.load import load_compiled
    from trainers.data import Collator

    net = tf.AutoModelForCausalLM.from_pretrained(model_dir).eval()
    val = load_compiled(data)["validation"].select(range(rows)).select_columns(["input_ids", "labels"]).to_list()
    col = Collator(pad_id=0)
    with torch.no_grad():
        losses = [float(net(**col(val[i:i + batch_size])).loss) * len(val[i:i + batch_size])
                  for i in range(0, len(val), batch_size)]
    return sum(losses) / len(val)


@pytest.mark.parametrize("keep_best", [True, False])
def test_validation_loss_curves_and_best_checkpoint(sms, tiny_llama, tmp_path, keep_best):
    """The validation split's loss is measured during training, written beside the training loss
    (loss.csv, loss.png), and with keep_best the saved weights are those of the lowest one."""
    from trainers.full import train_full

    # a learning rate far too high: the validation loss is lowest early, then climbs
    s = train_full(sms, str(tiny_llama), tmp_path / "run", max_steps=4, lr=3.0, batch_size=8, max_rows=48,
                   val_every=1, val_max_rows=16, logging_steps=1, keep_best=keep_best)
    v = s["validation"]
    assert v["rows"] == 16 and v["evaluations"] == 4 and v["kept"] == ("best" if keep_best else "last")
    assert v["best_step"] < 4 and v["best_loss"] < v["last_loss"]
    lines = (tmp_path / "run" / "loss.csv").read_text().splitlines()
    assert lines[0] == "step,train_loss,val_loss" and len(lines) == 5
    assert all(len(x.split(",")) == 3 and all(x.split(",")) for x in lines[1:])  # both losses at every step
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    got = _val_loss(tmp_path / "run" / "model", sms, 16, 8)
    assert got == pytest.approx(v["best_loss"] if keep_best else v["last_loss"], rel=1e-4)
    assert not list(tmp_path.glob(".run.trainer*"))  # checkpoints removed after the run


def test_validation_split_errors(sms, tiny_llama, tmp_path):
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "-o", str(tmp_path / "r"),
                                    "--val-split", "dev", "--max-steps", "1"])
    assert res.exit_code == 2 and "no rows in split 'dev'" in res.output and "validation (517)" in res.output
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "-o", str(tmp_path / "r"),
                                    "--val-split", "none", "--keep-best", "--max-steps", "1"])
    assert res.exit_code == 2 and "--keep-best needs a validation split" in res.output


def test_train_prints_compact_lines(sms, tiny_llama, tmp_path):
    """ftdata's own lines, not transformers' raw loss dicts or weight-loading bars."""
    res = CliRunner().invoke(main, ["train", str(sms), "--model", str(tiny_llama), "-o", str(tmp_path / "r"),
                                    "--max-steps", "4", "--max-rows", "32", "--batch-size", "8",
                                    "--val-max-rows", "8", "--val-every", "2"])
    assert res.exit_code == 0, res.output
    assert "{'loss'" not in res.output and "{'eval_loss'" not in res.output and "'train_runtime'" not in res.output
    assert "Loading weights" not in res.output and "Writing model shards" not in res.output
    assert "full: step 2/4 · val loss" in res.stderr and "full: step 4/4 · val loss" in res.stderr
    assert res.stdout.startswith("full: 4 steps, loss ") and "val loss" in res.stdout


def _parity(folder: Path, rows: int = 40) -> Path:
    """A small second task (is a number even?), every row in its test split."""
    from ftdata.build.orchestrate import compile_recipe

    from tests.conftest import write_native_templates, write_recipe

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parity.jsonl").write_text("".join(json.dumps({"id": i, "n": str(i), "label": "odd" if i % 2 else "even"})
                                                 + "\n" for i in range(rows)))
    tpl = write_native_templates(folder / "parity.yaml", [{
        "name": "parity", "prompt": "Is {{n}} even or odd?", "completion": "{{label}}",
        "answer_choices": "even ||| odd", "metrics": ["Accuracy"]}])
    recipe = write_recipe(folder, {"name": "parity", "output": "out", "seed": 1, "max_length": 64,
                                   "split": {"ratios": {"test": 1.0}},
                                   "sources": [{"name": "parity", "path": "parity.jsonl", "key": "id",
                                                "templates": [{"file": str(tpl)}]}]})
    return compile_recipe(recipe).output


def test_compare_prints_stages_and_keeps_the_heldout_whole(sms, tiny_llama, tmp_path):
    """One line per stage and a progress bar while evaluating (stderr), the table on stdout, no raw
    transformers output; --eval-max-rows sizes the trained task's evaluation, not the forgetting set."""
    held = _parity(tmp_path / "parity")
    res = CliRunner().invoke(main, [
        "compare", str(sms), "--model", str(tiny_llama), "-o", str(tmp_path / "cmp"), "--shots", "0,1",
        "--heldout", str(held), "--max-steps", "2", "--max-rows", "16", "--batch-size", "8",
        "--val-max-rows", "8", "--val-every", "1", "--eval-max-rows", "4"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert all(r["tasks"]["sms"]["n"] == 4 for r in rep["rows"])
    assert [r["heldout"]["parity"]["n"] for r in rep["rows"] if r["heldout"]] == [40, 40, 40]
    err = res.stderr
    stages = [line for line in err.splitlines() if line.startswith("[") and "..." not in line]
    assert [line.split(":")[0] for line in stages] == [
        "[1/9] held-out, base", "[2/9] base 0-shot", "[3/9] base 1-shot", "[4/9] full fine-tune",
        "[5/9] full fine-tune", "[6/9] held-out, full", "[7/9] lora fine-tune", "[8/9] lora fine-tune",
        "[9/9] held-out, lora"]
    assert "sms macro_f1" in stages[1] and "(n=4)" in stages[1] and "parity macro_f1" in stages[0]
    assert "(n=40)" in stages[0] and "2 steps, loss" in stages[3]
    assert "  full: step 1/2 · val loss" in err and "  lora: step 2/2 · val loss" in err
    assert "base 0-shot · sms:" in err and "4/4 rows" in err  # the evaluation's progress bar
    assert "{'loss'" not in res.output and "{'eval_loss'" not in res.output and "Loading weights" not in res.output
    assert res.stdout.startswith("| setting |")
    res = CliRunner().invoke(main, [
        "compare", str(sms), "--model", str(tiny_llama), "-o", str(tmp_path / "cmp"), "--shots", "0",
        "--method", "lora", "--heldout", str(held), "--heldout-max-rows", "10", "--max-steps", "1",
        "--max-rows", "8", "--val-split", "none", "--eval-max-rows", "4", "--overwrite"])
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["heldout"]["parity"]["n"] for r in rep["rows"] if r["heldout"]] == [10, 10]


# -- every reference: a template names its reference columns, compile carries them ----------------
REFS_TEMPLATE = {"name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
                 "completion": "{{summary}}", "references": ["summary", "summary2", "summary3"], "metrics": ["ROUGE"]}


@pytest.fixture(scope="module")
def dialogsum_refs(tmp_path_factory) -> Path:
    """DialogSum: dev rows (one summary) train, test rows (three summaries) test; one template for both."""
    from ftdata.build.orchestrate import compile_recipe

    from tests.conftest import write_native_templates

    folder = tmp_path_factory.mktemp("dialogsum_refs")
    tpl = write_native_templates(folder / "t.yaml", [REFS_TEMPLATE])
    return compile_recipe(_dialogsum_recipe(folder, tpl)).output


def _dialogsum_recipe(folder: Path, tpl: Path) -> Path:
    """DialogSum dev (train) and test (three summaries; summary1 renamed to summary), template ``tpl``."""
    from tests.conftest import shared, write_recipe

    return write_recipe(folder, {
        "name": "dialogsum", "output": "out", "seed": 3, "max_length": 1024, "overflow": "truncate_prompt",
        "split": {"ratios": {"train": 0.9, "validation": 0.1}},
        "sources": [
            {"name": "dev", "task": "dialogsum", "path": str(shared("dialogsum", "dialogsum.dev.jsonl")), "key": "fname",
             "templates": [{"file": str(tpl)}]},
            {"name": "test", "task": "dialogsum", "path": str(shared("dialogsum", "dialogsum.test.jsonl")),
             "key": "fname", "split": "test", "rename": {"summary1": "summary"}, "templates": [{"file": str(tpl)}]}]})


def test_compile_carries_every_reference(dialogsum_refs):
    from ftdata.inspect.load import load_compiled

    dd = load_compiled(dialogsum_refs)
    src = {r["fname"]: r for r in map(json.loads, shared_lines("dialogsum", "dialogsum.test.jsonl"))}
    test = dd["test"].to_list()
    assert len(test) == 500
    for r in test:
        s = src[r["row_key"]]
        assert r["references"] == [s["summary1"].strip(), s["summary2"].strip(), s["summary3"].strip()]
        assert r["completion"] == s["summary1"].strip()
    assert {len(r["references"]) for r in dd["train"].select_columns(["references"]).to_list()} == {1}
    man = json.loads((dialogsum_refs / "manifest.json").read_text())
    assert "references" in man["columns"]
    assert man["templates"]["test"][0]["references"] == ["summary", "summary2", "summary3"]


def shared_lines(*parts: str) -> list[str]:
    from tests.conftest import shared

    return shared(*parts).read_text(encoding="utf-8").splitlines()


def test_generated_text_is_scored_against_every_reference(dialogsum_refs, tiny_llama, tmp_path, monkeypatch):
    """A prediction equal to a row's third summary scores 100: ROUGE and predictions.jsonl use all three."""
    import trainers.evaluate as E
    from ftdata.inspect.load import load_compiled

    third = {r["prompt"]: r["references"][2] for r in load_compiled(dialogsum_refs)["test"].to_list()}
    monkeypatch.setattr(E, "generate", lambda net, tok, layout, prompts, cfg, max_input, advance=None:
                        [third[p] for p in prompts])
    rep = E.evaluate_model(dialogsum_refs, str(tiny_llama), max_rows=6, output=tmp_path / "ev")
    t = rep["tasks"]["dialogsum"]
    assert t["n"] == 6 and t["references"] == {"min": 3, "max": 3, "mean": 3.0}
    assert t["metrics"]["rouge1"] == pytest.approx(100) and t["metrics"]["rougeL"] == pytest.approx(100)
    rec = json.loads((tmp_path / "ev" / "predictions.jsonl").read_text().splitlines()[0])
    assert len(rec["references"]) == 3 and rec["prediction"] == rec["references"][2]


def test_reference_columns_are_checked(tmp_path):
    from ftdata.errors import ConfigError
    from ftdata.templating.templates import load_templates

    from tests.conftest import write_native_templates

    bad = write_native_templates(tmp_path / "bad.yaml", [dict(REFS_TEMPLATE, references=["summary", 3, ""])])
    with pytest.raises(ConfigError, match="references"):
        load_templates(bad)


def test_a_reference_column_no_source_has_is_refused(tmp_path):
    """A misspelled reference column used to be skipped row by row, silently scoring fewer
    references; a column that no source of the template has is now a recipe problem."""
    from ftdata.build.orchestrate import compile_recipe
    from ftdata.errors import ConfigError

    from tests.conftest import write_native_templates

    tpl = write_native_templates(tmp_path / "t.yaml", [dict(REFS_TEMPLATE, references=["summary", "summary2", "sumary3"])])
    recipe = _dialogsum_recipe(tmp_path, tpl)
    with pytest.raises(ConfigError, match=r"references: column 'sumary3' is in no source.*summary3"):
        compile_recipe(recipe)
    assert not (tmp_path / "out").exists()
