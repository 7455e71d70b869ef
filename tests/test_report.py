"""Tests for rlscaling.analysis.gains and rlscaling.report.summary: gain tables (with paired-bootstrap CIs from
per-item records,
the same as the fit's) and the numbers that end up in summary.md, checked against values computed from the inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rlscaling.analysis.gains import GAIN_COLUMNS, GainSettings, gain_draws, gain_table
from rlscaling.fit import fit_summary
from rlscaling.metrics import item_bootstrap_means, percentile_ci
from rlscaling.report import summary as report

SCORERS = ("strict", "flexible", "custom_flexible")
# (model, n_params, pretrain_tokens): "small" has two budgets, "big" one.
MODELS = (("small", 1.0e5, 2.0e5), ("small", 1.0e5, 6.0e5), ("big", 8.0e5, 6.0e5))
STEPS = (0, 10, 40)


def _summary_row(model, n, tokens, step, benchmark, shots, scorer, scores: np.ndarray) -> dict:
    acc = float(scores.mean())
    return {
        "study": "unit",
        "model": model,
        "n_params": n,
        "pretrain_tokens": tokens,
        "c_pretrain": 6 * n * tokens,
        "rl_step": step,
        "c_rl": 1e9 * step,
        "benchmark": benchmark,
        "subset": "all",
        "shots": shots,
        "scorer": scorer,
        "n_items": scores.size,
        "accuracy": acc,
        "ci_low": max(acc - 0.05, 0.0),
        "ci_high": min(acc + 0.05, 1.0),
    }


def make_study(n_items: int = 120, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A hand-made study: per-item 0/1 scores and the summary rows aggregated from them.

    GSM8K at shots 0-2 for base and final, 0-shot at the intermediate step; MATH 0-shot at base and final.
    RL turns failures into successes with a model-dependent probability.
    """
    rng = np.random.default_rng(seed)
    summary, records = [], []
    for m_idx, (model, n, tokens) in enumerate(MODELS):
        skill = 0.2 + 0.15 * m_idx
        base_correct = rng.random(n_items) < skill
        fixes = rng.random(n_items)
        for step in STEPS:
            learned = base_correct | (fixes < 0.5 * step / 40)
            for benchmark in ("gsm8k", "math"):
                shots_list = (0, 1, 2) if step in (0, 40) and benchmark == "gsm8k" else (0,)
                if benchmark == "math" and step == 10:
                    continue
                scorers = SCORERS if benchmark == "gsm8k" else ("math_verify",)
                for shots in shots_list:
                    for scorer in scorers:
                        # strict loses the format on every (2 + shots)-th item for base models.
                        fmt_ok = np.ones(n_items, bool)
                        if scorer == "strict" and step == 0:
                            fmt_ok = np.arange(n_items) % (2 + shots) != 0
                        scores = (learned & fmt_ok).astype(float)
                        summary.append(_summary_row(model, n, tokens, step, benchmark, shots, scorer, scores))
                        records += [
                            {
                                "model": model,
                                "pretrain_tokens": tokens,
                                "rl_step": step,
                                "benchmark": benchmark,
                                "subset": "all",
                                "shots": shots,
                                "scorer": scorer,
                                "item_id": f"{benchmark}-{i}",
                                "score": s,
                            }
                            for i, s in enumerate(scores)
                        ]
    return pd.DataFrame(summary), pd.DataFrame(records)


@pytest.fixture(scope="module")
def study():
    return make_study()


def _row(summary, model, tokens, step, benchmark="gsm8k", shots=0, scorer="custom_flexible") -> pd.Series:
    sel = summary[
        (summary["model"] == model)
        & (summary["pretrain_tokens"] == tokens)
        & (summary["rl_step"] == step)
        & (summary["benchmark"] == benchmark)
        & (summary["shots"] == shots)
        & (summary["scorer"] == scorer)
    ]
    assert len(sel) == 1
    return sel.iloc[0]


def test_gain_table_values_come_from_base_and_final_rows(study):
    summary, _ = study
    table = gain_table(summary)
    assert list(table.columns[:9]) == list(GAIN_COLUMNS)
    # Ordered by size, then budget.
    assert list(zip(table["model"], table["pretrain_tokens"], strict=True)) == [(m, t) for m, _, t in MODELS]
    for r in table.itertuples():
        base = _row(summary, r.model, r.pretrain_tokens, 0)["accuracy"]
        final = _row(summary, r.model, r.pretrain_tokens, max(STEPS))["accuracy"]
        assert r.base_accuracy == pytest.approx(base) and r.final_accuracy == pytest.approx(final)
        assert r.gain_pp == pytest.approx(100 * (final - base))
        assert math.isnan(r.gain_ci_low) and math.isnan(r.gain_ci_high)  # no records, no invented CI


def test_missing_base_checkpoint_gives_nan_gain(study):
    summary, _ = study
    no_base = summary[~((summary["model"] == "big") & (summary["benchmark"] == "math") & (summary["rl_step"] == 0))]
    table = gain_table(no_base, benchmark="math", scorer="math_verify")
    big = table[table["model"] == "big"].iloc[0]
    assert math.isnan(big["base_accuracy"]) and math.isnan(big["gain_pp"]) and big["final_accuracy"] > 0


def test_gain_ci_from_records_is_paired_and_brackets_the_gain(study):
    summary, records = study
    table = gain_table(summary, records, settings=GainSettings(n_boot=400, seed=1))
    for r in table.itertuples():
        assert r.n_paired == 120
        assert r.gain_ci_low <= r.gain_pp <= r.gain_ci_high
        # RL only ever fixes items here, so every paired difference is >= 0 and so is the whole CI.
        assert r.gain_ci_low >= 0.0
    again = gain_table(summary, records, settings=GainSettings(n_boot=400, seed=1))
    pd.testing.assert_frame_equal(table, again)  # seeded: reproducible
    other = gain_table(summary, records, settings=GainSettings(n_boot=400, seed=2, ci=0.5))
    assert (other["gain_ci_high"] - other["gain_ci_low"] < table["gain_ci_high"] - table["gain_ci_low"]).all()


def test_gain_cis_agree_with_the_fit_and_the_report(study, tmp_path):
    """One gain, one interval: fits.json's gain points, the gain table and summary.md show the same CI."""
    summary, records = study
    fit_cfg = {"bootstrap": 300, "seed": 11, "ci": 0.9, "forms": ["additive"]}
    fits = fit_summary(summary, records, fit_cfg)
    table = gain_table(summary, records, settings=GainSettings.from_fit(fit_cfg))
    points = [p for entry in fits["gain_power_law"] for p in entry["points"]]
    assert len(points) == len(table)
    for p in points:
        row = table[(table["model"] == p["model"]) & (table["pretrain_tokens"] == p["pretrain_tokens"])].iloc[0]
        assert (row["gain_ci_low"], row["gain_ci_high"]) == (p["gain_ci_low"], p["gain_ci_high"])
        assert row["gain_pp"] == p["gain_pp"]
    # summary.md takes the fit's bootstrap settings from fits.json when none are given
    md = report.write_summary_md(summary, tmp_path / "s.md", fits=fits, records=records).read_text()
    cells = _md_rows(md, "### GSM8K (0-shot, `custom_flexible`)")
    for cells_row, r in zip(cells, table.itertuples(), strict=True):
        assert cells_row[7] == f"{r.gain_pp:+.1f} pp [{r.gain_ci_low:.1f}, {r.gain_ci_high:.1f}]"
    assert "Gain [90% CI]" in md and "300 resamples, seed 11" in md


def _synthetic_pairs(rng, n, p_base=0.4, p_fix=0.3, p_forget=0.05):
    """Correlated base/final item scores; true mean gain = (1-p_base)*p_fix - p_base*p_forget."""
    base = (rng.random(n) < p_base).astype(float)
    u = rng.random(n)
    final = np.where(base == 1, (u >= p_forget).astype(float), (u < p_fix).astype(float))
    return base, final, (1 - p_base) * p_fix - p_base * p_forget


def _paired_ci(base, final, n_boot, seed, ci=0.95):
    draws = item_bootstrap_means(np.column_stack([base, final]), n_boot, seed)
    low, high = percentile_ci(gain_draws(draws, [0], [1]), ci)
    return low[0] / 100, high[0] / 100


def test_paired_bootstrap_ci_covers_the_true_gain():
    rng = np.random.default_rng(2024)
    covered = 0
    trials = 40
    for t in range(trials):
        base, final, true_gain = _synthetic_pairs(rng, 200)
        low, high = _paired_ci(base, final, n_boot=500, seed=t)
        covered += low <= true_gain <= high
    assert covered / trials >= 0.85, f"95% CI covered the true gain in only {covered}/{trials} datasets"


def test_paired_bootstrap_ci_excludes_zero_only_for_a_real_effect():
    rng = np.random.default_rng(5)
    base, final, true_gain = _synthetic_pairs(rng, 300, p_fix=0.4)
    assert true_gain > 0.2
    low, _ = _paired_ci(base, final, n_boot=1000, seed=0)
    assert low > 0
    null_base, null_final, null_gain = _synthetic_pairs(rng, 300, p_base=0.5, p_fix=0.1, p_forget=0.1)
    assert null_gain == pytest.approx(0.0)
    low, high = _paired_ci(null_base, null_final, n_boot=1000, seed=0)
    assert low < 0 < high


def test_bad_records_are_named(study):
    summary, records = study
    with pytest.raises(ValueError, match="item_id"):
        gain_table(summary, records.drop(columns=["item_id"]))
    no_final = records[~((records["model"] == "big") & (records["rl_step"] == 40))]
    with pytest.raises(ValueError, match="no per-item scores.*big"):
        gain_table(summary, no_final)


def _md_rows(md: str, heading: str) -> list[list[str]]:
    """Cells of the first markdown table after ``heading``."""
    lines = md.splitlines()
    start = lines.index(heading)
    rows, in_table = [], False
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            in_table = True
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif in_table:
            break
    return rows[2:]  # drop header and separator


def _pct(x: float) -> str:
    return f"{round(100 * x, 1):.1f}%"


def test_summary_md_gain_table_numbers(study, tmp_path):
    summary, _ = study
    path = report.write_summary_md(summary, tmp_path / "summary.md")
    md = path.read_text(encoding="utf-8")
    rows = _md_rows(md, "### GSM8K (0-shot, `custom_flexible`)")
    assert [r[0] for r in rows] == ["small · 2e5 tok", "small · 6e5 tok", "big"]
    for (model, _, tokens), cells in zip(MODELS, rows, strict=True):
        base = _row(summary, model, tokens, 0)
        final = _row(summary, model, tokens, 40)
        assert cells[3] == "40" and cells[4] == "120"
        assert cells[5] == f"{_pct(base['accuracy'])} [{100 * base['ci_low']:.1f}, {100 * base['ci_high']:.1f}]"
        assert cells[6].startswith(_pct(final["accuracy"]))
        assert cells[7] == f"{100 * (final['accuracy'] - base['accuracy']):+.1f} pp"
    assert "Gain CI unavailable" in md
    assert "### MATH (0-shot, `math_verify`)" in md and "### MMLU" not in md


def test_summary_md_method_and_fewshot_tables(study):
    summary, records = study
    md = report.render_summary_md(summary, records=records, gain_settings=GainSettings(n_boot=200))
    methods = _md_rows(md, "## Evaluation method (GSM8K, 0-shot)")
    assert len(methods) == len(MODELS) * len(SCORERS)
    for cells in methods:
        model, tokens = next(
            (m, t) for m, _, t in MODELS if cells[0] in (f"{m} · {t:.0e}".replace("e+0", "e") + " tok", m)
        )
        scorer = cells[1].strip("`")
        base = _row(summary, model, tokens, 0, scorer=scorer)["accuracy"]
        final = _row(summary, model, tokens, 40, scorer=scorer)["accuracy"]
        assert cells[2].startswith(_pct(base)) and cells[3].startswith(_pct(final))
        assert cells[4].startswith(f"{100 * (final - base):+.1f} pp [")  # paired CI present with records
    fewshot = _md_rows(md, "## Few-shot collapse (GSM8K accuracy vs number of examples)")
    strict_base = [c for c in fewshot if c[0] == "big" and c[1] == "`strict`" and c[2].startswith("baseline")]
    assert len(strict_base) == 1
    expected = [_pct(_row(summary, "big", 6.0e5, 0, shots=k, scorer="strict")["accuracy"]) for k in (0, 1, 2)]
    assert strict_base[0][3:] == expected
    assert "Gain CI: paired bootstrap" in md


def test_summary_md_fits_section_and_empty_summary(study):
    summary, _ = study
    fits = {"rl_sigmoid": {"A": 0.61, "c_mid": [1.0e12, 3.0e12]}}
    md = report.render_summary_md(summary, fits=fits)
    assert "### rl_sigmoid" in md and "| A | 0.61 |" in md and "[1e+12, 3e+12]" in md
    with pytest.raises(ValueError, match="no rows"):
        report.render_summary_md(summary.iloc[0:0])
