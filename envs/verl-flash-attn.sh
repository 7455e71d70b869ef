#!/usr/bin/env bash
# Opt-in: adds flash-attn 2.8.3 (the version verl 0.9.1's `fsdp` extra pins) to an existing envs/verl.yaml
# environment, for grpo.verl.attn_implementation: flash_attention_2 and grpo.verl.use_remove_padding: true (packed
# sequences: no compute on padding tokens). Not run by Snakemake: the default verl settings need no flash-attn.
#
# Run it inside the verl environment (`conda activate <env>`, or `PYTHON=/path/to/env/bin/python`), on a node with
#   - nvcc of the CUDA version torch was built with (torch 2.11.0 from PyPI: CUDA 13.0; this script compares them);
#   - time: flash-attn has no wheel on PyPI; unless its setup finds a prebuilt wheel for this torch/CUDA/Python, it
#     compiles, which takes hours (MAX_JOBS limits parallel compiler processes and memory, default 8).
# pip's build isolation would build it without torch, which its setup.py imports; hence --no-build-isolation.
set -euo pipefail
PY="${PYTHON:-python}"
"$PY" -c "import flash_attn" 2>/dev/null && { echo "[verl-flash-attn] flash-attn already installed"; exit 0; }
command -v nvcc >/dev/null || { echo "[verl-flash-attn] nvcc not found: load the CUDA toolkit of torch's CUDA" >&2; exit 1; }
torch_cuda=$("$PY" -c "import torch; print(torch.version.cuda or '')")
nvcc_cuda=$(nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
if [ -z "$torch_cuda" ] || [ "${torch_cuda%%.*}" != "${nvcc_cuda%%.*}" ]; then
  echo "[verl-flash-attn] torch was built with CUDA '${torch_cuda}', nvcc is CUDA '${nvcc_cuda}': load a matching toolkit" >&2
  exit 1
fi
"$PY" -m pip install ninja packaging wheel
MAX_JOBS="${MAX_JOBS:-8}" "$PY" -m pip install --no-build-isolation "flash-attn==2.8.3"
"$PY" -c "import flash_attn; print('[verl-flash-attn] flash-attn', flash_attn.__version__)"
