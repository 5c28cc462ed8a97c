#!/usr/bin/env bash
# Set up a virtual environment and run the whole test suite (the README's second command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
# torch first and pinned: a CPU build of 2.13.0 is on disk; a bare `torch` would pull CUDA.
pip install -q torch==2.13.0
pip install -q -e ".[test]"
# headless Chromium (Debian's package) for the browser tests (build report, studio); skipped without it
command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
  || echo "warning: could not install chromium; the browser tests (test_report.py, test_studio_browser.py) will be skipped"
python -m pytest "$@"
