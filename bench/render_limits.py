"""Overhead of the render limits, as a ratio to unlimited rendering, on DialogSum.

Renders DialogSum dev+test (1,000 rows) ``--times`` over with every template of
``templates/dialogsum/templates.yaml`` plus the bench's plain summarise template, two ways in
the same run:

* **limited**: :meth:`ftdata.templating.templates.Template.render` as builds use it (hardened sandbox with
  size checks, call budget, deadline watchdog, streamed output with a size cap);
* **unlimited**: the same template sources compiled in jinja2's stock ``SandboxedEnvironment``
  and rendered with ``Template.render`` after the same row copy and seeding (what ftdata did
  before the limits existed).

Prints seconds for each (best of ``--repeat``) and the ratio limited / unlimited.

    python bench/render_limits.py --times 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PROMPT, ROOT, dialogsum_rows  # noqa: E402
from jinja2 import StrictUndefined  # noqa: E402
from jinja2.sandbox import SandboxedEnvironment  # noqa: E402

from ftdata.templating.helpers import (  # noqa: E402
    choice,
    most_frequent,
    reset_rng,
    seeded_rng,
    set_rng,
    shuffle,
)
from ftdata.templating.parts import SEP, escape_row, unescape  # noqa: E402
from ftdata.templating.templates import from_strings, load_templates  # noqa: E402


def stock_environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.update({"choice": choice, "most_frequent": most_frequent, "zip": zip})
    env.filters.update({"choice": choice, "shuffle": shuffle, "most_frequent": most_frequent})
    return env


def unlimited_renderer(t, env):
    compiled = {part: env.from_string(src) for part, src in t.sources().items()}

    def render(row, seed, key):
        ctx = escape_row(row)
        token = set_rng(seeded_rng(seed, key, t.id))
        try:
            if "answer_choices" in compiled:
                ctx["answer_choices"] = [unescape(c).strip() for c in compiled["answer_choices"].render(ctx).split(SEP)]
            if "jinja" in compiled:
                p, c = (unescape(x).strip() for x in compiled["jinja"].render(ctx).split(SEP))
            else:
                p = unescape(compiled["prompt"].render(ctx)).strip()
                c = unescape(compiled["completion"].render(ctx)).strip()
        finally:
            reset_rng(token)
        return p, c

    return render


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--times", type=int, default=5, help="Render the 1,000 rows this many times.")
    ap.add_argument("--repeat", type=int, default=3, help="Timed passes per variant (best is kept).")
    args = ap.parse_args()

    rows = [dict(r, topic="t") for r in dialogsum_rows()] * args.times
    templates = load_templates(ROOT / "templates" / "dialogsum" / "templates.yaml")
    templates.append(from_strings(PROMPT, "{{summary}}", name="bench_summarize"))
    env = stock_environment()
    stock = [unlimited_renderer(t, env) for t in templates]

    def limited_pass():
        n = 0
        for i, row in enumerate(rows):
            for t in templates:
                t.render(row, seed=1, row_key=str(i))
                n += 1
        return n

    def unlimited_pass():
        n = 0
        for i, row in enumerate(rows):
            for r in stock:
                r(row, 1, str(i))
                n += 1
        return n

    # same outputs both ways, or the comparison means nothing
    for i, row in enumerate(rows[:200]):
        for t, r in zip(templates, stock):
            assert t.render(row, seed=1, row_key=str(i))[:2] == r(row, 1, str(i)), t.name

    best = {"limited": float("inf"), "unlimited": float("inf")}
    renders = 0
    for _ in range(args.repeat):  # interleaved so machine load affects both alike
        for name, fn in (("unlimited", unlimited_pass), ("limited", limited_pass)):
            t0 = time.perf_counter()
            renders = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    print(f"renders per pass: {renders:,} ({len(rows):,} rows x {len(templates)} templates)")
    for name in ("unlimited", "limited"):
        print(f"{name:>9}: {best[name]:.3f} s  ({renders / best[name]:,.0f} renders/s)")
    print(f"ratio limited / unlimited: {best['limited'] / best['unlimited']:.3f}")


if __name__ == "__main__":
    main()
