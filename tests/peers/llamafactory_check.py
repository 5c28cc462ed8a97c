"""Runs INSIDE the LLaMA-Factory venv (scripts/peer_venvs.sh), never in the test venv.

Usage: python llamafactory_check.py CONFIG

Reads the config ftdata wrote exactly as ``llamafactory-cli train CONFIG`` would (LLaMA-Factory's
``read_args`` -> ``get_train_args``), then loads the data through LLaMA-Factory's own
``load_tokenizer``, ``get_template_and_fix_tokenizer`` and ``get_dataset`` (what ``run_sft``
calls) and prints, as one JSON line, what it got: the parsed data arguments and, per dataset
(train / eval), the rows' ``input_ids`` and ``labels``. Imports nothing from ftdata.
"""

from __future__ import annotations

import json
import sys

from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
from llamafactory.hparams import get_train_args
from llamafactory.model import load_tokenizer


def main(config: str) -> None:
    sys.argv = ["llamafactory-cli", config]  # read_args reads the YAML named first, as the CLI does
    model_args, data_args, training_args, finetuning_args, _ = get_train_args()
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    module = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)
    rows = {name: module[key].select_columns(["input_ids", "labels"]).to_dict()
            for name, key in (("train", "train_dataset"), ("validation", "eval_dataset")) if key in module}
    print(json.dumps({
        "dataset": data_args.dataset, "eval_dataset": data_args.eval_dataset,
        "tokenized_path": data_args.tokenized_path, "do_train": training_args.do_train,
        "do_eval": training_args.do_eval, "stage": finetuning_args.stage, "rows": rows,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
