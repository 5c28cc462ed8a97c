"""Why a row or an example is not in the output: the one table of reject stages and codes.

Every reject a build writes to ``rejects.jsonl`` is a :class:`Reject` whose ``code`` is a
:class:`Code` from the table below; the code fixes the :class:`Stage` that rejects it and
carries a one-line meaning, which the report shows next to each count and the build's gate
(:mod:`ftdata.plan.gate`) reads to tell deliberate removals from problems. No other module spells a
stage or code as free text.

======================  ========  ==========  =================================================
code                    stage     deliberate  meaning
======================  ========  ==========  =================================================
unreadable              read                  the line or record could not be parsed
schema                  schema                a column is missing, of the wrong type or out of
                                              bounds (``sources[].columns``)
duplicate_key           key                   the row's key was already used by an earlier row
does_not_apply          render                the template skips the row, or renders an empty
                                              prompt or completion
render_error            render                the template failed on the row
not_an_answer_choice    render                the completion is not one of the template's
                                              ``answer_choices``
bad_messages            render                the messages column is not a list of
                                              ``{role, content}`` with an assistant turn
unknown_role            render                a message's role (or ShareGPT ``from``) is not
                                              one the input format knows
tool_without_call       render                a tool message answers no earlier tool call (or
                                              names an unknown ``tool_call_id``)
empty_assistant_turn    render                an assistant turn with neither content nor a tool
                                              call
bad_tool_arguments      render                a tool call's arguments are not valid JSON
bad_weight              render                a message's ``weight`` is not 0 or 1, or is on a
                                              turn that is not the assistant's
bad_tools               render                the tools value is not a list of function schemas
                                              (or its JSON text)
too_long                tokenize              over ``max_length``, and the overflow policy
                                              cannot shorten it
no_trained_token        tokenize              the completion leaves no token to train
chat_template           tokenize              the chat template failed, or the trained turn
                                              cannot be found in what it renders
duplicate               dedup     yes         an exact duplicate of a kept example
near_duplicate          dedup     yes         a near duplicate of a kept example
not_sampled             mixture   yes         the mixture leaves the example out of the split
======================  ========  ==========  =================================================

The enums are ``str``-valued: a member is equal to, hashes like, formats and serialises as its
value, so ``rejects.jsonl`` and the manifest's counts read exactly as plain strings would.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple


class _Text(str, Enum):
    """A str-valued enum that behaves as its value in f-strings, JSON and dict keys."""

    __hash__ = str.__hash__  # Enum hashes the member name: a plain string key would miss it

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Stage(_Text):
    """The build stage a reject comes from, in data-flow order."""

    READ = "read"
    SCHEMA = "schema"
    KEY = "key"
    RENDER = "render"
    TOKENIZE = "tokenize"
    DEDUP = "dedup"
    MIXTURE = "mixture"

    @property
    def whole_row(self) -> bool:
        """Whether a reject of this stage stands for a whole row (every example it would
        have made), not one example."""
        return self in (Stage.READ, Stage.SCHEMA, Stage.KEY)


class Code(_Text):
    """Why a row or example was rejected; each member has a ``stage``, a one-line
    ``meaning``, and ``deliberate`` (a decision of the recipe, not a problem with the data)."""

    stage: Stage
    meaning: str
    deliberate: bool

    def __new__(cls, value: str, stage: Stage, meaning: str, deliberate: bool = False):
        member = str.__new__(cls, value)
        member._value_ = value
        member.stage, member.meaning, member.deliberate = stage, meaning, deliberate
        return member

    UNREADABLE = ("unreadable", Stage.READ, "the line or record could not be parsed")
    SCHEMA = ("schema", Stage.SCHEMA,
              "a column is missing, of the wrong type or out of bounds (sources[].columns)")
    DUPLICATE_KEY = ("duplicate_key", Stage.KEY, "the row's key was already used by an earlier row")
    DOES_NOT_APPLY = ("does_not_apply", Stage.RENDER,
                      "the template skips the row, or renders an empty prompt or completion")
    RENDER_ERROR = ("render_error", Stage.RENDER, "the template failed on the row")
    NOT_AN_ANSWER_CHOICE = ("not_an_answer_choice", Stage.RENDER,
                            "the completion is not one of the template's answer_choices")
    BAD_MESSAGES = ("bad_messages", Stage.RENDER,
                    "the messages column is not a list of {role, content} with an assistant turn")
    UNKNOWN_ROLE = ("unknown_role", Stage.RENDER, "a message's role (or ShareGPT from) is not one the input format knows")
    TOOL_WITHOUT_CALL = ("tool_without_call", Stage.RENDER,
                         "a tool message answers no earlier tool call (or names an unknown tool_call_id)")
    EMPTY_ASSISTANT_TURN = ("empty_assistant_turn", Stage.RENDER,
                            "an assistant turn with neither content nor a tool call")
    BAD_TOOL_ARGUMENTS = ("bad_tool_arguments", Stage.RENDER, "a tool call's arguments are not valid JSON")
    BAD_WEIGHT = ("bad_weight", Stage.RENDER,
                  "a message's weight is not 0 or 1, or is on a turn that is not the assistant's")
    BAD_TOOLS = ("bad_tools", Stage.RENDER, "the tools value is not a list of function schemas (or its JSON text)")
    TOO_LONG = ("too_long", Stage.TOKENIZE,
                "over max_length, and the overflow policy cannot shorten it")
    NO_TRAINED_TOKEN = ("no_trained_token", Stage.TOKENIZE, "the completion leaves no token to train")
    CHAT_TEMPLATE = ("chat_template", Stage.TOKENIZE,
                     "the chat template failed, or the trained turn cannot be found in what it renders")
    DUPLICATE = ("duplicate", Stage.DEDUP, "an exact duplicate of a kept example", True)
    NEAR_DUPLICATE = ("near_duplicate", Stage.DEDUP, "a near duplicate of a kept example", True)
    NOT_SAMPLED = ("not_sampled", Stage.MIXTURE, "the mixture leaves the example out of the split", True)


def meaning(code: str) -> str:
    """The one-line meaning of ``code`` (a :class:`Code` or its value), for reports; a code
    this version does not know (an older or newer manifest) gets a note saying so."""
    try:
        return Code(code).meaning
    except ValueError:
        return f"a code this ftdata version does not know ({code})"


def tally(counter: dict) -> dict[str, int]:
    """Counts by code or stage as the manifest holds them: plain string keys, sorted."""
    return {str(k): n for k, n in sorted(counter.items())}


class Rejection(NamedTuple):
    """Why one example is rejected, as a stage function returns it: a code and a message."""

    code: Code
    message: str


@dataclass
class Reject:
    """One line of ``rejects.jsonl``: a row or example that is not in the output.

    Attributes:
        source: the source's name.
        row_key: the row's key (None when the row could not be read).
        line: the row's line (or record number) in the source.
        code: why, from the table (:class:`Code`); it fixes :attr:`stage`.
        reason: the message: what was found, in words (JSON key ``reason``).
        template: the template's name, for example-level rejects.
        split: the split the example was planned for, once known.
        value: the offending value or the raw record, shortened.
        duplicate_of: for dedup rejects, the kept copy's source, row_key, template and split.
    """

    source: str
    row_key: str | None
    line: int
    code: Code
    reason: str
    template: str | None = None
    split: str | None = None
    value: str | None = None
    duplicate_of: dict | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, Code):  # a plain string (the chunk cache's JSON) is checked here
            self.code = Code(self.code)

    @property
    def stage(self) -> Stage:
        return self.code.stage

    def as_dict(self) -> dict:
        """The ``rejects.jsonl`` record: every field that is set, ``row_key`` always, and the stage."""
        d = {k: v for k, v in self.__dict__.items() if v is not None or k == "row_key"}
        d["stage"] = self.stage
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Reject:
        """The inverse of :meth:`as_dict` (``stage`` is checked against the code's)."""
        d = dict(d)
        stage = d.pop("stage", None)
        rec = cls(**d)
        if stage is not None and stage != rec.stage:
            raise ValueError(f"reject code '{rec.code}' belongs to stage '{rec.stage}', found stage '{stage}'")
        return rec
