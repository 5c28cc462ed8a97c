"""Exports of a compiled directory in the exact pre-tokenized shape each training stack reads.

Every target keeps ftdata's token ids and its unshifted labels (``IGNORE_INDEX`` = -100 where
not trained) and only renames or drops columns, so the consumer trains exactly what ftdata
masked. The contracts (checked against each consumer's code; see the README section "Handing
the data on" for the sources):

========================  =====================================================================
``trl``                   ``save_to_disk`` DatasetDict; ``input_ids``, ``labels`` (unshifted);
                          packed data adds ``seq_lengths``. TRL's SFTTrainer sees ``input_ids``,
                          skips tokenization and uses ``labels`` as they are.
``axolotl``               ``<split>.jsonl`` with exactly ``input_ids``, ``attention_mask``,
                          ``labels`` (axolotl's pre-tokenized path: no ``type:``, no other keys).
``llamafactory``          ``save_to_disk`` DatasetDict with ``train`` and ``validation``;
                          ``input_ids``, ``attention_mask``, ``labels``; use as ``tokenized_path``;
                          ``llamafactory_sft.yaml`` beside it is the config to train with.
``torchtune``             ``<split>.parquet`` with ``tokens`` and ``labels`` (unshifted, like
                          torchtune's own ``SFTDataset``; its recipes shift labels themselves);
                          a ``tune run`` config reads it through
                          :func:`ftdata.consume.torchtune.dataset`.
``openai-jsonl``          ``<split>.jsonl`` of chat ``messages`` (user = prompt, assistant =
                          completion; a chat build: its whole conversation with the recipe's
                          system message, ``tools``, string ``arguments`` and per-message
                          ``weight``): text, not tokens.
``lm-eval``               lm-evaluation-harness tasks, one per template, scored as ``ftdata eval``
                          scores (:mod:`ftdata.consume.lmeval`).
``trl-chat``              ``save_to_disk`` DatasetDict of conversations: ``messages`` (each message
                          a datasets ``Json`` value, so mixed argument shapes load) and ``tools``
                          (JSON text, which TRL's SFTTrainer decodes): TRL tokenizes and masks.
``axolotl-chat``          ``<split>.jsonl`` for axolotl's ``chat_template`` type: ``messages`` and
                          ``tools`` as JSON text (axolotl decodes both), per-message ``training``.
``llamafactory-sharegpt`` ``<split>.jsonl`` ShareGPT (``conversations`` from/value with
                          ``function_call`` / ``observation``, ``system``, ``tools`` as JSON text)
                          and ``dataset_info.json`` (``formatting: sharegpt``).
``parquet`` / ``jsonl``   ``<split>.parquet`` / ``<split>.jsonl`` with every compiled column.
========================  =====================================================================

Each export is written to a hidden folder beside ``dest`` and renamed into place, so ``dest``
is complete or absent; a README.md inside names the contract and the source manifest, and a
hidden ``.ftdata.json`` marks it as an export: ``--overwrite`` replaces only such a folder.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import CHAT_JSON_COLUMNS, IGNORE_INDEX
from ..errors import FtdataError, did_you_mean
from ..inspect.load import load_compiled
from ..templating.chat import ChatPolicy
from ..templating.conversation import assistant_weights, loads
from ..write.writer import mark_output, not_replaceable
from . import chatexport, lmeval
from .llamafactory import CONFIG_NAME, model_note, write_config

#: Column that marks packed rows (see the packing stage): lengths of the documents in a row.
PACKED_COLUMN = "seq_lengths"


@dataclass
class ExportResult:
    """What an export wrote."""

    format: str
    dest: Path
    files: list[str]
    rows: dict[str, int]
    columns: list[str]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"format": self.format, "dest": str(self.dest), "files": self.files, "rows": self.rows,
                "columns": self.columns, "notes": self.notes}


@dataclass(frozen=True)
class Target:
    """One export format: which columns, how they are renamed, how they are written."""

    name: str
    writer: str  # "disk" (save_to_disk), "jsonl", "parquet", "chat" (conversations, see CONVERSATION_WRITERS)
    columns: tuple[str, ...] | None  # None = every compiled column
    rename: tuple[tuple[str, str], ...] = ()
    packed: tuple[str, ...] | None = None  # extra columns for packed data; None = packed refused
    splits: tuple[str, ...] | None = None  # None = every split
    tokens: bool = True  # needs token columns in the causal layout
    contract: str = ""
    load: str = ""


TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("trl", "disk", ("input_ids", "labels"), packed=(PACKED_COLUMN,),
           contract="`input_ids` and unshifted `labels` (-100 = not trained); packed rows add `seq_lengths`. "
                    "TRL's SFTTrainer treats a dataset with `input_ids` as already tokenized and uses `labels` as given. "
                    "Do not replace `labels` by a `completion_mask`: without `labels` TRL trains on every token unless "
                    "`completion_only_loss=True`.",
           load="from datasets import load_from_disk\n"
                "dd = load_from_disk('{dest}')\n"
                "trainer = SFTTrainer(model=..., args=SFTConfig(max_length={max_length}, ...), train_dataset=dd['train'], "
                "processing_class=tokenizer)"),
    Target("axolotl", "jsonl", ("input_ids", "attention_mask", "labels"),
           contract="One JSON object per line with exactly `input_ids`, `attention_mask`, `labels` (unshifted, -100 = "
                    "not trained); axolotl's pre-tokenized path needs all three and no other key, and no `type:`.",
           load="datasets:\n  - path: {dest}/train.jsonl\n    ds_type: json\n    type:\n"
                "test_datasets:\n  - path: {dest}/validation.jsonl\n    ds_type: json\n    split: train\n    type:"),
    Target("llamafactory", "disk", ("input_ids", "attention_mask", "labels"), splits=("train", "validation"),
           contract="`save_to_disk` DatasetDict with `train` (and `validation`, used as the eval set); columns "
                    "`input_ids`, `attention_mask`, `labels` (unshifted, -100 = not trained), as LLaMA-Factory's "
                    "supervised preprocessing writes them. The test split is left out on purpose.",
           load="llamafactory-cli train {dest}/" + CONFIG_NAME + "   # the config written beside the data; "
                "set model_name_or_path if the model is not the tokenizer's name"),
    Target("torchtune", "parquet", ("input_ids", "labels"), rename=(("input_ids", "tokens"),),
           contract="`tokens` and `labels`, both of one length; `labels` unshifted with -100 (torchtune's "
                    "CROSS_ENTROPY_IGNORE_IDX) where not trained, exactly what torchtune's SFTDataset yields. "
                    "torchtune's recipes shift labels left by one themselves, so they are NOT shifted here.",
           load="# in the `tune run` config (recipes call config.instantiate(cfg.dataset, tokenizer)):\n"
                "dataset:\n  _component_: ftdata.consume.torchtune.dataset\n  path: {dest}\n  split: train"),
    Target("openai-jsonl", "chat", None, tokens=False,
           contract="One JSON object per line: {\"messages\": [{\"role\": \"user\", \"content\": PROMPT}, "
                    "{\"role\": \"assistant\", \"content\": COMPLETION}]}; text, for hosted fine-tuning APIs.",
           load="upload {dest}/train.jsonl (and validation.jsonl) as chat fine-tuning files"),
    Target("lm-eval", "lm-eval", None, splits=("train", *lmeval.EVAL_SPLITS), contract=lmeval.CONTRACT,
           load=lmeval.LOAD),
    Target("trl-chat", "chat", None, tokens=False,
           contract="`save_to_disk` DatasetDict with `messages` (the conversation as compiled, in the internal format: "
                    "role, content, reasoning_content, tool_calls with parsed `arguments`, tool_call_id, name, weight; "
                    "each message a datasets `Json` value, so rows whose tool arguments differ in shape load) and `tools` "
                    "(JSON text or null; TRL's SFTTrainer json-decodes a string `tools`). TRL renders and masks these "
                    "itself: which tokens it trains is TRL's choice (`assistant_only_loss`, `completion_only_loss`); "
                    "for ftdata's exact labels export `--to trl` instead.",
           load="from datasets import load_from_disk\n"
                "dd = load_from_disk('{dest}')\n"
                "trainer = SFTTrainer(model=..., args=SFTConfig(max_length={max_length}, assistant_only_loss=True, ...),\n"
                "                     train_dataset=dd['train'], processing_class=tokenizer)"),
    Target("axolotl-chat", "chat", None, tokens=False,
           contract="One JSON object per line: `messages` (JSON text of the conversation; each assistant message has "
                    "`training`: true/false, ftdata's choice of trained turns) and "
                    "`tools` (JSON text or null). axolotl's `chat_template` type json-decodes a string messages/tools "
                    "field and string arguments, so no Arrow struct is ever inferred from them.",
           load=""),
    Target("llamafactory-sharegpt", "chat", None, tokens=False,
           contract="`<split>.jsonl` in LLaMA-Factory's ShareGPT layout: `conversations` (from: human / gpt / "
                    "function_call / observation; a function_call value is the JSON of {name, arguments} or a list "
                    "of them), `system` and `tools` (JSON text); `dataset_info.json` names each split with "
                    "`formatting: sharegpt`, its columns and tags. Rows the layout cannot hold (see the notes) are "
                    "left out and counted.",
           load=""),
    Target("parquet", "parquet", None, packed=(), tokens=False,
           contract="Every compiled column, one Parquet file per split.",
           load="datasets.load_dataset('{dest}')"),
    Target("jsonl", "jsonl", None, packed=(), tokens=False,
           contract="Every compiled column, one JSON Lines file per split.",
           load="datasets.load_dataset('{dest}')"),
]}

FORMATS = tuple(TARGETS)


@contextmanager
def quiet_datasets():
    """Silence datasets' progress bars for a block (the CLI prints one result line instead)."""
    from datasets.utils import logging as dlog

    was_on = dlog.is_progress_bar_enabled()
    dlog.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            dlog.enable_progress_bar()


def _check(target: Target, manifest: dict, columns: list[str], source: str) -> None:
    """Refuse a compiled split ``target`` cannot take; ``source`` names it (``DIR [split]``)."""
    where = f"export --to {target.name}: {source}"
    if target.tokens and manifest.get("layout") != "causal":
        raise FtdataError(f"{where}: needs a causal-layout build (input_ids = prompt + completion); found layout "
                          f"'{manifest.get('layout')}'. Compile with layout: causal, or export to parquet/jsonl")
    pair = {"prompt", "completion"} <= set(columns)
    packed = " (packed rows keep tokens only; compile without packing)" if PACKED_COLUMN in columns else ""
    if target.writer == "lm-eval" and not pair:
        raise FtdataError(f"{where}: needs the 'prompt' and 'completion' columns; found {columns}{packed}")
    if target.writer == "chat" and not (pair or "messages" in columns):
        raise FtdataError(f"{where}: needs a chat build's 'messages' column (conversations) or the 'prompt' and "
                          f"'completion' columns (one user and one assistant turn per row); found {columns}{packed}")
    if PACKED_COLUMN in columns and target.packed is None:
        raise FtdataError(f"{where}: the compiled rows are packed ({PACKED_COLUMN} present) and {target.name} packs "
                          "by itself; compile without packing and turn on the consumer's packing instead")


def _select(ds, target: Target):
    cols = list(ds.column_names) if target.columns is None else list(target.columns)
    if target.packed and PACKED_COLUMN in ds.column_names:
        cols += [c for c in target.packed if c not in cols]
    ds = ds.select_columns(cols)
    for old, new in target.rename:
        ds = ds.rename_column(old, new)
    return ds


def _chat_rows(ds) -> Iterator[dict]:
    for batch in ds.select_columns(["prompt", "completion"]).iter(batch_size=1000):
        for p, c in zip(batch["prompt"], batch["completion"]):
            yield {"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": c}]}


def _conversations(ds) -> Iterator[tuple[list[dict], list[dict] | None]]:
    """(messages, tools) per row: a chat build's stored conversation, else the (prompt, completion) pair."""
    if "messages" not in ds.column_names:
        for row in _chat_rows(ds):
            yield row["messages"], None
        return
    for batch in ds.select_columns(list(CHAT_JSON_COLUMNS)).iter(batch_size=1000):
        for m, t in zip(batch["messages"], batch["tools"]):
            yield loads(m), loads(t)


def _write_jsonl_rows(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def _readme(target: Target, manifest: dict, dest: Path, rows: dict, columns: list[str],
            notes: list[str] = ()) -> str:
    h = manifest.get("hashes", {})
    load = (target.load.format(dest=dest, max_length=manifest.get("max_length"),
                               group=lmeval.group_name(manifest.get("name"))) if target.load
            else chatexport.loading(target.name, manifest, dest, list(rows)))
    return "\n".join([
        f"# {manifest.get('name')} — ftdata export for {target.name}", "",
        f"Exported by ftdata {manifest.get('ftdata_version')} from a compiled directory "
        f"(recipe sha256 `{h.get('recipe', '?')[:16]}…`, tokenizer `{manifest.get('tokenizer', {}).get('name')}` "
        f"sha256 `{h.get('tokenizer', '?')[:16]}…`).", "",
        "## Contract", "", target.contract, "",
        f"Columns: {', '.join(f'`{c}`' for c in columns)}. Ignore index: {IGNORE_INDEX}.", "",
        "| split | rows |", "|---|---:|", *[f"| {s} | {n} |" for s, n in rows.items()], "",
        "## Loading", "", "```", load, "```", "",
        *(["## Left out", "", *[f"- {n}" for n in notes], ""] if notes else []),
    ])


def _check_replaceable(dest: Path) -> None:
    """Raise unless ``dest`` is absent, an empty folder or an earlier export (``is_output``)."""
    what = not_replaceable(dest, "export")
    if what:
        raise FtdataError(f"destination {dest} already exists and is not empty: it is {what}. "
                          "ftdata replaces only a folder it wrote itself (an earlier export, with "
                          "--overwrite), so that nothing else is ever deleted; choose another "
                          "destination or move it away yourself")


def prepare_dest(dest: Path, source: Path, overwrite: bool) -> Path:
    """Check ``dest``: not inside ``source``; absent, empty, or an earlier export and ``overwrite``.

    Returns:
        A new hidden temporary folder beside ``dest`` to write into.
    """
    given = dest
    dest = dest.resolve()
    src = source.resolve()
    if dest == src or src in dest.parents:
        raise FtdataError(f"destination {dest} is inside the compiled directory {src}; pick another folder")
    _check_replaceable(given)
    if dest.exists() and any(dest.iterdir()) and not overwrite:
        raise FtdataError(f"destination {dest} holds an earlier export; pass --overwrite to "
                          "replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    return tmp


def _write(target: Target, dd, chosen: list[str], tmp: Path,
           notes: list[str]) -> tuple[dict, list[str], list[str]]:
    """Write the chosen splits into ``tmp`` (to be renamed to the destination); return (rows per split, files,
    columns); ``notes`` gets what an export had to leave out."""
    import datasets

    if target.writer == "lm-eval":
        return lmeval.write_lmeval(dd, chosen, tmp)
    rows, files, columns = {}, [], []
    if target.writer == "disk":
        out = datasets.DatasetDict({s: _select(dd[s], target) for s in chosen})
        out.save_to_disk(str(tmp))
        columns = out[chosen[0]].column_names
        rows = {s: out[s].num_rows for s in chosen}
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
    else:
        for s in chosen:
            ds = dd[s]
            if target.writer == "chat" and target.name == "openai-jsonl" and "messages" not in ds.column_names:
                _write_jsonl_rows(tmp / f"{s}.jsonl", _chat_rows(ds))  # a pair build: as before
                columns = ["messages"]
                files.append(f"{s}.jsonl")
            elif target.writer == "chat":
                policy = ChatPolicy.from_spec(dd.manifest.get("chat"))  # the build's policy, its defaults
                convs = ((m, t, assistant_weights(m, policy.train_on, policy.train_roles))
                         for m, t in _conversations(ds))
                n, columns, written, skipped = chatexport.write(target.name, convs, tmp, s)
                files += written
                rows[s] = n
                if skipped:
                    notes.append(f"{s}: {skipped}")
                continue
            else:
                sel = _select(ds, target)
                columns = sel.column_names
                name = f"{s}.{target.writer}"
                if target.writer == "parquet":
                    sel.to_parquet(str(tmp / name))
                else:
                    sel.to_json(str(tmp / name), lines=True, force_ascii=False)
                files.append(name)
            rows[s] = ds.num_rows
    return rows, files, columns


def export(path: str | Path, to: str, dest: str | Path, *, splits: list[str] | None = None,
           overwrite: bool = False) -> ExportResult:
    """Export a compiled directory for one training stack.

    Args:
        path: compiled directory (must hold ``COMPLETED``).
        to: one of :data:`FORMATS`.
        dest: folder to write; replaced only with ``overwrite`` and only if an export wrote it.
        splits: splits to export (default every split; ``llamafactory`` keeps train and validation).
        overwrite: replace an earlier export at ``dest``.

    Returns:
        ExportResult listing the files, rows per split and columns written.

    Raises:
        FtdataError: unknown format, a layout or packing the consumer cannot take, a bad split name,
            a destination that holds an earlier export (without ``overwrite``) or anything else.
    """
    if to not in TARGETS:
        raise FtdataError(f"unknown export format '{to}'{did_you_mean(to, FORMATS)}; expected one of {', '.join(FORMATS)}")
    target = TARGETS[to]
    dd = load_compiled(path)
    manifest = dd.manifest
    available = list(dd)
    if splits:
        bad = [s for s in splits if s not in available]
        if bad:
            raise FtdataError(f"export: no split '{bad[0]}' in {path}{did_you_mean(bad[0], available)}; found {available}")
        chosen = list(splits)
    else:
        chosen = [s for s in available if target.splits is None or s in target.splits]
    if not chosen:
        raise FtdataError(f"export --to {to}: none of the splits {list(target.splits or [])} is in {path}; found {available}")
    _check(target, manifest, dd[chosen[0]].column_names, f"{path} [{chosen[0]}]")

    dest = Path(dest)
    tmp = prepare_dest(dest, Path(path), overwrite)
    notes = []
    if to == "llamafactory" and not splits and "test" in available:
        notes.append("test split left out (LLaMA-Factory reads train and validation only)")
    if to == "llamafactory" and model_note(manifest):
        notes.append(model_note(manifest))
    try:
        with quiet_datasets():
            rows, files, columns = _write(target, dd, chosen, tmp, notes)
            if target.name == "llamafactory-sharegpt":
                files.append(chatexport.write_dataset_info(tmp, manifest.get("name", "ftdata"), files))
        if to == "llamafactory":
            files.append(write_config(tmp, manifest, dest.resolve(), chosen))
        (tmp / "README.md").write_text(_readme(target, manifest, dest.resolve(), rows, columns, notes), encoding="utf-8")
        files.append("README.md")
        mark_output(tmp, "export")  # what lets a later --overwrite replace it
        _check_replaceable(dest)  # nothing else appeared there while we wrote
        if dest.exists() or dest.is_symlink():
            dest.unlink() if dest.is_symlink() else shutil.rmtree(dest)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(to, dest.resolve(), files, rows, columns, notes)
