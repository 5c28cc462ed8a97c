"""The boundary-audit bits masking sets per example (meanings: :mod:`ftdata.tokenize.audit`)."""

STRADDLE = 1
DUP_BOS = 2
EOS_UNTRAINED = 4
PROMPT_NOT_PREFIX = 8
SPECIAL_IN_DATA = 16

FLAGS = {
    "straddling_boundary": STRADDLE,
    "duplicated_bos": DUP_BOS,
    "eos_untrained": EOS_UNTRAINED,
    "prompt_not_prefix": PROMPT_NOT_PREFIX,
    "special_tokens_in_data": SPECIAL_IN_DATA,
}
