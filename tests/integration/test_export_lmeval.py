"""``ftdata export --to lm-eval``: lm-evaluation-harness 0.4 loads the tasks and scores as ``ftdata eval`` does.

The tasks are read by lm-eval's own loader (``TaskManager(include_path=...)``) and run by
``lm_eval.simple_evaluate`` with its ``hf`` model on a tiny random llama saved with the shipped
tokenizer; ``trainers.evaluate.evaluate_model`` (``ftdata eval``) scores the same rows with the
same model. lm-eval lives in the ``test`` extra; see README "Use it with …" for the versions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval 0.4 is in the test extra (pip install -e .[test])")
torch = pytest.importorskip("torch")

from ftdata.consume.export import export  # noqa: E402
from ftdata.consume.lmeval import group_name  # noqa: E402
from ftdata.errors import FtdataError  # noqa: E402
from trainers import metrics as M  # noqa: E402
from trainers.evaluate import evaluate_model  # noqa: E402
from trainers.tiny import build_tiny_model  # noqa: E402

ROWS = 5  # per task
NEW_TOKENS = 12
GROUP = group_name("reviews")
MC = f"{GROUP}_predict_rating"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A random 1-layer llama with the shipped tokenizer; weights scaled up so that greedy decoding
    says varied words (the unscaled model repeats one token, which every scorer rates 0)."""
    net, tok = build_tiny_model("llama", seed=2, hidden=32, layers=1, heads=2)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                p.mul_(30)
    out = tmp_path_factory.mktemp("lmeval-model") / "llama"
    net.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tasks_dir(reviews_out, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("lmeval") / "tasks"
    res = export(reviews_out, "lm-eval", dest)
    assert res.rows == {"test": 117, "train": 993}
    return dest


def _run(tasks_dir: Path, model: Path, tasks: list[str], **kw) -> dict:
    from lm_eval.tasks import TaskManager

    return lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model}", tasks=tasks, limit=ROWS,
                                   batch_size=1, device="cpu", log_samples=True,
                                   task_manager=TaskManager(include_path=str(tasks_dir)), **kw)


@pytest.fixture(scope="module")
def both(reviews_out, tasks_dir, tiny_model, tmp_path_factory):
    """(lm-eval's results, ftdata eval's report, ftdata eval's predictions) on the same rows and model."""
    lm = _run(tasks_dir, tiny_model, [GROUP], gen_kwargs={"max_gen_toks": NEW_TOKENS})
    out = tmp_path_factory.mktemp("ftdata-eval")
    ft = evaluate_model(reviews_out, str(tiny_model), max_rows=ROWS, batch_size=1, max_new_tokens=NEW_TOKENS,
                        output=out)
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    return lm, ft, preds


@pytest.mark.filterwarnings("ignore:Use TaskManager.load:DeprecationWarning")  # the call every 0.4 release has
def test_folder_is_tasks_and_group_lm_eval_reads(tasks_dir):
    from lm_eval.tasks import TaskManager

    names = [f"{GROUP}_{t}" for t in ("predict_rating", "review_headline", "write_review")]
    group = yaml.safe_load((tasks_dir / f"{GROUP}.yaml").read_text())
    assert group == {"group": GROUP, "task": names}
    tm = TaskManager(include_path=str(tasks_dir))
    assert {GROUP, *names} <= set(tm.all_tasks)
    loaded = tm.load_task_or_group([MC])[MC]
    assert loaded.OUTPUT_TYPE == "multiple_choice"
    assert len(loaded.test_docs()) == 39 and len(loaded.fewshot_docs()) == 331
    gen = tm.load_task_or_group([names[2]])[names[2]]
    assert gen.OUTPUT_TYPE == "generate_until" and sorted(gen.aggregation()) == [
        "bleu", "rouge1", "rouge2", "rougeL", "rougeLsum"]  # the template's metrics: ROUGE, BLEU
    readme = (tasks_dir / "README.md").read_text()
    assert f"--include_path {tasks_dir.resolve()} --tasks {GROUP}" in readme


def test_multiple_choice_scores_equal_ftdata_eval(both):
    lm, ft, preds = both
    res, rows = lm["results"][MC], lm["samples"][MC]
    mine = [p for p in preds if p["template"] == "predict_rating"]
    assert [s["doc"]["row_key"] for s in rows] == [p["row_key"] for p in mine]  # the same rows, in order
    for s, p in zip(rows, mine):
        lm_scores = [float(r[0][0]) for r in s["resps"]]
        assert lm_scores == pytest.approx(list(p["choice_scores"].values()), abs=1e-4)  # separator + choice + EOS
    task = ft["tasks"]["reviews/predict_rating"]["metrics"]
    assert round(100 * res["acc,none"], 4) == task["accuracy"]
    assert res["macro_f1,none"] == pytest.approx(task["macro_f1"], abs=1e-3)
    assert len({p["prediction"] for p in mine}) > 1 or task["accuracy"] not in (0, 100)  # not a degenerate model


def test_generation_scores_equal_ftdata_eval(both):
    lm, ft, preds = both
    for template in ("review_headline", "write_review"):
        name = f"{GROUP}_{template}"
        res, rows = lm["results"][name], lm["samples"][name]
        mine = [p for p in preds if p["template"] == template]
        assert [s["doc"]["row_key"] for s in rows] == [p["row_key"] for p in mine]
        texts = [s["filtered_resps"][0].strip() for s in rows]
        assert texts == [p["prediction"] for p in mine]  # the same greedy answers
        assert len(set(texts)) == len(texts)
        scores = ft["tasks"][f"reviews/{template}"]["metrics"]
        refs = [[p["reference"]] for p in mine]
        for k in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
            # lm-eval averages per-example ROUGE; ftdata eval reports rouge-score's bootstrap median
            per_row = [M.rouge([t], [r])[k] for t, r in zip(texts, refs)]
            assert res[f"{k},none"] == pytest.approx(sum(per_row) / len(per_row), abs=1e-3)
            assert res[f"{k},none"] == pytest.approx(scores[k], abs=0.5)
        if template == "write_review":
            assert res["bleu,none"] == pytest.approx(scores["bleu"], abs=1e-3)
    assert any(lm["results"][f"{GROUP}_{t}"]["rouge1,none"] > 0 for t in ("review_headline", "write_review"))


def test_few_shot_prompt_has_ftdata_evals_shape(tasks_dir, tiny_model):
    lm = _run(tasks_dir, tiny_model, [MC], num_fewshot=2)
    train = [json.loads(line) for line in (tasks_dir / "data" / MC / "train.jsonl").read_text().splitlines()]
    shots = {r["prompt"] + " " + r["completion"] for r in train}  # exemplar: prompt + separator + answer
    for s in lm["samples"][MC]:
        context, continuation = s["arguments"][0]
        assert continuation == " " + s["doc"]["choices"][0]  # separator + choice + EOS text
        assert context.endswith("\n\n" + s["doc"]["prompt"])
        head = context[: -len("\n\n" + s["doc"]["prompt"])]
        # two train exemplars, each written as a training example, joined by a blank line
        assert any(head.startswith(e + "\n\n") and head[len(e) + 2:] in shots for e in shots), context
        assert "<|endoftext|>" not in context  # the EOS ends the scored choices, not the exemplars


def test_readme_command_runs_in_lm_evals_cli(tasks_dir, tiny_model, tmp_path):
    readme = (tasks_dir / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("lm_eval "))
    args = command.replace("MODEL_DIR", str(tiny_model)).split()[1:]
    args = [a.replace("lm-eval-results", str(tmp_path / "results")) for a in args]
    cli = shutil.which("lm_eval", path=str(Path(sys.executable).parent))
    assert cli, "lm-eval's console script is missing"
    proc = subprocess.run([cli, *args, "--limit", "1", "--gen_kwargs", "max_gen_toks=4", "--device", "cpu"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next((tmp_path / "results").rglob("results_*.json")).read_text())["results"]
    assert {MC, f"{GROUP}_review_headline", f"{GROUP}_write_review"} <= set(results)
    assert "acc,none" in results[MC]


def test_refusals(reviews_out, reviews_packed_out, tmp_path):
    with pytest.raises(FtdataError, match="'prompt' and 'completion'.*compile without packing"):
        export(reviews_packed_out, "lm-eval", tmp_path / "packed")
    s2s = tmp_path / "s2s"
    shutil.copytree(reviews_out, s2s)
    m = json.loads((s2s / "manifest.json").read_text())
    m["layout"] = "seq2seq"
    (s2s / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(FtdataError, match="causal-layout"):  # choices are ranked as causal text
        export(s2s, "lm-eval", tmp_path / "s2s-tasks")
    with pytest.raises(FtdataError, match="needs a held-out split"):
        export(reviews_out, "lm-eval", tmp_path / "a", splits=["train"])
    res = export(reviews_out, "lm-eval", tmp_path / "b", splits=["validation"])  # no few-shot pool
    assert res.rows == {"validation": 90}
    cfg = yaml.safe_load((tmp_path / "b" / f"{MC}.yaml").read_text().replace("!function", ""))
    assert "fewshot_split" not in cfg and cfg["test_split"] == "validation"


def test_docs_carry_every_reference_the_helper_scores(tmp_path):
    """DialogSum test rows have three summaries (template ``references``): the exported docs carry
    them and the exported helper scores a generated answer against each, as ``ftdata eval`` does
    (the third summary, word for word, scores ROUGE 100; the export used to score the first only)."""
    import importlib.util

    from ftdata.build.orchestrate import compile_recipe

    from tests.conftest import shared, write_native_templates, write_recipe

    tpl = write_native_templates(tmp_path / "t.yaml", [{
        "name": "summarize", "prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:",
        "completion": "{{summary}}", "references": ["summary", "summary2", "summary3"], "metrics": ["ROUGE"]}])
    out = compile_recipe(write_recipe(tmp_path, {
        "name": "dialogsum", "output": "out", "seed": 3, "max_length": 1024, "overflow": "truncate_prompt",
        "sources": [{"name": "test", "task": "dialogsum", "path": str(shared("dialogsum", "dialogsum.test.jsonl")),
                     "key": "fname", "split": "test", "rename": {"summary1": "summary"},
                     "templates": [{"file": str(tpl)}]}]})).output
    res = export(out, "lm-eval", tmp_path / "tasks")
    assert res.rows["test"] == 500 and "references" in res.columns
    name = f"{group_name('dialogsum')}_summarize"
    cfg = yaml.safe_load((tmp_path / "tasks" / f"{name}.yaml").read_text().replace("!function", ""))
    assert cfg["process_results"].strip() == "ftdata_lmeval.scores_rouge"
    docs = [json.loads(line) for line in (tmp_path / "tasks" / "data" / name / "test.jsonl").read_text().splitlines()]
    src = {r["fname"]: r for r in map(json.loads, shared("dialogsum", "dialogsum.test.jsonl").read_text().splitlines())}
    for d in docs:
        s = src[d["row_key"]]
        assert d["references"] == [s["summary1"].strip(), s["summary2"].strip(), s["summary3"].strip()]
    spec = importlib.util.spec_from_file_location("ftdata_lmeval", tmp_path / "tasks" / "ftdata_lmeval.py")
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    process = helper.scores_rouge  # made by the module's __getattr__
    for d in docs[:5]:
        scores = process(d, [d["references"][2]])
        assert scores["rouge1"] == pytest.approx(100.0) and scores["rougeL"] == pytest.approx(100.0)
        assert scores == pytest.approx({k: M.rouge([d["references"][2]], [d["references"]])[k] for k in scores},
                                       abs=1e-3)


@pytest.mark.filterwarnings("ignore:Use TaskManager.load:DeprecationWarning")
def test_the_folder_holds_no_local_path_and_can_be_moved(reviews_out, tmp_path, monkeypatch):
    """``data_files`` are relative to the folder (the helper's ``load_data`` reads them from beside
    itself), so no task YAML holds the builder's path and a moved folder still loads in lm-eval."""
    from lm_eval.tasks import TaskManager

    export(reviews_out, "lm-eval", tmp_path / "made")
    for f in (tmp_path / "made").glob("*.yaml"):
        assert str(tmp_path) not in f.read_text(), f.name
    cfg = yaml.safe_load((tmp_path / "made" / f"{MC}.yaml").read_text().replace("!function", ""))
    assert cfg["dataset_kwargs"] == {"data_files": {"test": f"data/{MC}/test.jsonl",
                                                    "train": f"data/{MC}/train.jsonl"}}
    moved = tmp_path / "elsewhere" / "tasks"
    moved.parent.mkdir()
    (tmp_path / "made").rename(moved)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # relative paths are not read from the working folder
    task = TaskManager(include_path=str(moved)).load_task_or_group([MC])[MC]
    assert len(task.test_docs()) == 39 and len(task.fewshot_docs()) == 331
    first = json.loads((moved / "data" / MC / "test.jsonl").read_text().splitlines()[0])
    assert task.test_docs()[0]["row_key"] == first["row_key"]
