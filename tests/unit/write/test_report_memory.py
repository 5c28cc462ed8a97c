"""The report's statistics stay bounded on a large split (issue 20: peak memory at 1M rows
<= 1.3x that at 100k). Measured at 1M vs 100k rows, the build process grew to 2.5 GB of
anonymous memory while the report read its examples: ``Table.take`` on a split of many record
batches first concatenates whole variable-width columns (every input_ids, labels, prompt and
completion of the split), and the per-example task and template were one Python string each."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pyarrow as pa
    from ftdata.write.reportstats import first_examples, split_stats

    path, n_batches, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    schema = pa.schema([("input_ids", pa.list_(pa.int32())), ("labels", pa.list_(pa.int32())),
                        ("source", pa.string()), ("task", pa.string()), ("template", pa.string()),
                        ("row_key", pa.string()), ("prompt", pa.string()), ("completion", pa.string())])
    ids = list(range(200))
    with pa.OSFile(path, "wb") as fh, pa.ipc.new_file(fh, schema) as w:
        for b in range(n_batches):
            w.write_batch(pa.record_batch({
                "input_ids": [ids] * rows, "labels": [[-100] * 100 + ids[100:]] * rows, "source": ["s"] * rows,
                "task": ["task"] * rows, "template": [f"t{b % 3}"] * rows,
                "row_key": [f"{b}-{i}" for i in range(rows)], "prompt": ["p" * 1000] * rows,
                "completion": ["c" * 200] * rows}, schema=schema))
    pool = pa.default_memory_pool()
    with pa.memory_map(path) as src:
        table = pa.ipc.open_file(src).read_all()  # mapped: the data itself is not in the pool
        base = pool.max_memory()
        stats = split_stats(table)
        docs = first_examples(table, stats, 2)
        print(json.dumps({"grew": pool.max_memory() - base, "table": table.nbytes, "docs": len(docs),
                          "rows": [d["row_key"] for d in docs],
                          "shared": len({id(x) for x in stats["template"].tolist()})}))
""")


def test_report_examples_do_not_concatenate_the_split(tmp_path):
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "split.arrow"), "60", "500"],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["docs"] == 6 and got["rows"] == ["0-0", "0-1", "1-0", "1-1", "2-0", "2-1"]
    # the split is ~80 MB of mapped data; copying the six examples' rows out needs a few of its batches
    assert got["grew"] < got["table"] / 10, got
    # one string object per distinct template and slice read, not one per example (30,000)
    assert got["shared"] <= 60, got


def test_the_per_template_panels_do_not_copy_every_examples_names():
    """The lengths-per-template plot labels each example "task / template". ``np.char`` on the two
    columns made fixed-width copies of every example's names (four bytes per character of the
    longest name): at 1M rows the report's peak grew by ~150 MB. Each distinct pair is now joined
    once and shared."""
    import tracemalloc

    import numpy as np

    from ftdata.write import report

    n = 100_000
    rng = np.random.default_rng(0)
    names = np.array([f"a rather long template name number {i} of this task" for i in range(3)], dtype=object)
    st = {"task": np.array(["summarize_the_dialogue_task"] * n, dtype=object),
          "template": names[rng.integers(0, 3, n)], "length": np.full(n, 10), "trained": np.full(n, 4),
          "prompt": np.full(n, 6), "completion": np.full(n, 4)}
    seen = {}
    real = report.side_plot, report.length_plot, report.fraction_plot
    report.side_plot = lambda panels, key, max_length: seen.update(panels) or ""
    report.length_plot = lambda stats, max_length: ""  # only the panels' labels are measured
    report.fraction_plot = lambda stats: ""
    try:
        tracemalloc.start()
        report.plot_images({"train": st}, 64)  # the report's plots (the panels are made there)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        report.side_plot, report.length_plot, report.fraction_plot = real
    panel = seen["train"]["panel"]
    want = np.char.add(np.char.add(st["task"].astype(str), " / "), st["template"].astype(str))
    assert panel.tolist() == want.tolist()
    assert len({id(x) for x in panel.tolist()}) == 3  # one string per distinct pair
    # fixed-width copies of 100,000 names: 4 bytes x ~80 characters each = 32 MB; shared: ~2 MB
    assert peak < 12_000_000, peak
