"""Engines: where phase A of a build runs.

Phase A (:func:`ftdata.build.chunk.process_chunk`) is a pure function of a picklable
:class:`~ftdata.build.chunk.ChunkContext` and a chunk of checked rows. An engine takes a stream of
:class:`Job` s (one per chunk, in input order) and gives back ``(job, result)`` pairs **in the
same order**, whatever order the work finished in, so a build's output does not depend on the
engine or on how many workers it used. A job that already carries its ``result`` (a cache hit)
passes straight through, still in order.

Engines:

* ``local`` (:mod:`ftdata.build.engines.local`): ``num_proc=1`` runs chunks in two threads of this
  process (the Rust tokenizer releases the GIL, so one chunk renders and masks while another
  is tokenized); ``num_proc>1`` runs them in a pool of worker processes.
* ``ray`` (:mod:`ftdata.build.engines.ray_data`): the same function on Ray Data, locally
  (``ray.init()``) or on a cluster (``address``).

Every engine holds a bounded number of chunks in flight, so memory does not grow with input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from ...errors import BuildError, did_you_mean
from .job import Job

ENGINES = ("local", "ray")


class Engine(Protocol):
    stores_results: bool  # workers share the build's file system: they read and write the chunk cache, and read JSON Lines sources (ftdata.build.ranged)

    def map(self, ctx, jobs: Iterable[Job], store: tuple | None = None) -> Iterator[tuple[Job, Any]]:
        """Run :func:`ftdata.build.chunk.process_chunk` over ``jobs``; yield results in job order.

        ``store`` (engines with ``stores_results``): the chunk cache, consulted by the workers.
        An engine without ``stores_results`` runs a job with a ``task`` on the rows the build
        process read (``job.rows``) and gives its result that read's ``job.read``."""

    def close(self, wait: bool = True) -> None:
        """Release workers; ``wait=False`` (the build failed or was interrupted): without
        letting them finish the chunks they are running."""


def make_engine(name: str = "local", *, num_proc: int = 1, address: str | None = None) -> Engine:
    """The engine called ``name``.

    Args:
        name: ``local`` or ``ray``.
        num_proc: worker processes for ``local`` (1 = threads in this process); CPUs to ask
            of a local Ray instance for ``ray``.
        address: Ray cluster address (``ray://host:10001`` or ``auto``); None starts Ray locally.

    Raises:
        BuildError: unknown engine, bad ``num_proc``, or Ray not installed.
    """
    check_engine(name, num_proc, address)
    if name == "local":
        from .local import LocalEngine

        return LocalEngine(num_proc)
    from .ray_data import RayEngine

    return RayEngine(num_proc=num_proc, address=address)


def check_engine(name: str, num_proc: int, address: str | None) -> None:
    """Raise :class:`BuildError` for engine settings that cannot work (before any work starts)."""
    if name not in ENGINES:
        raise BuildError(f"unknown engine '{name}'{did_you_mean(name, ENGINES)}; expected one of {', '.join(ENGINES)}")
    if num_proc < 1:
        raise BuildError(f"num_proc must be at least 1, found {num_proc}")
    if address and name != "ray":
        raise BuildError("--ray-address needs --engine ray")
