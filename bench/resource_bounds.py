"""Time and memory of the inputs that the resource bounds refuse or speed up (issue 15, item 10).

Each line prints seconds, the peak of Python allocations (tracemalloc, for renders) and how it
ended. The YAML inputs are written to a temporary folder: a real-shaped 4 MB template file
(promptsource's banking77 templates repeated under fresh ids), the same ten times over (40 MB),
and 4 MiB of one-character nodes.

    python bench/resource_bounds.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SHARED  # noqa: E402

from ftdata.config import yamlio  # noqa: E402
from ftdata.config.yamlio import load_yaml, load_yaml_text  # noqa: E402
from ftdata.errors import ConfigError, TemplateError  # noqa: E402
from ftdata.templating.templates import from_jinja, from_strings  # noqa: E402


def run(label: str, fn, trace: bool = True) -> None:
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
        how = "loaded / rendered"
    except (TemplateError, ConfigError) as exc:
        how = "refused: " + str(exc).replace("\n", " ")[-100:]
    dt = time.perf_counter() - t0
    peak = f"{tracemalloc.get_traced_memory()[1] / 1e6:8.1f} MB" if trace else "           "
    if trace:
        tracemalloc.stop()
    print(f"{label:38} {dt:7.3f} s {peak}  {how}", flush=True)


def real_shaped_yaml(size: int) -> str:
    src = (SHARED / "promptsource" / "templates" / "banking77" / "templates.yaml").read_text()
    body = src.split("templates:\n", 1)[1]
    parts, total, i = ["dataset: x\ntemplates:\n"], 0, 0
    while total < size:
        part = re.sub(r"^  ([0-9a-f-]{36}):", rf"  k{i}-\1:", body, flags=re.M)
        parts.append(part.replace("id: ", f"id: k{i}-"))
        total += len(part)
        i += 1
    return "".join(parts)


def main() -> None:
    run("format bomb ('{0}' * 40000).format(40 KB)",
        lambda: from_strings("{{ ('{0}' * 40000).format('x' * 40000) }}", "ok", name="b").render({}))
    run("list text bomb {{ [1 MB str] * 4000 }}",
        lambda: from_strings("{{ ['x' * 1000000] * 4000 }}", "ok", name="b").render({}))
    run("2.1 MB template (300,000 x '{{ a }}')",
        lambda: from_jinja("{{ a }}" * 300_000 + " ||| x", name="big"), trace=False)
    with tempfile.TemporaryDirectory() as tmp:
        four = Path(tmp) / "four.yaml"
        four.write_text(real_shaped_yaml(4_000_000))
        forty = Path(tmp) / "forty.yaml"
        forty.write_text(real_shaped_yaml(40_000_000))
        run(f"YAML {four.stat().st_size / 1e6:.1f} MB real-shaped, libyaml", lambda: load_yaml(four), trace=False)
        loader, yamlio._Loader = yamlio._Loader, yamlio._PyLoader
        try:
            run(f"YAML {four.stat().st_size / 1e6:.1f} MB real-shaped, pure Python", lambda: load_yaml(four),
                trace=False)
        finally:
            yamlio._Loader = loader
        run(f"YAML {forty.stat().st_size / 1e6:.1f} MB real-shaped", lambda: load_yaml(forty), trace=False)
    tiny = "x: [" + ",".join(["1"] * (2 * 2**20 - 3)) + "]\n"
    run(f"YAML {len(tiny) / 2**20:.1f} MiB of one-character nodes", lambda: load_yaml_text(tiny, "tiny.yaml"),
        trace=False)


if __name__ == "__main__":
    main()
