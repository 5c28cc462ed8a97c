"""Seeded randomness: ``choice`` and the ``shuffle`` filter repeat for the same
(seed, row key, template id) and change when any of the three changes."""

from __future__ import annotations

import pytest

from ftdata.templating.templates import from_jinja

ROW = {"items": [f"item{i}" for i in range(12)], "text": "hello"}


def _choice():
    return from_jinja("Pick: {{ items | choice }} {{ choice(items) }} ||| {{ text }}", id="tpl-choice")



def _shuffle():
    return from_jinja("Order: {{ items | shuffle | join(',') }} ||| {{ text }}", id="tpl-shuffle")



def _outputs(t, **kw):
    return t.render(ROW, **kw)[0]



def test_same_seed_row_and_template_give_same_output():
    for t in (_choice(), _shuffle()):
        first = _outputs(t, seed=7, row_key="row-1")
        for _ in range(5):
            assert _outputs(t, seed=7, row_key="row-1") == first
        # a fresh copy of the template (as in another process) draws the same
        t2 = _choice() if t.id == "tpl-choice" else _shuffle()
        assert _outputs(t2, seed=7, row_key="row-1") == first



def test_different_seed_changes_output():
    for t in (_choice(), _shuffle()):
        outs = {_outputs(t, seed=s, row_key="row-1") for s in range(20)}
        assert len(outs) > 5



def test_row_key_and_template_id_each_change_output():
    t = _shuffle()
    by_key = {_outputs(t, seed=1, row_key=f"r{i}") for i in range(20)}
    assert len(by_key) > 5
    other = from_jinja(t.jinja, id="another-id")
    assert _outputs(other, seed=1, row_key="r0") != _outputs(t, seed=1, row_key="r0")



def test_shuffle_is_a_permutation_and_leaves_the_row_alone():
    t = _shuffle()
    prompt = _outputs(t, seed=3, row_key="k")
    assert sorted(prompt.removeprefix("Order: ").split(",")) == sorted(ROW["items"])
    assert ROW["items"] == [f"item{i}" for i in range(12)]



def test_randomness_does_not_leak_between_renders():
    """Rendering something else in between does not shift the draws of a later render."""
    t, other = _choice(), _shuffle()
    a = _outputs(t, seed=5, row_key="x")
    for i in range(3):
        _outputs(other, seed=i, row_key="y")
    assert _outputs(t, seed=5, row_key="x") == a



def test_random_filters_on_literal_lists_draw_per_render():
    """``random``, ``choice`` and ``shuffle`` applied to a literal list draw at render time, per
    (seed, row key, template): Jinja must not fold them into one compile-time draw."""
    src = ("{{ ['a', 'b', 'c', 'd', 'e', 'f'] | random }} {{ ['g', 'h', 'i', 'j', 'k'] | choice }} "
           "{{ ['l', 'm', 'n', 'o'] | shuffle | join('') }} ||| {{ text }}")
    t = from_jinja(src, id="tpl-literal")
    by_key = {k: _outputs(t, seed=2, row_key=k) for k in (f"r{i}" for i in range(20))}
    for part in range(3):
        assert len({out.split()[part] for out in by_key.values()}) > 1
    # compiling in another order, after other templates drew, gives each row the same draw
    for _ in range(3):
        _outputs(_shuffle(), seed=9, row_key="z")
    again = from_jinja(src, id="tpl-literal")
    assert {k: _outputs(again, seed=2, row_key=k) for k in by_key} == by_key



def test_a_draw_outside_a_render_is_an_error():
    """No shared fallback generator: its draws would depend on whatever drew before."""
    from ftdata.templating.helpers import choice, lipsum, shuffle

    for draw in (lambda: choice([1, 2]), lambda: shuffle([1, 2]), lambda: lipsum(1)):
        with pytest.raises(RuntimeError, match="outside a render"):
            draw()


