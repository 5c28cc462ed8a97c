"""Run by test_chat_input.py with LLaMA-Factory's own interpreter (a separate venv): read a
``llamafactory-sharegpt`` export the way LLaMA-Factory does and print what it made of it.

Usage: ``PYTHON lf_sharegpt_probe.py EXPORT_DIR OUT_JSON``; writes one JSON object: per dataset name,
the converted rows (``_prompt``, ``_response``, ``_system``, ``_tools``) and each function
call as LLaMA-Factory's Qwen tool format renders it.
"""

import json
import os
import sys

import datasets
from llamafactory.data.converter import get_dataset_converter
from llamafactory.data.formatter import FunctionFormatter
from llamafactory.data.parser import get_dataset_list
from llamafactory.hparams import DataArguments

dest = sys.argv[1]
with open(os.path.join(dest, "dataset_info.json"), encoding="utf-8") as fh:
    names = list(json.load(fh))
data_args = DataArguments(dataset_dir=dest)
fmt = FunctionFormatter(slots=["{{content}}"], tool_format="qwen")
out = {"datasets_version": datasets.__version__}
for attr in get_dataset_list(names, dest):
    ds = datasets.load_dataset("json", data_files=os.path.join(dest, attr.dataset_name), split="train")
    conv = get_dataset_converter(attr.formatting, attr, data_args)
    rows = []
    for r in ds:
        c = conv(r)
        calls = [fmt.apply(content=m["content"])[0] for m in c["_prompt"] + c["_response"] if m["role"] == "function"]
        rows.append({"prompt": c["_prompt"], "response": c["_response"], "system": c["_system"],
                     "tools": c["_tools"], "calls": calls})
    out[attr.dataset_name] = rows
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    json.dump(out, fh, ensure_ascii=False)
