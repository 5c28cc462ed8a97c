"""Resource bounds that must hold before the work they guard starts (issue 15, item 10).

* ``str.format`` / ``format_map`` (and ``%``) are sized before their output is built: a format
  bomb fails at once with small memory, not after building gigabytes;
* a template's source size is capped, and parsing plus the static check run under the compile
  deadline (not only code generation);
* YAML loads with libyaml's scanner where PyYAML has it, with the same safety rules as the
  pure-Python loader, and files are capped in size and in nodes.
"""

from __future__ import annotations

import glob
import os
import re
import time
import tracemalloc

import pytest
import yaml

from ftdata.config import yamlio
from ftdata.config.yamlio import load_yaml, load_yaml_text
from ftdata.errors import ConfigError, TemplateError
from ftdata.templating import parts as parts_mod
from ftdata.templating.limits import MAX_TEMPLATE_CHARS, RenderLimits
from ftdata.templating.templates import Template, from_jinja, from_strings, load_templates

from tests.conftest import _laughs, shared

# -- format bombs ----------------------------------------------------------------------------

SMALL = RenderLimits(max_output_chars=10_000)
#: each bomb's format string and argument fit SMALL, its output (1,000 x 10,000) does not
BOMBS = {
    "format": "{{ ('{0}' * 1000).format(x) }}",
    "format_map": "{{ ('{a}' * 1000).format_map({'a': x}) }}",
    "format_markup": "{{ (('{0}'|safe) * 1000).format(x) }}",
    "percent_tuple": "{{ ('%s' * 1000) % ((x,) * 1000) }}",
    "percent_mapping": "{{ ('%(a)s' * 1000) % {'a': x} }}",
    "format_filter": "{{ ('%s' * 1000)|format(*((x,) * 1000)) }}",
    # str() of a container holds str() of each item: a list of 1,000 references to x is small,
    # its text is not, wherever it is turned into text
    "output_list": "{{ [x] * 1000 }}",
    "output_nested": "{{ [[x] * 100] * 100 }}",
    "output_dict": "{{ dict(a=[x] * 1000) }}",
    "output_namespace": "{% set ns = namespace(l=[x] * 1000) %}{{ ns }}",
    "concat_list": "{{ ([x] * 1000) ~ '' }}",
    "join_filter": "{{ ([x] * 1000)|join }}",
    "join_method": "{{ ''.join([x] * 1000) }}",
    "string_filter": "{{ ([x] * 1000)|string }}",
    "upper_filter": "{{ ([x] * 1000)|upper }}",
    "indent_filter": "{{ ([x] * 1000)|indent }}",
    "tojson_filter": "{{ ([x] * 1000)|tojson }}",
    "pprint_filter": "{{ ([x] * 1000)|pprint }}",
    "xmlattr_filter": "{{ {'a': [x] * 1000}|xmlattr }}",
    "percent_list": "{{ '%s' % ([x] * 1000,) }}",
    "format_list": "{{ '{}'.format([x] * 1000) }}",
    "format_repr": "{{ '{!r}'.format([x] * 1000) }}",
}


@pytest.mark.parametrize("src", list(BOMBS.values()), ids=list(BOMBS))
def test_format_bombs_are_refused_before_their_output_is_built(src):
    t = from_strings(src, "ok", name="bomb")
    row = {"x": "x" * 9_000}
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match="max_output_chars") as ei:
            t.render(row, limits=SMALL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the whole output would be 9,000,000 characters; what is allowed is a few pieces of 10,000
    assert peak < 1_000_000, f"peak {peak:,} bytes: the output was built before the check"
    assert "template 'bomb'" in str(ei.value)


def test_the_issue_format_bomb_fails_at_once():
    # 40,000 fields x 40,000 characters: 1.6 GB and 15 s before the size check existed
    t = from_strings("{{ ('{0}' * 40000).format('x' * 40000) }}", "ok", name="bomb")
    t0 = time.perf_counter()
    with pytest.raises(TemplateError, match=r"str\.format\(\).*max_output_chars"):
        t.render({})
    assert time.perf_counter() - t0 < 2


X = {"x": "ab" * 25}  # longer than each format string, so only the output can meet the limit


@pytest.mark.parametrize("src,row", [
    ("{{ ('{0}' * 2).format(x) }}", X),
    ("{{ ('{a}-' * 2).format_map({'a': x}) }}", X),
    ("{{ '{0:>5}|{1!r}'.format(x, x) }}", X),
    ("{{ ('%s' * 2) % (x, x) }}", X),
    ("{{ '%5s|%%|%-3d|' % (x, 7) }}", X),
    ("{{ '%(a)5s|%%|%(a)r' % {'a': x} }}", X),
    ("{{ '%*s.' % (4, x) }}", X),
    ("{{ '%s-%s'|format(x, x) }}", X),
])
def test_format_results_count_exactly(src, row):
    """Ordinary formats render as before; the size counted is the size of the output, so a
    limit equal to it passes and one character less is refused."""
    t = from_strings(src, "ok", name="fmt")
    expected = t.render(row)[0]  # default limits: far from any bound
    assert t.render(row, limits=RenderLimits(max_output_chars=len(expected)))[0] == expected
    with pytest.raises(TemplateError, match="max_output_chars"):
        t.render(row, limits=RenderLimits(max_output_chars=len(expected) - 1))


TEXTS = {
    "list": "[x, 1, 2.5, none, true, 'it''s', '\\n\u00e9\u0001']",
    "tuple1": "(x,)",
    "tuple": "(x, (), [], {})",
    "dict": "{'a': [x, {'b': (1, 2)}], 3: none}",
    "set": "[x, 'y']|unique|list",
    "namespace": "namespace(a=[x], b={'k': x})",
    "markup": "[x|safe, x|e]",
    "recursive": "self_list",
}


@pytest.mark.parametrize("expr", list(TEXTS.values()), ids=list(TEXTS))
def test_text_of_containers_counts_exactly(expr):
    """Containers are measured as text without building it; the measure is the length of the
    text, so a limit equal to the output passes and one character less is refused."""
    src = ("{% set self_list = [x] %}{% if self_list.append(self_list) %}{% endif %}"
           "{{ '<' }}{{ " + expr + " }}{{ '>' }}")
    t = from_strings(src, "ok", name="txt")
    row = {"x": "a'b\"c" * 10}
    expected = t.render(row)[0]
    assert t.render(row, limits=RenderLimits(max_output_chars=len(expected)))[0] == expected
    with pytest.raises(TemplateError, match="max_output_chars"):
        t.render(row, limits=RenderLimits(max_output_chars=len(expected) - 1))


def test_summing_lists_is_linear_and_within_the_deadline():
    # sum() copies the partial list at every step, in one C call: 40,000 one-item lists took
    # 3.2 s past a 0.5 s deadline (1,000,000 of them, within the item limit, about half an hour)
    t = from_strings("{{ (([[1]] * n)|sum(start=[]))|length }}", "ok", name="sum")
    t0 = time.perf_counter()
    assert t.render({"n": 40_000}, limits=RenderLimits(max_seconds=0.5))[0] == "40000"
    assert time.perf_counter() - t0 < 0.5
    with pytest.raises(TemplateError, match="max_output_chars"):
        t.render({"n": 10_001}, limits=RenderLimits(max_output_chars=10_000))
    by_attribute = from_strings("{{ (([{'p': [1]}] * n)|sum(attribute='p', start=[]))|length }}", "ok", name="sum")
    assert by_attribute.render({"n": 40_000}, limits=RenderLimits(max_seconds=0.5))[0] == "40000"
    assert time.perf_counter() - t0 < 1


@pytest.mark.parametrize("expr", [
    "[[1], [2, 3]]|sum(start=[0])", "[(1,), (2,)]|sum(start=())", "[[1], (2,)]|sum(start=[])",
    "[(1,), [2]]|sum(start=())", "[[1], 2]|sum(start=[])", "[]|sum(start=[5])", "[1, 2]|sum",
    "[{'p': [1]}, {'p': [2]}]|sum(attribute='p', start=[])", "[[1], [2]]|sum(none, [])",
])
def test_sum_gives_what_python_gives(expr):
    env_sum = from_strings("{{ " + expr + " }}", "ok", name="sum")
    stock = __import__("jinja2").Environment().from_string("{{ " + expr + " }}")
    try:
        expected = stock.render()
    except TypeError as exc:
        with pytest.raises(TemplateError, match=re.escape(str(exc))):
            env_sum.render({})
    else:
        assert env_sum.render({})[0] == expected


def test_format_errors_and_sandbox_are_unchanged():
    with pytest.raises(TemplateError, match="SecurityError"):
        from_strings("{{ '{0.__class__}'.format(x) }}", "ok").render({"x": 1})
    with pytest.raises(TemplateError, match="IndexError|Replacement index"):
        from_strings("{{ '{0}{1}'.format(x) }}", "ok").render({"x": 1})
    with pytest.raises(TemplateError, match="TypeError.*format_map"):
        from_strings("{{ '{a}'.format_map(x, x) }}", "ok").render({"x": {"a": 1}})
    with pytest.raises(TemplateError, match="TypeError"):
        from_strings("{{ '%s %s' % (x,) }}", "ok").render({"x": 1})


# -- template size and the compile deadline --------------------------------------------------

def test_template_source_size_is_capped_before_parsing():
    over = "{{ a }}" * (MAX_TEMPLATE_CHARS // 7 + 1)
    t0 = time.perf_counter()
    with pytest.raises(TemplateError) as ei:
        from_strings(over, "ok", name="huge")
    msg = str(ei.value)
    assert "template 'huge'" in msg and "prompt" in msg and f"{MAX_TEMPLATE_CHARS:,}" in msg
    assert f"{len(over):,}" in msg
    # the issue's 2 MB template (300,000 x '{{ a }}') parsed for over 60 s
    with pytest.raises(TemplateError, match="over the limit"):
        from_jinja("{{ a }}" * 300_000 + " ||| x", name="huge")
    assert time.perf_counter() - t0 < 2
    # a template at the cap compiles and renders
    at = "x" * (MAX_TEMPLATE_CHARS - 7) + "{{ a }}"
    assert len(at) == MAX_TEMPLATE_CHARS
    assert from_strings(at, "ok").render({"a": "y"})[0] == "x" * (MAX_TEMPLATE_CHARS - 7) + "y"


def _busy(seconds: float):
    """A stand-in for a slow parse or check: pure Python, so the watchdog can interrupt it."""
    def slow(*args, **kwargs):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        raise AssertionError("the compile deadline did not stop a slow step")
    return slow


@pytest.mark.parametrize("step", ["parse", "static_problems"])
def test_parse_and_static_check_run_under_the_compile_deadline(step, monkeypatch):
    monkeypatch.setattr(parts_mod, "DEFAULT_LIMITS", RenderLimits(compile_seconds=0.2))
    if step == "parse":
        monkeypatch.setattr(parts_mod._ENV, "parse", _busy(3))
    else:
        monkeypatch.setattr(parts_mod, "static_problems", _busy(3))
    t0 = time.perf_counter()
    with pytest.raises(TemplateError, match=r"template 'slow'.*compiling took longer than 0.2 s"):
        from_strings("Q {{ a }}", "A", name="slow")
    assert time.perf_counter() - t0 < 2
    # variables() parses too, under the same deadline
    t = Template(name="slow", id="slow", prompt="Q {{ a }}", completion="A")
    with pytest.raises(TemplateError, match="compiling took longer than 0.2 s"):
        t.variables()


# -- YAML ------------------------------------------------------------------------------------

PROMPTSOURCE = sorted(glob.glob(str(shared("promptsource", "templates") / "**" / "templates.yaml"), recursive=True))


def _with_lines(x):
    """The loaded data with every mapping's recorded line beside it, for exact comparison."""
    if isinstance(x, dict):
        return ("line", getattr(x, "line", None), {k: _with_lines(v) for k, v in x.items()})
    if isinstance(x, list):
        return [_with_lines(v) for v in x]
    return x


def test_yaml_loads_with_libyaml_where_pyyaml_has_it():
    assert yaml.__with_libyaml__, "PyYAML without libyaml: install a wheel that has it"
    assert yamlio._Loader is yamlio._CLoader
    assert issubclass(yamlio._CLoader, yaml.CSafeLoader)


def test_c_and_python_loaders_read_promptsource_files_alike(monkeypatch):
    assert len(PROMPTSOURCE) > 200
    for path in PROMPTSOURCE[::8]:  # every 8th file: the pure loader is slow
        fast = _with_lines(load_yaml(path))
        with monkeypatch.context() as m:
            m.setattr(yamlio, "_Loader", yamlio._PyLoader)
            pure = _with_lines(load_yaml(path))
        assert fast == pure, path


@pytest.fixture(params=["C", "pure"])
def loader(request, monkeypatch):
    """Run a test with each loader: the safety rules must not depend on which one reads."""
    monkeypatch.setattr(yamlio, "_Loader", yamlio._CLoader if request.param == "C" else yamlio._PyLoader)
    return request.param


@pytest.mark.parametrize("text,needle", [
    ("a: 1\nb: !!python/object/apply:os.system ['touch /tmp/ftdata-canary']\n", "t.yaml:2:"),
    ("a: !!python/name:os.system\n", "t.yaml:1:"),
    ("templates:\n  x: !Templat\n    jinja: hi\n", "unknown YAML tag '!Templat'"),
    ("a: 1\n\n\nb: !<tag:example.com,2000:app/thing> 3\n", "t.yaml:4:"),
    (_laughs(), "alias bomb"),
    ("a: &a [x]\nb: [" + ", ".join(["*a"] * 501) + "]\n", "more than 500 YAML aliases"),
    ("a: &a [1, *a]\n", "recursive"),
    ("a: " + "[" * 1100 + "]" * 1100, "nested too deeply"),  # libyaml stops at 1,000 levels
    ("a: " + "{b: " * 5000 + "1" + "}" * 5000, "nested too deeply"),
    ("a: 1" + "0" * 6000, "digits"),
    ("a: \x07\n", "t.yaml: invalid YAML"),
])
def test_both_loaders_keep_the_safety_rules(loader, text, needle):
    with pytest.raises(ConfigError) as ei:
        load_yaml_text(text, "t.yaml")
    assert needle in str(ei.value), str(ei.value)


def test_both_loaders_read_the_same_data(loader):
    text = ("base: &b {x: 1}\nother: *b\nmerged: {<<: *b, y: 2}\ndup: 1\ndup: 2\n"
            "t: !Template {jinja: 'a ||| b'}\nwhen: 2024-01-02\nnums: [0x10, 1_000, .5, ~, yes]\n")
    data = load_yaml_text(text, "t.yaml")
    assert data == {"base": {"x": 1}, "other": {"x": 1}, "merged": {"x": 1, "y": 2}, "dup": 2,
                    "t": {"jinja": "a ||| b", "__tag__": "Template"},
                    "when": __import__("datetime").date(2024, 1, 2), "nums": [16, 1000, 0.5, None, True]}
    assert data.line == 1 and data["t"].line == 6 and data["merged"].line == 3


def test_yaml_files_are_capped_in_size_before_they_are_read(tmp_path, loader, monkeypatch):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:  # sparse: costs no disk, and no reading if the cap comes first
        f.truncate(40 * 2**20)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as ei:
        load_yaml(big)
    msg = str(ei.value)
    assert str(big) in msg and f"{yamlio.MAX_YAML_BYTES:,}" in msg and f"{40 * 2**20:,}" in msg
    with pytest.raises(ConfigError, match="over the limit"):
        load_templates(big)
    assert time.perf_counter() - t0 < 2
    # the same cap on text, and exactly at the cap (a smaller one, so the pure loader is quick)
    monkeypatch.setattr(yamlio, "MAX_YAML_BYTES", 1000)
    with pytest.raises(ConfigError, match="t.yaml: 1,001 characters, over the limit of 1,000"):
        load_yaml_text("#" * 1001, "t.yaml")
    ok = tmp_path / "ok.yaml"
    ok.write_text("a: 1\n" + "#" * (1000 - 6) + "\n")
    assert os.path.getsize(ok) == 1000
    assert load_yaml(ok) == {"a": 1}
    ok.write_text("a: 1\n" + "#" * (1000 - 5) + "\n")
    with pytest.raises(ConfigError, match="1,001 bytes, over the limit of 1,000"):
        load_yaml(ok)


def test_yaml_documents_are_capped_in_nodes(loader, monkeypatch):
    n = 1000  # the cap itself is larger; a small one keeps the test fast with the pure loader
    monkeypatch.setattr(yamlio, "MAX_YAML_NODES", n)
    with pytest.raises(ConfigError, match=f"t.yaml:1:.*more than {n:,} YAML nodes"):
        load_yaml_text("x: [" + ",".join(["1"] * (n - 2)) + "]\n", "t.yaml")
    # one node fewer loads: the mapping, the key 'x', the list and its items
    assert len(load_yaml_text("x: [" + ",".join(["1"] * (n - 3)) + "]\n", "t.yaml")["x"]) == n - 3
