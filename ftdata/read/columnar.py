"""Parquet files, Arrow IPC files and ``datasets`` save_to_disk folders, read by record batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import BuildError
from .row import SourceRow


def read_parquet(path: Path, batch_size: int) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001
        raise BuildError(f"{path}: not a Parquet file: {exc}") from None
    n = 0
    for batch in pf.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            n += 1
            yield SourceRow(n, row)


def read_arrow(path: Path, batch_size: int) -> Iterator[SourceRow]:
    import datasets

    if path.is_dir():
        try:
            ds = datasets.load_from_disk(str(path))
        except Exception as exc:  # noqa: BLE001
            raise BuildError(f"{path}: not a datasets save_to_disk folder: {exc}") from None
        parts = ds.items() if isinstance(ds, datasets.DatasetDict) else [(None, ds)]
        for split, d in parts:
            n = 0
            for batch in d.with_format("arrow").iter(batch_size=batch_size):
                for row in batch.to_pylist():
                    n += 1
                    yield SourceRow(n, row, split=split)
        return
    import pyarrow as pa

    try:
        reader = pa.ipc.open_stream(str(path))
    except Exception:  # noqa: BLE001 - try the file format next
        try:
            reader = pa.ipc.open_file(str(path))
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except Exception as exc:  # noqa: BLE001
            raise BuildError(f"{path}: not an Arrow IPC file: {exc}") from None
    else:
        batches = iter(reader)
    n = 0
    for batch in batches:
        for row in batch.to_pylist():
            n += 1
            yield SourceRow(n, row)
