"""The local engine: chunks in worker threads (one process) or in a pool of processes.

Both modes keep at most ``2 x workers`` chunks in flight and hand results back in chunk
order (see :mod:`ftdata.build.engines`), so output is byte-identical whatever the mode.

* ``num_proc=1``: two threads of this process. Tokenizing is Rust code that releases the GIL,
  so while one thread waits in ``encode_batch``, the other renders templates and builds label
  arrays, and the build's own thread reads the next chunk. Each thread works on its own copy of
  the context (templates, render plans), so nothing lazily built inside it is shared between
  threads. Where the two threads fill the cores, each tokenizes single-threaded, as the worker
  processes do (:func:`tokenizer_threads`; :func:`_serial_tokenizers`).
* ``num_proc>1``: a pool of processes (forked on Linux, so the workers start in milliseconds
  with every module already imported; spawned elsewhere). The context travels as one pickled
  blob per chunk and is unpickled once per worker; the rows go pickled once
  (:func:`ftdata.build.cache.rows_blob`), and each worker runs its chunks on one thread of its own
  (:func:`run_chunk_on_thread`). With at least as many workers as cores, each worker tokenizes
  single-threaded: the processes already fill the cores.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from ..cache import rows_blob
from ..processwide import Held
from .job import Job

#: Threads used by the single-process mode: one chunk tokenizing while another renders.
THREADS = 2

_CTX_CACHE: dict[str, object] = {}
_LOCAL = threading.local()


def pack_context(ctx) -> tuple[str, bytes]:
    """``(digest, pickled context)``: workers unpickle each distinct context once."""
    blob = pickle.dumps(ctx, protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(blob).hexdigest(), blob


def unpack_context(digest: str, blob: bytes, cache: dict):
    ctx = cache.get(digest)
    if ctx is None:
        if len(cache) > 8:  # one context per source; a build rarely has more
            cache.clear()
        ctx = cache[digest] = pickle.loads(blob)
    return ctx


def run_chunk(digest: str, blob: bytes, rows, store: tuple | None = None):
    """Worker entry point: phase A for one chunk (in a worker process or thread), through the
    chunk cache when ``store`` names it (:func:`ftdata.build.cache.cached_process`). ``rows`` may
    come pickled (:func:`ftdata.build.cache.rows_blob`): the cache key hashes those bytes as they are;
    or as a :class:`~ftdata.build.ranged.ReadTask`, a byte range or row slice of the source the worker reads."""
    from ..cache import cached_process
    from ..chunk import process_chunk
    from ..ranged import ReadTask, run_range

    rows_b = None
    if isinstance(rows, bytes):
        rows_b, rows = rows, pickle.loads(rows)

    if threading.current_thread() is threading.main_thread():
        cache = _CTX_CACHE
    else:
        cache = getattr(_LOCAL, "ctx", None)
        if cache is None:
            cache = _LOCAL.ctx = {}
    ctx = unpack_context(digest, blob, cache)
    if isinstance(rows, ReadTask):  # a chunk this worker reads itself (ftdata.build.ranged)
        return run_range(ctx, rows, store)
    return process_chunk(ctx, rows) if store is None else cached_process(ctx, rows, store, rows_b)


#: A worker process's youngest-generation collection threshold (:func:`_worker_init`).
WORKER_GC_THRESHOLD = 10_000

_CHUNK_THREAD: list[ThreadPoolExecutor] = []  # in a worker process: the thread that runs its chunks


def run_chunk_on_thread(digest: str, blob: bytes, rows: list | bytes, store: tuple | None = None):
    """Process-pool entry point: :func:`run_chunk` on one long-lived thread of the worker.

    Measured on 100k DialogSum examples with 2 workers: forked from a process that had read the
    rows into Python objects (a notebook, the benchmark), the workers spent 33.1 CPU-seconds with
    chunks on their main thread and 27.4 on a thread of their own; forked from a lean build
    process, 27.7 either way. The likely reason is glibc's allocator: the main thread allocates
    from the main arena, which the worker inherits, fragmented by everything the parent
    allocated; another thread gets an arena of its own.
    """
    if not _CHUNK_THREAD:
        _CHUNK_THREAD.append(ThreadPoolExecutor(1, thread_name_prefix="ftdata-chunk"))
    return _CHUNK_THREAD[0].submit(run_chunk, digest, blob, rows, store).result()


#: Seconds between checks of :func:`watch_parent` where the kernel cannot signal a parent's death.
PARENT_POLL = 0.5


def exit_with_parent(parent: int) -> None:
    """End this worker process as soon as the build process ``parent`` dies, however it dies.

    A worker blocked on the pool's call queue never sees the queue close when its parent is
    SIGKILLed (it holds a copy of every pipe end, forked from the parent), so it would live on,
    holding the output's lock. On Linux the kernel sends SIGKILL at the parent's death
    (``prctl(PR_SET_PDEATHSIG)``; "parent" is the thread that forked the worker: the build's
    thread, which closes the pool before it ends). Elsewhere :func:`watch_parent` polls. A
    worker keeps nothing that needs cleaning: the cache stores chunks by rename.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1: PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the parent died before the prctl call
                    os._exit(1)
                return
        except (OSError, AttributeError):  # no usable libc: poll instead
            pass
    threading.Thread(target=watch_parent, args=(parent,), name="ftdata-parent-watch", daemon=True).start()


def watch_parent(parent: int, every: float = PARENT_POLL) -> None:
    """Exit this process once its parent is no longer ``parent`` (it died; the process was
    handed to another). Runs on a daemon thread: at most ``every`` seconds late."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system says, e.g. under
    ``taskset`` or a container's cpuset; else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def tokenizer_threads(workers: int) -> bool:
    """Whether a tokenizer call should keep its own thread pool when ``workers`` threads or
    processes tokenize at once: only with fewer workers than cores. With as many, its threads
    only add contention (they spin while they wait); the workers already fill the cores."""
    return workers < cores()


def _serial_tokenizers():
    """Set ``TOKENIZERS_PARALLELISM=false``; return how to remove it again (only if it still says
    ``false``), or None when it is set already (by the user: their value stays).

    The tokenizers library reads it at every batch call. A worker process calls this for itself
    (:func:`_worker_init`), so a value the user set stays there too. Held by :data:`SERIAL_TOKENIZERS` from when the first thread engine
    that fills the cores starts to when the last one's threads have finished. Measured on the
    plain benchmark (50,000 DialogSum rows, one process, 2 cores, builds alternating): 9.27 /
    9.07 / 9.02 s with the tokenizer's pool, 8.87 / 8.97 / 8.40 s without.

    It is the whole process's environment: while a build's phase A runs, every tokenizer call in
    the process is single-threaded, and a process forked meanwhile inherits the value. Changing
    the environment is not safe against C code reading it at that moment on another thread
    (``setenv`` may move the table ``getenv`` scans): ftdata's own threads never do (the value is
    set before the chunk threads start and removed after they end), but a program that tokenizes
    on threads of its own while it starts a one-process build should set the variable itself;
    then it is left as it is.
    """
    if "TOKENIZERS_PARALLELISM" in os.environ:
        return None
    os.environ["TOKENIZERS_PARALLELISM"] = "false"

    def undo() -> None:
        if os.environ.get("TOKENIZERS_PARALLELISM") == "false":  # not changed meanwhile
            del os.environ["TOKENIZERS_PARALLELISM"]

    return undo


#: ``TOKENIZERS_PARALLELISM=false`` while thread engines that fill the cores run (:func:`_serial_tokenizers`).
SERIAL_TOKENIZERS = Held(_serial_tokenizers)


def _worker_init(keep_tokenizer_pool: bool, parent: int) -> None:
    exit_with_parent(parent)
    # everything the worker inherits (modules, tokenizer, context) lives as long as it does: out
    # of the collector's sight, the generational collections a chunk's many small objects trigger
    # no longer walk it each time. Measured with 2 workers (CPU seconds of the build and its workers,
    # best of 3, loaded machine): 10,000 DialogSum conversations 5.77 -> 5.36, 32,000 two-turn
    # conversations 7.30 -> 6.31; 1,000 32-turn ones unchanged (3.64 -> 3.76, noise)
    gc.freeze()
    # and the youngest generation is collected every WORKER_GC_THRESHOLD allocations instead of 700:
    # a chunk's rows, conversations and examples live until its table is built, so most young
    # collections found nothing to free (32,000 two-turn conversations, read and processed in one
    # thread: 275 young collections, 29 ms; best of 5, 1.107 -> 1.074 CPU-s; 1,000 32-turn ones
    # 0.525 -> 0.523). The worker is ftdata's own process: the setting ends with it.
    young, *older = gc.get_threshold()
    if 0 < young < WORKER_GC_THRESHOLD:  # 0: the parent turned collection off; a higher one is kept
        gc.set_threshold(WORKER_GC_THRESHOLD, *older)
    # Ctrl-C signals the whole process group: the build process alone decides what happens
    # (it ends the workers, see LocalEngine.close), so a worker never dies half-way on its own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not keep_tokenizer_pool:  # see tokenizer_threads(); the worker's environment ends with it: no undo
        _serial_tokenizers()


def _mp_context():
    # fork: workers inherit the imported modules and the loaded tokenizer (start in ms); the
    # parent has not run the tokenizer's thread pool yet, so its parallelism stays on in them
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


class LocalEngine:
    """Threads (``num_proc=1``) or processes (``num_proc>1``) on this machine.

    Workers share the build's file system, so they can look chunks up in the cache and store
    them themselves (``map(..., store=...)``): the build process then only reads rows.
    """

    stores_results = True

    def __init__(self, num_proc: int = 1):
        self.num_proc = num_proc
        self._pool: Executor | None = None
        self._serial = False  # this engine holds SERIAL_TOKENIZERS

    @property
    def workers(self) -> int:
        return THREADS if self.num_proc == 1 else self.num_proc

    def _executor(self) -> Executor:
        if self._pool is None:
            if self.num_proc == 1:
                if not tokenizer_threads(THREADS):
                    SERIAL_TOKENIZERS.enter()
                    self._serial = True
                self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="ftdata-chunk")
            else:
                self._pool = ProcessPoolExecutor(self.num_proc, mp_context=_mp_context(), initializer=_worker_init,
                                                 initargs=(tokenizer_threads(self.num_proc), os.getpid()))
        return self._pool

    def map(self, ctx, jobs: Iterable[Job], store: tuple | None = None) -> Iterator[tuple[Job, object]]:
        digest, blob = pack_context(ctx)
        window: deque[tuple[Job, Future | None]] = deque()
        limit = 2 * self.workers
        for job in jobs:
            fut = None
            if job.result is None:
                # a process is sent the rows pickled once, here: its cache key hashes those bytes
                # instead of pickling the rows again (a thread shares them as they are)
                # (a job with a task sends only its byte range: the worker reads the rows)
                rows = job.task if job.task is not None else job.rows if self.num_proc == 1 else rows_blob(job.rows)
                entry = run_chunk if self.num_proc == 1 else run_chunk_on_thread
                fut = self._executor().submit(entry, digest, blob, rows, store)
            window.append((job, fut))
            while len(window) > limit or (window and window[0][1] is None):
                yield self._finish(*window.popleft())
        while window:
            yield self._finish(*window.popleft())

    @staticmethod
    def _finish(job: Job, fut: Future | None):
        if fut is not None:
            job.result = fut.result()
            job.rows = []  # the rows are not needed any more: keep memory flat
        return job, job.result

    def close(self, wait: bool = True) -> None:
        """Release the workers. ``wait=False`` (a build that failed or was interrupted): chunks
        not started are dropped and worker processes are killed rather than let finish theirs
        (a chunk takes seconds; nothing would use it; the cache stores whole files by rename).
        Worker threads cannot be killed: each finishes the one chunk it runs."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            # worker processes (no public handle to them before Python 3.14); threads have none
            procs = [] if wait else list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=wait, cancel_futures=True)
            for proc in procs:
                proc.kill()
            for proc in procs:
                proc.join()
            if self._serial:
                self._serial = False
                if wait:
                    SERIAL_TOKENIZERS.leave()
                else:  # a thread may still be in its chunk: the setting goes once the threads end
                    threading.Thread(target=_leave_after, args=(pool,), name="ftdata-chunk-wait", daemon=True).start()


def _leave_after(pool: Executor) -> None:
    """``SERIAL_TOKENIZERS.leave()`` once ``pool``'s threads have finished their chunks."""
    pool.shutdown(wait=True)
    SERIAL_TOKENIZERS.leave()
