"""torchtune's own entry point: a ``tune run`` YAML names ``ftdata.consume.torchtune.dataset`` and
``torchtune.config.instantiate(cfg.dataset, tokenizer)`` (what every recipe calls) builds it."""

from __future__ import annotations

import pytest

from ftdata.consume.export import export
from ftdata.errors import FtdataError
from ftdata.inspect.load import load_compiled
from ftdata.tokenize.tokenizer import ASSET_DIR

pytest.importorskip("torchtune")

CONFIG = """\
tokenizer:
  _component_: torchtune.modules.transforms.tokenizers.HuggingFaceBaseTokenizer
  tokenizer_json_path: {assets}/tokenizer.json
  tokenizer_config_json_path: {assets}/tokenizer_config.json
dataset:
  _component_: ftdata.consume.torchtune.dataset
  path: {path}
  split: {split}
"""


def _instantiate(tmp_path, path, split):
    from omegaconf import OmegaConf
    from torchtune import config

    file = tmp_path / f"{split}.yaml"
    file.write_text(CONFIG.format(assets=ASSET_DIR, path=path, split=split), encoding="utf-8")
    cfg = OmegaConf.load(file)
    tokenizer = config.instantiate(cfg.tokenizer)
    return config.instantiate(cfg.dataset, tokenizer), tokenizer


@pytest.mark.parametrize("split", ["train", "validation"])
def test_yaml_config_builds_the_compiled_rows(reviews_out, tmp_path, split):
    from torchtune.data import CROSS_ENTROPY_IGNORE_IDX, padded_collate_sft

    export(reviews_out, "torchtune", tmp_path / "tt")
    ds, tok = _instantiate(tmp_path, tmp_path / "tt", split)
    compiled = load_compiled(reviews_out)[split]
    assert len(ds) == compiled.num_rows > 0
    for i in range(len(ds)):
        assert ds[i] == {"tokens": compiled[i]["input_ids"], "labels": compiled[i]["labels"]}
    # the recipe's collate pads them; the trained part decodes to the completion (labels unshifted)
    batch = padded_collate_sft([ds[i] for i in range(3)], padding_idx=0, ignore_idx=CROSS_ENTROPY_IGNORE_IDX)
    for b in range(3):
        trained = [t for t in batch["labels"][b].tolist() if t != CROSS_ENTROPY_IGNORE_IDX]
        assert trained[-1] == tok.eos_id and tok.decode(trained[:-1]) == " " + compiled[b]["completion"]


def test_the_compiled_directory_itself_works_too(reviews_out, tmp_path):
    ds, _ = _instantiate(tmp_path, reviews_out, "train")
    compiled = load_compiled(reviews_out)["train"]
    assert [ds[i]["tokens"] for i in (0, len(ds) - 1)] == [compiled[0]["input_ids"], compiled[-1]["input_ids"]]


def test_mismatches_are_errors_not_silent_cuts(reviews_out, tmp_path):
    from ftdata.consume.torchtune import dataset

    export(reviews_out, "torchtune", tmp_path / "tt")

    class Small:
        vocab_size = 10

    class Short:
        max_seq_len = 8

    with pytest.raises(FtdataError, match="outside the recipe tokenizer's vocabulary"):
        dataset(Small(), tmp_path / "tt")
    with pytest.raises(FtdataError, match="more than the tokenizer's max_seq_len 8"):
        dataset(Short(), tmp_path / "tt")
    with pytest.raises(FtdataError, match=r"no test2.parquet .*splits found: \['test', 'train', 'validation'\]"):
        dataset(None, tmp_path / "tt", split="test2")
    with pytest.raises(FtdataError, match="packed: true is not supported"):
        dataset(None, tmp_path / "tt", packed=True)


def test_a_compiled_directory_it_cannot_train_is_refused(reviews_out, reviews_packed_out, tmp_path):
    """The compiled-directory branch: a missing split, packed rows, a seq2seq layout."""
    import json
    import shutil

    from ftdata.consume.torchtune import dataset

    with pytest.raises(FtdataError, match=rf"no split 'test2' in {reviews_out}; found \['train', 'validation', 'test'\]"):
        dataset(None, reviews_out, split="test2")
    with pytest.raises(FtdataError, match="the compiled rows are packed .* compile without packing"):
        dataset(None, reviews_packed_out)
    s2s = tmp_path / "s2s"
    shutil.copytree(reviews_out, s2s)
    m = json.loads((s2s / "manifest.json").read_text())
    (s2s / "manifest.json").write_text(json.dumps(m | {"layout": "seq2seq"}))
    with pytest.raises(FtdataError, match="needs a causal-layout build .* found layout 'seq2seq'"):
        dataset(None, s2s)
