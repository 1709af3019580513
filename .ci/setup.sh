#!/usr/bin/env bash
# Create .venv and install nmt into it, choosing the PyTorch build deliberately:
# the CPU build by default (a plain `pip install torch` would pull a multi-GB CUDA
# build), the CUDA build with NMT_TORCH=cuda. Safe to re-run: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
torch_version=${NMT_TORCH_VERSION:-2.13.0}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if [ "${NMT_TORCH:-cpu}" = "cuda" ]; then
    "${pip[@]}" "torch==${torch_version}"
  else
    # --no-deps: only torch itself comes from the CPU index; its dependencies come from
    # the default index with the rest below (so an unreachable CPU index costs one lookup).
    "${pip[@]}" --no-deps --retries 1 "torch==${torch_version}+cpu" \
      --extra-index-url https://download.pytorch.org/whl/cpu
  fi
fi
"${pip[@]}" -e ".[dev]"
