#!/usr/bin/env bash
# Set up and compile the bundled example offline (the README's first command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q -e .
ftdata build examples/reviews/recipe.yaml --overwrite
