"""The fits on real data: the seed's own verl GRPO curves (Qwen3-Base 1.7B-14B on GSM8K) and Epoch AI's
Chinchilla replication. Both files live in ``../shared/reference`` beside the checkout (never copied into the
repository); each test skips, naming the missing file, when they are absent."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlscaling import fit as F
from rlscaling.compute import grpo_step_flops

REPO = Path(__file__).resolve().parents[1]
# Non-embedding N of each curve and the verl settings, from the reference README: 512 prompts x 3 rollouts per
# step; the seed's compute script assumes 256 prompt + 256 response tokens per sequence. HEADS: the output head's
# parameters (hidden size x 151,936 vocabulary, the models' config.json), counted as rlscaling.compute counts them.
SIZES = {"1.7b": 1.4e9, "4b": 3.6e9, "8b": 6.95e9, "14b": 13.2e9}
HEADS = {"1.7b": 2048 * 151_936, "4b": 2560 * 151_936, "8b": 4096 * 151_936, "14b": 5120 * 151_936}
TOKENS_PER_STEP = 512 * 3 * 256  # prompt tokens = response tokens per step, summed over sequences
GSM8K_ITEMS = 1319


def _reference(name: str) -> Path:
    path = Path(os.environ.get("RLSCALING_REFERENCE_DIR", REPO.parent / "shared" / "reference")) / name
    if not path.is_file():
        pytest.skip(f"reference data absent: {path} (set RLSCALING_REFERENCE_DIR to its folder)")
    return path


def _curves() -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """{size: (N, C_rl FLOPs per evaluated step, accuracy fraction)} from the seed's export."""
    df = pd.read_csv(_reference("seed_rl_curves_gsm8k.csv"))
    out = {}
    for col, n in SIZES.items():
        sub = df[["Step", col]].dropna()
        flops_per_step = grpo_step_flops(n, TOKENS_PER_STEP, TOKENS_PER_STEP, head_params=HEADS[col])["total"]
        out[col] = (n, sub["Step"].to_numpy(float) * flops_per_step, sub[col].to_numpy(float))
    return out


def _binomial_draws(acc: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Parametric stand-in for item resampling (no per-item scores are published): 1,319 GSM8K items."""
    return np.random.default_rng(seed).binomial(GSM8K_ITEMS, acc, size=(n_boot, acc.size)) / GSM8K_ITEMS


@pytest.mark.parametrize("size", sorted(SIZES))
def test_sigmoid_fits_each_real_rl_curve(size):
    _, c, y = _curves()[size]
    fit = F.fit_rl_sigmoid(c, y)
    assert fit["r2"] > 0.95
    assert fit["rmse"] < 0.01  # below one percentage point: about the binomial noise of 1,319 items
    assert 0 <= fit["R0"] <= fit["A"] <= 1 and fit["A"] > y[0]


@pytest.mark.parametrize("size", sorted(SIZES))
def test_sigmoid_on_the_first_half_predicts_the_last_step_inside_its_ci(size):
    _, c, y = _curves()[size]
    half = c <= c.max() / 2
    fit = F.fit_rl_sigmoid(c[half], y[half], F.Resampling(acc_draws=_binomial_draws(y[half])))
    draws = fit["draws"][np.all(np.isfinite(fit["draws"]), axis=1)]
    preds = F.rl_sigmoid(c[-1], *draws.T)
    low, high = np.percentile(preds, [2.5, 97.5])
    assert low <= y[-1] <= high, f"{size}: last step {y[-1]:.4f} outside [{low:.4f}, {high:.4f}]"


def test_tan_law_fitted_without_14b_predicts_the_14b_curve():
    curves = _curves()
    train = [curves[k] for k in ("1.7b", "4b", "8b")]
    n = np.concatenate([np.full((c > 0).sum(), size) for size, c, _ in train])
    c = np.concatenate([c[c > 0] for _, c, _ in train])
    y = np.concatenate([y[cc > 0] for _, cc, y in train])
    fit = F.fit_tan_law(n, c, y, F.Resampling(bootstrap=300, seed=0))
    n14, c14, y14 = curves["14b"]
    pos = c14 > 0
    params = [fit[k] for k in F.TAN_PARAMS]
    pred = 1 - F.tan_error(n14, c14[pos], *params)
    assert np.mean(np.abs(pred - y14[pos])) < 0.03  # mean error under 3 pp over 54 checkpoints
    draws = fit["draws"][np.all(np.isfinite(fit["draws"]), axis=1)]
    low, high = np.percentile(np.stack([1 - F.tan_error(n14, c14[pos], *row) for row in draws]), [2.5, 97.5], axis=0)
    assert low[-1] <= y14[-1] <= high[-1]  # the final 14B checkpoint
    assert np.mean((low <= y14[pos]) & (y14[pos] <= high)) >= 0.9


def test_two_factor_engine_bootstrap_cis_cover_the_published_chinchilla_estimates():
    """Besiroglu et al. (2024) fitted L = E + A/N^alpha + B/D^beta on 240 points (Huber delta 1e-3 on log L,
    L-BFGS); every published point estimate must lie inside our 95% bootstrap CI (200 point resamples)."""
    df = pd.read_csv(_reference("chinchilla_svg_extracted_data.csv")).sort_values("loss").iloc[:-5]
    n = df["Model Size"].to_numpy()
    d = df["Training FLOP"].to_numpy() / (6 * n)
    fit = F.fit_two_factor_power_law(n, d, df["loss"].to_numpy(), delta=1e-3, bootstrap=200, seed=0)
    published = {"E": 1.817, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366}
    for key, value in published.items():
        low, high = fit["ci"][key]
        assert low <= value <= high, f"{key}: published {value} outside our CI ({low:.4g}, {high:.4g})"
