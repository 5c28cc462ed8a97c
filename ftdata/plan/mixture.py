"""Task mixtures: how many examples of each task a sampled split (train) takes.

Rates follow FLAN / seqio:

* ``weights``: the rate of a task is its weight;
* ``proportional``: rate = ``min(n, cap)``, ``n`` the task's examples in the split;
* ``temperature``: rate = ``min(n, cap) ** (1 / T)`` (T > 1 flattens the mixture).

The requested share of a task is its rate over the sum of rates. The split is then realized
by sampling **without replacement**: no example is repeated. Unless ``size`` is given, the
split takes the largest total that keeps every share exactly with no task past the cap,
``N = min_t min(n_t, cap) / share_t`` over tasks with examples, and a task takes
``floor(N * share_t)`` examples -- so for ``proportional`` with a cap each task takes exactly
``min(n, cap)``, also when every task has more than ``cap``. With ``size``, a task
takes ``floor(size * share_t)`` (the remainders go to the largest fractions, ties by task
name, until the total is ``size``); a task that runs out gives all its examples, is marked
``exhausted``, and the others are not raised to fill the gap (their realized shares grow).

Which examples a task keeps is fixed by the split's seeded order (the first ones in output
order), so the selection never depends on input order or batch size. The examples left out
go to rejects (stage ``mixture``, code ``not_sampled``). Splits that are not sampled keep
every task whole.
"""

from __future__ import annotations

import math
from fractions import Fraction


def task_rates(method: str, available: dict[str, int], *, weights: dict[str, float] | None = None,
               cap: int | None = None, temperature: float = 1.0) -> dict[str, Fraction]:
    """Mixing rate per task (exact fractions, so counts can be reproduced by hand)."""
    rates = {}
    for task, n in sorted(available.items()):
        if method == "weights":
            rates[task] = Fraction(str((weights or {}).get(task, 0.0)))
        else:
            r = min(n, cap) if cap is not None else n
            if method == "temperature" and temperature != 1.0 and r > 0:
                rates[task] = Fraction(r ** (1.0 / temperature))
            else:
                rates[task] = Fraction(r)
    return rates


def quotas(rates: dict[str, Fraction], available: dict[str, int], size: int | None = None, *,
           cap: int | None = None) -> dict[str, int]:
    """Examples each task takes (see the module docstring for the rule).

    Args:
        rates: mixing rate per task (:func:`task_rates`).
        available: examples per task in the split.
        size: examples wanted in the split; None: the largest total that keeps the shares.
        cap: with no ``size``, no task takes more than ``cap`` examples.
    """
    total = sum(rates.values())
    if total == 0:
        return dict.fromkeys(rates, 0)
    share = {t: r / total for t, r in rates.items()}
    if size is None:
        # a task gives at most the cap: with only n_t as the limit, tasks all above the cap
        # kept equal shares but each took as many as the scarcest of them had
        supply = {t: available[t] if cap is None else min(available[t], cap) for t in rates}
        limits = [supply[t] / share[t] for t in rates if share[t] > 0 and supply[t] > 0]
        if not limits:
            return dict.fromkeys(rates, 0)
        n_total = min(limits)
        return {t: min(supply[t], math.floor(n_total * share[t])) for t in rates}
    want = {t: math.floor(size * share[t]) for t in rates}
    left = size - sum(want.values())
    by_remainder = sorted(rates, key=lambda t: (-(size * share[t] - want[t]), t))
    for t in by_remainder[:left]:
        want[t] += 1
    return {t: min(available[t], want[t]) for t in rates}


def report(method: str, rates: dict[str, Fraction], available: dict[str, int], taken: dict[str, int],
           size: int | None) -> dict:
    """The manifest's per-task view: requested versus realized shares and counts."""
    total_rate = sum(rates.values())
    total_taken = sum(taken.values())
    tasks = {}
    for t in sorted(rates):
        share = rates[t] / total_rate if total_rate else Fraction(0)
        tasks[t] = {
            "available": available[t],
            "rate": round(float(rates[t]), 6),
            "requested_share": round(float(share), 6),
            "realized_share": round(taken[t] / total_taken, 6) if total_taken else 0.0,
            "examples": taken[t],
            "not_sampled": available[t] - taken[t],
            # ran out: had fewer examples than its share asked for
            "exhausted": bool(share > 0 and (available[t] == 0 or (size is not None and taken[t] < math.floor(size * share)))),
        }
    return {"examples": total_taken, "tasks": tasks}
