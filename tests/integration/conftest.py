"""Fixtures the integration tests share (each test module gets its own copy: module scope)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def sms(tmp_path_factory) -> Path:
    """SMS spam compiled with the shipped tokenizer (tests.integration.test_trainers.compile_sms)."""
    from tests.integration.test_trainers import compile_sms

    return compile_sms(tmp_path_factory.mktemp("sms"))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    """A tiny random llama (seed 0) saved to a folder."""
    from trainers.tiny import save_tiny_model

    return save_tiny_model("llama", tmp_path_factory.mktemp("models") / "llama", seed=0)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance with 2 CPUs (skips the test without the ray extra, part of the test extra)."""
    ray = pytest.importorskip("ray", reason="the ray extra is part of the test extra")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()
