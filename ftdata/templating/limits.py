"""Resource limits for rendering untrusted templates: time, output size, object size, calls.

The Jinja sandbox stops attribute walks, but a template can still burn CPU and memory
(``range`` loops nested in each other, ``'A' * 10**9``, ``7**30000000``). Three layers bound
one render (one template applied to one row, all of its parts):

* **size checks** in the sandbox's hooks (see :mod:`ftdata.templating.sandbox`): every operation that
  can grow a string, list or number is checked *before* it allocates, against
  :attr:`RenderLimits.max_output_chars`;
* a **call budget**: each function, method, filter-free call and macro call counts;
* a **deadline**: a watchdog thread raises :class:`RenderTimeout` inside the rendering thread
  when :attr:`RenderLimits.max_seconds` has passed. It works in any thread (it does not use
  signals) and costs two lock round-trips per render; the exception is raised between Python
  bytecodes, which is why the size checks above must keep single C-level operations small.

The same deadline guards compilation, parsing and the static check included, because Jinja
evaluates constant expressions while it compiles (``{{ 'x'|center(9) }}`` is computed once, at
compile time) and parsing grows with the source; the source itself is capped first
(:data:`MAX_TEMPLATE_CHARS`).
"""

from __future__ import annotations

import contextvars
import ctypes
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BuildError, TemplateError


class RenderLimits(BaseModel):
    """Per-example bounds for rendering a template (recipe field ``render_limits``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_seconds: float = Field(2.0, gt=0, description="Wall-clock seconds to render one example (one template, one row).")
    max_output_chars: int = Field(
        1_000_000, gt=0,
        description="Longest rendered part, and the largest string, list or mapping a template may build, in characters or items.")
    max_calls: int = Field(1_000_000, gt=0, description="Most function, method and macro calls in one render.")
    max_int_bits: int = Field(65_536, gt=0, description="Largest integer a template may compute, in bits (about 20,000 digits).")
    compile_seconds: float = Field(10.0, gt=0, description="Wall-clock seconds to compile one template part.")
    abort_after: int = Field(
        20, ge=0,
        description="Stop the build when a template goes over a limit on each of the first N rows it renders "
                    "(0: never; each such row is a reject).")


DEFAULT_LIMITS = RenderLimits()

#: Longest template part (prompt, completion, jinja or answer_choices) that is parsed, in
#: characters: 35 times the longest part in promptsource (2,849). Checked before parsing,
#: because parsing and code generation grow with the source (about 3 s per 100,000 characters
#: of ``{{ a }}``); the compile deadline bounds what a part under the cap can still cost.
MAX_TEMPLATE_CHARS = 100_000


class RenderTimeout(BaseException):  # noqa: N818 - delivered asynchronously, must not be swallowed
    """Raised inside the rendering thread when its deadline passes.

    A ``BaseException`` so that no ``except Exception`` on the way (Jinja catches ``Exception``
    while folding constants) can swallow it.
    """


class LimitExceeded(Exception):  # noqa: N818 - reads as a sentence in messages
    """A template tried to build something larger than the limits allow."""


class RenderLimitError(TemplateError):
    """A render went over a limit (a reject in a build, like any other render error)."""


class TemplateLimitAbort(BuildError):
    """A template went over a limit on every one of the first rows it rendered: stop the build."""


@dataclass
class Budget:
    """What is left for the render in progress."""

    limits: RenderLimits
    calls: int = 0

    def tick(self) -> None:
        self.calls += 1
        if self.calls > self.limits.max_calls:
            raise LimitExceeded(f"more than {self.limits.max_calls} calls in one render (render_limits.max_calls)")


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("ftdata_render_budget", default=None)


def current_limits() -> RenderLimits:
    b = _BUDGET.get()
    return b.limits if b is not None else DEFAULT_LIMITS


def current_budget() -> Budget | None:
    return _BUDGET.get()


# -- watchdog ---------------------------------------------------------------------------------

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class _Watchdog:
    """One daemon thread per process that interrupts renders past their deadline.

    Arming and disarming only touch a dict under a lock: the thread keeps ticking while renders
    keep coming and sleeps on an event after a second without any, so a build does not pay for
    waking it on every render.
    """

    TICK = 0.02
    MAX_FIRES = 5
    IDLE_AFTER = 1.0

    def __init__(self):
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # after fork the thread is gone and the lock may be held: start from scratch
        self.lock = threading.Lock()
        self.entries: dict[int, list] = {}  # thread id -> [deadline or None, times fired]
        self.wake = threading.Event()
        self.idle = True
        self.last_active = 0.0
        self.thread: threading.Thread | None = None

    def arm(self, seconds: float) -> tuple[int, tuple | None]:
        tid = threading.get_ident()
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="ftdata-render-watchdog", daemon=True)
                self.thread.start()
            entry = self.entries.get(tid)
            if entry is None:
                entry = self.entries[tid] = [None, 0]
            previous = (entry[0], entry[1]) if entry[0] is not None else None  # nested use
            now = time.monotonic()
            entry[0], entry[1] = now + seconds, 0
            self.last_active = now
            idle = self.idle
        if idle:
            self.wake.set()
        return tid, previous

    def disarm(self, armed: tuple[int, tuple | None]) -> None:
        tid, previous = armed
        with self.lock:
            entry = self.entries[tid]
            if entry[1]:
                # a timeout fired as the block ended may still be pending: clear it so it cannot
                # land in unrelated code
                _set_async_exc(tid, ctypes.py_object())
            entry[0], entry[1] = previous if previous is not None else (None, 0)
            self.last_active = time.monotonic()

    def _loop(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                busy = any(e[0] is not None for e in self.entries.values())
                if not busy and now - self.last_active > self.IDLE_AFTER:
                    self.idle = True
                    self.wake.clear()
                    self.entries = {t: e for t, e in self.entries.items() if e[0] is not None}
            if self.idle:
                self.wake.wait()
                with self.lock:
                    self.idle = False
                continue
            time.sleep(self.TICK)
            now = time.monotonic()
            with self.lock:
                for tid, entry in self.entries.items():
                    # fire again a few times in case the first one was swallowed, then give
                    # up rather than interrupt a thread forever
                    if entry[0] is not None and now > entry[0] and entry[1] < self.MAX_FIRES:
                        entry[1] += 1
                        _set_async_exc(tid, ctypes.py_object(RenderTimeout))


_WATCHDOG = _Watchdog()


@contextmanager
def limited(limits: RenderLimits | None, seconds: float | None = None):
    """Run a block with a fresh :class:`Budget` and a deadline (``seconds`` or ``max_seconds``).

    Raises:
        RenderTimeout: the deadline passed inside the block.
    """
    lim = limits or DEFAULT_LIMITS
    token = _BUDGET.set(Budget(lim))
    armed = None
    try:
        armed = _WATCHDOG.arm(seconds if seconds is not None else lim.max_seconds)
        yield
    finally:
        if armed is not None:
            _WATCHDOG.disarm(armed)
        _BUDGET.reset(token)
