"""Duplicates and near-duplicates per dataset, and what near-dup detection costs, in one run.

    python bench/neardup.py [--threshold 0.8] [--repeat 2] [--times 0]

For DialogSum (dev+test), SMS spam, Amazon Fine Food and Multi30K (train+val+test, en->de),
compiles each dataset with one template three ways, chunk cache off: exact dedup only;
exact + near dedup (MinHash, 128 permutations, 3-word shingles); exact dedup + the
contamination report (validation and test vs train). The first two differ by near-dup
detection alone (signatures in phase A, LSH in phase B). Each build runs ``repeat`` times,
interleaved; the fastest wall time and, separately, the smallest CPU time of this process
count (CPU time is steadier on a shared machine). Prints exact and near duplicates found,
the times and the ratios to the first. ``--times N`` adds DialogSum repeated N times (every copy
prefixed, so copies are near-duplicates of each other: a worst case for the LSH buckets).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, dialogsum_rows, write_repeated  # noqa: E402

from ftdata.build.orchestrate import compile_recipe  # noqa: E402


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def datasets_in(folder: Path, times: int) -> dict[str, dict]:
    """name -> (source spec, template) for each benchmarked dataset."""
    dialog = _jsonl(folder / "dialogsum.jsonl", dialogsum_rows())
    lines = {}
    for part in ("train", "val", "test_2016_flickr"):
        en = (SHARED / "multi30k_en_de" / f"{part}.en").read_text(encoding="utf-8").splitlines()
        de = (SHARED / "multi30k_en_de" / f"{part}.de").read_text(encoding="utf-8").splitlines()
        lines.update({f"{part}-{i}": (e, g) for i, (e, g) in enumerate(zip(en, de))})
    m30k = _jsonl(folder / "multi30k.jsonl", [{"id": k, "en": e, "de": g} for k, (e, g) in lines.items()])
    out = {
        "dialogsum": ({"path": str(dialog), "key": "fname"},
                      {"prompt": "Summarize the following conversation.\n\n{{dialogue}}\n\nSummary:", "completion": "{{summary}}"}),
        "sms_spam": ({"path": str(SHARED / "sms_spam" / "SMSSpamCollection"), "format": "tsv", "key": "@line",
                      "csv": {"delimiter": "\t", "quoting": "none", "header": False, "columns": ["label", "text"]}},
                     {"prompt": "Is this text message spam or ham?\n\n{{text}}\n\nAnswer:", "completion": "{{label}}"}),
        "amazon_fine_food": ({"path": str(SHARED / "amazon_fine_food" / "Reviews.csv"), "key": "Id"},
                             {"prompt": "Write a short headline for this review:\n\n{{Text}}", "completion": "{{Summary}}"}),
        "multi30k": ({"path": str(m30k), "key": "id"},
                     {"prompt": "Translate English to German: {{en}}", "completion": "{{de}}"}),
    }
    if times:
        write_repeated(folder / "repeated.jsonl", times)
        out[f"dialogsum_x{times}"] = ({"path": str(folder / "repeated.jsonl"), "key": "fname"}, out["dialogsum"][1])
    return out


def build(folder: Path, name: str, src: dict, tpl: dict, near: bool, threshold: float,
          contamination: bool = False) -> tuple[float, dict]:
    import yaml

    (folder / f"{name}.t.yaml").write_text(yaml.safe_dump({"templates": [{"name": "t", **tpl}]}))
    recipe = {"name": name, "output": str(folder / f"out-{name}"), "max_length": 4096,
              "sources": [{"name": name, "templates": [{"file": f"{name}.t.yaml"}], **src}],
              "dedup": {"exact": True, "near": near, "threshold": threshold},
              "contamination": {} if contamination else None}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    t0, c0 = time.perf_counter(), time.process_time()
    res = compile_recipe(path, overwrite=True, cache=False)  # time the work, not the chunk cache
    return (time.perf_counter() - t0, time.process_time() - c0), res.manifest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--times", type=int, default=0, help="also DialogSum repeated this many times")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for name, (src, tpl) in datasets_in(folder, args.times).items():
            t_plain, t_near, t_con = [], [], []
            for _ in range(args.repeat):  # alternate, so load on the machine hits all alike
                t, m_plain = build(folder, name, src, tpl, False, args.threshold)
                t_plain.append(t)
                t, m_near = build(folder, name, src, tpl, True, args.threshold)
                t_near.append(t)
                t, _ = build(folder, name, src, tpl, False, args.threshold, contamination=True)
                t_con.append(t)
            # fastest run by wall time and, separately, by CPU time of this process (less
            # sensitive to other load on the machine; phase A runs in this process by default)
            w_plain, w_near, w_con = (min(x[0] for x in ts) for ts in (t_plain, t_near, t_con))
            c_plain, c_near, c_con = (min(x[1] for x in ts) for ts in (t_plain, t_near, t_con))
            by_code = m_near["counts"]["rejects_by_code"]
            c = m_near["counts"]["sources"][name]
            rows.append({"dataset": name, "rows": c["rows_read"], "written": c["examples_written"],
                         "exact_dups": by_code.get("duplicate", 0) + by_code.get("duplicate_key", 0),
                         "near_dups": by_code.get("near_duplicate", 0),
                         "s_without": round(w_plain, 2), "s_with": round(w_near, 2),
                         "ratio": round(w_near / w_plain, 3),
                         "cpu_without": round(c_plain, 2), "cpu_with": round(c_near, 2),
                         "cpu_ratio": round(c_near / c_plain, 3),
                         "s_contamination_report": round(w_con, 2),
                         "ratio_contamination": round(w_con / w_plain, 3),
                         "cpu_ratio_contamination": round(c_con / c_plain, 3)})
    head = (f"{'dataset':<18}{'rows':>8}{'written':>9}{'exact':>7}{'near':>7}{'s w/o':>8}{'s with':>8}{'ratio':>7}"
            f"{'cpu w/o':>9}{'cpu with':>9}{'ratio':>7}{'s cont.':>9}{'ratio':>7}{'cpu r.':>7}")
    print(f"near-dup threshold {args.threshold}, 128 permutations, 3-word shingles; fastest of {args.repeat}")
    print(head)
    for r in rows:
        print(f"{r['dataset']:<18}{r['rows']:>8}{r['written']:>9}{r['exact_dups']:>7}{r['near_dups']:>7}"
              f"{r['s_without']:>8}{r['s_with']:>8}{r['ratio']:>7}{r['cpu_without']:>9}{r['cpu_with']:>9}"
              f"{r['cpu_ratio']:>7}{r['s_contamination_report']:>9}{r['ratio_contamination']:>7}"
              f"{r['cpu_ratio_contamination']:>7}")
    tot_plain, tot_near = sum(r["s_without"] for r in rows), sum(r["s_with"] for r in rows)
    cpu_plain, cpu_near = sum(r["cpu_without"] for r in rows), sum(r["cpu_with"] for r in rows)
    print(f"{'all':<18}{'':>31}{tot_plain:>8.2f}{tot_near:>8.2f}{tot_near / tot_plain:>7.3f}"
          f"{cpu_plain:>9.2f}{cpu_near:>9.2f}{cpu_near / cpu_plain:>7.3f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
