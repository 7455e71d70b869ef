#!/usr/bin/env bash
# Run by Snakemake (--software-deployment-method conda) inside the new envs/verl.yaml environment: builds flash-attn
# 2.8.3 (the version verl 0.9.1's fsdp extra pins) against the torch installed there. pip's default build isolation
# would build it without torch, which its setup.py imports; hence --no-build-isolation. Needs nvcc (CUDA toolkit) on
# the node and takes a while (MAX_JOBS limits parallel compiler processes). Set RLSCALING_SKIP_FLASH_ATTN=1 to skip it
# and run verl with grpo.verl.attn_implementation: sdpa and grpo.verl.use_remove_padding: false.
set -euo pipefail
if [ "${RLSCALING_SKIP_FLASH_ATTN:-0}" = 1 ]; then
  echo "[verl post-deploy] skipping flash-attn (RLSCALING_SKIP_FLASH_ATTN=1)"
  exit 0
fi
python -c "import flash_attn" 2>/dev/null && { echo "[verl post-deploy] flash-attn already installed"; exit 0; }
command -v nvcc >/dev/null || { echo "[verl post-deploy] nvcc not found: cannot build flash-attn (load a CUDA module," \
  "or set RLSCALING_SKIP_FLASH_ATTN=1 and grpo.verl.attn_implementation: sdpa, use_remove_padding: false)" >&2; exit 1; }
MAX_JOBS="${MAX_JOBS:-8}" python -m pip install --no-build-isolation "flash-attn==2.8.3"
python -c "import flash_attn; print('[verl post-deploy] flash-attn', flash_attn.__version__)"
