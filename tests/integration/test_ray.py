"""The Ray engine on a local Ray instance with 2 CPUs: same output as the local engine."""

from __future__ import annotations

import pytest

from ftdata.build.orchestrate import compile_recipe

from .test_cache import output_bytes, two_source_recipe
from .test_template_random import random_recipe

pytest.importorskip("ray", reason="the ray extra is part of the test extra")  # the module: Ray only (local_ray)


@pytest.mark.slow
def test_ray_engine_output_is_identical_to_local(tmp_path, local_ray):
    # some rows too long (most of source b: allowed, the point is that Ray rejects them as the local engine does)
    recipe = two_source_recipe(tmp_path, n=120, batch_size=15, max_length=300, max_reject_share=1.0)
    local = compile_recipe(recipe, output=tmp_path / "local", cache=False)
    on_ray = compile_recipe(recipe, output=tmp_path / "ray", engine="ray", cache=False)
    assert output_bytes(on_ray.output) == output_bytes(local.output)
    assert on_ray.manifest["counts"] == local.manifest["counts"] and on_ray.manifest["shards"] == local.manifest["shards"]
    assert local.manifest["counts"]["rejects_by_code"].get("too_long")
    assert on_ray.build_info["engine"] == "ray"
    # cache entries written by Ray workers' results are reused by the local engine, and back
    first = compile_recipe(recipe, output=tmp_path / "mixed", engine="ray", cache=True)
    again = compile_recipe(recipe, output=tmp_path / "mixed", overwrite=True, cache=True)
    assert first.build_info["cache"]["chunks_computed"] == again.build_info["cache"]["chunks_reused"] > 0
    assert output_bytes(again.output) == output_bytes(local.output)


@pytest.mark.slow
def test_random_templates_on_ray_give_the_local_bytes(tmp_path, local_ray):
    """Template randomness on Ray workers draws what the local engine draws (issue 15 item 3)."""
    recipe = random_recipe(tmp_path, 125)
    local = compile_recipe(recipe, base=tmp_path, output=tmp_path / "local")
    on_ray = compile_recipe(recipe, base=tmp_path, output=tmp_path / "ray", engine="ray")
    assert output_bytes(on_ray.output) == output_bytes(local.output)


@pytest.mark.slow
def test_a_user_error_on_a_ray_worker_is_a_clean_build_error(tmp_path, local_ray):
    from ftdata.errors import BuildError

    recipe = two_source_recipe(tmp_path, n=30, batch_size=10, max_length=300, overflow="error")
    with pytest.raises(BuildError, match="overflow: error"):
        compile_recipe(recipe, engine="ray", cache=False)
