"""Tests for rlscaling.report.plots.dimensions: the seed, reward-mode and stratum figures render a real PNG + SVG from a
synthetic summary with every dimension, draw what they can from a partial one, and skip (return []) without
their rows."""

from __future__ import annotations

import logging
import struct

import numpy as np
import pandas as pd
import pytest

from rlscaling.report.plots import dimensions
from rlscaling.schemas import SUMMARY_COLUMNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("base_accuracy_vs_budget", "reward_mode_ablation", "accuracy_vs_rl_by_mode")
SIZES = {"tiny-s": 1.1e5, "tiny-m": 3.3e5}
BUDGETS = (0.75e6, 1.0e6, 2.0e6)
RL_BUDGETS = {"tiny-s": (2.0e6,), "tiny-m": (1.0e6, 2.0e6)}  # only some budgets have RL runs
MODES = ("custom_flexible", "strict")
STEPS = (10, 20, 40)
SUBSETS = ("all", "3term", "3term_negpartial", "4term")


def _row(model, seed, tokens, mode, step, subset, scorer, acc, n_seeds=1, n_items=200):
    half = 1.96 * np.sqrt(acc * (1 - acc) / n_items) * (1.5 if seed == "mean" else 1.0)
    n = SIZES[model]
    row = {
        "study": "synthetic",
        "model": model,
        "n_params": n,
        "pretrain_tokens": tokens,
        "c_pretrain": 6 * n * tokens,
        "rl_step": step,
        "c_rl": 3e6 * n * step,
        "benchmark": "gsm8k",
        "subset": subset,
        "shots": 0,
        "scorer": scorer,
        "n_items": n_items,
        "accuracy": acc,
        "ci_low": max(acc - half, 0.0),
        "ci_high": min(acc + half, 1.0),
        "seed": seed,
        "reward_mode": mode,
        "n_seeds": n_seeds,
        "variant": "reference",
    }
    return [row[c] for c in SUMMARY_COLUMNS]


def _checkpoint_rows(model, tokens, mode, step, skill):
    """Per-seed and seed-mean rows of one checkpoint: custom_flexible/strict per subset, continuation share."""
    learned = 0.0 if step == 0 else 0.25 * (1 - np.exp(-step / 15)) * (1.2 if mode == "strict" else 1.0)
    strict_share = 0.5 if step == 0 else (0.97 if mode == "strict" else 0.7)
    rows, per_seed = [], {}
    for seed in ("1", "2"):
        jitter = 0.03 if seed == "1" else -0.02
        for k, subset in enumerate(SUBSETS):
            custom = float(np.clip(skill + learned + jitter - 0.06 * k, 0.01, 0.97))
            per_seed.setdefault((subset, "custom_flexible"), []).append(custom)
            per_seed.setdefault((subset, "strict"), []).append(custom * strict_share)
        per_seed.setdefault(("all", "continues_past_answer"), []).append(
            0.9 if step == 0 else (0.05 if mode == "strict" else 0.6)
        )
    for (subset, scorer), values in per_seed.items():
        rows += [_row(model, s, tokens, mode, step, subset, scorer, v) for s, v in zip(("1", "2"), values)]
        rows.append(_row(model, "mean", tokens, mode, step, subset, scorer, float(np.mean(values)), n_seeds=2))
    return rows


def synthetic_dimension_summary() -> pd.DataFrame:
    """2 sizes x (2 seeds + mean) x 3 budgets: the base models, and 2 reward modes x 3 RL steps for the budgets
    with RL; subsets all + 3 strata, scorers custom_flexible/strict/continues_past_answer; plus a loss row."""
    rows = []
    for i, model in enumerate(SIZES):
        for j, tokens in enumerate(BUDGETS):
            skill = 0.15 + 0.1 * i + 0.07 * j
            rows += _checkpoint_rows(model, tokens, "base", 0, skill)
            if tokens in RL_BUDGETS[model]:
                for mode in MODES:
                    for step in STEPS:
                        rows += _checkpoint_rows(model, tokens, mode, step, skill)
    loss = _row("tiny-s", "mean", 2.0e6, "base", 0, "all", "loss", 0.5, n_seeds=2)
    loss[SUMMARY_COLUMNS.index("benchmark")] = "val_loss"
    rows.append(loss)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return synthetic_dimension_summary()


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _check_written(paths, stem) -> tuple[int, int]:
    assert [p.name for p in paths] == [f"{stem}.png", f"{stem}.svg"]
    width, height = _png_size(paths[0])
    assert width > 400 and height > 300 and paths[0].stat().st_size > 10_000
    svg = paths[1].read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and len(svg) > 10_000
    return width, height


@pytest.mark.filterwarnings("error")
def test_every_figure_is_drawn(summary, tmp_path):
    figures = dimensions.plot_dimensions(summary, tmp_path)
    assert list(figures) == list(FIGURES)
    for name, paths in figures.items():
        _check_written(paths, name)


def test_rl_gains(summary):
    gains = dimensions.rl_gains(summary)
    # tiny-s: one budget with RL, tiny-m: two; 2 modes x 2 scorers each
    assert len(gains) == 3 * 2 * 2
    assert set(gains["final_step"]) == {40}
    row = gains[(gains["model"] == "tiny-m") & (gains["pretrain_tokens"] == 1.0e6)]
    row = row[(row["reward_mode"] == "strict") & (row["scorer"] == "custom_flexible")].iloc[0]
    base = summary[
        (summary["model"] == "tiny-m")
        & (summary["pretrain_tokens"] == 1.0e6)
        & (summary["rl_step"] == 0)
        & (summary["seed"] == "mean")
        & (summary["subset"] == "all")
        & (summary["scorer"] == "custom_flexible")
    ]["accuracy"].item()
    assert row["base_accuracy"] == pytest.approx(base)
    assert row["gain_pp"] == pytest.approx(100 * (row["accuracy"] - base))
    assert row["err_low_pp"] == pytest.approx(100 * (row["accuracy"] - row["ci_low"]))
    assert row["err_high_pp"] == pytest.approx(100 * (row["ci_high"] - row["accuracy"]))
    cont = dimensions.rl_gains(summary, (dimensions.CONTINUES,))
    strict = cont[cont["reward_mode"] == "strict"]
    assert (strict["gain_pp"] < -80).all()  # strict-reward RL teaches the model to stop after its answer


@pytest.mark.filterwarnings("error")
def test_partial_summary_draws_what_it_can(summary, tmp_path):
    """One reward mode, no continuation rows, no strata, one seed: every figure is still drawn, the ablation
    without its continuation row."""
    full = _check_written(dimensions.plot_reward_mode_ablation(summary, tmp_path / "full"), "full")
    partial = summary[
        (summary["reward_mode"] != "custom_flexible")
        & (summary["scorer"] != dimensions.CONTINUES)
        & (summary["subset"] == "all")
        & (summary["seed"] != "2")
    ]
    figures = dimensions.plot_dimensions(partial, tmp_path / "partial")
    for name, paths in figures.items():
        _check_written(paths, name)
    _, height = _png_size(figures["reward_mode_ablation"][0])
    assert height < 0.8 * full[1]


def test_base_models_only(summary, tmp_path, caplog):
    base_only = summary[summary["rl_step"] == 0]
    with caplog.at_level(logging.INFO, logger="rlscaling.report.plots.style"):
        figures = dimensions.plot_dimensions(base_only, tmp_path)
    _check_written(figures["base_accuracy_vs_budget"], "base_accuracy_vs_budget")
    assert figures["reward_mode_ablation"] == [] and figures["accuracy_vs_rl_by_mode"] == []
    assert "figure reward_mode_ablation skipped" in caplog.text
    assert "figure accuracy_vs_rl_by_mode skipped" in caplog.text
    assert not (tmp_path / "reward_mode_ablation.png").exists()


def test_figures_without_their_rows_are_skipped(summary, tmp_path):
    one_budget = summary[summary["pretrain_tokens"] == 2.0e6]
    assert dimensions.plot_base_accuracy_vs_budget(one_budget, tmp_path / "one") == []
    no_gsm8k = summary[summary["benchmark"] != "gsm8k"]
    assert dimensions.plot_dimensions(no_gsm8k, tmp_path) == dict.fromkeys(FIGURES, [])
    assert not list(tmp_path.iterdir())


def test_summary_without_dimension_columns(summary, tmp_path):
    """An older summary (first fifteen columns, seed means only) still gives the RL figures."""
    old = summary[summary["seed"] == "mean"].drop(columns=["seed", "reward_mode", "n_seeds"])
    old = old[(old["rl_step"] == 0) | (old["pretrain_tokens"] != 1.0e6)]
    old = old.drop_duplicates([c for c in old.columns if c not in ("accuracy", "ci_low", "ci_high")])
    figures = dimensions.plot_dimensions(old, tmp_path)
    assert all(figures.values())
