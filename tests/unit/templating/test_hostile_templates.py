"""Hostile templates: sandbox escapes, file access and resource exhaustion are all refused.

Every attack must end in a ``TemplateError`` (or a ``ConfigError`` from the loader) whose
message names the template, quickly, with nothing executed: the canary file is never
created and no environment variable shows up anywhere.
"""

from __future__ import annotations

import json
import time

import pytest

from ftdata.errors import BuildError, TemplateError
from ftdata.templating.limits import RenderLimits
from ftdata.templating.templates import from_jinja, from_strings, load_templates_text

from tests.conftest import SECRET

FAST = RenderLimits(max_seconds=0.5)


def _attack(src: str, canary, name: str = "evil", row: dict | None = None, limits=FAST) -> str:
    """Compile and render ``src``; return the error message (the test fails if it renders)."""
    src = src.replace("CANARY", str(canary))
    t0 = time.perf_counter()
    with pytest.raises(TemplateError) as ei:
        t = from_strings(src, "ok", name=name)
        t.render(row or {"text": "hello", "n": 3}, limits=limits)
    elapsed = time.perf_counter() - t0
    msg = str(ei.value)
    assert f"template '{name}'" in msg, msg
    assert SECRET not in msg
    assert elapsed < 5, f"took {elapsed:.1f}s"
    return msg


# -- sandbox escapes: refused before anything runs (static check) or by the sandbox ----------

ESCAPES = {
    "mro_subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycler_globals": "{{ cycler.__init__.__globals__.os.popen('touch CANARY').read() }}",
    "lipsum_globals": "{{ lipsum.__globals__['os'].environ['FTDATA_TEST_SECRET'] }}",
    "joiner_getitem": "{{ joiner['__init__']['__globals__'] }}",
    "template_reference": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.system('touch CANARY') }}",
    "attr_filter_dunder": "{{ (cycler|attr('__init__')|attr('__globals__'))['os'].system('touch CANARY') }}",
    "map_attribute_dunder": "{{ [cycler]|map(attribute='__init__')|list }}",
    "func_globals_name": "{{ namespace.mro() }}",
}


@pytest.mark.parametrize("src", list(ESCAPES.values()), ids=list(ESCAPES))
def test_attribute_walks_are_refused_at_compile_time(src, canary):
    msg = _attack(src, canary)
    assert "refused" in msg and "not allowed" in msg


FORMAT_TRICKS = {
    # str.format reads attributes by itself: the sandbox wraps it (format_class)
    "format_class": "{{ '{0.__class__}'.format(1) }}",
    "format_globals": "{{ '{0.__init__.__globals__[os]}'.format(cycler) }}",
    # CVE-2025-27516: reaching str.format through the attr filter
    "attr_format": "{{ ('{0.__class__.__mro__}'|attr('format'))(1) }}",
    # CVE-2024-56326: a reference to .format stored, or passed through a filter, then called
    "format_reference": "{% set f = '{0.__class__}'.format %}{{ f(1) }}",
    "format_through_filter": "{% set f = ('{0.__init__.__globals__}'.format, 1)|first %}{{ f(cycler) }}",
    "format_map": "{{ '{x.__class__}'.format_map({'x': 1}) }}",
}


@pytest.mark.parametrize("src", list(FORMAT_TRICKS.values()), ids=list(FORMAT_TRICKS))
def test_format_string_tricks_are_refused(src, canary):
    msg = _attack(src, canary)
    assert "SecurityError" in msg or "not allowed" in msg, msg


@pytest.mark.parametrize("tag", ["{% include '/etc/passwd' %}", "{% import 'macros.j2' as m %}",
                                 "{% from 'macros.j2' import x %}", "{% extends '/etc/passwd' %}"])
def test_loading_other_files_is_refused(tag, canary):
    msg = _attack(tag, canary)
    assert "cannot load other templates or files" in msg


def test_template_name_with_fstring_syntax_is_inert(canary):
    # CVE-2024-56201 put a template's *name* into generated code; ours never reach Jinja
    name = "x{{7*7}}'\"f\"{__import__('os').system('touch " + str(canary) + "')}\\"
    yaml_text = "templates:\n  - name: " + json.dumps(name) + "\n    prompt: 'Q {{text}}'\n    completion: 'A'\n"
    (t,) = load_templates_text(yaml_text, "names.yaml")
    assert t.name == name
    assert t.render({"text": "hi"}) == ("Q hi", "A", None)
    with pytest.raises(TemplateError) as ei:
        t.render({})
    assert name in str(ei.value)


# -- resource exhaustion: bounded in time and size -------------------------------------------

EXHAUSTION = {
    "nested_range_loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                           "longer than 0.5 s"),
    "string_times_huge": ("{{ 'A' * 10**9 }}", "max_output_chars"),
    "format_width": ("{{ '{:>500000000}'.format('x') }}", "max_output_chars"),
    "center_filter": ("{{ 'x'|center(500000000) }}", "max_output_chars"),
    "pow_in_dead_branch": ("{% if false %}{{ 7**30000000 }}{% endif %}", "max_int_bits"),
    "lipsum_huge": ("{{ lipsum(n=300000) }}", "max_output_chars"),
    "macro_recursion": ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "RecursionError"),
    "output_flood": ("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
                     "max_output_chars"),
    "percent_width": ("{{ '%500000000s' % 'x' }}", "max_output_chars"),
    "ljust_method": ("{{ 'x'.ljust(500000000) }}", "max_output_chars"),
}


@pytest.mark.parametrize("src,why", list(EXHAUSTION.values()), ids=list(EXHAUSTION))
def test_resource_exhaustion_is_bounded(src, why, canary):
    msg = _attack(src, canary)
    assert why in msg, msg


PARSER = {
    "huge_int_literal": ("{{ " + "9" * 5000 + " }}", "cannot parse"),
    "deep_parentheses": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested too deeply"),
    "deep_if_blocks": ("{% if text %}" * 3000 + "{% endif %}" * 3000, "nested too deeply"),
    "long_filter_chain": ("{{ text" + "|upper" * 3000 + " }}", "nested too deeply"),
    "huge_width_digits": ("{{ '%" + "9" * 5000 + "s' % 1 }}", "max_output_chars"),
}


@pytest.mark.parametrize("src,why", list(PARSER.values()), ids=list(PARSER))
def test_parser_bombs_are_refused(src, why, canary):
    msg = _attack(src, canary)
    assert why in msg, msg


# the same attacks with sizes that come from the row, so no static check can see them
RUNTIME = {
    "row_times": ("{{ text * n }}", "max_output_chars"),
    "row_pow": ("{{ 7 ** n }}", "max_int_bits"),
    "row_center": ("{{ text|center(n) }}", "max_output_chars"),
    "row_format_width": ("{{ ('{:>' ~ n ~ '}').format('x') }}", "max_output_chars"),
    "row_percent_star": ("{{ '%*s' % (n, 'x') }}", "max_output_chars"),
    "row_lipsum": ("{{ lipsum(n=n) }}", "max_output_chars"),
    "row_replace": ("{{ (text * 1000)|replace('', text * 1000) }}", "max_output_chars"),
    "list_doubling": ("{% set l = [text] %}{% for i in range(64) %}{% if l.extend(l) %}{% endif %}{% endfor %}"
                      "{{ l|length }}", "max_output_chars"),
    "namespace_doubling": ("{% set ns = namespace(s=text) %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                           "{% endfor %}{{ ns.s|length }}", "max_output_chars"),
    "block_set_doubling": ("{% set ns = namespace(s=text) %}{% for i in range(64) %}{% set ns.s %}{{ ns.s }}"
                           "{{ ns.s }}{% endset %}{% endfor %}{{ ns.s|length }}", "max_output_chars"),
    "int_squaring": ("{% set ns = namespace(x=n) %}{% for i in range(64) %}{% set ns.x = ns.x * ns.x %}"
                     "{% endfor %}{{ ns.x }}", "max_int_bits"),
    "busy_loop_over_list": ("{% set xs = range(100000)|list %}{% for i in xs %}{% for j in xs %}{% endfor %}"
                            "{% endfor %}", "longer than 0.5 s"),
}


@pytest.mark.parametrize("src,why", list(RUNTIME.values()), ids=list(RUNTIME))
def test_data_driven_exhaustion_is_bounded_at_run_time(src, why, canary):
    msg = _attack(src, canary, row={"text": "hello", "n": 500_000_000})
    assert why in msg, msg


def test_limits_are_configurable():
    t = from_strings("{{ text * n }}", "ok", name="rep")
    assert t.render({"text": "ab", "n": 10}, limits=RenderLimits(max_output_chars=20))[0] == "ab" * 10
    with pytest.raises(TemplateError, match="over the limit of 19"):
        t.render({"text": "ab", "n": 10}, limits=RenderLimits(max_output_chars=19))
    slow = from_strings("{% for i in range(100000) %}{% for j in range(50) %}{% endfor %}{% endfor %}x", "y", name="s")
    with pytest.raises(TemplateError, match="longer than 0.05 s"):
        slow.render({}, limits=RenderLimits(max_seconds=0.05))
    calls = from_strings("{% for i in range(100) %}{{ text.upper() }}{% endfor %}", "y", name="c")
    with pytest.raises(TemplateError, match="more than 50 calls"):
        calls.render({"text": "a"}, limits=RenderLimits(max_calls=50))


def test_a_timed_out_render_leaves_the_thread_usable():
    slow = from_strings("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "y",
                        name="slow")
    with pytest.raises(TemplateError):
        slow.render({}, limits=RenderLimits(max_seconds=0.1))
    time.sleep(0.2)  # no stray timeout may land after the render ended
    ok = from_strings("Q {{ text }}", "A")
    for _ in range(200):
        assert ok.render({"text": "x"}, limits=RenderLimits(max_seconds=0.1)) == ("Q x", "A", None)


# -- what real templates do keeps working ----------------------------------------------------

def test_local_list_mutation_works_and_row_mutation_does_not_leak():
    appender = from_jinja("{% set xs = [] %}{% for w in words %}{% if xs.append(w|upper) %}{% endif %}{% endfor %}"
                          "{{ xs|join(',') }} ||| {{ words|length }}", name="append")
    mutator = from_jinja("{% if words.append('EXTRA') %}{% endif %}{% if meta.update({'k': 'v'}) %}{% endif %}"
                         "{{ words|join(' ') }} ||| {{ meta|length }}", name="mutate")
    reader = from_jinja("{{ words|join(' ') }} ||| {{ meta|length }}", name="read")
    row = {"words": ["a", "b"], "meta": {}}
    assert appender.render(row) == ("A,B", "2", None)
    assert mutator.render(row) == ("a b EXTRA", "1", None)
    assert reader.render(row) == ("a b", "0", None)
    assert row == {"words": ["a", "b"], "meta": {}}


def test_ordinary_template_features_still_work():
    t = from_jinja("{{ '%s-%03d' % (text, 7) }} {{ '{}:{:>5}'.format(text, 'r') }} {{ text ~ '!' }} {{ 2 ** 10 }} "
                   "{{ [1, 2] + [3] }} {{ text * 2 }} {{ text|center(9) }} {{ lipsum(1, min=3, max=3)|wordcount }} "
                   "||| {{ choice(['x']) }}", name="ordinary")
    p, c, _ = t.render({"text": "ab"})
    assert p == f"ab-007 ab:    r ab! 1024 [1, 2, 3] abab {'ab'.center(9)} 3" and c == "x"


def test_lipsum_and_random_are_seeded():
    t = from_jinja("{{ lipsum(1, min=5, max=9) }} {{ [1, 2, 3, 4, 5]|random }} ||| x", name="rnd")
    a = t.render({}, seed=1, row_key="k")
    assert a == t.render({}, seed=1, row_key="k")
    assert len({t.render({}, seed=s, row_key="k")[0] for s in range(8)}) > 1


# -- in a build ------------------------------------------------------------------------------


def test_abort_after_stops_a_template_that_never_fits():
    spin = from_strings("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "y",
                        name="spin")
    lim = RenderLimits(max_seconds=0.05, abort_after=3)
    for _ in range(2):
        with pytest.raises(TemplateError, match="longer than 0.05 s"):
            spin.render({}, limits=lim)
    with pytest.raises(BuildError, match="template 'spin'.*each of the first 3 rows"):
        spin.render({}, limits=lim)
    # a template that fits on some rows is never stopped, only rejected where it does not fit
    rep = from_strings("{{ text * n }}", "y", name="rep")
    rows = [{"text": "a", "n": 1}] + [{"text": "a", "n": 10**9}] * 5
    outcomes = []
    for row in rows:
        try:
            rep.render(row, limits=lim)
            outcomes.append("ok")
        except BuildError:
            outcomes.append("abort")
        except TemplateError:
            outcomes.append("reject")
    assert outcomes == ["ok"] + ["reject"] * 5
