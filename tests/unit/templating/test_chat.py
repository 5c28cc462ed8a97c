"""Chat templates: a template that rewrites earlier turns is not prefix-stable."""

from __future__ import annotations

from transformers import AutoTokenizer

from ftdata.tokenize.tokenizer import ASSET_DIR

# Rewrites earlier turns: past assistant turns lose their <think> part, the system prompt is
# folded into the first user turn. A rendered prefix is then not a prefix of the full render.
REWRITING = (
    "{%- set ns = namespace(last=-1) -%}"
    "{%- for m in messages %}{% if m['role'] == 'assistant' %}{% set ns.last = loop.index0 %}{% endif %}{% endfor -%}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'user' -%}<|im_start|>user\n"
    "{% if loop.index0 == 1 and messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n\n{% endif %}"
    "{{ m['content'] }}<|im_end|>\n"
    "{%- elif m['role'] == 'assistant' -%}<|im_start|>assistant\n"
    "{% if loop.index0 < ns.last %}{{ m['content'].split('</think>')[-1] | trim }}"
    "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n"
    "{%- endif -%}{%- endfor -%}")


def chat_tokenizer(folder, template: str):
    tok = AutoTokenizer.from_pretrained(str(ASSET_DIR))
    tok.chat_template = template
    tok.save_pretrained(folder)
    return AutoTokenizer.from_pretrained(str(folder))


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
