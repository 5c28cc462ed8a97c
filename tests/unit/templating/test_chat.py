"""Chat templates: a template that rewrites earlier turns is not prefix-stable."""

from __future__ import annotations

from ftdata.testing_chat import REWRITING, chat_tokenizer

__all__ = ["CONVO", "REWRITING", "chat_tokenizer"]  # shared with the integration tests

# REWRITING rewrites earlier turns: past assistant turns lose their <think> part, the system
# prompt is folded into the first user turn. A rendered prefix is then not a prefix of the full render.
CONVO = [{"role": "system", "content": "You think first."},
         {"role": "user", "content": "First question?"},
         {"role": "assistant", "content": "<think>draft one</think> Answer one."},
         {"role": "user", "content": "Second question?"},
         {"role": "assistant", "content": "<think>draft two</think> Answer two."}]


def test_rewriting_template_is_not_prefix_stable(tmp_path):
    tok = chat_tokenizer(tmp_path / "tok", REWRITING)
    full = tok.apply_chat_template(CONVO, tokenize=False)
    part = tok.apply_chat_template(CONVO[:3], tokenize=False)
    assert not full.startswith(part)  # what prefix-diffing tools rely on does not hold
