"""ftdata: a prompt-template and dataset compiler for supervised fine-tuning.

Stage contract (one subpackage per stage, in data-flow order; each ``__init__`` states its
own contract, and docs/ARCHITECTURE.md draws the map)::

    config/      YAML recipe -> validated Recipe (every problem at once)
    read/        files / hub -> checked, keyed rows (unreadable rows become rejects)
    templating/  sandboxed Jinja: row -> (prompt, completion, answer_choices)
    tokenize/    one tokenization with offsets -> input_ids, labels, audit bits
    plan/        split hash, dedup, mixture, contamination, the gate
    write/       shards, manifest, rejects, card, report; COMPLETED last, atomically
    build/       the order of the stages: phase A per chunk (cached, any engine), phase B
    inspect/, consume/, authoring/, studio/, cli/   readers, exports, tools, the CLI

Columns of a compiled split (causal layout):

* ``input_ids`` (list<int32>): prompt + separator + completion + EOS.
* ``attention_mask`` (list<int8>): all ones (no padding is stored).
* ``labels`` (list<int32>): unshifted; ``IGNORE_INDEX`` (-100) where not trained, else the
  token id. Trained exactly: the tokens of the completion span, and EOS.
* ``source``, ``task``, ``template``, ``row_key``: provenance of the example.
* ``prompt``, ``completion`` (string), ``answer_choices`` (list<string> or null).
* ``references`` (list<string> or null), only when a template names reference columns
  (``references:``): the row's reference answers, for evaluation.

Seq2seq layout: ``input_ids`` is the prompt alone and ``labels`` the completion plus EOS.
"""

import os as _os

# The compiler needs only transformers' tokenizers; without torch installed, transformers
# prints an advisory at import that would look like a problem in every build's output.
# A user's own TRANSFORMERS_VERBOSITY still wins.
if "TRANSFORMERS_VERBOSITY" not in _os.environ:
    try:
        import importlib.util as _ilu

        if _ilu.find_spec("torch") is None:
            _os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    except (ImportError, ValueError):
        pass

from .constants import IGNORE_INDEX, __version__  # noqa: E402

__all__ = ["IGNORE_INDEX", "__version__", "compile", "load", "render", "preview", "export", "push", "report"]


def compile(recipe, **kwargs):  # noqa: A001 - mirrors the CLI verb
    """Compile a recipe (path, dict or Recipe). See :func:`ftdata.build.orchestrate.compile_recipe`."""
    from .build.orchestrate import compile_recipe

    return compile_recipe(recipe, **kwargs)


def load(path, *, decode: bool = False):
    """Load a compiled directory as a ``DatasetDict`` with ``.manifest`` attached.

    Refuses a directory without ``COMPLETED``. A chat build's ``messages`` and ``tools``
    columns are JSON text; ``decode=True`` returns them parsed (see
    :func:`ftdata.inspect.load.load_compiled`).
    """
    from .inspect.load import load_compiled

    return load_compiled(path, decode=decode)


def render(template, row: dict, *, seed: int = 0, row_key: str = ""):
    """Render one row with a Template (or a ``"prompt ||| completion"`` Jinja string)."""
    from .templating.templates import Template, from_jinja

    t = template if isinstance(template, Template) else from_jinja(template)
    return t.render(row, seed=seed, row_key=row_key)


def preview(recipe, n: int = 3):
    """Render and tokenize the first ``n`` rows of each source; see :mod:`ftdata.preview`."""
    from .authoring.preview import preview_recipe

    return preview_recipe(recipe, n=n)


def export(out, to: str, dest, **kwargs):
    """Export a compiled directory for a training stack (``trl``, ``axolotl``, ``llamafactory``,
    ``torchtune``, ``openai-jsonl``, ``trl-chat``, ``axolotl-chat``, ``llamafactory-sharegpt``,
    ``parquet``, ``jsonl``). See :func:`ftdata.consume.export.export`."""
    from .consume.export import export as _export

    return _export(out, to, dest, **kwargs)


def push(out, repo_id: str, **kwargs):
    """Push a compiled directory to the Hugging Face Hub (``dry_run=DIR`` writes it locally).
    See :func:`ftdata.consume.push.push`."""
    from .consume.push import push as _push

    return _push(out, repo_id, **kwargs)


def report(out, dest=None):
    """Write ``report.html`` (plots and tables) for a compiled directory; returns its path."""
    from .write.report import report as _report

    return _report(out, dest)
