"""Mixture quotas (proportional with cap, weights, temperature) computed directly."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from ftdata.plan.mixture import quotas, report, task_rates


def test_proportional_with_cap_takes_min_n_cap():
    avail = {"a": 5000, "b": 120, "c": 800}
    rates = task_rates("proportional", avail, cap=500)
    assert rates == {"a": 500, "b": 120, "c": 500}
    assert quotas(rates, avail) == {"a": 500, "b": 120, "c": 500}
    # without a cap every example is taken
    assert quotas(task_rates("proportional", avail), avail) == avail
    # every task above the cap: each still takes exactly the cap (not the largest total at
    # equal shares, which would take every example of the smallest task)
    over = {"a": 5000, "c": 800}
    assert quotas(task_rates("proportional", over, cap=500), over, cap=500) == {"a": 500, "c": 500}
    flat = task_rates("temperature", over, cap=500, temperature=2.0)
    assert quotas(flat, over, cap=500) == {"a": 500, "c": 500}


def test_weights_take_the_largest_mixture_without_repeats():
    avail = {"a": 1000, "b": 90}
    rates = task_rates("weights", avail, weights={"a": 0.7, "b": 0.3})
    got = quotas(rates, avail)
    # b is the scarce task: all 90 of it; total 300, of which a takes 70 %
    assert got == {"a": 210, "b": 90}
    rep = report("weights", rates, avail, got, None)
    assert rep["tasks"]["a"]["requested_share"] == rep["tasks"]["a"]["realized_share"] == 0.7
    assert rep["tasks"]["b"]["not_sampled"] == 0 and not rep["tasks"]["b"]["exhausted"]


def test_temperature_flattens_and_size_reports_exhausted_tasks():
    avail = {"big": 10000, "small": 100}
    rates = task_rates("temperature", avail, cap=4000, temperature=2.0)
    assert float(rates["big"]) == pytest.approx(math.sqrt(4000))
    assert float(rates["small"]) == pytest.approx(10.0)
    got = quotas(rates, avail, size=1000)
    share_small = rates["small"] / sum(rates.values())
    assert got["small"] == 100  # wanted floor(1000 * share) = 136, has only 100
    assert math.floor(1000 * share_small) > 100
    assert got["big"] == 1000 - math.floor(1000 * share_small) or got["big"] == 1000 - math.ceil(1000 * share_small)
    rep = report("temperature", rates, avail, got, 1000)
    assert rep["tasks"]["small"]["exhausted"] and not rep["tasks"]["big"]["exhausted"]
    # size rounding hands out the remainder: shares 1/3 each of 10 -> 4, 3, 3 (ties by name)
    eq = {"x": Fraction(1), "y": Fraction(1), "z": Fraction(1)}
    assert quotas(eq, {"x": 50, "y": 50, "z": 50}, size=10) == {"x": 4, "y": 3, "z": 3}
