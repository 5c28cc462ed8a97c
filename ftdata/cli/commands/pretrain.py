"""``ftdata pretrain``: a small base model trained from scratch on a raw-text build (offline).

Needs the ``train`` extra; the code lives in ``trainers/pretrain.py``.
"""

from __future__ import annotations

import click

from ftdata.cli.app import main


@main.command()
@click.argument("data", type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True,
              help="Run folder; the pretrained base is OUTPUT/model.")
@click.option("--arch", type=click.Choice(["llama", "gpt2"]), default="llama", show_default=True)
@click.option("--hidden", default=256, show_default=True, help="Hidden size.")
@click.option("--layers", default=4, show_default=True, help="Transformer blocks.")
@click.option("--heads", default=4, show_default=True, help="Attention heads.")
@click.option("--context", default=1024, show_default=True,
              help="Longest input the model takes (positions), at least the build's max_length: room for few-shot "
                   "prompts later.")
@click.option("--max-steps", type=int, help="Optimizer steps (default: one epoch).")
@click.option("--epochs", type=float, help="Passes over the train split (when --max-steps is not given).")
@click.option("--lr", type=float, default=2e-3, show_default=True, help="Peak learning rate.")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Packed rows per step.")
@click.option("--warmup-ratio", type=float, default=0.05, show_default=True, help="Share of steps warming up.")
@click.option("--seed", default=0, show_default=True, help="Seed of the initial weights and the data order.")
@click.option("--max-seconds", type=float, help="Fit training into this wall time (fewer steps on a slow machine; "
              "the learning-rate decay ends at the last step).")
@click.option("--heldout-rows", type=int, help="Score perplexity on the first N packed test rows only.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder.")
def pretrain(data, output, arch, hidden, layers, heads, context, max_steps, epochs, lr, batch_size, warmup_ratio, seed,
             max_seconds, heldout_rows, overwrite):
    """Pretrain a small ARCH model from scratch on compiled raw text DATA (layout: text).

    Every weight is trained on DATA's train split; perplexity on its test split is reported
    before and after. The model (with the data's tokenizer) is OUTPUT/model: the base for
    `ftdata compare`.

    \b
    Example:
      ftdata build pretrain.yaml                       # layout: text
      ftdata pretrain out/pretrain -o runs/base --max-steps 600
      ftdata compare out/dialogsum --model runs/base/model --shots 0,1,3
    """
    from ftdata.cli.commands.train import _need_trainers

    _need_trainers()
    from trainers.pretrain import pretrain as run

    opts = {k: v for k, v in {"max_steps": max_steps, "epochs": epochs}.items() if v is not None}
    s = run(data, output, arch=arch, hidden=hidden, layers=layers, heads=heads, max_positions=context, seed=seed, heldout_rows=heldout_rows,
            max_seconds=max_seconds, overwrite=overwrite, lr=lr, batch_size=batch_size, warmup_ratio=warmup_ratio, group_by_length=False,
            logging_steps=10, **opts)
    b, a = s["perplexity_before"], s["perplexity_after"]
    click.echo(f"{arch}: {s['total_params']:,} params, {s['steps']} steps, {s['tokens']:,} tokens in "
               f"{s['wall_seconds']:.0f}s ({s['tokens_per_second']:,.0f} tokens/s); held-out perplexity "
               f"{b['perplexity']:.2f} -> {a['perplexity']:.2f} ({a['tokens']:,} tokens of split {a['split']}) "
               f"-> {output}/model")
