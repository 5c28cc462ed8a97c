"""Multi-turn chat compile throughput against the bare tokenizer, bucketed by assistant turns.

Conversations are DialogSum's speaker turns (``#Person1#`` as the user, ``#Person2#`` as the
assistant; :func:`ftdata.testing_chat.dialogsum_conversations`) from ../shared/data, grouped by
assistant turns (1-3, 4-7, 8+), plus synthetic 32-turn conversations stitched from them. Each
bucket is repeated (each copy made unique, so dedup keeps it) to ``--examples`` conversations
and built as a whole (``compile_recipe``: read, render, mask, tokenize, split, write), with all
assistant turns trained and with the last one, by two span methods:

* ``markers`` -- the marker render (a constant number of renders per conversation), the default;
* ``diff`` -- the per-turn diff (``FTDATA_CHAT_SPANS=diff``): one more render per trained turn,
  the method before it.

Two timings per case: ``build`` (the whole build, ``--num-proc`` processes; its fixed costs
weigh on small buckets) and ``engine`` (phase A's chat work in this process: render, find
spans, tokenize and mask -- what a worker does per chunk; ``--no-build`` times only this).

The bare tokenizer is ``Tokenizer.encode_batch`` (with offsets) on exactly the rendered texts
ftdata tokenized. Printed per bucket: examples/s, ftdata / bare, and the cost per example
relative to its length (microseconds per token): linear cost keeps it flat across buckets.
Best of ``--rounds`` rounds, taken in turn (the machine's load changes by the minute).

    python bench/chat_compile.py --examples 600 --rounds 3 --num-proc 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftdata.build.orchestrate import compile_recipe  # noqa: E402
from ftdata.templating.chatjinja import plain_messages, renderer_for  # noqa: E402
from ftdata.testing_chat import TEMPLATES, chat_tokenizer, dialogsum_conversations  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "dialogsum"
BUCKETS = {"1-3": (1, 3), "4-7": (4, 7), "8+": (8, 10_000)}


def conversations() -> list[list[dict]]:
    out = []
    for part in ("dev", "test"):
        out += dialogsum_conversations(SHARED / f"dialogsum.{part}.jsonl", system="Answer as Person2.")
    return out


def assistant_turns(c: list[dict]) -> int:
    return sum(m["role"] == "assistant" for m in c)


def thirty_two(convos: list[list[dict]], n: int) -> list[list[dict]]:
    """Synthetic 32-turn conversations: user/assistant pairs taken in order from the real ones."""
    pairs = []
    for c in convos:
        body = [m for m in c if m["role"] != "system"]
        pairs += [(body[i], body[i + 1]) for i in range(0, len(body) - 1, 2)
                  if body[i]["role"] == "user" and body[i + 1]["role"] == "assistant"]
    out = []
    for k in range(n):
        msgs = [{"role": "system", "content": "Answer as Person2."}]
        for j in range(32):
            u, a = pairs[(k * 32 + j) % len(pairs)]
            msgs += [dict(u), dict(a)]
        out.append(msgs)
    return out


def repeated(convos: list[list[dict]], n: int) -> list[list[dict]]:
    """``n`` conversations cycling through ``convos``, each copy unique (its first user turn tagged)."""
    out = []
    for k in range(n):
        c = [dict(m) for m in convos[k % len(convos)]]
        first = next(m for m in c if m["role"] == "user")
        first["content"] = f"(copy {k}) " + first["content"]
        out.append(c)
    return out


def build(folder: Path, name: str, rows: Path, tokdir: Path, train_on: str, method: str, num_proc: int):
    import yaml

    recipe = {"name": name, "output": str(folder / f"out_{name}"), "seed": 1, "split": {"ratios": {"train": 1.0}},
              "sources": [{"name": "chat", "path": str(rows), "key": "id", "templates": []}],
              "tokenizer": str(tokdir), "max_length": 32768, "batch_size": 200,
              "chat": {"messages_column": "messages", "train_on": train_on}}
    p = folder / f"{name}.yaml"
    p.write_text(yaml.safe_dump(recipe))
    old = os.environ.get("FTDATA_CHAT_SPANS")
    os.environ["FTDATA_CHAT_SPANS"] = "diff" if method == "diff" else "auto"
    try:
        t0 = time.perf_counter()
        res = compile_recipe(p, num_proc=num_proc, overwrite=True, cache=False)
        seconds = time.perf_counter() - t0
    finally:
        if old is None:
            os.environ.pop("FTDATA_CHAT_SPANS", None)
        else:
            os.environ["FTDATA_CHAT_SPANS"] = old
    m = res.manifest
    examples = sum(s["examples"] for s in m["counts"]["splits"].values())
    tokens = sum(t["tokens"] for t in m["tokens"].values())
    return seconds, examples, tokens, m.get("chat", {}).get("totals", {})


def engine(tok, renderer, conv: list[list[dict]], train_on: str, method: str) -> tuple[float, int]:
    """Phase A's chat work on ``conv`` in this process: render and find the spans
    (:func:`~ftdata.templating.chat.render_chat`), then tokenize and mask
    (:func:`~ftdata.tokenize.spans.encode_spans`), as ``tokenize_kept`` does per chunk."""
    from ftdata.templating.chat import ChatPolicy, render_chat
    from ftdata.tokenize.spans import encode_spans
    from ftdata.tokenize.specials import specials_for

    backend = tok.backend_tokenizer
    sp = specials_for(backend).strings
    policy = ChatPolicy(train_on=train_on)
    t0 = time.perf_counter()
    chats = [render_chat(tok, c, specials=sp, policy=policy, renderer=renderer,
                         method="diff" if method == "diff" else "auto") for c in conv]
    enc = encode_spans(backend, [ce.text for ce in chats], [ce.spans for ce in chats],
                       eos=[tok.eos_token_id if ce.append_eos else None for ce in chats],
                       untrained_end=[ce.untrained_end for ce in chats], max_length=1 << 20, overflow="error",
                       add_special_tokens=False, bos_id=tok.bos_token_id,
                       prompts=[ce.text[:ce.spans[0][0]] for ce in chats])
    return time.perf_counter() - t0, sum(len(e.input_ids) for e in enc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=600, help="conversations per bucket")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--template", default="chatml", choices=sorted(TEMPLATES))
    ap.add_argument("--buckets", nargs="*", default=[*BUCKETS, "32"])
    ap.add_argument("--methods", nargs="*", default=["markers", "diff"])
    ap.add_argument("--no-build", action="store_true", help="time the in-process chat work only (no whole builds)")
    args = ap.parse_args()
    import datasets

    datasets.disable_progress_bars()
    convos = conversations()
    groups = {b: [c for c in convos if lo <= assistant_turns(c) <= hi] for b, (lo, hi) in BUCKETS.items()}
    groups["32"] = thirty_two(convos, 50)
    results = []
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        template, specials, tokens = TEMPLATES[args.template]
        tok = chat_tokenizer(folder / "tok", template, specials, tokens)
        backend = tok.backend_tokenizer
        renderer = renderer_for(tok)
        for b in args.buckets:
            n = args.examples if b != "32" else max(args.examples // 4, 50)  # ~the 8+ bucket's tokens
            conv = repeated(groups[b], n)
            rows = folder / f"rows_{b}.jsonl"
            rows.write_text("".join(json.dumps({"id": str(i), "messages": c}) + "\n" for i, c in enumerate(conv)))
            texts = [renderer.render(plain_messages(c)) for c in conv]
            turns = sum(assistant_turns(c) for c in conv) / len(conv)
            times: dict[str, list[float]] = {}
            info: dict[str, tuple] = {}
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                enc = backend.encode_batch(texts, add_special_tokens=False)
                times.setdefault("bare", []).append(time.perf_counter() - t0)
                bare_tokens = sum(len(e.ids) for e in enc)
                for train_on in ("all", "last"):
                    for method in args.methods:
                        s, tk = engine(tok, renderer, conv, train_on, method)
                        key = f"engine {train_on}/{method}"
                        times.setdefault(key, []).append(s)
                        info[key] = (len(conv), tk, {})
                        if args.no_build:
                            continue
                        key = f"build {train_on}/{method}"
                        s, ex, tk, chat = build(folder, f"b{b.replace('+', 'p')}_{train_on}_{method}", rows, folder / "tok",
                                                train_on, method, args.num_proc)
                        times.setdefault(key, []).append(s)
                        info[key] = (ex, tk, chat)
            bare_best = min(times["bare"])
            row = {"bucket": b, "examples": len(conv), "assistant_turns": round(turns, 1),
                   "tokens_per_example": round(bare_tokens / len(conv), 1),
                   "bare_examples_per_s": round(len(conv) / bare_best, 1), "runs": {}}
            for key, ts in times.items():
                if key == "bare":
                    continue
                ex, tk, chat = info[key]
                best = min(ts)
                row["runs"][key] = {"seconds": [round(t, 2) for t in ts], "examples": ex,
                                    "examples_per_s": round(ex / best, 1), "ftdata_over_bare": round(bare_best / best * ex / len(conv), 3),
                                    "us_per_token": round(best / tk * 1e6, 2), "chat": chat}
            results.append(row)
            print(_line(row), flush=True)
    print(f"\n{args.template} template, --num-proc {args.num_proc}, best of {args.rounds}; CPUs {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    keys = list(results[0]["runs"])
    print("ftdata / bare (throughput ratio; whole builds include reading, splitting and writing):")
    print(f"{'bucket':<8}{'turns':>6}{'tok/ex':>8}{'bare ex/s':>11}" + "".join(f"{k:>21}" for k in keys))
    for r in results:
        print(f"{r['bucket']:<8}{r['assistant_turns']:>6}{r['tokens_per_example']:>8.0f}{r['bare_examples_per_s']:>11.0f}"
              + "".join(f"{r['runs'][k]['ftdata_over_bare']:>21.3f}" for k in keys))
    print("cost per token, microseconds (flat across buckets = cost linear in length):")
    for r in results:
        print(f"{r['bucket']:<8}{'':>25}" + "".join(f"{r['runs'][k]['us_per_token']:>21.2f}" for k in keys))
    for k in keys:
        small, big = results[0]["runs"][k]["ftdata_over_bare"], results[-1]["runs"][k]["ftdata_over_bare"]
        print(f"{k}: (ftdata/bare at {results[-1]['bucket']}) / (ftdata/bare at {results[0]['bucket']}) = {big / small:.2f}")
    print(json.dumps(results))


def _line(r: dict) -> str:
    return f"bucket {r['bucket']}: " + ", ".join(f"{k} {v['ftdata_over_bare']:.3f}x bare ({v['examples_per_s']:.0f} ex/s)"
                                                for k, v in r["runs"].items())


if __name__ == "__main__":
    main()
