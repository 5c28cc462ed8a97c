"""The rules between fields of a recipe: how a rule's problem is made, and the Recipe-wide rules.

A rule's problem is a pydantic error of type :data:`RULE` whose text says what was expected,
what was found and the fix; the section models' own validators (:mod:`~ftdata.config.models`)
and :func:`cross_field` (the rules that read several sections of a Recipe) both make them with
:func:`rule`. With the validation context key :data:`DEFER`, a Recipe collects its cross-field
problems instead of raising them, so that the file-system checks still run.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from ..errors import did_you_mean

#: pydantic error type of a rule's problem; its text already says what was expected and found.
RULE = "recipe_rule"
#: Validation context key: a list that collects the Recipe's cross-field problems instead of
#: raising them, so that checks needing the file system and the tokenizer still run.
DEFER = "defer_rules"


def rule(loc: tuple, text: str, found: Any, fields: tuple[str, ...] = ()) -> InitErrorDetails:
    """A rule's problem at ``loc`` (relative to the model); ``fields``: Recipe fields it reads."""
    ctx = {"problem": text, "fields": list(fields)}
    return InitErrorDetails(type=PydanticCustomError(RULE, "{problem}", ctx), loc=loc, input=found)


def raise_all(model: str, errors: list[InitErrorDetails]) -> None:
    """Raise every problem of a validator at once (pydantic adds the field's path to each loc)."""
    if errors:
        raise ValidationError.from_exception_data(model, errors)

def cross_field(r) -> list[InitErrorDetails]:
    """Problems between the fields of a recipe whose fields are each valid, in a fixed order."""
    errors = []
    if r.layout == "text":
        errors += _text_rules(r)
    if r.packing and r.layout not in ("causal", "text"):
        errors.append(rule(("packing",), "packed rows concatenate input_ids and labels of one "
                            "sequence and need layout: causal, found layout: "
                            f"{r.layout}; set layout: causal or packing: false", r.packing,
                            ("packing", "layout")))
    if r.chat_on and r.layout != "causal":
        errors.append(rule(("chat",), "the chat layout renders one sequence and needs layout: "
                            f"causal, found layout: {r.layout}; set layout: causal or "
                            "chat.enabled: false", r.chat.model_dump(exclude_defaults=True),
                            ("chat", "layout")))
    if r.shots and r.split.mode == "stratify":
        errors.append(rule(("shots",), "few-shot exemplars come from train rows known before "
                            "rendering; split mode 'stratify' decides splits over all rows at "
                            "once: use mode ratio or group, or shots: 0", r.shots,
                            ("shots", "split")))
    if r.shots and "train" not in r.split.ratios:
        errors.append(rule(("shots",), "exemplars come from the split named 'train', found splits "
                            f"{', '.join(r.split.ratios)}; add train to split.ratios or set "
                            "shots: 0", r.shots, ("shots", "split")))
    first: dict[str, int] = {}
    for i, src in enumerate(r.sources):
        if src.name in first:
            errors.append(rule(("sources", i, "name"), f"duplicate source name '{src.name}' "
                                f"(first at sources[{first[src.name]}]); give each source its own "
                                "name", src.name, ("sources",)))
        first.setdefault(src.name, i)
    mix = r.mixture
    if mix is not None and mix.method == "weights":
        tasks = sorted({s.task_name for s in r.sources})
        reads = ("mixture", "sources")
        for t, w in mix.weights.items():
            if t not in tasks:
                errors.append(rule(("mixture", "weights", t), f"unknown task '{t}'"
                                    f"{did_you_mean(t, tasks)}; tasks: {', '.join(tasks)}", w,
                                    reads))
        for t in tasks:
            if t not in mix.weights:
                errors.append(rule(("mixture", "weights"), f"no weight for task '{t}' (give 0 to "
                                    "leave it out of the mixture)", mix.weights, reads))
    return errors


def _text_rules(r) -> list[InitErrorDetails]:
    """layout: text is raw text, every token trained: nothing that needs a prompt applies."""
    errors = []
    if r.chat_on:
        errors.append(rule(("chat",), "layout: text trains raw text, not conversations; remove chat or set "
                            "layout: causal", r.chat.model_dump(exclude_defaults=True), ("chat", "layout")))
    if r.shots:
        errors.append(rule(("shots",), "layout: text has no prompt to put exemplars before; set shots: 0 or "
                            "layout: causal", r.shots, ("shots", "layout")))
    if r.overflow != "drop":
        errors.append(rule(("overflow",), "layout: text cuts a document longer than max_length into "
                            "max_length pieces (nothing is dropped or refused for its length); leave "
                            f"overflow at its default, found overflow: {r.overflow}", r.overflow,
                            ("overflow", "layout")))
    return errors
