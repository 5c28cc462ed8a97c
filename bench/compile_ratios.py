"""ftdata / bare tokenizer in every layout, each ratio from one run (issue 20's table).

    python bench/compile_ratios.py [--times 50] [--rounds 3] [--only plain bpe-nfc ...]
                                   [--skip-peers] [--skip-memory] [--cache-dir /tmp/cache/ftdata-bench]

Every case is a cold whole build (``compile_recipe(..., cache=True, force=True)``, as
``ftdata build --force`` runs) timed against the bare ``Tokenizer.encode_batch`` (with offsets,
batches of 1,000) on exactly the texts ftdata tokenizes; each method runs ``--rounds`` times, one
after another, and is scored by its best round (a shared machine's load changes by the minute).
``--num-proc 2`` unless the row names 1 process. The cases:

* ``plain``: DialogSum dev+test ``--times`` over (50 -> 50,000 rows), one prompt/completion
  template, the shipped ``ftdata:tiny-bpe`` tokenizer, 2 processes and 1 process; with the peers
  (``--skip-peers`` leaves them out): a hand-written batched ``datasets.map`` giving
  ``input_ids`` and completion-only ``labels`` (prompts and joined texts tokenized by the
  transformers tokenizer, -100 over the prompt, EOS; best of the rounds) and TRL's
  ``SFTTrainer`` dataset preparation (prompt/completion, ``completion_only_loss``; best of the
  rounds too, as issue 20 asks of every ratio: its one run took 48.7 to 65.1 s on this machine,
  too wide a spread to score by); each peer's wall and CPU seconds cover its data work alone (bench/compile.py says what
  each does).
* ``bpe-nfc`` / ``bpe-raw``: the same rows with a large byte-level BPE vocabulary trained here
  from the shared English text (``../shared/data``: Multi30K English, DialogSum, Amazon Fine Food,
  SMS Spam), a Qwen2-style split regex and byte-level pre-tokenizer, ``vocab_size=100_000`` asked
  (the printed size is what the text supports), with an NFC normalizer and without.
* ``metaspace``: the same rows with a SentencePiece-style tokenizer (BPE, ``Metaspace``
  pre-tokenizer and decoder) trained here from the same text.
* ``chat-1``: chat layout, one turn per row (a ChatML template on the shipped tokenizer).
* ``chat-all`` / ``chat-last``: real multi-turn conversations (each DialogSum dialogue, its
  speakers alternating user / assistant, ``--chat-times`` copies), every assistant turn or the last one trained.
* ``synth-2`` / ``synth-32``: synthetic conversations of 2 and 32 turns (DialogSum utterances,
  the same text in all), every assistant turn trained: the two ratios should be alike (cost
  linear in length).

Each case also times ``encode_batch_fast`` on the same texts (no offsets: the least a tokenizer
call does) and prints ftdata against it. Below 1, the gap is ftdata's own work around the
tokenizer call (reading, rendering, masks, dedup, the shards and their hashes, the report); above
1, ftdata encoded the texts with less work than the call itself: where
:mod:`ftdata.tokenize.pieces` applies (byte-level BPE, ASCII text) it encodes each distinct
pre-tokenized piece once and looks the rest up.

Then (``--skip-memory`` leaves it out) peak anonymous RSS of the build and its workers at
``--memory-large`` vs ``--memory-small`` x 1,000 rows (default 1M vs 100k; :mod:`memory`), in
fresh subprocesses. Trained tokenizers are cached in ``--cache-dir`` (never in the repository).
Every timed run (a build, the bare tokenizer, a peer) runs in a Python process of its own
(:func:`fresh`), started for it: in one long-lived process the methods timed later ran in a heap
that every earlier build and encoding had left fragmented, and slowed round by round (the bare
tokenizer on 16,000 two-turn conversations took 1.33 s late in a whole run and 0.73 s in a run
of two cases). ``--in-process`` times them all in this process, as rounds 1-3 of issue 20 did.
Prints one table and a JSON line with everything. Each ratio is given twice: by wall clock, and
by CPU seconds (user + system of the process, its threads and its reaped worker processes), which
a shared machine's load disturbs far less; on an idle machine with every core busy the two agree.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PROMPT, SHARED, dialogsum_rows, write_recipe, write_repeated  # noqa: E402
from compile import datasets_map, trl_prepare  # noqa: E402

from ftdata.build.orchestrate import compile_recipe  # noqa: E402
from ftdata.tokenize.tokenizer import ASSET_DIR  # noqa: E402

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
#: Qwen2's pre-tokenizer split pattern (a published regular expression).
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
BATCH = 1000
#: The tokenizer's least work on the same texts: ``encode_batch_fast`` (no offsets), its own
#: threads. A ratio to it says how much time ftdata adds around the tokenizer call itself.
FLOOR = "encode_batch_fast"


# -- tokenizers trained here ---------------------------------------------------------------
def english_text() -> list[str]:
    """Every English text of ../shared/data, one string per record."""
    out = []
    for name in ("train.en", "val.en", "test_2016_flickr.en"):
        out += (SHARED / "multi30k_en_de" / name).read_text(encoding="utf-8").splitlines()
    for r in dialogsum_rows():
        out += [r["dialogue"], r["summary"]]
    import csv

    with open(SHARED / "amazon_fine_food" / "Reviews.csv", newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            out += [rec["Summary"], rec["Text"]]
    for line in (SHARED / "sms_spam" / "SMSSpamCollection").read_text(encoding="utf-8").splitlines():
        out.append(line.split("\t", 1)[-1])
    return [t for t in out if t]


def trained_tokenizer(kind: str, cache: Path) -> Path:
    """A tokenizer folder (``save_pretrained``) of ``kind``: ``bpe-nfc``, ``bpe-raw`` or
    ``metaspace``, trained once and kept in ``cache``."""
    folder = cache / kind
    if (folder / "tokenizer.json").exists():
        return folder
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if kind in ("bpe-nfc", "bpe-raw"):
        if kind == "bpe-raw":  # the same vocabulary, the normalizer taken off
            tok = Tokenizer.from_file(str(trained_tokenizer("bpe-nfc", cache) / "tokenizer.json"))
            tok.normalizer = None
        else:
            tok = Tokenizer(models.BPE())
            tok.normalizer = normalizers.NFC()
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(QWEN2_SPLIT), "isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
            tok.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(vocab_size=100_000, min_frequency=1, special_tokens=SPECIALS,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
            tok.train_from_iterator(english_text(), trainer)
    elif kind == "metaspace":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=32_000, min_frequency=2, special_tokens=SPECIALS,
                                      show_progress=False)
        tok.train_from_iterator(english_text(), trainer)
    else:
        raise ValueError(kind)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", unk_token="<unk>")
    fast.save_pretrained(str(folder))
    return folder


# -- inputs --------------------------------------------------------------------------------
def _turns(dialogue: str) -> list[str]:
    """The utterances of a DialogSum dialogue (``#PersonN#: ...`` lines), speaker tags removed."""
    out = []
    for line in dialogue.splitlines():
        text = line.split(":", 1)[1].strip() if line.startswith("#") and ":" in line else line.strip()
        if text:
            out.append(text)
    return out


def _as_messages(utterances: list[str]) -> list[dict]:
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": u} for i, u in enumerate(utterances)]
    if msgs and msgs[-1]["role"] == "user":
        msgs.pop()
    return msgs


def write_conversations(path: Path, conversations: list[list[dict]]) -> int:
    with open(path, "w", encoding="utf-8") as fh:
        for i, msgs in enumerate(conversations):
            fh.write(json.dumps({"id": f"c{i}", "messages": msgs}) + "\n")
    return len(conversations)


def real_conversations(times: int) -> list[list[dict]]:
    convs = []
    for i in range(times):
        for r in dialogsum_rows():
            msgs = _as_messages(_turns(r["dialogue"]))
            if len(msgs) >= 2:
                msgs[0] = {"role": "user", "content": f"(copy {i}) {msgs[0]['content']}"}
                convs.append(msgs)
    return convs


def synthetic_conversations(turns: int, utterances: int) -> list[list[dict]]:
    """Conversations of ``turns`` turns cut from a stream of ``utterances`` DialogSum utterances."""
    pool = [u for r in dialogsum_rows() for u in _turns(r["dialogue"])]
    stream = [f"({i}) {pool[i % len(pool)]}" for i in range(utterances)]
    return [_as_messages(stream[i:i + turns]) for i in range(0, len(stream) - turns + 1, turns)]


def chat_tokenizer(cache: Path) -> Path:
    """The shipped tokenizer with a ChatML template."""
    folder = cache / "tiny-chatml"
    if not (folder / "tokenizer.json").exists():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(ASSET_DIR))
        tok.chat_template = CHATML
        tok.save_pretrained(str(folder))
    return folder


def chat_recipe(folder: Path, source: Path, tokenizer: Path, train_on: str) -> Path:
    recipe = {"name": "bench", "output": str(folder / "out"), "tokenizer": str(tokenizer), "max_length": 100_000,
              "sources": [{"name": "chats", "path": str(source), "key": "id", "templates": []}],
              "chat": {"messages_column": "messages", "train_on": train_on}}
    p = folder / f"recipe-{train_on}.yaml"
    p.write_text(yaml.safe_dump(recipe))
    return p


def rendered(tokenizer: Path, conversations: list[list[dict]]) -> list[str]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer))
    return [tok.apply_chat_template(m, tokenize=False) for m in conversations]


# -- timing --------------------------------------------------------------------------------
def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all its threads, and its reaped children
    (a build's worker processes, once the pool has closed)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


#: How run_case calls what it times: :func:`fresh` (default) or in this process (``--in-process``).
CALL = {"fresh": True}


def fresh(fn, *args):
    """``fn(*args)`` in a new Python process (this script, ``--child``), its result pickled back:
    what it times starts from an unfragmented heap, whatever ran before it."""
    if not CALL["fresh"]:
        return fn(*args)
    with tempfile.TemporaryDirectory() as d:
        job, out = Path(d) / "job.pkl", Path(d) / "out.pkl"
        job.write_bytes(pickle.dumps((fn.__name__, args, str(out)), protocol=pickle.HIGHEST_PROTOCOL))
        subprocess.run([sys.executable, __file__, "--child", str(job)], check=True)
        return pickle.loads(out.read_bytes())


def child(job: Path) -> None:
    """The ``--child`` side of :func:`fresh`."""
    name, args, out = pickle.loads(job.read_bytes())
    import datasets

    datasets.disable_progress_bars()
    if name == "build":
        warm_build(*args)
    Path(out).write_bytes(pickle.dumps(globals()[name](*args), protocol=pickle.HIGHEST_PROTOCOL))


def warm_build(recipe: Path, out: Path, procs: int, rows: int = 64) -> None:
    """An untimed build of the recipe's first ``rows`` source rows, before the timed one in a fresh
    process: what a build imports or compiles once per process (matplotlib, Jinja, datasets'
    features) is then done, as it was for every round but the first in one long-lived process.
    Not counted: ``bare`` excludes loading the tokenizer and importing its library too."""
    spec = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    src = Path(spec["sources"][0]["path"])
    with open(src, encoding="utf-8") as fh:
        head = [line for _, line in zip(range(rows), fh)]
    small = out.parent / f"{recipe.stem}-warm"
    small.mkdir(exist_ok=True)
    (small / src.name).write_text("".join(head), encoding="utf-8")
    spec["sources"][0]["path"] = str(small / src.name)
    spec["output"] = str(small / "out")
    warm = recipe.parent / f"{recipe.stem}-warm.yaml"  # beside the recipe: its template files resolve the same
    warm.write_text(yaml.safe_dump(spec), encoding="utf-8")
    compile_recipe(warm, output=small / "out", num_proc=procs, cache=False, overwrite=True, force=True)


def timed(fn, *args):
    """``(wall seconds, CPU seconds, fn(*args))``."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, cpu_seconds() - c0, out


def bare(tokenizer: Path | str, texts: list[str], offsets: bool = True) -> tuple[float, float]:
    """Wall and CPU seconds of ``encode_batch`` (with offsets) over ``texts``, batches of 1,000;
    ``offsets=False``: ``encode_batch_fast``, the least a tokenizer call does (:data:`FLOOR`)."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(Path(tokenizer) / "tokenizer.json"))
    encode = backend.encode_batch if offsets else backend.encode_batch_fast
    encode(texts[:8])

    def run():
        for i in range(0, len(texts), BATCH):
            encode(texts[i:i + BATCH])

    wall, cpu, _ = timed(run)
    return wall, cpu


def build(recipe: Path, out: Path, procs: int) -> tuple[float, float, int]:
    """Wall and CPU seconds (the build process and its workers) of a cold build; its examples."""
    wall, cpu, built = timed(lambda: compile_recipe(recipe, output=out, num_proc=procs, cache=True, overwrite=True,
                                                    force=True))
    return wall, cpu, sum(s["examples"] for s in built.manifest["counts"]["splits"].values())


def plain_texts(out: Path, sep: str = " ") -> tuple[list[str], list[str]]:
    import datasets

    dd = datasets.load_from_disk(str(out))
    prompts, completions = [], []
    for split in dd.values():
        prompts += split["prompt"]
        completions += split["completion"]
    return prompts, completions


def run_case(name: str, recipe: Path, tokenizer: Path, procs: list[int], rounds: int, folder: Path,
             texts: list[str] | None, peers: bool) -> dict:
    """Best-of-``rounds`` wall seconds (and CPU seconds) of the bare tokenizer and of ftdata with
    each of ``procs``."""
    times: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    examples = {}
    extra = {}
    for r in range(rounds):
        for p in procs:
            s, c, n = fresh(build, recipe, folder / f"out{p}", p)
            times.setdefault(f"ftdata {p} proc", []).append(s)
            cpu.setdefault(f"ftdata {p} proc", []).append(c)
            examples[p] = n
        if texts is None:
            prompts, completions = plain_texts(folder / f"out{procs[0]}")
            texts = [a + " " + b for a, b in zip(prompts, completions)]
            extra["prompts"], extra["completions"] = prompts, completions
        s, c = fresh(bare, tokenizer, texts)
        times.setdefault("bare", []).append(s)
        cpu.setdefault("bare", []).append(c)
        s, c = fresh(bare, tokenizer, texts, False)
        times.setdefault(FLOOR, []).append(s)
        cpu.setdefault(FLOOR, []).append(c)
        if peers:  # wall and CPU of the map call alone (see bench/compile.py)
            s, _, c = fresh(datasets_map, extra["prompts"], [" " + c for c in extra["completions"]], BATCH)
            times.setdefault("datasets.map", []).append(s)
            cpu.setdefault("datasets.map", []).append(c)
            s, _, c = fresh(trl_prepare, extra["prompts"], [" " + c for c in extra["completions"]], folder)
            times.setdefault("TRL preparation", []).append(s)
            cpu.setdefault("TRL preparation", []).append(c)
        print(f"  {name} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s cpu {cpu[k][-1]:.1f}s"
                                                      for k, v in times.items()), flush=True)
    best = {k: min(v) for k, v in times.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    nfc_unchanged = all(unicodedata.is_normalized("NFC", t) for t in texts)
    return {"case": name, "examples": examples, "texts": len(texts), "seconds": times, "best": best,
            "cpu_seconds": cpu, "best_cpu": best_cpu, "text_is_nfc": nfc_unchanged}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--times", type=int, default=50, help="DialogSum copies (1,000 rows each) for the plain cases")
    ap.add_argument("--chat-times", type=int, default=10, help="DialogSum copies for the multi-turn chat cases")
    ap.add_argument("--synthetic", type=int, default=32_000, help="utterances in the synthetic conversations")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="run only these cases")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-small", type=int, default=100)
    ap.add_argument("--memory-large", type=int, default=1000)
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "cache" / "ftdata-bench")
    ap.add_argument("--in-process", action="store_true",
                    help="time every run in this process (rounds 1-3 of issue 20) instead of a fresh one each")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    CALL["fresh"] = not args.in_process
    import datasets

    datasets.disable_progress_bars()
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    def want(case: str) -> bool:
        return not args.only or case in args.only

    results, notes = [], {}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        plain_rows = root / "rows.jsonl"
        n_plain = write_repeated(plain_rows, args.times)
        for case, tok, procs in (("plain", ASSET_DIR, [2, 1]), ("bpe-nfc", None, [2]), ("bpe-raw", None, [2]),
                                 ("metaspace", None, [2])):
            if not want(case):
                continue
            folder = root / case
            folder.mkdir()
            if tok is None:
                t0 = time.perf_counter()
                tok = trained_tokenizer(case, args.cache_dir)
                from tokenizers import Tokenizer

                size = Tokenizer.from_file(str(tok / "tokenizer.json")).get_vocab_size()
                notes[case] = f"vocabulary {size:,} tokens (trained or loaded in {time.perf_counter() - t0:.0f}s)"
                print(f"{case}: {notes[case]}", flush=True)
            recipe = write_recipe(folder, plain_rows, tokenizer=str(tok), batch_size=BATCH)
            results.append(run_case(case, recipe, tok, procs, args.rounds, folder, None,
                                    peers=case == "plain" and not args.skip_peers))
        chat_tok = chat_tokenizer(args.cache_dir)
        if want("chat-1"):
            folder = root / "chat-1"
            folder.mkdir()
            recipe = write_recipe(folder, plain_rows, tokenizer=str(chat_tok), batch_size=BATCH, max_length=100_000,
                                  chat={"enabled": True})
            convs = [[{"role": "user", "content": PROMPT.replace("{{dialogue}}", f"(copy {i}) {r['dialogue']}")},
                      {"role": "assistant", "content": r["summary"]}]
                     for i in range(args.times) for r in dialogsum_rows()]
            results.append(run_case("chat-1", recipe, chat_tok, [2], args.rounds, folder,
                                    rendered(chat_tok, convs), False))
        for case, convs in (("chat-all", lambda: real_conversations(args.chat_times)),
                            ("chat-last", lambda: real_conversations(args.chat_times)),
                            ("synth-2", lambda: synthetic_conversations(2, args.synthetic)),
                            ("synth-32", lambda: synthetic_conversations(32, args.synthetic))):
            if not want(case):
                continue
            folder = root / case
            folder.mkdir()
            cs = convs()
            write_conversations(folder / "chats.jsonl", cs)
            recipe = chat_recipe(folder, folder / "chats.jsonl", chat_tok, "last" if case == "chat-last" else "all")
            results.append(run_case(case, recipe, chat_tok, [2], args.rounds, folder, rendered(chat_tok, cs), False))
            notes[case] = f"{len(cs):,} conversations, {sum(len(c) for c in cs) / len(cs):.1f} messages each"
    memory = None
    if not args.skip_memory:
        from memory import measure

        memory = []
        for times in (args.memory_small, args.memory_large):
            with tempfile.TemporaryDirectory() as d:
                memory.append(measure(times, 2, Path(d)))
            print(f"  memory {memory[-1]['rows']:,} rows: peak anon {memory[-1]['peak_anon_kb'] / 1024:.0f} MB "
                  f"({memory[-1]['seconds']}s)", flush=True)

    print(f"\n{os.cpu_count()} CPUs; load average now {os.getloadavg()[0]:.1f}; plain: DialogSum x{args.times} "
          f"({n_plain:,} rows); best of {args.rounds} rounds; --num-proc 2 unless named")
    print("ratios: bare seconds / ftdata seconds (higher is better for ftdata); wall clock, and CPU seconds of "
          "each method's process, threads and workers (steadier than wall clock on a loaded machine)")
    print(f"{'case':<34}{'ftdata s':>10}{'bare s':>9}{'ftdata/bare':>13}{'ftdata cpu':>12}{'bare cpu':>10}{'by CPU':>9}")
    for r in results:
        b, c = r["best"], r["best_cpu"]
        for key in (k for k in b if k.startswith("ftdata")):
            r.setdefault("ratio", {})[key] = b["bare"] / b[key]
            r.setdefault("ratio_cpu", {})[key] = c["bare"] / c[key]
            label = f"{r['case']} ({key.split(' ', 1)[1]})"
            print(f"{label:<34}{b[key]:>10.2f}{b['bare']:>9.2f}{b['bare'] / b[key]:>12.2f}x"
                  f"{c[key]:>12.2f}{c['bare']:>10.2f}{c['bare'] / c[key]:>8.2f}x")
        for peer in (FLOOR, "datasets.map", "TRL preparation"):
            if peer in b:
                r["ratio"][f"vs {peer}"] = b[peer] / b["ftdata 2 proc"]
                r["ratio_cpu"][f"vs {peer}"] = c[peer] / c["ftdata 2 proc"]
                print(f"{'  ftdata 2 proc vs ' + peer:<34}{b['ftdata 2 proc']:>10.2f}{b[peer]:>9.2f}"
                      f"{b[peer] / b['ftdata 2 proc']:>12.2f}x{c['ftdata 2 proc']:>12.2f}{c[peer]:>10.2f}"
                      f"{c[peer] / c['ftdata 2 proc']:>8.2f}x  ({peer} in the bare columns)")
    for case, note in notes.items():
        print(f"{case}: {note}")
    if memory:
        a, b = memory
        ratio = b["peak_anon_kb"] / a["peak_anon_kb"]
        print(f"memory: peak anonymous RSS of build + workers, {b['rows']:,} rows {b['peak_anon_kb'] / 1024:.0f} MB / "
              f"{a['rows']:,} rows {a['peak_anon_kb'] / 1024:.0f} MB = {ratio:.2f} (target <= 1.3)")
    print(json.dumps({"results": results, "notes": notes, "memory": memory}))


if __name__ == "__main__":
    main()
