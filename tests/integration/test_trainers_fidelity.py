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
