"""The Ray engine: phase A on Ray Data, on this machine or on a cluster.

The build's own process still reads every source (Ray's workers may run on machines that do
not see the file; the engine says so with ``stores_results = False``): a JSON Lines, Parquet or
Arrow IPC source in the same ranges and slices the local engine's workers read
(:meth:`ftdata.build.phase_a.PhaseA.read_for_engine`), keyed in the chunk cache as theirs are, so
the two engines share cached chunks. It still runs phase B over the
memory-mapped chunk tables. What Ray runs is the expensive middle: each chunk's rows go into a
Ray Dataset, one chunk per block, and ``map_batches`` applies the very function the local
engine runs (:func:`ftdata.build.engines.local.run_chunk` -> :func:`ftdata.build.chunk.process_chunk`)
on Ray's worker processes, across every node of the cluster. The chunks travel in windows of
:attr:`RayEngine.window` so the driver holds a bounded number of them, and the results come
back to the driver and are handed on in chunk order, so the output is identical to the local
engine's (same rows, labels, manifest counts and hashes).

``ray.init()`` starts Ray locally (``num_proc`` CPUs when given); ``address`` joins a running
cluster (``auto``, or ``ray://head:10001`` through Ray Client). The workers need ftdata and
the tokenizer: install ftdata in the cluster's image (or pass a ``runtime_env``), and name the
tokenizer by a path every node can read or by its Hub name.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator

from ...errors import BuildError
from .job import Job
from .local import pack_context, run_chunk


def ray_batch(batch, digest: str, blob: bytes):
    """Ray Data batch function: one pickled chunk of rows in, one pickled result out."""
    import pyarrow as pa

    results = []
    for rows_blob in batch.column("rows").to_pylist():
        try:
            results.append(pickle.dumps(("ok", run_chunk(digest, blob, pickle.loads(rows_blob))),
                                        protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:  # noqa: BLE001 - a user mistake (overflow: error, ...) reaches the driver
            try:
                results.append(pickle.dumps(("error", exc)))
            except Exception:  # noqa: BLE001 - an exception that does not pickle: keep its message
                results.append(pickle.dumps(("error", BuildError(f"{type(exc).__name__}: {exc}"))))
    return pa.table({"i": batch.column("i"), "result": pa.array(results, pa.large_binary())})


class RayEngine:
    """Phase A on Ray Data; see the module docstring.

    Args:
        num_proc: CPUs for a local Ray instance (1: let Ray use all of them).
        address: cluster address; None starts (or reuses) a local instance.
    """

    stores_results = False  # its workers may not share the build's disk: the driver keeps the cache

    def __init__(self, num_proc: int = 1, address: str | None = None):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise BuildError("--engine ray needs Ray Data: pip install 'ftdata[ray]'") from None
        self.num_proc = num_proc
        self.address = address
        self._started = False

    def _init(self) -> int:
        import ray

        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.num_proc if self.num_proc > 1 else None, **kwargs)
            self._started = True
        from ray.data import DataContext

        dctx = DataContext.get_current()
        dctx.enable_progress_bars = False
        dctx.execution_options.preserve_order = True
        return max(int(ray.cluster_resources().get("CPU", 1)), 1)

    @property
    def window(self) -> int:
        return self._window

    def map(self, ctx, jobs: Iterable[Job], store: tuple | None = None) -> Iterator[tuple[Job, object]]:
        cpus = self._init()
        self._window = max(8, 4 * cpus)
        digest, blob = pack_context(ctx)
        batch: list[Job] = []
        for job in jobs:
            batch.append(job)
            if len(batch) >= self._window:
                yield from self._run(batch, digest, blob)
                batch = []
        if batch:
            yield from self._run(batch, digest, blob)

    def _run(self, batch: list[Job], digest: str, blob: bytes):
        import ray.data

        todo = [j for j in batch if j.result is None]
        if todo:
            items = [{"i": k, "rows": pickle.dumps(j.rows, protocol=pickle.HIGHEST_PROTOCOL)} for k, j in enumerate(todo)]
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            ds = ds.map_batches(ray_batch, batch_size=1, batch_format="pyarrow",
                                fn_kwargs={"digest": digest, "blob": blob})
            got = {}
            for out in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                for i, res in zip(out.column("i").to_pylist(), out.column("result").to_pylist()):
                    got[i] = res
            for k, j in enumerate(todo):
                kind, value = pickle.loads(got[k])
                if kind == "error":
                    raise value
                if j.task is not None:  # a range the build process read (PhaseA.read_for_engine)
                    value.read = j.read
                j.result, j.rows = value, []
        for j in batch:
            yield j, j.result

    def close(self, wait: bool = True) -> None:  # noqa: ARG002 - Ray ends its own tasks either way
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
