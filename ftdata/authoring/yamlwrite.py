"""Writing template files back: splice edited templates into the original YAML text.

The studio saves by rewriting only what changed. The file is composed (not loaded) to find
the text span of every template entry; an entry whose template is unchanged keeps its
original bytes (comments, quoting and line folding included), a changed entry is dumped
again in the file's own form, new entries are appended after the last one, and everything
around the ``templates`` section (``dataset:``, ``subset:``, comments) is kept as it was.
So a file saved without edits is byte-identical, and one edit changes one entry.

promptsource entries are dumped the way promptsource itself dumps them (PyYAML defaults:
``!Template`` / ``!TemplateMetadata`` tags, keys in file order, ASCII with escapes, width 80),
so an edited template looks like its neighbours. Native entries use literal blocks (``|``)
for multi-line text, which is what people write by hand.

Before anything is written the new text is parsed again and checked to hold exactly the
intended templates; the file is then replaced atomically (temporary file + rename).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config.yamlio import load_yaml_text
from ..errors import ConfigError, FtdataError
from ..templating.templates import Template, templates_from_data

#: Template attributes a template file stores (and the studio edits).
FIELDS = ("name", "id", "jinja", "prompt", "completion", "answer_choices", "metrics",
          "original_task", "choices_in_prompt", "languages", "reference")
_META = ("choices_in_prompt", "languages", "metrics", "original_task")


def fields(t: Template) -> dict[str, Any]:
    """The stored content of a template, for comparing an edit with its original."""
    return {k: getattr(t, k) for k in FIELDS}


@dataclass
class Edit:
    """One template of the file to write.

    Attributes:
        template: the template as it should be stored.
        origin: index of the entry it came from in the original file (file order), or None
            for a new template.
    """

    template: Template
    origin: int | None = None


@dataclass
class SaveResult:
    text: str
    changed: list[str]   # names of templates dumped again (edited or new)
    removed: int


# -- YAML output -------------------------------------------------------------------------------

class _Tagged(dict):
    """A mapping dumped with a local tag (``!Template``)."""

    def __init__(self, tag: str, *args, **kw):
        super().__init__(*args, **kw)
        self.tag = tag


class _PromptsourceDumper(yaml.SafeDumper):
    pass


class _NativeDumper(yaml.SafeDumper):
    pass


def _represent_tagged(dumper: yaml.SafeDumper, data: _Tagged):
    return dumper.represent_mapping(f"!{data.tag}", dict(data))


def _represent_block_str(dumper: yaml.SafeDumper, data: str):
    # multi-line text as a literal block; PyYAML falls back to quotes where a block cannot
    # hold the string exactly (trailing spaces, control characters)
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_PromptsourceDumper.add_representer(_Tagged, _represent_tagged)
_NativeDumper.add_representer(_Tagged, _represent_tagged)
_NativeDumper.add_representer(str, _represent_block_str)


def _dump(obj: Any, form: str) -> str:
    if form == "promptsource":
        return yaml.dump(obj, Dumper=_PromptsourceDumper, sort_keys=False, default_flow_style=False)
    return yaml.dump(obj, Dumper=_NativeDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def _dump_entry(entry: dict | list, form: str, indent: str) -> str:
    """One entry, indented like the file's entries.

    It is dumped nested under ``templates:`` so that line folding (which counts the
    indentation against the width) falls where promptsource's own dump put it.
    """
    lines = _dump({"templates": entry}, form).splitlines(keepends=True)[1:]
    have = lines[0][: len(lines[0]) - len(lines[0].lstrip(" "))]
    if have == indent:
        return "".join(lines)
    return "".join(indent + line[len(have):] if line.strip() else line for line in lines)


# -- entries -----------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """Loaded YAML (LineDict, ``__tag__``) back to dumpable objects, tags kept."""
    if isinstance(value, dict):
        inner = {k: _plain(v) for k, v in value.items() if k != "__tag__"}
        return _Tagged(value["__tag__"], inner) if "__tag__" in value else inner
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _promptsource_entry(t: Template, raw: dict | None) -> _Tagged:
    base = _plain(raw) if raw is not None else _Tagged("Template", dict.fromkeys(
        ("answer_choices", "id", "jinja", "metadata", "name", "reference")))
    entry = base if isinstance(base, _Tagged) else _Tagged("Template", base)
    meta = entry.get("metadata")
    if not isinstance(meta, dict):
        meta = _Tagged("TemplateMetadata", {})
    elif not isinstance(meta, _Tagged):
        meta = _Tagged("TemplateMetadata", meta)
    for k in _META:
        meta[k] = getattr(t, k) if k not in ("metrics", "languages") else list(getattr(t, k))
    entry.update(answer_choices=t.answer_choices, id=t.id, jinja=t.jinja, metadata=meta,
                 name=t.name, reference=t.reference)
    return entry


def _native_entry(t: Template, raw: dict | None) -> dict:
    entry: dict = dict(_plain(raw)) if raw is not None else {}
    entry["name"] = t.name
    if "id" in entry:  # native files store an id only when the author wrote one
        entry["id"] = t.id
    entry["prompt"], entry["completion"] = t.prompt, t.completion
    if t.answer_choices is not None:
        entry["answer_choices"] = t.answer_choices
    else:
        entry.pop("answer_choices", None)
    meta = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else None
    holder = meta if meta is not None else entry
    for k in (*_META, "reference"):
        value = getattr(t, k)
        target = entry if k == "reference" else holder
        if value in (None, [], ""):
            if k in target and target[k] not in (None, [], ""):
                target.pop(k)
        else:
            target[k] = list(value) if isinstance(value, list) else value
    if raw is None:  # keys other features read (e.g. ``truncate``) travel with a new template
        entry.update({k: _plain(v) for k, v in t.extra.items() if k not in entry})
    return entry


def new_id() -> str:
    """A fresh template id (promptsource uses random UUIDs)."""
    return str(uuid.uuid4())


# -- spans -------------------------------------------------------------------------------------

@dataclass
class _Layout:
    form: str                   # "promptsource" (mapping) or "native" (sequence)
    starts: list[int]           # text index where each entry begins (start of its line)
    ends: list[int]             # text index just after each entry's last line
    indent: str
    nodes: list[set[int]]       # ids of every node of each entry (aliases share nodes)


def _last_leaf(node: yaml.Node) -> yaml.Node:
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node


def _node_ids(node: yaml.Node, out: set[int]) -> set[int]:
    if id(node) in out:
        return out
    out.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _node_ids(k, out)
            _node_ids(v, out)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _node_ids(v, out)
    return out


def _line_start(text: str, index: int) -> int | None:
    """Start of the line holding ``index`` if only spaces precede it there, else None."""
    start = text.rfind("\n", 0, index) + 1
    return start if text[start:index].strip(" ") == "" else None


def _layout(text: str, file: str) -> _Layout | None:
    """Where the entries are; None when the section is not in block style (then re-dump)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return None
    section = next((v for k, v in root.value if getattr(k, "value", None) == "templates"), None)
    if section is None or getattr(section, "flow_style", False) or not section.value:
        return None
    starts, ends = [], []
    if isinstance(section, yaml.MappingNode):
        form, firsts = "promptsource", [k.start_mark.index for k, _ in section.value]
        lasts = [_last_leaf(v) for _, v in section.value]
        nodes = [_node_ids(v, set()) for _, v in section.value]
    elif isinstance(section, yaml.SequenceNode):
        form, firsts, lasts = "native", [], []
        for item in section.value:
            dash = text.rfind("-", 0, item.start_mark.index)
            firsts.append(dash)
            lasts.append(_last_leaf(item))
        nodes = [_node_ids(item, set()) for item in section.value]
    else:
        return None
    for first, last in zip(firsts, lasts):
        start = _line_start(text, first)
        if start is None:
            return None
        end = text.find("\n", last.end_mark.index)
        starts.append(start)
        ends.append(len(text) if end < 0 else end + 1)
    indent = text[starts[0]:firsts[0]]
    return _Layout(form, starts, ends, indent, nodes)


# -- the update --------------------------------------------------------------------------------

def update_text(text: str | None, edits: list[Edit], file: str, *, form: str = "native") -> SaveResult:
    """The file text holding ``edits`` (in that order), keeping unchanged entries' bytes.

    Args:
        text: the original file text (None for a new file).
        edits: every template the file should hold, each with the index of its original entry.
        file: the file name (for messages and native ids).
        form: the form of a new file ("native" or "promptsource").

    Raises:
        FtdataError: the result would not load back as exactly these templates.
    """
    data = load_yaml_text(text, file) if text else None
    originals: list[Template] = templates_from_data(data, file) if data is not None else []
    raws: list[dict] = []
    if data is not None:
        entries = data["templates"]
        raws = list(entries.values()) if isinstance(entries, dict) else list(entries)
        form = "promptsource" if isinstance(entries, dict) else "native"
    layout = _layout(text, file) if text else None

    for e in edits:
        if e.origin is not None and not 0 <= e.origin < len(originals):
            raise FtdataError(f"{file}: edit refers to entry {e.origin}, but the file has {len(originals)}")
    same = [e.origin is not None and fields(originals[e.origin]) == fields(e.template) for e in edits]
    changed = [e.template.name for e, s in zip(edits, same) if not s]
    verbatim = {e.origin for e, s in zip(edits, same) if s}
    if layout is not None:
        # an entry sharing an anchored node with one that is dumped again (or removed) must be
        # dumped too: its alias would otherwise point at an anchor that no longer exists
        moved = True
        while moved:
            moved = False
            for o in sorted(verbatim):
                if any(layout.nodes[o] & layout.nodes[i] for i in range(len(raws)) if i not in verbatim):
                    verbatim.discard(o)
                    moved = True
    pieces: list[str] = []
    for e in edits:
        t, o = e.template, e.origin
        if layout is None:
            continue
        if o in verbatim:
            piece = text[layout.starts[o]:layout.ends[o]]
        else:
            raw = raws[o] if o is not None else None
            entry = {t.id: _promptsource_entry(t, raw)} if form == "promptsource" else [_native_entry(t, raw)]
            piece = _dump_entry(entry, form, layout.indent)
        if o is not None:
            # the gap after an entry (blank lines, comments) travels with it
            nxt = layout.starts[o + 1] if o + 1 < len(layout.starts) else layout.ends[o]
            piece += text[layout.ends[o]:nxt]
        pieces.append(piece)
    removed = len(originals) - len({e.origin for e in edits if e.origin is not None})

    if layout is not None and pieces:
        # every entry but the last must end its line (the last may end the file without one)
        body = "".join(p if p.endswith("\n") else p + "\n" for p in pieces[:-1]) + pieces[-1]
        new_text = text[:layout.starts[0]] + body + text[layout.ends[-1]:]
    else:
        new_text = _whole(data, form, edits, raws)
    _verify(new_text, edits, file)
    return SaveResult(new_text, changed, removed)


def _whole(data: dict | None, form: str, edits: list[Edit], raws: list[dict]) -> str:
    """Dump the whole file (new file, or a section not in block style)."""
    doc = {k: _plain(v) for k, v in (data or {}).items() if k != "templates"}
    if form == "promptsource":
        doc["templates"] = {e.template.id: _promptsource_entry(e.template, raws[e.origin] if e.origin is not None else None)
                            for e in edits}
    else:
        doc["templates"] = [_native_entry(e.template, raws[e.origin] if e.origin is not None else None) for e in edits]
    return _dump(doc, form)


def _verify(new_text: str, edits: list[Edit], file: str) -> None:
    try:
        loaded = templates_from_data(load_yaml_text(new_text, file), file) if edits else []
    except ConfigError as exc:
        raise FtdataError(f"{file}: not saved, the templates would not load back:\n{exc}") from None
    want = [fields(e.template) for e in edits]
    got = [fields(t) for t in loaded]
    for w, g in zip(want, got):
        # a native template without a stored id gets one derived from its name on load
        if w["id"] != g["id"] and w["jinja"] is None:
            g["id"] = w["id"]
    if want != got:
        diff = next(((i, k) for i, (w, g) in enumerate(zip(want, got)) for k in w if w[k] != g[k]), None)
        raise FtdataError(f"{file}: not saved, the written text would not read back as the edited templates "
                          f"(count {len(want)} vs {len(got)}; first difference: {diff})")


def write_templates(path: str | Path, edits: list[Edit], *, expected_text: str | None = None,
                    form: str = "native") -> SaveResult:
    """Write ``edits`` to ``path`` (see :func:`update_text`), atomically.

    Args:
        expected_text: the text the edits were made against; if the file now holds something
            else (someone else saved it), nothing is written and FtdataError says so.
    """
    p = Path(path)
    current = p.read_text(encoding="utf-8") if p.exists() else None
    if expected_text is not None and current != expected_text:
        raise FtdataError(f"{p}: changed on disk since it was loaded; not overwriting it "
                          "(reload the studio to pick up the other changes)")
    result = update_text(current, edits, str(p), form=form)
    if result.text == current:
        return result
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(result.text)
        if current is not None:
            os.chmod(tmp, p.stat().st_mode & 0o7777)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result
