#!/usr/bin/env bash
# A user's install, no checkout on the path: `pip install .` in a fresh venv (every dependency from the package
# index, nothing from the test venv), then, from a directory outside the repository, `rlscaling validate` on
# config.yaml (and on a broken copy: exit 2 naming the key) and `rlscaling fit` on a synthetic summary.csv.
# Measured on a 2-core machine shared with other work: the install 280 s, 95 s and 104 s in three runs (the load and
# the downloads vary; pip's cache stayed under 1 MB), the checks ~10 s more; a 1.8 GB venv, removed at the end.
# The package is built from a copy of what it ships (pyproject.toml, README.md, src/, workflow/schemas/), so the
# build's build/ and *.egg-info stay out of the checkout (a stale build/lib would put deleted modules in the wheel).
# tests/test_install.py proves the same in ~30 s with the test venv's dependencies; this proves the install itself.
# Usage: bash .ci/install_check.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH
export OMP_NUM_THREADS=1 MPLBACKEND=Agg PIP_DISABLE_PIP_VERSION_CHECK=1

start=$SECONDS
python3 -m venv "$work/venv"
tar -C "$repo" --exclude=__pycache__ --exclude='*.egg-info' -cf - pyproject.toml README.md src workflow/schemas |
  { mkdir "$work/tree" && tar -C "$work/tree" -xf -; }
# (this machine's pip config names local indexes that lack most packages: pip's warning for each is dropped)
"$work/venv/bin/pip" install -q "$work/tree" 2>&1 | { grep -v "^WARNING: Location 'file:.*' is ignored" || true; }
echo "install_check: fresh venv + pip install . in $((SECONDS - start)) s, $(du -sh "$work/venv" | cut -f1)"
cd "$work"
venv/bin/python -c "import rlscaling, sys; assert rlscaling.__file__.startswith(sys.argv[1]), rlscaling.__file__" \
  "$work/venv/"

venv/bin/rlscaling validate --config "$repo/config.yaml"
{ cat "$repo/config.yaml"; echo "seed: not-a-number"; } >bad.yaml
if venv/bin/rlscaling validate --config bad.yaml 2>err.txt; then
  echo "install_check: FAIL: a config with seed: not-a-number validated" && exit 1
fi
grep -q "seed: 'not-a-number' is not of type 'integer'" err.txt || { cat err.txt; exit 1; }

# a summary drawn from a known law (tests/fit_synthetic.py, run on the installed package)
PYTHONPATH="$repo/tests" venv/bin/python - <<'EOF'
import numpy as np

from fit_synthetic import synthetic_study

sizes, tokens, steps, tps = (1e5, 3e5, 1e6), (2e5, 6e5), (0, 2, 5, 10, 20), 2e4
g_pre = np.exp(np.mean([np.log(6 * n * d) for n in sizes for d in tokens]))
g_rl = np.exp(np.mean([np.log(6 * n * tps * s) for n in sizes for s in steps if s]))
law = {"E": 0.1, "A": 0.15 * g_pre**0.25, "alpha": 0.25, "B": 0.4 * (g_rl / 10) ** 0.48, "beta": 0.48, "C0": g_rl / 10}
summary, _ = synthetic_study(
    law, n_params=sizes, pretrain_tokens=tokens, rl_steps=steps, rl_tokens_per_step=tps, n_items=200, seed=3
)
summary.to_csv("summary.csv", index=False)
EOF
venv/bin/rlscaling fit --summary summary.csv --out fits --bootstrap 10 --config "$repo/config.yaml"
test -s fits/fits.json
echo "install_check: OK in $((SECONDS - start)) s"
