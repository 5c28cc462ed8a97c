"""layout: text on real data: every token trained, long documents cut into pieces, packed."""

from __future__ import annotations

import json

import pytest

from ftdata.build.orchestrate import compile_recipe
from ftdata.errors import ConfigError
from ftdata.inspect.load import load_compiled
from ftdata.tokenize.tokenizer import load_tokenizer

from tests.conftest import shared, write_recipe


def _text_recipe(folder, dev40, lines, max_length=64, **extra):
    return write_recipe(folder, {
        "name": "pre", "output": "out", "seed": 3, "layout": "text", "max_length": max_length,
        "tokenizer": "ftdata:tiny-bpe",
        "sources": [{"name": "dialogues", "path": str(dev40), "key": "fname", "rename": {"dialogue": "text"}},
                    {"name": "captions", "path": str(lines), "key": "@line"}],
        **extra,
    })


@pytest.fixture
def captions(tmp_path):
    src = shared("multi30k_en_de", "train.en").read_text(encoding="utf-8").splitlines()[:60]
    p = tmp_path / "captions.txt"
    p.write_text("\n".join(src[:30]) + "\n\n" + "\n".join(src[30:]) + "\n", encoding="utf-8")
    return p


def _documents(dd) -> dict[tuple[str, str], list[list[int]]]:
    """Each document's pieces (their tokens), in the order they are written."""
    docs: dict[tuple[str, str], list[list[int]]] = {}
    for split in dd:
        for r in dd[split].to_list():
            at = 0
            for n, src, key in zip(r["seq_lengths"], r["source"], r["row_key"]):
                assert r["position_ids"][at:at + n] == list(range(n))  # positions restart per piece
                docs.setdefault((src, key), []).append(r["input_ids"][at:at + n])
                at += n
            assert at == len(r["input_ids"]) <= dd.manifest["max_length"]
            assert r["labels"] == r["input_ids"]  # every token trained
    return docs


def _pieces(ids: list[int], n: int) -> list[list[int]]:
    return [ids[i:i + n] for i in range(0, len(ids), n)]


def test_every_document_is_whole_every_token_trained(tmp_path, dialogsum_rows, captions):
    out = compile_recipe(_text_recipe(tmp_path, dialogsum_rows, captions)).output
    dd = load_compiled(out)
    m = dd.manifest
    assert m["layout"] == "text" and m["packing"]["max_length"] == 64
    tok = load_tokenizer("ftdata:tiny-bpe")
    docs = _documents(dd)
    rows = {r["fname"]: r for r in map(json.loads, dialogsum_rows.read_text(encoding="utf-8").splitlines())}
    assert len(docs) == 40 + 60  # 40 dialogues, 60 caption lines (the blank line is not a row)
    cut = 0
    for (src, key), pieces in docs.items():
        text = rows[key]["dialogue"] if src == "dialogues" else None
        if text is None:
            continue
        # the pieces are the document's tokens (and its EOS) cut every 64 tokens: none lost, none added
        want = tok(text.strip())["input_ids"] + [tok.eos_token_id]
        assert sorted(pieces) == sorted(_pieces(want, 64))
        cut += len(pieces) > 1
    assert cut > 30  # dialogues are longer than 64 tokens
    pieces = sum(s["pieces"] for s in m["packing"]["splits"].values())
    assert pieces == sum(len(v) for v in docs.values())
    assert m["counts"]["sources"]["dialogues"]["examples_written"] == 40  # counts stay per document


def test_same_recipe_same_rows(tmp_path, dialogsum_rows, captions):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = compile_recipe(_text_recipe(tmp_path / "a", dialogsum_rows, captions)).output
    b = compile_recipe(_text_recipe(tmp_path / "b", dialogsum_rows, captions)).output
    da, db = load_compiled(a), load_compiled(b)
    for split in da:
        assert da[split].to_list() == db[split].to_list()


def test_a_source_without_a_text_column_is_refused_before_the_build(tmp_path, dialogsum_rows, captions):
    recipe = _text_recipe(tmp_path, dialogsum_rows, captions)
    text = recipe.read_text(encoding="utf-8").replace("dialogue: text", "dialogue: body")
    recipe.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        compile_recipe(recipe)
    assert "column 'text'" in str(exc.value) and "rename" in str(exc.value)


def test_a_template_renders_the_document_and_empty_text_is_a_reject(tmp_path, dialogsum_rows):
    from tests.conftest import write_native_templates

    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": 1, "text": "A dog runs."}\n{"id": 2, "text": "   "}\n{"id": 3, "text": "Two cats."}\n',
                    encoding="utf-8")
    tpl = write_native_templates(tmp_path / "t.yaml", [{"name": "doc", "prompt": "Q: {{dialogue}}",
                                                         "completion": "A: {{summary}}"}])
    recipe = write_recipe(tmp_path, {
        "name": "pre", "output": "out", "layout": "text", "max_length": 48, "tokenizer": "ftdata:tiny-bpe",
        "max_reject_share": 1, "split": {"ratios": {"train": 1.0}},
        "sources": [{"name": "raw", "path": str(rows), "key": "id"},
                    {"name": "qa", "path": str(dialogsum_rows), "key": "fname", "templates": [{"file": str(tpl)}]}],
    })
    out = compile_recipe(recipe).output
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["source"], r["row_key"], r["code"]) for r in rejects] == [("raw", "2", "does_not_apply")]
    docs = _documents(load_compiled(out))
    tok = load_tokenizer("ftdata:tiny-bpe")
    first = json.loads(dialogsum_rows.read_text(encoding="utf-8").splitlines()[0])
    text = f"Q: {first['dialogue'].strip()} A: {first['summary'].strip()}"  # prompt, separator, completion
    assert sorted(docs[("qa", first["fname"])]) == sorted(_pieces(tok(text)["input_ids"] + [tok.eos_token_id], 48))
    assert docs[("raw", "1")] == [tok("A dog runs.")["input_ids"] + [tok.eos_token_id]]
