"""``ftdata.consume.torchtune.dataset`` (a torchtune recipe's dataset component) on literal rows:
every refusal names where and what, and the tokenizer check finds the largest id and the longest
row in any batch (Arrow compute over the ``tokens`` column, no build needed)."""

from __future__ import annotations

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ftdata.consume import torchtune as T
from ftdata.errors import FtdataError

ROWS = [[1, 2, 3], [4], [], [5, 6, 7, 8, 2], [9, 3]]  # largest id 9, longest row 5 tokens


class Tok:
    def __init__(self, vocab_size=None, max_seq_len=None):
        self.vocab_size, self.max_seq_len = vocab_size, max_seq_len


def _rows(tokens=ROWS) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"tokens": tokens, "labels": tokens})


@pytest.mark.parametrize("batch", [1, 2, 3, 1000])  # the largest id / longest row in any batch, slices too
def test_largest_id_and_longest_row_are_found_in_every_batch(monkeypatch, batch):
    monkeypatch.setattr(T, "_CHECK_BATCH", batch, raising=False)
    T._check_tokenizer(_rows(), Tok(vocab_size=10, max_seq_len=5), "w")  # id 9 < 10, 5 tokens <= 5
    with pytest.raises(FtdataError) as err:
        T._check_tokenizer(_rows(), Tok(vocab_size=9), "tt [train]")
    assert str(err.value) == ("tt [train]: token id 9 is outside the recipe tokenizer's vocabulary (9); "
                              "the data was compiled with another tokenizer")
    with pytest.raises(FtdataError) as err:
        T._check_tokenizer(_rows(), Tok(max_seq_len=4), "tt [train]")
    assert str(err.value) == ("tt [train]: a row has 5 tokens, more than the tokenizer's max_seq_len 4; "
                              "raise max_seq_len (the rows are never cut here)")


def test_a_selected_view_is_checked_as_its_rows():
    """A shuffled/selected dataset (an indices mapping): only its own rows count."""
    T._check_tokenizer(_rows().select([0, 1, 4]), Tok(vocab_size=10, max_seq_len=3), "w")
    with pytest.raises(FtdataError, match="a row has 5 tokens"):
        T._check_tokenizer(_rows().select([3]), Tok(max_seq_len=4), "w")


def test_only_the_limits_a_tokenizer_has_are_checked():
    big = _rows([[10 ** 6] * 50])
    for tok in (None, object(), Tok(), Tok(vocab_size="50k", max_seq_len=None)):  # no integer limit: no check
        T._check_tokenizer(big, tok, "w")
    T._check_tokenizer(big, Tok(vocab_size=10 ** 6 + 1), "w")  # no max_seq_len (torchtune's default None)
    T._check_tokenizer(big, Tok(max_seq_len=50), "w")  # no vocab_size
    T._check_tokenizer(_rows([]), Tok(vocab_size=1, max_seq_len=1), "w")  # an empty split


def _export(folder, split="train", table=None):
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table if table is not None else pa.table({"tokens": ROWS, "labels": ROWS}),
                   folder / f"{split}.parquet")
    return folder


def test_reads_an_export_folder(tmp_path):
    ds = T.dataset(Tok(vocab_size=10, max_seq_len=5), _export(tmp_path / "tt"), split="train")
    assert len(ds) == 5 and ds[3] == {"tokens": ROWS[3], "labels": ROWS[3]}
    assert ds.source == f"{tmp_path / 'tt'}:train"
    with pytest.raises(FtdataError, match=rf"^torchtune dataset {tmp_path / 'tt'} \[train\]: token id 9 is outside"):
        T.dataset(Tok(vocab_size=5), tmp_path / "tt")


def test_each_refusal_says_where_and_what(tmp_path):
    with pytest.raises(FtdataError, match="packed: true is not supported"):
        T.dataset(None, _export(tmp_path / "tt"), packed=True)
    with pytest.raises(FtdataError, match="give path: the folder `ftdata export OUT --to torchtune DEST` wrote"):
        T.dataset(None)
    with pytest.raises(FtdataError, match=f"{tmp_path / 'nope'}: no such folder"):
        T.dataset(None, tmp_path / "nope")
    with pytest.raises(FtdataError, match=r"no test.parquet in .*tt \(splits found: \['train'\]\)"):
        T.dataset(None, tmp_path / "tt", split="test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FtdataError, match=r"no train.parquet in .*empty \(splits found: none\)"):
        T.dataset(None, tmp_path / "empty")
    _export(tmp_path / "other", table=pa.table({"text": ["a"], "labels": [[1]]}))
    with pytest.raises(FtdataError, match=r"other/train.parquet has no column\(s\) \['tokens'\]; found \['text', "
                                          r"'labels'\]; it is not a torchtune export"):
        T.dataset(None, tmp_path / "other")
