"""LLaMA-Factory's own entry point reads the config the ``llamafactory`` export writes.

LLaMA-Factory 0.9.5 pins datasets 4.0 and pulls a CUDA torch, so it lives in its own venv
(``scripts/peer_venvs.sh``; ``FTDATA_LF_VENV``, default /work/venvs/lf); these tests run it
there in a subprocess and skip, saying so, when that venv is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from ftdata.build.orchestrate import compile_recipe
from ftdata.consume.export import export
from ftdata.consume.llamafactory import CONFIG_NAME
from ftdata.inspect.load import load_compiled
from ftdata.tokenize.tokenizer import ASSET_DIR

ROOT = Path(__file__).resolve().parents[2]
LF_VENV = Path(os.environ.get("FTDATA_LF_VENV", "/work/venvs/lf"))
CHECK = ROOT / "tests" / "peers" / "llamafactory_check.py"

pytestmark = pytest.mark.peer_venv


@pytest.fixture(scope="module")
def lf_python() -> Path:
    py = LF_VENV / "bin" / "python"
    if not py.exists():
        pytest.skip(f"no LLaMA-Factory venv at {LF_VENV} (build it with scripts/peer_venvs.sh, or set FTDATA_LF_VENV)")
    return py


@pytest.fixture(scope="module")
def tiny_model_out(tmp_path_factory) -> Path:
    """The reviews example compiled with the tokenizer of a tiny random Llama saved in a local folder
    (so the written config's model_name_or_path is a model LLaMA-Factory can load offline)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("lf")
    model_dir = folder / "tiny-llama"
    tok = AutoTokenizer.from_pretrained(str(ASSET_DIR))
    tok.save_pretrained(str(model_dir))
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=512, pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)).save_pretrained(str(model_dir))
    recipe = yaml.safe_load((ROOT / "examples" / "reviews" / "recipe.yaml").read_text())
    recipe["tokenizer"] = str(model_dir)
    out = folder / "out"
    compile_recipe(recipe, base=ROOT / "examples" / "reviews", output=out)
    return out


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DISABLE_VERSION_CHECK": "1",
            "CUDA_VISIBLE_DEVICES": "", "WANDB_DISABLED": "true", "TOKENIZERS_PARALLELISM": "false"}


def test_parser_and_loader_take_the_written_config(lf_python, tiny_model_out, tmp_path):
    dest = tmp_path / "lf"
    export(tiny_model_out, "llamafactory", dest)
    config = dest / CONFIG_NAME
    cfg = yaml.safe_load(config.read_text())
    assert cfg["tokenized_path"] == str(dest.resolve()) and cfg["dataset"] and cfg["eval_dataset"]
    r = subprocess.run([str(lf_python), str(CHECK), str(config)], capture_output=True, text=True, env=_env(),
                       cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["tokenized_path"] == str(dest.resolve()) and got["do_train"] and got["do_eval"]
    assert got["stage"] == "sft"
    compiled = load_compiled(tiny_model_out)
    assert sorted(got["rows"]) == ["train", "validation"]
    for split, rows in got["rows"].items():  # what LLaMA-Factory trains and evaluates on: the compiled rows
        assert rows["input_ids"] == compiled[split]["input_ids"]
        assert rows["labels"] == compiled[split]["labels"]


def test_llamafactory_cli_trains_from_the_written_config(lf_python, tiny_model_out, tmp_path):
    dest = tmp_path / "lf"
    export(tiny_model_out, "llamafactory", dest)
    cli = lf_python.parent / "llamafactory-cli"
    run = tmp_path / "run"
    # the config as written; only the run's length and place change (LLaMA-Factory's own key=value overrides)
    r = subprocess.run([str(cli), "train", str(dest / CONFIG_NAME), "max_steps=2", "eval_steps=1",
                        "gradient_accumulation_steps=1", f"output_dir={run}"],
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=600)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-4000:])
    assert f"Loaded tokenized dataset from {dest.resolve()}" in r.stdout + r.stderr
    results = json.loads((run / "all_results.json").read_text())
    assert results["train_loss"] > 0 and results["eval_loss"] > 0
    assert json.loads((run / "trainer_state.json").read_text())["global_step"] == 2
