"""YAML loading: unknown tags and parser bombs are clean errors naming file and line."""

from __future__ import annotations

import pytest

from ftdata.config.yamlio import load_yaml_text
from ftdata.errors import ConfigError


@pytest.mark.parametrize("text,line", [
    ("a: 1\nb: !!python/object/apply:os.system ['touch /tmp/ftdata-canary']\n", 2),
    ("templates:\n  x: !Templat\n    jinja: hi\n", 2),
    ("a: 1\n\n\nb: !<tag:example.com,2000:app/thing> 3\n", 4),
    ("a: !!python/name:os.system\n", 1),
])
def test_unknown_tags_are_errors_with_file_and_line(text, line):
    with pytest.raises(ConfigError) as ei:
        load_yaml_text(text, "t.yaml")
    msg = str(ei.value)
    assert f"t.yaml:{line}:" in msg and ("unknown YAML tag" in msg or "constructor" in msg), msg


@pytest.mark.parametrize("text,needle", [
    ("a: " + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("a: " + "{b: " * 5000 + "1" + "}" * 5000, "nested too deeply"),
    ("a: 1" + "0" * 6000, "digits"),
])
def test_yaml_parser_bombs_are_clean_errors(text, needle):
    with pytest.raises(ConfigError, match=needle):
        load_yaml_text(text, "deep.yaml")
