"""Safe YAML loading for recipes and template files.

Only two custom tags are known: promptsource's ``!Template`` and ``!TemplateMetadata``; both
become plain mappings tagged with ``__tag__``. Anything else (``!!python/object`` and friends)
is an error with file and line. Aliases are counted so an alias bomb ("billion laughs") fails
fast instead of exploding later when the structure is walked: both the number of aliases
and the size the document would have with every alias expanded are bounded. (PyYAML shares
aliased objects, so a bomb loads in microseconds; it explodes later, when pydantic, ``json``
or ``deepcopy`` walk it.)

Size is bounded too: a file over :data:`MAX_YAML_BYTES` is refused before it is read, and a
document over :data:`MAX_YAML_NODES` nodes while it is composed. Text is scanned and parsed by
libyaml where PyYAML has it (:class:`_CLoader`), with the same composer, constructors and
checks as the pure-Python loader.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

MAX_ALIASES = 500
#: Largest YAML file (in bytes) or text (in characters) that is parsed: 250 times the largest
#: promptsource file (16,918 bytes). A file is measured before it is read.
MAX_YAML_BYTES = 4 * 2**20
#: Most nodes a document may have before aliases are expanded. Each node costs Python time
#: (10-20 us) and memory (about 350 bytes) whatever the scanner, so a document of tiny nodes
#: (``[1,1,1,...]``: 2 million in 4 MiB) would take over half a minute and 700 MB under the byte
#: cap alone. Real template files have one node per 17 to 100 bytes: the largest promptsource
#: file about 500, a 4 MB file of promptsource templates about 40,000.
MAX_YAML_NODES = 100_000
#: Largest number of nodes a document may have with every alias expanded.
MAX_EXPANDED_NODES = 1_000_000


class _Rules:
    """The checks of every loader here, whichever scanner reads the text: aliases and nodes
    are counted while the document is composed, and an alias bomb is refused once it is."""

    _aliases = 0
    _nodes = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_ALIASES} YAML aliases: refusing a possible alias bomb", mark)
        else:
            self._nodes += 1
            if self._nodes > MAX_YAML_NODES:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_YAML_NODES:,} YAML nodes (ftdata.config.yamlio.MAX_YAML_NODES); "
                    "split the file", mark)
        return super().compose_node(parent, index)

    def compose_document(self):
        node = super().compose_document()
        if node is not None and self._aliases:
            _check_expanded_size(node)
        return node


class _PyLoader(_Rules, yaml.SafeLoader):
    """SafeLoader that records the line of each mapping and limits aliases and nodes."""


if yaml.__with_libyaml__:
    class _CLoader(_Rules, yaml.composer.Composer, yaml.CSafeLoader):
        """The same loader on libyaml's scanner and parser (about ten times faster on real
        template files). PyYAML's own composer stays in between, so the counts above and
        Python's recursion limit on deep nesting apply exactly as in :class:`_PyLoader`;
        constructors and resolver are the same Python classes in both."""

        def __init__(self, stream):
            yaml.CSafeLoader.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
else:  # PyYAML built without libyaml
    _CLoader = None

#: the loader every load uses
_Loader = _CLoader or _PyLoader


def _check_expanded_size(root: yaml.Node) -> None:
    """Count the nodes of the document as if every alias were copied out; refuse a bomb."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep documents must not hit the recursion limit
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        kids = [x for pair in node.value for x in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if not children_done:
            if id(node) in open_:  # reached again from inside itself: it would expand forever
                raise yaml.composer.ComposerError(
                    None, None, "an alias refers to a node that contains it (a recursive structure), which "
                    "cannot be expanded; copy the values instead", node.start_mark)
            open_.add(id(node))
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(k), 1) for k in kids)
        if total > MAX_EXPANDED_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"with its aliases expanded this document would have more than {MAX_EXPANDED_NODES:,} "
                "nodes; refusing a possible alias bomb (\"billion laughs\")", node.start_mark)
        sizes[id(node)] = total


class LineDict(dict):
    """A dict that remembers the (1-based) line where it started in its YAML file."""

    line: int = 0


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    d = LineDict(loader.construct_mapping(node, deep=True))
    d.line = node.start_mark.line + 1
    return d


def _tagged(tag: str):
    def construct(loader: _Loader, node: yaml.Node) -> LineDict:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"{tag} must be a mapping", node.start_mark
            )
        d = _mapping(loader, node)
        d["__tag__"] = tag
        return d

    return construct


def _unknown(loader: _Loader, suffix: str, node: yaml.Node):
    raise yaml.constructor.ConstructorError(
        None, None, f"unknown YAML tag {node.tag!r} (only !Template and !TemplateMetadata are allowed)",
        node.start_mark,
    )


for _cls in filter(None, (_PyLoader, _CLoader)):
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _cls.add_constructor("!Template", _tagged("Template"))
    _cls.add_constructor("!TemplateMetadata", _tagged("TemplateMetadata"))
    _cls.add_multi_constructor("!", _unknown)
    _cls.add_multi_constructor("tag:yaml.org,2002:python/", _unknown)


def load_yaml_text(text: str, source: str = "<string>") -> Any:
    """Parse YAML text safely; raise :class:`ConfigError` naming file and line on failure."""
    if len(text) > MAX_YAML_BYTES:
        raise _too_large(source, f"{len(text):,} characters")
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - both loaders derive from a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        if "maximum nesting depth" in problem:  # libyaml's own limit: same words as a RecursionError below
            problem = f"nested too deeply ({problem})"
        raise ConfigError([f"{where}: invalid YAML: {problem}"], source) from None
    except RecursionError:
        raise ConfigError([f"{source}: invalid YAML: nested too deeply"], source) from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ConfigError([f"{source}: invalid YAML: {exc}"], source) from None


def load_yaml(path: str | Path) -> Any:
    """Read and parse a YAML file safely."""
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_YAML_BYTES:
                raise _too_large(str(p), f"{size:,} bytes")
            # bounded: a file that grows meanwhile, or a device, is refused by load_yaml_text
            text = f.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"], str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read: {exc}"], str(p)) from None
    return load_yaml_text(text, str(p))


def _too_large(source: str, found: str) -> ConfigError:
    return ConfigError([f"{source}: {found}, over the limit of {MAX_YAML_BYTES:,} (ftdata.config.yamlio.MAX_YAML_BYTES); "
                        "split it into smaller files"], source)
