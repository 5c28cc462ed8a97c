"""Randomly initialised tiny models for tests and demos, sized to a given tokenizer.

Nothing is downloaded: each model is built from a config whose vocabulary and special token
ids come from the tokenizer, then saved with that tokenizer so ``ftdata train`` can check
the tokenizer hash against a compiled directory's manifest.

Architectures: ``llama`` and ``gpt2`` (causal), ``t5`` (seq2seq).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ftdata.constants import OWNER_FILE
from ftdata.errors import FtdataError
from ftdata.tokenize.tokenizer import load_tokenizer
from ftdata.write.writer import mark_output, not_replaceable

from .data import pad_id

ARCHITECTURES = ("llama", "gpt2", "t5")


def tiny_config(arch: str, tok, *, hidden: int = 64, layers: int = 2, heads: int = 4,
                max_positions: int = 2048):
    """A transformers config for a tiny ``arch`` model whose vocabulary fits ``tok``.

    Args:
        arch: ``llama``, ``gpt2`` or ``t5``.
        tok: the tokenizer the model will be used with.
        hidden: width of the residual stream.
        layers: transformer blocks (per stack for ``t5``).
        heads: attention heads; ``hidden`` must be divisible by it.
        max_positions: longest sequence (ignored by ``t5``, which has relative positions).
    """
    import transformers as tf

    if hidden % heads:
        raise FtdataError(f"tiny model: hidden size {hidden} is not divisible by heads {heads}")
    vocab = len(tok)
    pad = pad_id(tok)
    common = {"vocab_size": vocab, "eos_token_id": tok.eos_token_id, "pad_token_id": pad,
              "bos_token_id": tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id}
    if arch == "llama":
        return tf.LlamaConfig(hidden_size=hidden, intermediate_size=hidden * 4, num_hidden_layers=layers,
                              num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                              max_position_embeddings=max_positions, tie_word_embeddings=True, **common)
    if arch == "gpt2":
        return tf.GPT2Config(n_embd=hidden, n_layer=layers, n_head=heads, n_positions=max_positions, **common)
    if arch == "t5":
        # T5 starts decoding from the pad token, as the original checkpoints do.
        return tf.T5Config(d_model=hidden, d_ff=hidden * 4, d_kv=hidden // heads, num_layers=layers,
                           num_decoder_layers=layers, num_heads=heads, decoder_start_token_id=pad,
                           feed_forward_proj="relu", tie_word_embeddings=True, **common)
    raise FtdataError(f"tiny model: unknown architecture '{arch}'; expected one of {', '.join(ARCHITECTURES)}")


def build_tiny_model(arch: str, tokenizer: str = "ftdata:tiny-bpe", *, seed: int = 0, **sizes):
    """Build a randomly initialised tiny model; returns ``(model, tokenizer)``.

    Args:
        arch: ``llama``, ``gpt2`` or ``t5``.
        tokenizer: tokenizer path, hub name or ``ftdata:tiny-bpe``.
        seed: seed for the random weights (the same seed gives the same weights).
        **sizes: ``hidden``, ``layers``, ``heads``, ``max_positions`` (see :func:`tiny_config`).
    """
    import torch
    import transformers as tf

    tok = load_tokenizer(tokenizer)
    config = tiny_config(arch, tok, **sizes)
    torch.manual_seed(seed)
    auto = tf.AutoModelForSeq2SeqLM if config.is_encoder_decoder else tf.AutoModelForCausalLM
    model = auto.from_config(config)
    return model, tok


def save_tiny_model(arch: str, output: str | Path, tokenizer: str = "ftdata:tiny-bpe", *, seed: int = 0,
                    **sizes) -> Path:
    """Build a tiny model and save it with its tokenizer to ``output``; returns the folder.

    ``output`` must be absent, empty, or a tiny model saved here before (it is replaced):
    another model's weights there are never overwritten (``ftdata.write.writer.not_replaceable``).
    """
    out = Path(output)
    what = not_replaceable(out, "model")
    if what:
        raise FtdataError(f"{out} is {what}: ftdata replaces only a tiny model it saved, so that "
                          "nothing else is ever overwritten; choose another folder or move it away "
                          "yourself")
    model, tok = build_tiny_model(arch, tokenizer, seed=seed, **sizes)
    if out.exists() and any(p.name != OWNER_FILE for p in out.iterdir()):
        # an earlier tiny model: nothing of it stays
        out.unlink() if out.is_symlink() else shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    mark_output(out, "model")
    from .progress import no_hub_bars

    with no_hub_bars():
        model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
