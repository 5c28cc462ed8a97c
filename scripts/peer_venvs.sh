#!/usr/bin/env bash
# Build the venvs that peer tools need beside the test venv (they pin libraries the test venv
# must not have). Today: LLaMA-Factory 0.9.5, which pins datasets<=4.0.0 and transformers<=5.6.0
# and pulls torchvision/torchaudio. The tests marked peer_venv run it there in a subprocess
# (tests/integration/test_llamafactory_config.py) and skip, saying so, when it is absent.
#
#   bash scripts/peer_venvs.sh            # -> ${FTDATA_LF_VENV:-/work/venvs/lf}
#
# Exact versions: scripts/peer_venvs/llamafactory.txt (pip freeze of a venv this script built).
# Order matters: torch and torchvision first, pinned, on Python 3.11 -- pip takes both from this
# machine's disk (a CUDA build; it runs on the CPU); without the pin llamafactory's `torch>=2.4`
# would download another multi-GB torch.
# Not lighter: llamafactory/data/mm_plugin.py imports torchaudio unconditionally, and PyPI's
# torchaudio Linux wheels link libtorch_cuda.so, so they cannot load on the CPU torch 2.13.0.
set -euo pipefail
cd "$(dirname "$0")/.."
LF="${FTDATA_LF_VENV:-/work/venvs/lf}"
PY="${PYTHON311:-python3.11}"
if [ -x "$LF/bin/llamafactory-cli" ] && "$LF/bin/python" -c "import llamafactory" 2>/dev/null; then
  echo "peer venv already there: $LF"; exit 0
fi
"$PY" -m venv "$LF"
"$LF/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
"$LF/bin/pip" install -q -c scripts/peer_venvs/llamafactory.txt llamafactory==0.9.5
"$LF/bin/python" -c "import llamafactory; print('LLaMA-Factory', llamafactory.__version__, 'in', '$LF')"
