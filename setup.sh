#!/usr/bin/env bash
# Creates .venv and installs Forecast Sweep with the exact versions we test (constraints.txt).
# torch is pinned to 2.13.0: on CPU machines with a local CPU wheel pip takes that; elsewhere add
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu   (CPU build)   or your CUDA index.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,chronos,bench]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import torch, ray, wandb; print(f'ready: torch {torch.__version__}, ray {ray.__version__}, wandb {wandb.__version__}')"
