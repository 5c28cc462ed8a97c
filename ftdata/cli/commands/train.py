"""``ftdata train`` / ``eval`` / ``compare`` / ``tiny-model``: the thin trainer stage.

Needs the ``train`` extra (``pip install 'ftdata[train]'``); the code lives in ``trainers/``.
Every option of ``train`` and ``eval`` may also come from a YAML file (``--config``); flags
given on the command line win.
"""

from __future__ import annotations

import json

import click

from ftdata.cli.app import main
from ftdata.errors import FtdataError


def _need_trainers():
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise FtdataError(f"the trainer stage needs the train extra: pip install 'ftdata[train]' ({exc})") from None


def _options(config_file, **flags) -> dict:
    from trainers.config import load_config_file

    opts = load_config_file(config_file)
    opts.update({k: v for k, v in flags.items() if v is not None})
    return opts


def _split_list(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


_TRAIN_FLAGS = [
    click.option("--max-steps", type=int, help="Optimizer steps (default: one epoch)."),
    click.option("--epochs", type=float, help="Passes over the train split (when --max-steps is not given)."),
    click.option("--lr", type=float, help="Peak learning rate (default 5e-5)."),
    click.option("--batch-size", type=int, help="Rows per device per step (default 8)."),
    click.option("--grad-accum", type=int, help="Gradient accumulation steps."),
    click.option("--warmup-ratio", type=float, help="Share of steps warming up the learning rate."),
    click.option("--seed", type=int, help="Seed for shuffling, dropout and LoRA initialisation (same seed, same weights)."),
    click.option("--max-rows", type=int, help="Train on the first N rows only (smoke runs)."),
    click.option("--group-by-length/--no-group-by-length", default=None,
                 help="Batch rows of similar length: less padding, but nearly one class per batch where length "
                      "predicts the label (default off; see bench/train.py --classification)."),
    click.option("--val-split", help="Split whose loss is measured during training (default validation, when the "
                                     "data has it; 'none' turns it off)."),
    click.option("--val-every", type=float, help="Validation loss every N steps; below 1 a share of the run (default 0.2)."),
    click.option("--val-max-rows", type=int, help="Validation loss on the first N rows (default 512)."),
    click.option("--keep-best/--no-keep-best", default=None,
                 help="Keep the weights with the lowest validation loss, not the last step's (default off)."),
    click.option("--lora-r", type=int, help="LoRA rank (default 8)."),
    click.option("--lora-alpha", type=int, help="LoRA alpha (default 16)."),
    click.option("--target-modules", help="Comma-separated module names for LoRA (default per architecture)."),
]


def _with(flags):
    def deco(f):
        for opt in reversed(flags):
            f = opt(f)
        return f
    return deco


@main.command()
@click.argument("data", type=click.Path(file_okay=False))
@click.option("--model", "model", required=True, help="Model folder or hub name (its tokenizer must match the data's).")
@click.option("--method", type=click.Choice(["full", "lora"]), default="full", show_default=True)
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Run folder (default runs/<data name>-<method>).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file with training options.")
@_with(_TRAIN_FLAGS)
def train(data, model, method, output, overwrite, config_file, target_modules, **flags):
    """Fine-tune MODEL on compiled directory DATA (full or LoRA).

    Writes the model or adapter, the manifest trained on, train_log.jsonl, loss.png and
    summary.json. Runs unchanged under torchrun / accelerate launch.

    \b
    Example:
      ftdata tiny-model llama models/tiny
      ftdata train out/reviews --model models/tiny --method lora --max-steps 200 -o runs/rev-lora
      torchrun --nproc_per_node 2 -m ftdata train out/reviews --model models/tiny --max-steps 20
    """
    _need_trainers()
    from ftdata.inspect.load import read_manifest

    opts = _options(config_file, target_modules=_split_list(target_modules), **flags)
    if output is None:
        output = f"runs/{read_manifest(data)['name']}-{method}"
    if method == "full":
        from trainers.full import train_full as run
    else:
        from trainers.lora import train_lora as run
    from trainers._run import is_main_process
    from trainers.progress import ConsoleReporter

    s = run(data, model, output, overwrite=overwrite, reporter=ConsoleReporter() if is_main_process() else None, **opts)
    if not is_main_process():  # under torchrun every rank returns; one line is enough
        return
    click.echo(run_line(s) + f" -> {output}")


def run_line(s: dict) -> str:
    """One line for a finished training run (its summary)."""
    v = s.get("validation")
    val = (f", val loss {v['last_loss']:.4f} (best {v['best_loss']:.4f} at step {v['best_step']}, kept {v['kept']})"
           if v and v["last_loss"] is not None else "")
    return (f"{s['method']}: {s['steps']} steps, loss {s['train_loss']:.4f}{val}, {s['trainable_params']:,} of "
            f"{s['total_params']:,} params trained, {s['wall_seconds']:.1f}s, {s['tokens_per_second']:,.0f} tokens/s, "
            f"padding efficiency {s['padding_efficiency']:.3f}")


_EVAL_FLAGS = [
    click.option("--split", help="Split to evaluate (default test)."),
    click.option("--shots", type=int, help="In-context examples from the train split (default 0)."),
    click.option("--max-new-tokens", type=int, help="Longest generated completion (default 64)."),
    click.option("--num-beams", type=int, help="Beam width (default 1 = greedy)."),
    click.option("--eval-batch-size", "batch_size", type=int, help="Prompts per batch (default 16)."),
    click.option("--max-rows", type=int, help="Evaluate the first N rows per task only."),
]


@main.command("eval")
@click.argument("data", type=click.Path(file_okay=False))
@click.option("--model", required=True, help="Model folder, hub name, or a run folder from `ftdata train`.")
@click.option("--adapter", help="LoRA adapter folder or LoRA run folder.")
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Folder for eval.json, eval.md, predictions.jsonl.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file with generation settings.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@_with(_EVAL_FLAGS)
def eval_(data, model, adapter, output, config_file, as_json, **flags):
    """Score a model on a split of DATA with each template's metric.

    Classification templates (answer choices) rank choices by log-likelihood (accuracy,
    macro-F1); others generate and score ROUGE / BLEU / exact match, all offline.

    \b
    Example:
      ftdata eval out/sms --model runs/sms-full -o evals/sms-full
      ftdata eval out/sms --model models/tiny --adapter runs/sms-lora --split validation
    """
    _need_trainers()
    from trainers.evaluate import evaluate_model, markdown_table
    from trainers.progress import ConsoleReporter

    rep = evaluate_model(data, model, adapter=adapter, output=output, reporter=ConsoleReporter(),
                         **_options(config_file, **flags))
    click.echo(json.dumps(rep, indent=2) if as_json else markdown_table(rep))


@main.command()
@click.argument("data", type=click.Path(file_okay=False))
@click.option("--model", required=True, help="Base model folder or hub name.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Folder for the report, runs and evaluations.")
@click.option("--method", "methods", default="full,lora", show_default=True, help="Comma-separated: full, lora.")
@click.option("--shots", default="0,3", show_default=True, help="Comma-separated shot counts for the base model.")
@click.option("--heldout", type=click.Path(file_okay=False), help="Compiled directory of an untrained task (forgetting).")
@click.option("--heldout-text", type=click.Path(file_okay=False),
              help="Compiled raw text (layout: text, e.g. held-out pretraining text): perplexity before and after.")
@click.option("--heldout-text-rows", type=int, help="Score the first N packed rows of --heldout-text's test split.")
@click.option("--lora-lr", type=float, help="Learning rate for LoRA (default: --lr).")
@click.option("--overwrite", is_flag=True, help="Replace an existing comparison.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="YAML with `train:` and `eval:` mappings of options.")
@click.option("--max-new-tokens", type=int, help="Longest generated completion (default 64).")
@click.option("--eval-max-rows", type=int, help="Evaluate the first N test rows per task of DATA only.")
@click.option("--heldout-max-rows", type=int,
              help="Evaluate the first N test rows per task of --heldout only (default all: --eval-max-rows does not "
                   "shrink the forgetting set).")
@_with(_TRAIN_FLAGS)
def compare(data, model, output, methods, shots, heldout, heldout_text, heldout_text_rows, lora_lr, overwrite,
            config_file, max_new_tokens, eval_max_rows, heldout_max_rows, target_modules, **flags):
    """Base model 0/k-shot vs full fine-tune vs LoRA on DATA's test split, plus forgetting.

    Prints one line per stage (held-out base, base k-shot, each method's training and
    evaluation, its held-out score) and a progress bar while evaluating, on stderr; the table
    on stdout.

    \b
    Example:
      ftdata compare out/dialogsum --model models/tiny --shots 0,1,3 --method full,lora \\
          --heldout out/sms --max-steps 300 -o reports/dialogsum
    """
    _need_trainers()
    from trainers.compare import compare as run
    from trainers.config import load_config_file

    cfg = load_config_file(config_file)
    train_opts = dict(cfg.get("train") or {}) | {k: v for k, v in flags.items() if v is not None}
    if target_modules:
        train_opts["target_modules"] = _split_list(target_modules)
    eval_opts = dict(cfg.get("eval") or {})
    if max_new_tokens is not None:
        eval_opts["max_new_tokens"] = max_new_tokens
    if eval_max_rows is not None:
        eval_opts["max_rows"] = eval_max_rows
    try:
        shot_list = tuple(int(s) for s in _split_list(shots) or [0])
    except ValueError:
        raise FtdataError(f"--shots: expected comma-separated integers such as 0,1,3; found '{shots}'") from None
    from trainers.progress import ConsoleReporter

    rep = run(data, model, output, methods=tuple(_split_list(methods) or []), shots=shot_list, heldout=heldout,
              overwrite=overwrite, train_options=train_opts, lora_options={"lr": lora_lr} if lora_lr else None,
              eval_options=eval_opts, heldout_max_rows=heldout_max_rows, heldout_text=heldout_text,
              heldout_text_rows=heldout_text_rows, reporter=ConsoleReporter())
    from trainers.compare import compare_markdown

    click.echo(compare_markdown(rep))


@main.command("tiny-model")
@click.argument("arch", type=click.Choice(["llama", "gpt2", "t5"]))
@click.argument("output", type=click.Path(file_okay=False))
@click.option("--tokenizer", default="ftdata:tiny-bpe", show_default=True, help="Tokenizer the model is sized for.")
@click.option("--hidden", default=64, show_default=True, help="Hidden size.")
@click.option("--layers", default=2, show_default=True, help="Transformer blocks (per stack for t5).")
@click.option("--heads", default=4, show_default=True, help="Attention heads.")
@click.option("--seed", default=0, show_default=True, help="Seed for the random weights.")
def tiny_model(arch, output, tokenizer, hidden, layers, heads, seed):
    """Save a randomly initialised tiny ARCH model (with its tokenizer) to OUTPUT; offline.

    \b
    Example:
      ftdata tiny-model llama models/tiny-llama --hidden 64 --layers 2
      ftdata tiny-model t5 models/tiny-t5
    """
    _need_trainers()
    from trainers.tiny import count_parameters, save_tiny_model

    out = save_tiny_model(arch, output, tokenizer, seed=seed, hidden=hidden, layers=layers, heads=heads)
    import transformers as tf

    cfg = tf.AutoConfig.from_pretrained(out)
    auto = tf.AutoModelForSeq2SeqLM if cfg.is_encoder_decoder else tf.AutoModelForCausalLM
    click.echo(f"{arch}: {count_parameters(auto.from_config(cfg))[1]:,} parameters -> {out}")
