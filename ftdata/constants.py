"""Constants shared by every stage.

``IGNORE_INDEX`` is the label value that loss functions (PyTorch's ``CrossEntropyLoss``,
transformers, TRL, axolotl) skip. It lives here and nowhere else.
"""

#: The package version (``ftdata.__version__``); part of every cache key.
__version__ = "0.1.0"

IGNORE_INDEX = -100

#: Name of the marker file written last into a compiled directory.
COMPLETED = "COMPLETED"
MANIFEST = "manifest.json"
REJECTS = "rejects.jsonl"
BUILD_INFO = "build_info.json"
#: ``format`` of a compiled directory's manifest; a folder whose manifest has another is not ours.
OUTPUT_FORMAT = "ftdata-compiled/1"
#: Marker file in a folder ftdata makes for an export, a training run or a tiny model, written
#: when the folder is made; its ``format`` says which. ftdata replaces only a folder holding it.
OWNER_FILE = ".ftdata.json"
EXPORT_FORMAT = "ftdata-export/1"
RUN_FORMAT = "ftdata-run/1"
TINY_MODEL_FORMAT = "ftdata-tiny-model/1"
FAILED_FORMAT = "ftdata-failed/1"

#: Label convention written into every manifest so consumers know how to read ``labels``.
LABEL_CONVENTION = "unshifted; -100 = not trained; labels[i] is the target for input_ids[i] after the model shifts"

#: Shipped tokenizer, addressable from a recipe as ``tokenizer: ftdata:tiny-bpe``.
BUILTIN_TOKENIZER = "ftdata:tiny-bpe"

#: Split names a build gives a meaning to, each with its survivor priority when an example is in
#: several splits (lower wins): few-shot exemplars and mixtures draw on ``train``, and exact and
#: near dedup keep the held-out copy. ``split.ratios`` may name only these.
SPLIT_PRIORITY = {"test": 0, "validation": 1, "valid": 1, "dev": 1, "train": 9}

#: The column raw text is read from (``layout: text``, a source without templates) and the one
#: column of a plain-text source's rows (``format: txt``).
TEXT_COLUMN = "text"

#: Columns a chat build stores as JSON text (the conversation and its tools): the shards' schema
#: (ftdata.build.chunk.CHAT_COLUMNS) and ``ftdata.load(decode=True)`` read this one list.
CHAT_JSON_COLUMNS = ("messages", "tools")
