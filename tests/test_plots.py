"""Tests for rlscaling.report.plots: every figure renders a real PNG + SVG from synthetic summaries shaped like the
embedded and the production study, and figures without their data are skipped (return [])."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlscaling.report import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MATH_SUBJECTS = (
    "Algebra",
    "Counting & Probability",
    "Geometry",
    "Intermediate Algebra",
    "Number Theory",
    "Prealgebra",
    "Precalculus",
)


def _row(study, model, n_params, tokens, step, c_rl_per_step, benchmark, subset, shots, scorer, acc, n_items):
    """One summary.csv row; CI = normal approximation of a binomial proportion (loss rows: +-1%)."""
    if scorer == "loss":
        low, high = acc * 0.99, acc * 1.01
    else:
        half = 1.96 * np.sqrt(acc * (1 - acc) / n_items)
        low, high = max(acc - half, 0.0), min(acc + half, 1.0)
    return {
        "study": study,
        "model": model,
        "n_params": float(n_params),
        "pretrain_tokens": float(tokens),
        "c_pretrain": 6.0 * n_params * tokens,
        "rl_step": step,
        "c_rl": step * c_rl_per_step * n_params,
        "benchmark": benchmark,
        "subset": subset,
        "shots": shots,
        "scorer": scorer,
        "n_items": n_items,
        "accuracy": acc,
        "ci_low": low,
        "ci_high": high,
    }


def _gsm8k_rows(study, model, n, tokens, step, final, skill, learned, shots_list, n_items, c_rl):
    """GSM8K rows for the three scorers: the base model reasons (flexible) but collapses under strict
    formatting with few-shot prompts; RL teaches the format and adds ``learned`` accuracy."""
    rows = []
    for shots in shots_list:
        flexible = min(skill + learned, 0.97)
        strict = flexible * (0.05 if (step == 0 and shots in (1, 2)) else (0.6 if step == 0 else 0.98))
        custom = min(flexible + 0.01 * shots, 0.98)
        for scorer, acc in (("strict", strict), ("flexible", flexible), ("custom_flexible", custom)):
            rows.append(_row(study, model, n, tokens, step, c_rl, "gsm8k", "all", shots, scorer, acc, n_items))
    return rows


def synthetic_embedded_summary() -> pd.DataFrame:
    """Embedded study: tiny-s/m/l x 2 budgets x rl_steps 0,10,20,40; shots 0-3 at base and final only."""
    rows = []
    sizes = {"tiny-s": 1.1e5, "tiny-m": 3.3e5, "tiny-l": 7.9e5}
    for i, (model, n) in enumerate(sizes.items()):
        for j, tokens in enumerate((2.0e5, 6.0e5)):
            skill = 0.10 + 0.08 * i + 0.06 * j
            for step in (0, 10, 20, 40):
                learned = 0.35 * (1 - np.exp(-step / 15)) / (1 + i)
                shots_list = (0, 1, 2, 3) if step in (0, 40) else (0,)
                rows += _gsm8k_rows("embedded", model, n, tokens, step, 40, skill, learned, shots_list, 200, 3e6)
                if step in (0, 40):
                    for k in (1, 2, 4, 8):
                        acc = min(1 - (1 - skill - learned) ** (k ** (0.8 if step else 0.9)), 0.99)
                        rows.append(
                            _row("embedded", model, n, tokens, step, 3e6, "gsm8k", "all", 0, f"pass@{k}", acc, 200)
                        )
    return pd.DataFrame(rows)


def synthetic_production_summary() -> pd.DataFrame:
    """Production study: Qwen3 0.6B-14B, one 36T-token budget, GSM8K/MATH (per subject)/MMLU, WikiText."""
    rows = []
    sizes = {
        "0.6B": (0.44e9, 0.407, 0.276, 0.253, 0.411, 2.69),
        "1.7B": (1.4e9, 0.548, 0.256, 0.338, 0.423, 2.38),
        "4B": (3.6e9, 0.804, 0.081, 0.41, 0.644, 2.20),
        "8B": (6.95e9, 0.815, 0.083, 0.446, 0.667, 2.08),
        "14B": (13.2e9, 0.863, 0.063, 0.46, 0.70, 1.98),
    }
    tokens = 36e12
    for model, (n, gsm, gain, math_acc, mmlu, loss) in sizes.items():
        for step in (0, 20, 40, 56):
            learned = gain * (1 - np.exp(-step / 15))
            shots_list = tuple(range(6)) if step in (0, 56) else (0,)
            rows += _gsm8k_rows("production", model, n, tokens, step, 56, gsm, learned, shots_list, 1319, 2e5)
            if step in (0, 56):
                m = math_acc + (0.3 * learned)
                rows.append(_row("production", model, n, tokens, step, 2e5, "math", "all", 0, "math_verify", m, 5000))
                for s, subject in enumerate(MATH_SUBJECTS):
                    rows.append(
                        _row(
                            "production",
                            model,
                            n,
                            tokens,
                            step,
                            2e5,
                            "math",
                            subject,
                            0,
                            "math_verify",
                            min(m * (1.3 - 0.1 * s), 0.99),
                            700,
                        )
                    )
                rows.append(
                    _row(
                        "production",
                        model,
                        n,
                        tokens,
                        step,
                        2e5,
                        "mmlu",
                        "all",
                        0,
                        "mmlu_letter",
                        mmlu + 0.004 * (step > 0),
                        14042,
                    )
                )
        rows.append(_row("production", model, n, tokens, 0, 2e5, "wikitext", "all", 0, "loss", loss, 4358))
    return pd.DataFrame(rows)


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG IHDR chunk; asserts the PNG signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _assert_figure(paths: list[Path], stem: Path) -> None:
    assert sorted(paths) == sorted([stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")])
    png, svg = sorted(paths)
    assert png.stat().st_size > 20_000, f"{png} suspiciously small"
    width, height = _png_size(png)
    assert width >= 600 and height >= 400, (width, height)
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
    assert not list(stem.parent.glob(".*tmp-*")), "temporary files left behind"


@pytest.fixture(scope="module")
def embedded() -> pd.DataFrame:
    return synthetic_embedded_summary()


@pytest.fixture(scope="module")
def production() -> pd.DataFrame:
    return synthetic_production_summary()


def test_model_table_labels_budgets_and_final_steps(embedded, production):
    table = plots.model_table(embedded)
    assert list(table["label"])[:2] == ["tiny-s · 2e5 tok", "tiny-s · 6e5 tok"]
    assert list(table["model"]) == ["tiny-s", "tiny-s", "tiny-m", "tiny-m", "tiny-l", "tiny-l"]
    assert set(table["final_step"]) == {40}
    # The smaller budget is a lighter shade of the same size colour.
    assert sum(table["color"].iloc[0]) > sum(table["color"].iloc[1])
    prod = plots.model_table(production)
    assert list(prod["label"]) == ["0.6B", "1.7B", "4B", "8B", "14B"]  # one budget: no token suffix
    assert set(prod["final_step"]) == {56}


def test_format_helpers():
    assert plots.format_tokens(6.0e5) == "6e5"
    assert plots.format_tokens(3.6e13) == "3.6e13"
    assert plots.format_params(4.4e8) == "440M"
    assert plots.format_params(1.32e10) == "13.2B"


def test_missing_column_is_named(embedded, tmp_path):
    with pytest.raises(ValueError, match="ci_high"):
        plots.plot_cross_model(embedded.drop(columns=["ci_high"]), tmp_path / "x")


FIGURES = [
    ("accuracy_vs_shots", plots.plot_accuracy_vs_shots, {}),
    ("cross_model_gsm8k", plots.plot_cross_model, {"benchmark": "gsm8k"}),
    ("pass_at_k", plots.plot_pass_at_k, {}),
    ("accuracy_vs_rl", plots.plot_accuracy_vs_rl, {}),
]
PRODUCTION_ONLY = [
    ("math_by_subject", plots.plot_math_by_subject, {}),
    ("cross_model_math", plots.plot_cross_model, {"benchmark": "math"}),
    ("cross_model_mmlu", plots.plot_cross_model, {"benchmark": "mmlu"}),
    ("validation_loss", plots.plot_validation_loss, {}),
]


@pytest.mark.parametrize(("name", "func", "kwargs"), FIGURES, ids=[f[0] for f in FIGURES])
def test_embedded_figures(embedded, tmp_path, name, func, kwargs):
    stem = tmp_path / "figures" / name
    _assert_figure(func(embedded, stem, **kwargs), stem)


@pytest.mark.parametrize(("name", "func", "kwargs"), PRODUCTION_ONLY, ids=[f[0] for f in PRODUCTION_ONLY])
def test_production_figures(production, tmp_path, name, func, kwargs):
    stem = tmp_path / name
    _assert_figure(func(production, stem, **kwargs), stem)


@pytest.mark.parametrize(("name", "func", "kwargs"), PRODUCTION_ONLY, ids=[f[0] for f in PRODUCTION_ONLY])
def test_figures_without_their_data_are_skipped(embedded, tmp_path, name, func, kwargs):
    # The embedded study has no MATH, MMLU or WikiText rows.
    assert func(embedded, tmp_path / name, **kwargs) == []
    assert list(tmp_path.iterdir()) == []


def test_single_shot_and_single_checkpoint_are_skipped(embedded, tmp_path):
    zero_shot = embedded[embedded["shots"] == 0]
    assert plots.plot_accuracy_vs_shots(zero_shot, tmp_path / "a") == []
    base_and_final = embedded[embedded["rl_step"].isin([0])]
    assert plots.plot_accuracy_vs_rl(base_and_final, tmp_path / "b") == []
    assert plots.plot_pass_at_k(embedded[~embedded["scorer"].str.startswith("pass@")], tmp_path / "c") == []
    assert list(tmp_path.iterdir()) == []


def test_plot_all_reports_every_figure(production, tmp_path):
    # Production-shaped summary without pass@k rows: every other figure is drawn.
    summary = production[~production["scorer"].str.startswith("pass@")]
    written = plots.plot_all(summary, tmp_path)
    expected = {
        "accuracy_vs_shots",
        "math_by_subject",
        "cross_model_gsm8k",
        "cross_model_math",
        "cross_model_mmlu",
        "validation_loss",
        "pass_at_k",
        "accuracy_vs_rl",
    }
    assert set(written) == expected
    assert written["pass_at_k"] == []
    for name in expected - {"pass_at_k"}:
        assert len(written[name]) == 2 and all(p.exists() for p in written[name]), name


def test_rerun_is_byte_identical(embedded, tmp_path):
    first = plots.plot_cross_model(embedded, tmp_path / "a")
    second = plots.plot_cross_model(embedded, tmp_path / "b")
    for p, q in zip(sorted(first), sorted(second), strict=True):
        assert p.read_bytes() == q.read_bytes(), p.suffix
