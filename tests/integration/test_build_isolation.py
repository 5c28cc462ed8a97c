"""Two builds in one process do not disturb each other: no build state lives at module level."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import yaml

from ftdata.build.orchestrate import compile_recipe

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "reviews"
#: Files whose bytes may differ between runs (timings).
TIMED = {"build_info.json", "report.html"}


def _hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name not in TIMED}


def _recipes() -> dict[str, dict]:
    plain = yaml.safe_load((EXAMPLE / "recipe.yaml").read_text())
    # a second recipe unlike the first in every phase-B step: other seed, near dedup, packing
    other = dict(plain, seed=7, packing=True, dedup={"near": True, "threshold": 0.8})
    return {"plain": plain, "other": other}


def test_two_builds_in_threads_give_the_bytes_of_each_alone(tmp_path):
    recipes = _recipes()
    alone = {}
    for name, r in recipes.items():
        alone[name] = _hashes(compile_recipe(r, base=EXAMPLE, output=tmp_path / "alone" / name).output)
    assert alone["plain"] != alone["other"]

    # both builds wait for each other when phase B starts, so their phase B (mapped work files,
    # page release, plan, writing, report) runs interleaved
    barrier = threading.Barrier(len(recipes), timeout=120)
    results: dict[str, Path] = {}
    errors: list[BaseException] = []

    def build(name: str) -> None:
        met = []

        def progress(p) -> None:
            if p.stage == "finalize" and not met:
                met.append(True)
                barrier.wait()

        try:
            results[name] = compile_recipe(recipes[name], base=EXAMPLE, output=tmp_path / "together" / name,
                                           progress=progress).output
        except BaseException as exc:  # noqa: BLE001 - reported below, with the other thread's
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=build, args=(name,)) for name in recipes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert {name: _hashes(out) for name, out in results.items()} == alone
