"""Evaluation fidelity of the trainer stage: same seed same weights, every reference, validation
during training, the held-out set's own size, and what `ftdata compare` prints (CPU, tiny models)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from click.testing import CliRunner  # noqa: E402

from ftdata.cli.app import main  # noqa: E402
from trainers.tiny import save_tiny_model  # noqa: E402

from tests.integration.test_trainers import compile_sms  # noqa: E402


@pytest.fixture(scope="module")
def sms(tmp_path_factory) -> Path:
    return compile_sms(tmp_path_factory.mktemp("sms"))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    return save_tiny_model("llama", tmp_path_factory.mktemp("models") / "llama", seed=0)


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
