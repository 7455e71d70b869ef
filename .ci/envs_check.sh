#!/usr/bin/env bash
# Proves that every conda environment file (envs/*.yaml) installs as written: a pip resolution of its `pip:` list
# for the Python it names, in a throwaway venv (`pip install --dry-run --ignore-installed`, metadata only, nothing
# installed; see src/rlscaling/workflow/envcheck.py). Fails naming the env file and pip's conflict message. Then the
# counter-check: the vLLM env with numpy 2.4.6 (the pin that could not be installed, issue 19) must fail.
# Needs the python3.X each file names on PATH and PyPI. Usage: .ci/envs_check.sh [ENV_FILE...]  (default envs/*.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
t0=$SECONDS
"$PY" -m rlscaling.workflow.envcheck "$@"
if [ $# -eq 0 ]; then
  bad=$(mktemp -d -t envs_check_bad.XXXXXX)
  trap 'rm -rf "$bad"' EXIT
  sed 's/^\( *- numpy==\).*/\12.4.6/' envs/vllm.yaml > "$bad/vllm-numpy-2.4.6.yaml"
  grep -q "numpy==2.4.6" "$bad/vllm-numpy-2.4.6.yaml" || { echo "[envs_check] FAIL: no numpy pin in envs/vllm.yaml"; exit 1; }
  "$PY" -m rlscaling.workflow.envcheck --expect-fail "$bad/vllm-numpy-2.4.6.yaml"
fi
echo "[envs_check] done in $((SECONDS - t0)) s"
