"""The thin trainer stage: fine-tune on a compiled directory and measure the result.

transformers' Trainer and peft do the training; this package supplies data, collation,
evaluation and the report. Needs the ``train`` extra (torch, peft, accelerate, evaluate,
rouge-score, sacrebleu, matplotlib).

Modules (one concept each)::

    data.py      compiled split -> padded batches (dynamic padding, packed rows), tokenizer check
    full.py      full fine-tuning script: setup -> train -> save -> cleanup
    lora.py      LoRA fine-tuning script (peft), per-architecture target modules
    evaluate.py  per-task metrics on a split; choice ranking, generation, few-shot prompts
    metrics/     offline metric wrappers (local `evaluate` modules over rouge-score, sacrebleu)
    compare.py   base 0/k-shot vs full vs LoRA, forgetting on a held-out task and held-out text
    perplexity.py  perplexity on a split (packed raw text: per document, no target across documents)
    pretrain.py  a small model trained from scratch on a raw-text build (``ftdata pretrain``)
    tiny.py      randomly initialised tiny llama / gpt2 / t5 models for a tokenizer
    config.py    validated training and evaluation settings (the CLI's --help text)
    progress.py  what runs print: stage lines, evaluation bars, compact training lines
    _run.py      what the scripts share: model loading, Trainer, validation, loss curves, run folder
"""

__all__ = ["train_full", "train_lora", "evaluate_model", "compare", "save_tiny_model", "pretrain", "perplexity"]


def __getattr__(name):  # lazy: importing the package must not import torch
    if name == "train_full":
        from .full import train_full
        return train_full
    if name == "train_lora":
        from .lora import train_lora
        return train_lora
    if name == "evaluate_model":
        from .evaluate import evaluate_model
        return evaluate_model
    if name == "compare":
        from .compare import compare
        return compare
    if name == "pretrain":
        from .pretrain import pretrain
        return pretrain
    if name == "perplexity":
        from .perplexity import perplexity
        return perplexity
    if name == "save_tiny_model":
        from .tiny import save_tiny_model
        return save_tiny_model
    raise AttributeError(name)
