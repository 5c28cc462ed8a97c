"""The manifest a push uploads holds no path of the builder's machine (literal manifests, no build)."""

from __future__ import annotations

import copy

from ftdata.consume.push import portable_manifest

MANIFEST = {
    "name": "ds",
    "tokenizer": {"name": "/home/alice/models/my-tok", "eos_token": "<|endoftext|>"},
    "hashes": {"recipe": "r", "tokenizer": "t", "sources": {"dev": "s"},
               "templates": {"/home/alice/proj/t1/x.yaml": "h1", "/home/alice/proj/t2/x.yaml": "h2",
                             "/home/alice/proj/templates/a.yaml": "h3", "../../templates/b.yaml": "h4",
                             "/home/alice/other/b.yaml": "h5"}},
}


def test_absolute_template_keys_become_their_shortest_unique_tail():
    before = copy.deepcopy(MANIFEST)
    out = portable_manifest(MANIFEST)
    assert out["hashes"]["templates"] == {"t1/x.yaml": "h1", "t2/x.yaml": "h2", "a.yaml": "h3",
                                          "../../templates/b.yaml": "h4", "b.yaml": "h5"}
    assert out["tokenizer"] == {"name": "my-tok", "eos_token": "<|endoftext|>"}
    assert {k: v for k, v in out["hashes"].items() if k != "templates"} == {
        "recipe": "r", "tokenizer": "t", "sources": {"dev": "s"}}
    assert "/home/alice" not in repr(out)
    assert MANIFEST == before  # the compiled directory's manifest (the caller's dict) is not changed


def test_a_tail_another_key_already_has_takes_one_more_folder():
    m = {"hashes": {"templates": {"x.yaml": "rel", "/srv/a/x.yaml": "abs"}}, "tokenizer": {"name": "ftdata:tiny-bpe"}}
    out = portable_manifest(m)
    assert out["hashes"]["templates"] == {"x.yaml": "rel", "a/x.yaml": "abs"}
    assert out["tokenizer"]["name"] == "ftdata:tiny-bpe"  # a name that is not a path stays


def test_an_absolute_key_whose_every_tail_is_taken_keeps_its_own_hash():
    """Every tail of ``/a/t.yaml`` is already a relative key: it gets a numbered name of its own,
    not one of theirs (which would drop a hash and file another under the wrong name)."""
    m = {"hashes": {"templates": {"t.yaml": "h1", "a/t.yaml": "h2", "/a/t.yaml": "h3"}},
         "tokenizer": {"name": "ftdata:tiny-bpe"}}
    out = portable_manifest(m)["hashes"]["templates"]
    assert out == {"t.yaml": "h1", "a/t.yaml": "h2", "a/t.yaml~2": "h3"}
