"""The same `ftdata train` command under torchrun with two CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from trainers.tiny import save_tiny_model  # noqa: E402

from .test_trainers import compile_sms  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_torchrun_two_processes(tmp_path, method):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun not installed")
    data = compile_sms(tmp_path)
    model = save_tiny_model("llama", tmp_path / "llama")
    run = tmp_path / "run"
    env = os.environ | {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "ftdata", "train", str(data),
           "--model", str(model), "--method", method, "--max-steps", "4", "--batch-size", "4",
           "--max-rows", "64", "-o", str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4
    assert summary["parallel_mode"] == "distributed"  # DDP-wrapped, not two ranks training alone
    assert summary["train_loss"] < 10  # a per-token mean (ln 1733 = 7.5 at init), not a sum over ranks
    assert (run / "COMPLETED").exists()
    assert (run / ("model" if method == "full" else "adapter")).is_dir()
