"""Parquet files, Arrow IPC files and ``datasets`` save_to_disk folders, read by record batch.

A Parquet file or an Arrow IPC *file* (random access: feather v2) is read in row slices
(:func:`row_slices`): a slice never crosses a row group (Parquet) or record batch (Arrow) and
holds at most ``max_rows`` rows. Cutting reads only the file's metadata (the Parquet footer; the
IPC footer and each batch's message header, :func:`arrow_batch_rows`); :func:`read_slice` reads one
slice's rows, numbered as :func:`read_parquet` / :func:`read_arrow` number them, in the build
process or in a worker (:mod:`ftdata.build.ranged`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildError
from .row import SourceRow

#: The first bytes of an Arrow IPC file (the stream format has none).
ARROW_FILE_MAGIC = b"ARROW1"


@dataclass(frozen=True)
class RowSlice:
    """Rows ``offset``..``offset + count`` of row group / record batch ``part``; the first is row
    ``first_line`` of the file (1-based, as the readers number rows)."""

    part: int
    offset: int
    count: int
    first_line: int
    part_rows: int | None = None  # rows of the whole part, as the cut counted them (checked on read)


def is_arrow_file(path: Path) -> bool:
    """Whether ``path`` is a file in the Arrow IPC file format (not the stream format, not a folder)."""
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return fh.read(len(ARROW_FILE_MAGIC)) == ARROW_FILE_MAGIC


def _parquet(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001
        raise BuildError(f"{path}: not a Parquet file: {exc}") from None


def _arrow_file(path: Path):
    import pyarrow as pa

    try:
        return pa.ipc.open_file(pa.memory_map(str(path)))
    except Exception as exc:  # noqa: BLE001
        raise BuildError(f"{path}: not an Arrow IPC file: {exc}") from None


def part_rows(path: Path, fmt: str) -> list[int]:
    """Rows of each row group (``parquet``) or record batch (``arrow``, an IPC file), from metadata."""
    if fmt == "parquet":
        meta = _parquet(path).metadata
        return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    reader = _arrow_file(path)
    try:
        rows = arrow_batch_rows(path)
    except (struct.error, ValueError, IndexError, OSError):  # not laid out as expected
        rows = None
    if rows is None or len(rows) != reader.num_record_batches:  # not as the footer says: ask pyarrow
        rows = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    return rows


def arrow_batch_rows(path: Path) -> list[int]:
    """Rows of each record batch of an Arrow IPC file, from its footer and each batch's message
    header (flatbuffers, read in place): pyarrow gives a batch's row count only with the batch,
    which decompresses it in a compressed file (feather's default)."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as f:
        buf = memoryview(f.read_buffer())  # mapped: only the pages read below are touched
        # the file ends with the footer, its int32 length and the 6-byte magic
        start = len(buf) - 10 - struct.unpack_from("<i", buf, len(buf) - 10)[0]
        footer = start + struct.unpack_from("<I", buf, start)[0]
        at = _fb_field(buf, footer, 3)  # Footer.recordBatches: [Block]
        if at is None:
            return []
        vec = at + struct.unpack_from("<I", buf, at)[0]
        rows = []
        for i in range(struct.unpack_from("<I", buf, vec)[0]):
            offset = struct.unpack_from("<q", buf, vec + 4 + 24 * i)[0]  # Block: offset, metaDataLength, bodyLength
            fb = offset + (8 if struct.unpack_from("<I", buf, offset)[0] == 0xFFFFFFFF else 4)
            message = fb + struct.unpack_from("<I", buf, fb)[0]
            kind, header = _fb_field(buf, message, 1), _fb_field(buf, message, 2)
            if kind is None or buf[kind] != 3 or header is None:  # MessageHeader.RecordBatch
                raise ValueError(f"{path}: block {i} is not a record batch")
            batch = header + struct.unpack_from("<I", buf, header)[0]
            length = _fb_field(buf, batch, 0)  # RecordBatch.length
            rows.append(struct.unpack_from("<q", buf, length)[0] if length is not None else 0)
        return rows


def _fb_field(buf, table: int, i: int) -> int | None:
    """Position of field ``i`` of the flatbuffers table at ``table``, or None when absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    if 4 + 2 * i >= struct.unpack_from("<H", buf, vtable)[0]:
        return None
    off = struct.unpack_from("<H", buf, vtable + 4 + 2 * i)[0]
    return table + off if off else None


def row_slices(path: Path, fmt: str, max_rows: int) -> Iterator[RowSlice]:
    """The slices of a Parquet or Arrow IPC file: see the module docstring. Empty parts have none."""
    line = 1
    for part, n in enumerate(part_rows(path, fmt)):
        for offset in range(0, n, max_rows):
            count = min(max_rows, n - offset)
            yield RowSlice(part, offset, count, line, n)
            line += count


#: The part (row group / record batch) the last slice read in this process decoded: the next
#: slices of a part reuse it instead of decoding the whole part again for each ``batch_size`` rows
#: (one row group of 200,000 rows read in 1,000-row slices took 15x the whole-file read).
_DECODED: dict = {}


def _decoded_part(path: Path, fmt: str, part: int):
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size, fmt, part)
    got = _DECODED.get(key)
    if got is None:
        got = _parquet(path).read_row_group(part) if fmt == "parquet" else _arrow_file(path).get_batch(part)
        _DECODED.clear()  # one part at a time: memory stays at about one decoded part
        _DECODED[key] = got
    return got


def read_slice(path: Path, fmt: str, s: RowSlice) -> list[SourceRow]:
    """The rows of one slice (:func:`row_slices`)."""
    table = _decoded_part(path, fmt, s.part)
    if s.part_rows is not None and table.num_rows != s.part_rows:
        # the cut counted the part's rows from metadata alone: a count that disagrees with the
        # data would drop or repeat rows without a word, so it stops the build instead
        kind = "row group" if fmt == "parquet" else "record batch"
        raise BuildError(f"{path}: {kind} {s.part} holds {table.num_rows} rows, but its metadata said "
                         f"{s.part_rows}; rewrite the file or report this as a bug")
    rows = table.slice(s.offset, s.count).to_pylist()
    return [SourceRow(s.first_line + i, row) for i, row in enumerate(rows)]


def read_parquet(path: Path, batch_size: int) -> Iterator[SourceRow]:
    pf = _parquet(path)
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
