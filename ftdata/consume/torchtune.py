"""A torchtune dataset builder: ftdata's compiled rows, as a ``tune run`` config names them.

torchtune's recipes build their dataset with ``config.instantiate(cfg.dataset, tokenizer)``:
the YAML names a callable by its dotted path (``_component_``) and the recipe adds its own
tokenizer as the first argument. :func:`dataset` is that callable::

    dataset:
      _component_: ftdata.consume.torchtune.dataset
      path: /data/reviews-tt        # ftdata export OUT --to torchtune DEST (or OUT itself)
      split: train

Each item is ``{"tokens": [...], "labels": [...]}`` exactly as compiled (labels unshifted,
-100 where not trained), the shape torchtune's own ``SFTDataset`` yields and its
``padded_collate_sft`` pads; the recipe shifts the labels itself. Nothing is re-tokenized:
the tokenizer the recipe passes is only checked against the ids (a vocabulary smaller than
the largest id, or a ``max_seq_len`` shorter than a row, is an error, never a silent cut).
"""

from __future__ import annotations

from pathlib import Path

from ..constants import COMPLETED
from ..errors import FtdataError
from .export import TARGETS, _check, _select, quiet_datasets

TARGET = TARGETS["torchtune"]
#: Rows per Arrow batch when checking ids against the recipe's tokenizer.
_CHECK_BATCH = 65_536


class CompiledSFTDataset:
    """A map-style dataset of ``{"tokens", "labels"}`` dicts over one split (a ``datasets.Dataset``)."""

    packed = False  # torchtune's recipes read this on concatenated datasets

    def __init__(self, rows, source: str):
        self._rows = rows
        self.source = source

    def __len__(self) -> int:
        return self._rows.num_rows

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        row = self._rows[index]
        return {"tokens": row["tokens"], "labels": row["labels"]}


def _rows(path: Path, split: str):
    """The split's ``tokens``/``labels`` rows from a torchtune export or a compiled directory."""
    import datasets

    if (path / COMPLETED).exists():  # a compiled directory: the same columns the export writes
        from ..inspect.load import load_compiled

        dd = load_compiled(path)
        if split not in dd:
            raise FtdataError(f"torchtune dataset: no split '{split}' in {path}; found {list(dd)}")
        _check(TARGET, dd.manifest, dd[split].column_names, f"{path} [{split}]")
        return _select(dd[split], TARGET)
    file = path / f"{split}.parquet"
    if not file.is_file():
        found = sorted(p.stem for p in path.glob("*.parquet")) if path.is_dir() else []
        raise FtdataError(f"torchtune dataset: no {file.name} in {path} (splits found: {found or 'none'}); "
                          "pass the folder `ftdata export OUT --to torchtune DEST` wrote, or the compiled "
                          "directory OUT itself")
    with quiet_datasets():
        ds = datasets.Dataset.from_parquet(str(file), keep_in_memory=True)
    missing = {"tokens", "labels"} - set(ds.column_names)
    if missing:
        raise FtdataError(f"torchtune dataset: {file} has no column(s) {sorted(missing)}; found "
                          f"{ds.column_names}; it is not a torchtune export")
    return ds


def _check_tokenizer(rows, tokenizer, where: str) -> None:
    """Refuse ids the recipe's tokenizer cannot hold: an id at or past its ``vocab_size``, a row
    longer than its ``max_seq_len`` (either check only when the tokenizer has that integer).

    The largest id and the longest row come from Arrow compute over the ``tokens`` column, a
    batch of rows at a time (no Python loop over ids)."""
    import pyarrow.compute as pc

    vocab = getattr(tokenizer, "vocab_size", None)
    limit = getattr(tokenizer, "max_seq_len", None)
    if not isinstance(vocab, int) and not isinstance(limit, int):
        return
    top = longest = 0
    for batch in rows.select_columns(["tokens"]).with_format("arrow").iter(batch_size=_CHECK_BATCH):
        col = batch.column("tokens")
        longest = max(longest, pc.max(pc.list_value_length(col)).as_py() or 0)
        top = max(top, pc.max(pc.list_flatten(col)).as_py() or 0)
    if isinstance(vocab, int) and top >= vocab:
        raise FtdataError(f"{where}: token id {top} is outside the recipe tokenizer's vocabulary "
                          f"({vocab}); the data was compiled with another tokenizer")
    if isinstance(limit, int) and longest > limit:
        raise FtdataError(f"{where}: a row has {longest} tokens, more than the tokenizer's max_seq_len "
                          f"{limit}; raise max_seq_len (the rows are never cut here)")


def dataset(tokenizer=None, path: str | Path = "", split: str = "train", packed: bool = False) -> CompiledSFTDataset:
    """Build the dataset a torchtune recipe trains on from ftdata's compiled rows.

    Args:
        tokenizer: the recipe's tokenizer (``config.instantiate`` passes it first); used only to
            check the ids, when it exposes ``vocab_size`` or ``max_seq_len``.
        path: a ``torchtune`` export (``<split>.parquet`` with ``tokens``, ``labels``) or a
            compiled directory in the causal layout.
        split: the split to read (``train``, ``validation``, ``test``).
        packed: must stay false: pack when compiling (``packing: true``) and train the
            ``trl`` export, or let torchtune pack.

    Raises:
        FtdataError: no such folder or split, a non-causal or packed build, or ids the
            tokenizer cannot hold.
    """
    if packed:
        raise FtdataError("torchtune dataset: packed: true is not supported for ftdata rows; remove it "
                          "(ftdata's rows are one example each)")
    if not path:
        raise FtdataError("torchtune dataset: give path: the folder `ftdata export OUT --to torchtune DEST` wrote")
    p = Path(path).expanduser()
    if not p.is_dir():
        raise FtdataError(f"torchtune dataset: {p}: no such folder")
    rows = _rows(p, split)
    _check_tokenizer(rows, tokenizer, f"torchtune dataset {p} [{split}]")
    return CompiledSFTDataset(rows, f"{p}:{split}")
