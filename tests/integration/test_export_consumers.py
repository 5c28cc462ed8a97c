"""Exports loaded by the real consumer libraries (TRL, torchtune) on tiny random models."""

from __future__ import annotations

import datasets
import pytest
import torch

from ftdata.constants import IGNORE_INDEX
from ftdata.consume.export import export
from ftdata.inspect.load import load_compiled
from ftdata.tokenize.tokenizer import load_tokenizer

pytestmark = pytest.mark.slow


def _tiny_llama(vocab_size: int, tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=512, pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id))


def test_trl_sft_trainer_trains_on_export_without_retokenizing(reviews_out, tmp_path, monkeypatch):
    pytest.importorskip("trl")
    from trl import SFTConfig, SFTTrainer

    export(reviews_out, "trl", tmp_path / "trl")
    train = datasets.load_from_disk(str(tmp_path / "trl"))["train"]
    by_ids = {tuple(r["input_ids"]): r["labels"] for r in train}
    tok = load_tokenizer("ftdata:tiny-bpe")
    model = _tiny_llama(len(tok), tok)

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("TRL re-tokenized a pre-tokenized export")

    monkeypatch.setattr(type(tok), "__call__", no_tokenizing)
    monkeypatch.setattr(type(tok), "encode", no_tokenizing)
    seen = []
    model.register_forward_pre_hook(lambda m, a, kw: seen.append((kw["input_ids"], kw["labels"])), with_kwargs=True)
    args = SFTConfig(output_dir=str(tmp_path / "run"), max_steps=1, per_device_train_batch_size=4, report_to=[],
                     use_cpu=True, save_strategy="no", logging_steps=1, max_length=384, dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tok)
    assert not trainer.completion_only_loss  # labels are used as given, not rebuilt from a mask
    before = [p.detach().clone() for p in model.parameters()]
    out = trainer.train()
    assert out.global_step == 1 and torch.isfinite(torch.tensor(out.training_loss))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    # the batch the model saw: each row (padding stripped) is an exported row with its labels unchanged
    ids, labels = seen[0]
    assert ids.shape[0] == 4
    for row_ids, row_labels in zip(ids.tolist(), labels.tolist()):
        n = max(i for i, lab in enumerate(row_labels) if lab != IGNORE_INDEX) + 1  # EOS is trained and last
        key = tuple(row_ids[:n])
        assert key in by_ids, "TRL changed the token ids"
        assert row_labels[:n] == by_ids[key]
        assert set(row_labels[n:]) <= {IGNORE_INDEX}


def test_trl_collator_keeps_packed_documents_apart(reviews_packed_out, tmp_path):
    pytest.importorskip("trl")
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    export(reviews_packed_out, "trl", tmp_path / "trl")
    rows = datasets.load_from_disk(str(tmp_path / "trl"))["train"].select(range(2))
    batch = DataCollatorForLanguageModeling(pad_token_id=1, padding_free=True)(list(rows))
    lengths = [n for r in rows for n in r["seq_lengths"]]
    expected = [i for n in lengths for i in range(n)]  # positions restart at every document
    assert batch["position_ids"][0].tolist() == expected
    assert batch["labels"][0].tolist() == rows[0]["labels"] + rows[1]["labels"]  # masks kept as exported


def test_torchtune_sft_path_shifts_our_unshifted_labels_once(reviews_out, tmp_path):
    pytest.importorskip("torchtune")
    from torchtune.data import CROSS_ENTROPY_IGNORE_IDX, padded_collate_sft
    from torchtune.datasets import SFTDataset
    from torchtune.models.llama3 import llama3

    export(reviews_out, "torchtune", tmp_path / "tt")
    ds = SFTDataset(source="parquet", data_files=str(tmp_path / "tt" / "train.parquet"), split="train",
                    message_transform=lambda s: s, model_transform=None, cache_dir=str(tmp_path / "cache"))
    compiled = load_compiled(reviews_out)["train"]
    tok = load_tokenizer("ftdata:tiny-bpe")
    batch = padded_collate_sft([ds[i] for i in range(4)], padding_idx=tok.pad_token_id,
                               ignore_idx=CROSS_ENTROPY_IGNORE_IDX)
    tokens, labels = batch["tokens"], batch["labels"]
    # what torchtune's recipes (full_finetune_single_device._loss_step) do: shift left, pad with ignore
    ignore = torch.full((labels.shape[0], 1), CROSS_ENTROPY_IGNORE_IDX)
    targets = torch.hstack((labels[..., 1:], ignore))
    for b in range(4):
        ex = compiled[b]
        trained = [i for i, lab in enumerate(ex["labels"]) if lab != IGNORE_INDEX]
        pos = [i for i, t in enumerate(targets[b].tolist()) if t != CROSS_ENTROPY_IGNORE_IDX]
        # position i predicts token i+1: exactly one position before each trained token, never off by two
        assert pos == [i - 1 for i in trained]
        assert all(targets[b, i].item() == tokens[b, i + 1].item() for i in pos)
        assert tok.decode([tokens[b, i + 1].item() for i in pos]) == " " + ex["completion"] + tok.eos_token
    torch.manual_seed(0)
    model = llama3(vocab_size=len(tok), num_layers=1, num_heads=2, num_kv_heads=2, embed_dim=16, max_seq_len=512)
    logits = model(tokens)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                             ignore_index=CROSS_ENTROPY_IGNORE_IDX)
    loss.backward()
    assert torch.isfinite(loss) and abs(loss.item() - torch.log(torch.tensor(len(tok))).item()) < 1.0
