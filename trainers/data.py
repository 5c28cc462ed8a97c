"""Compiled splits -> training batches.

:func:`open_for_training` opens a compiled directory the only sanctioned way
(``ftdata.inspect.load.load_compiled``, which refuses a folder without ``COMPLETED``) and checks that the
model's tokenizer is the one the data was tokenized with (same ``hashes.tokenizer``).

:class:`Collator` pads each batch to its own longest row (dynamic padding):

* ``input_ids`` with the pad id, ``attention_mask`` with 0, ``labels`` with ``IGNORE_INDEX``.
* Seq2seq rows: ``labels`` are padded separately (T5 builds decoder inputs from them).
* Packed rows (columns ``position_ids`` and ``seq_lengths``, several documents per row): the
  collator passes ``position_ids`` (restarting at 0 per document) and **no** attention mask.
  transformers then builds a block-diagonal causal mask from the position ids, so documents
  in one row never attend to each other. Padding is appended as one more "document" with its
  own positions 0..n-1 and ignored labels, so it is kept apart the same way.
  A document's first token is never a target: the model would predict it from the end of the
  document before it (labels are unshifted; the model shifts). Completion-only rows never
  train it anyway; raw text (``layout: text``) would.

Length-grouped batches come from the Trainer's ``group_by_length`` sampler fed with a
``length`` column added here (so lengths are read from Arrow, not recomputed row by row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftdata.constants import IGNORE_INDEX
from ftdata.errors import FtdataError
from ftdata.inspect.load import load_compiled

TOKEN_COLUMNS = ("input_ids", "attention_mask", "labels", "position_ids", "seq_lengths")


def pad_id(tok) -> int:
    """The id padding is written with: the tokenizer's pad token, else its EOS."""
    return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id


def check_tokenizer(manifest: dict, tok, where: str, model_name: str) -> None:
    """Refuse a tokenizer whose hash differs from the manifest's ``hashes.tokenizer``."""
    from ftdata.tokenize.tokenizer import tokenizer_hash

    want = manifest.get("hashes", {}).get("tokenizer")
    got = tokenizer_hash(tok)
    if want and want != got:
        raise FtdataError(
            f"{where}: tokenizer mismatch: the data was tokenized with '{manifest.get('tokenizer', {}).get('name')}' "
            f"(hash {want[:12]}), but model '{model_name}' has a different tokenizer (hash {got[:12]}); "
            "train a model that uses the recipe's tokenizer, or rebuild the data with the model's tokenizer")


def open_for_training(path: str | Path, split: str = "train"):
    """Open a compiled directory; returns ``(DatasetDict, manifest)``.

    Raises:
        FtdataError: the folder is not a complete compiled directory or lacks ``split``.
    """
    dd = load_compiled(path)
    if split not in dd:
        raise FtdataError(f"{path}: no split '{split}'; found {', '.join(dd)}")
    if dd[split].num_rows == 0:
        raise FtdataError(f"{path}: split '{split}' is empty")
    return dd, dd.manifest


def training_splits(dd, cfg, where: str):
    """``(train, validation or None)`` rows of an opened compiled directory, with ``length`` columns.

    ``cfg`` is a :class:`trainers.config.TrainConfig`: ``split`` / ``max_rows`` pick the training
    rows, ``val_split`` / ``val_max_rows`` the validation rows. The default validation split is
    skipped when the data has none; one named on purpose must exist. Rows of both are used as
    compiled (no shuffling here: the Trainer's sampler orders the training rows).
    """
    train = dd[cfg.split]
    if cfg.max_rows:
        train = train.select(range(min(cfg.max_rows, train.num_rows)))
    val = None
    if cfg.validates:
        named = "val_split" in cfg.model_fields_set
        if cfg.val_split in dd and dd[cfg.val_split].num_rows:
            val = dd[cfg.val_split]
            if cfg.val_max_rows:
                val = val.select(range(min(cfg.val_max_rows, val.num_rows)))
            val = with_lengths(val)
        elif named or cfg.keep_best:
            raise FtdataError(f"{where}: no rows in split '{cfg.val_split}' for the validation loss; found "
                              f"{', '.join(f'{k} ({dd[k].num_rows})' for k in dd)} (--val-split none turns it off)")
    if cfg.keep_best and val is None:
        raise FtdataError(f"{where}: --keep-best needs a validation split; --val-split is 'none'")
    return with_lengths(train), val


def with_lengths(ds):
    """Add a ``length`` column (tokens per row) for length-grouped sampling."""
    import pyarrow.compute as pc

    lengths = pc.list_value_length(ds.data.column("input_ids")).to_pylist()
    if "length" in ds.column_names:
        ds = ds.remove_columns("length")
    return ds.add_column("length", lengths)


@dataclass
class Collator:
    """Dynamic padding for compiled rows (causal, seq2seq, or packed causal).

    Args:
        pad_id: id written into padded ``input_ids``.
        seq2seq: rows are prompt -> completion (``labels`` padded on their own).
        pad_to_multiple_of: round padded lengths up (e.g. 8 for tensor cores).
    """

    pad_id: int
    seq2seq: bool = False
    pad_to_multiple_of: int | None = None
    #: running totals over every batch collated: real tokens and padded slots (input side)
    tokens: int = 0
    slots: int = 0

    @property
    def padding_efficiency(self) -> float:
        """Share of non-pad tokens in the batches collated so far."""
        return self.tokens / self.slots if self.slots else 0.0

    def _width(self, n: int) -> int:
        m = self.pad_to_multiple_of
        return n if not m else ((n + m - 1) // m) * m

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        width = self._width(max(len(r["input_ids"]) for r in rows))
        packed = "position_ids" in rows[0]
        ids, mask, pos, labels = [], [], [], []
        for r in rows:
            n = len(r["input_ids"])
            pad = width - n
            ids.append(list(r["input_ids"]) + [self.pad_id] * pad)
            if packed:
                pos.append(list(r["position_ids"]) + list(range(pad)))
            else:
                mask.append([1] * n + [0] * pad)
            if not self.seq2seq:
                lab = list(r["labels"])
                if packed:  # no target across a document boundary (see the module docstring)
                    for i, p in enumerate(r["position_ids"]):
                        if p == 0:
                            lab[i] = IGNORE_INDEX
                labels.append(lab + [IGNORE_INDEX] * pad)
        self.tokens += sum(len(r["input_ids"]) for r in rows)
        self.slots += width * len(rows)
        batch = {"input_ids": torch.tensor(ids, dtype=torch.long)}
        if packed:
            batch["position_ids"] = torch.tensor(pos, dtype=torch.long)
        else:
            batch["attention_mask"] = torch.tensor(mask, dtype=torch.long)
        if self.seq2seq:
            lw = self._width(max(len(r["labels"]) for r in rows))
            labels = [list(r["labels"]) + [IGNORE_INDEX] * (lw - len(r["labels"])) for r in rows]
        batch["labels"] = torch.tensor(labels, dtype=torch.long)
        return batch

