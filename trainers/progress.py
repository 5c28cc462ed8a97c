"""What the trainer stage reports while it runs: one line per stage or log step, a bar while evaluating.

Library calls are silent by default (:class:`Reporter`); the CLI passes a :class:`ConsoleReporter`,
which writes to stderr so that results on stdout (tables, ``--json``) stay clean. Training lines
come from :class:`CompactLog`, a Trainer callback that replaces transformers' own printer (a raw
Python dict per logging step), and model loading runs with transformers' progress bars off.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager


class Reporter:
    """Receives progress; this base class ignores it (the default for library calls)."""

    def line(self, text: str) -> None:
        """One finished step or stage."""

    @contextmanager
    def bar(self, desc: str, total: int):
        """A progress bar for ``total`` items; yields ``advance(n)``."""
        yield lambda n: None


class ConsoleReporter(Reporter):
    """Lines and a tqdm bar on a stream (stderr by default)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    @contextmanager
    def bar(self, desc: str, total: int):
        from tqdm import tqdm

        with tqdm(total=total, desc=desc, unit=" rows", file=self.stream, dynamic_ncols=True, leave=False,
                  bar_format="{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} rows [{elapsed}<{remaining}]") as b:
            yield b.update
            b.refresh()  # the final count is drawn (tqdm skips updates inside mininterval) before leave=False clears it


def quiet_reporter(reporter: Reporter | None) -> Reporter:
    return reporter if reporter is not None else Reporter()


def trainer_callback(reporter: Reporter, label: str):
    """A transformers ``TrainerCallback`` printing one compact line per log / evaluation step."""
    import time

    from transformers import TrainerCallback

    class CompactLog(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs:
                return
            parts = [f"{label}: step {state.global_step}/{state.max_steps}"]
            if "loss" in logs:
                parts.append(f"loss {logs['loss']:.4f}")
            if "eval_loss" in logs:
                parts.append(f"val loss {logs['eval_loss']:.4f}")
            if "learning_rate" in logs and "loss" in logs:
                parts.append(f"lr {logs['learning_rate']:.2e}")
            if "train_loss" in logs:  # the end-of-training summary
                parts.append(f"mean loss {logs['train_loss']:.4f}")
            parts.append(f"{time.perf_counter() - self.t0:.1f}s")
            reporter.line("  " + " · ".join(parts))

    return CompactLog()


def use_compact_log(trainer, reporter: Reporter | None, label: str) -> None:
    """Replace the Trainer's dict printer by :func:`trainer_callback` (silent without a reporter)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if reporter is not None:
        trainer.add_callback(trainer_callback(reporter, label))


@contextmanager
def no_hub_bars():
    """transformers' and huggingface_hub's progress bars (weight loading) off inside the block."""
    from transformers.utils import logging as tf_logging

    was = tf_logging.is_progress_bar_enabled()
    tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            tf_logging.enable_progress_bar()
