"""Sweep variants in the study's tables (issue 22, slice 2, docs/sweeps-design.md): the variant column of
summary.csv / records.parquet from both checkpoint layouts, the reference rows every other view reads (``fit.variant``),
the paired variant comparisons, the "Sweeps" section and the per-variant figure."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlscaling import study as rs
from rlscaling.analysis import aggregate as agg
from rlscaling.analysis.gains import GainSettings
from rlscaling.analysis.variants import COMPARISON_COLUMNS, paired_difference, variant_comparisons
from rlscaling.analysis.views import reference_rows
from rlscaling.metrics import item_bootstrap_means, percentile_ci
from rlscaling.schemas import RECORD_COLUMNS, SUMMARY_COLUMNS
from rlscaling.workflow import config as rc

ROOT = Path(__file__).resolve().parents[1]
MICRO = ROOT / "tests" / "configs" / "micro.yaml"
KL = {"key": "kl_coef", "values": [0.01, 0.1], "models": ["micro-a"]}


def micro(*sweeps: dict, fit_variant: str | None = None) -> dict:
    cfg = rc.load_config(MICRO, validate=False)
    cfg["grpo"]["sweeps"] = copy.deepcopy(list(sweeps))
    if fit_variant is not None:
        cfg["fit"]["variant"] = fit_variant
    return rc.validate_config(cfg)


# ---- the aggregate: both checkpoint layouts, the variant column, seed means per variant


def test_checkpoint_paths_parse_in_both_layouts():
    ref = Path("results/eval/micro-a/seed_1/b2/custom_flexible/step_2/gsm8k_0shot.summary.json")
    var = Path("results/eval/micro-a/seed_1/b2/kl_coef=0.01/custom_flexible/step_2/gsm8k_1shot_passk.summary.json")
    base = Path("results/eval/micro-a/seed_2/b1/base/step_0/val_loss.json")
    common = {"model": "micro-a", "seed": 1, "budget": "b2", "reward": "custom_flexible", "step": 2, "bench": "gsm8k"}
    assert agg._parse_eval_path(ref) == {**common, "variant": "reference", "shots": 0, "passk": False}
    assert agg._parse_eval_path(var) == {**common, "variant": "kl_coef=0.01", "shots": 1, "passk": True}
    assert agg._parse_checkpoint_dir(base.parent) == {
        "model": "micro-a",
        "seed": 2,
        "budget": "b1",
        "variant": "reference",
        "reward": "base",
        "step": 0,
    }
    grpo = Path("results/grpo/micro-a/seed_1/b2/lr=1e-05/strict")
    assert agg._parse_run_dir(grpo) == {
        "model": "micro-a",
        "seed": 1,
        "budget": "b2",
        "variant": "lr=1e-05",
        "reward": "strict",
    }
    assert agg._parse_run_dir(grpo.parent.with_name("strict"))["variant"] == "reference"


def _write_eval(root: Path, checkpoint: str, scores: list[float]) -> Path:
    """One evaluation file pair (8 items, one scorer) under ``root/eval/<checkpoint>/``."""
    d = root / "eval" / checkpoint
    d.mkdir(parents=True)
    records = [{"id": f"q{i}", "score": {"custom_flexible": s}, "response": ""} for i, s in enumerate(scores)]
    (d / "gsm8k_0shot.records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = d / "gsm8k_0shot.summary.json"
    summary.write_text(json.dumps({"scorers": ["custom_flexible"]}))
    return summary


def test_the_aggregate_labels_each_row_with_its_variant_and_averages_seeds_per_variant(tmp_path):
    cfg = {"study": "t", "seed": 0, "fit": {"ci": 0.95}}
    bases = {("m", s, "b2"): {"n_params": 1.0, "head_params": 0.0, "pretrain_tokens": 10.0, "c_pretrain": 60.0}
             for s in (1, 2)}  # fmt: skip
    c_rl = {
        ("m", s, "b2", v, "custom_flexible"): {0: 0.0, 2: 5.0} for s in (1, 2) for v in ("reference", "kl_coef=0.01")
    }
    tables = agg._Tables(cfg, bases, c_rl, n_boot=20)
    for seed in (1, 2):
        tables.add_eval(_write_eval(tmp_path, f"m/seed_{seed}/b2/base/step_0", [0.0] * 8))
        tables.add_eval(_write_eval(tmp_path, f"m/seed_{seed}/b2/custom_flexible/step_2", [1.0] * 2 + [0.0] * 6))
        tables.add_eval(_write_eval(tmp_path, f"m/seed_{seed}/b2/kl_coef=0.01/custom_flexible/step_2", [1.0] * 8))
    tables.add_seed_means()
    summary = pd.DataFrame(tables.rows, columns=SUMMARY_COLUMNS)
    means = summary[summary["seed"] == "mean"].set_index(["reward_mode", "variant"])["accuracy"]
    assert means.to_dict() == {
        ("base", "reference"): 0.0,
        ("custom_flexible", "reference"): 0.25,
        ("custom_flexible", "kl_coef=0.01"): 1.0,  # never mixed with the reference run's 0.25
    }
    assert (summary.loc[summary["seed"] == "mean", "n_seeds"] == 2).all()
    records = pd.DataFrame(tables.recs, columns=RECORD_COLUMNS)
    assert set(records["variant"]) == {"reference", "kl_coef=0.01"}
    assert records.groupby(["seed", "variant", "rl_step"]).size().to_dict()[("mean", "kl_coef=0.01", 2)] == 8


# ---- the views read one variant


def _summary(rows: list[dict]) -> pd.DataFrame:
    defaults = {
        "study": "t",
        "n_params": 1e6,
        "pretrain_tokens": 1e8,
        "c_pretrain": 6e14,
        "benchmark": "gsm8k",
        "subset": "all",
        "shots": 0,
        "scorer": "custom_flexible",
        "n_items": 100,
        "seed": "mean",
        "n_seeds": 1,
    }
    out = []
    for r in rows:
        row = {**defaults, **r}
        row.setdefault("ci_low", row["accuracy"] - 0.05)
        row.setdefault("ci_high", row["accuracy"] + 0.05)
        out.append(row)
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _study_rows() -> pd.DataFrame:
    rows = []
    for model, n in (("micro-a", 1e6), ("micro-b", 4e6)):
        rows.append({"model": model, "n_params": n, "rl_step": 0, "c_rl": 0.0, "accuracy": 0.1,
                     "reward_mode": "base", "variant": "reference"})  # fmt: skip
        for step, c in ((1, 1e12), (2, 2e12)):
            for variant, acc in (("reference", 0.2 * step), ("kl_coef=0.01", 0.9), ("lr=1e-05", 0.05)):
                if model == "micro-b" and variant != "reference":
                    continue
                c_rl = c * (1.5 if variant != "reference" else 1)
                rows.append({"model": model, "n_params": n, "rl_step": step, "c_rl": c_rl, "accuracy": acc,
                             "reward_mode": "custom_flexible", "variant": variant})  # fmt: skip
    return _summary([{**r, "scorer": scorer} for scorer in ("custom_flexible", "strict") for r in rows])


def test_reference_rows_keep_one_variant_and_the_base_models():
    frame = _study_rows()
    ref = reference_rows(frame)
    assert set(ref["variant"]) == {"reference"} and len(ref) == 2 * (2 + 4)  # 2 scorers x (2 base + 4 RL rows)
    kl = reference_rows(frame, "kl_coef=0.01")
    assert set(zip(kl["reward_mode"], kl["variant"])) == {("base", "reference"), ("custom_flexible", "kl_coef=0.01")}
    assert reference_rows(frame.drop(columns="variant")).equals(frame.drop(columns="variant"))  # an older table


def test_a_variant_row_never_reaches_a_fit_unless_fit_variant_names_it(tmp_path, monkeypatch):
    from rlscaling.fit import write as fit_write

    seen = []

    class Stop(Exception):
        pass

    def capture(summary, records, cfg):
        seen.append(summary)
        raise Stop

    monkeypatch.setattr(fit_write, "fit_summary", capture)
    path = tmp_path / "summary.csv"
    _study_rows().to_csv(path, index=False)
    for variant in ("reference", "kl_coef=0.01"):
        with pytest.raises(Stop):
            fit_write.write_fits(path, None, {"variant": variant}, tmp_path / "fits", reward_mode="custom_flexible")
    assert set(seen[0]["variant"]) == {"reference"}
    assert set(seen[1].loc[seen[1]["rl_step"] > 0, "variant"]) == {"kl_coef=0.01"}
    assert set(seen[1].loc[seen[1]["rl_step"] == 0, "reward_mode"]) == {"base"}


def test_summary_md_of_a_swept_study_reports_the_reference_runs_as_before(tmp_path):
    from rlscaling.report.summary import write_summary_md

    frame = _study_rows()
    plain = frame[frame["variant"] == "reference"].reset_index(drop=True)
    write_summary_md(frame, tmp_path / "swept.md", reward_mode="custom_flexible")
    write_summary_md(plain, tmp_path / "plain.md", reward_mode="custom_flexible")
    text = (tmp_path / "swept.md").read_text()
    assert text == (tmp_path / "plain.md").read_text() and "Sweeps" not in text
    write_summary_md(frame, tmp_path / "kl.md", reward_mode="custom_flexible", variant="kl_coef=0.01")
    assert "+80.0 pp" in (tmp_path / "kl.md").read_text()  # fit.variant: the gain 10% -> 90% of kl_coef=0.01's run


def test_fit_variant_must_name_a_variant_of_the_study():
    assert micro(KL, fit_variant="kl_coef=0.01")["fit"]["variant"] == "kl_coef=0.01"
    assert micro()["fit"]["variant"] == "reference"
    assert rs.variant_labels(micro(KL)) == ["reference", "kl_coef=0.01", "kl_coef=0.1"]
    with pytest.raises(rs.ConfigError, match=r"fit.variant: 'kl_coef=0.5' is not a variant of this study"):
        micro(KL, fit_variant="kl_coef=0.5")
    with pytest.raises(rs.ConfigError, match=r"fit.variant: 'kl_coef=0.01'.*\(reference\)"):
        micro(fit_variant="kl_coef=0.01")


def test_the_report_jobs_read_fit_variant_and_the_comparison_exists_only_with_sweeps():
    from rlscaling.workflow import job_settings as rj
    from rlscaling.workflow import plan as rp

    cfg = micro(KL, fit_variant="kl_coef=0.1")
    for rule in ("fit", "plots", "report_tables"):
        assert rj.job_config(cfg, rule)["fit"]["variant"] == "kl_coef=0.1"
    assert rs.path(cfg, "variant_comparisons") in rs.final_targets(cfg)
    assert rs.path(micro(), "variant_comparisons") not in rs.final_targets(micro())
    assert "variant_comparisons" not in rp.expected_job_counts(micro())


# ---- the paired comparisons


def _records(n: int = 200, flips: int = 20, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Reference scores (0/1, about half right) of ``n`` items at RL steps 1 and 2, a variant that gets ``flips`` more
    items right at each step (so Δ = 100 * flips / n pp exactly) and runs a step 3 the reference lacks, and a variant
    scoring exactly as the reference; the variant rows are shuffled (pairing goes by item id, not by position)."""
    rng = np.random.default_rng(seed)
    ref = (rng.random(n) < 0.5).astype(float)
    var = ref.copy()
    var[np.flatnonzero(ref == 0)[:flips]] = 1.0
    key = {"model": "micro-a", "seed": "mean", "reward_mode": "custom_flexible", "budget": "b2", "pretrain_tokens": 1e4,
           "benchmark": "gsm8k", "subset": "all", "shots": 0, "scorer": "custom_flexible"}  # fmt: skip
    rows = []
    for variant, scores, steps in (("reference", ref, (1, 2)), ("steps=3", var, (1, 2, 3)), ("lr=1e-05", ref, (1, 2))):
        for step in steps:
            rows += [
                {**key, "variant": variant, "rl_step": step, "item_id": f"q{i}", "score": s}
                for i, s in enumerate(scores)
            ]
    rows += [{**key, "variant": "reference", "reward_mode": "base", "rl_step": 0, "item_id": f"q{i}", "score": 0.0}
             for i in range(n)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True), ref


def test_the_paired_difference_of_a_known_shift_and_its_ci():
    records, ref = _records()
    table = variant_comparisons(records, GainSettings(n_boot=2000, seed=3, ci=0.95))
    assert list(table.columns) == COMPARISON_COLUMNS
    steps = table[table["variant"] == "steps=3"].set_index("rl_step")
    assert list(steps.index) == [1, 2]  # the shared saved steps; the variant's step 3 has no reference to pair with
    assert steps["final_step"].to_dict() == {1: False, 2: True}  # the final step of the shorter run
    row = steps.loc[2]
    assert row["delta_pp"] == pytest.approx(10.0) and row["n_items"] == 200
    assert row["reference_accuracy"] == pytest.approx(ref.mean())
    assert row["variant_accuracy"] == pytest.approx(ref.mean() + 0.1)
    # per-item differences: 20 of 200 are +1, so the paired SE is 100 * sqrt(0.1 * 0.9 / 200) = 2.1 pp
    assert 5.0 < row["ci_low_pp"] < 7.0 and 13.0 < row["ci_high_pp"] < 15.0 and row["verdict"] == "above 0"
    same = table[table["variant"] == "lr=1e-05"]
    assert (same["delta_pp"] == 0).all() and (same["verdict"] == "around 0").all()
    assert set(table["sweep_key"]) == {"steps", "lr"}


def test_pairing_gives_a_narrower_ci_than_two_independent_bootstraps():
    records, ref = _records()
    var = ref.copy()
    var[np.flatnonzero(ref == 0)[:20]] = 1.0
    settings = GainSettings(n_boot=2000, seed=3, ci=0.95)
    delta, low, high = paired_difference(ref, var, settings)
    a = item_bootstrap_means(ref[:, None], settings.n_boot, 11)[:, 0]
    b = item_bootstrap_means(var[:, None], settings.n_boot, 12)[:, 0]
    u_low, u_high = percentile_ci(100 * (b - a), settings.ci)
    assert delta == pytest.approx(10.0)
    assert (high - low) < 0.5 * (u_high - u_low)  # unpaired: about 2 x 100 * sqrt(0.25 / 200) = 7 pp wide per side
    assert u_low <= 0 < low  # only the paired CI sees that the variant is better


def test_no_variant_no_comparison():
    records, _ = _records()
    assert variant_comparisons(records[records["variant"] == "reference"]).empty


# ---- the Sweeps section and the figure


def test_the_sweeps_section_has_a_table_per_sweep_key():
    from rlscaling.report.sweeps import section_sweeps

    records, _ = _records()
    text = "\n".join(section_sweeps(variant_comparisons(records, GainSettings(n_boot=200)), 0.95))
    assert "## Sweeps" in text and "### `steps`" in text and "### `lr`" in text
    assert "| steps=3 | micro-a |" in text and "+10.0 pp [" in text and "above 0" in text
    assert section_sweeps(None) == []


def test_the_variant_figure_is_a_png_with_a_panel_per_model_and_sweep_key(tmp_path, monkeypatch):
    from rlscaling.report.plots import variants as pv

    titles = {}
    real_finish = pv.finish

    def spy(fig, out_stem, suptitle=None):
        titles[out_stem.name] = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        legend = fig.legends[0]
        titles["legend"] = [t.get_text() for t in legend.get_texts()]
        return real_finish(fig, out_stem, suptitle)

    monkeypatch.setattr(pv, "finish", spy)
    figures = pv.plot_variants(_study_rows(), tmp_path)
    assert list(figures) == ["variants_gsm8k"]
    png = tmp_path / "variants_gsm8k.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "variants_gsm8k.svg").is_file()
    assert titles["variants_gsm8k"] == ["micro-a: kl_coef", "micro-a: lr"]  # micro-b ran no variant: no panel
    assert titles["legend"] == ["reference", "kl_coef=0.01", "lr=1e-05"]
    plain = _study_rows()
    assert pv.plot_variants(plain[plain["variant"] == "reference"], tmp_path / "plain") == {}
    assert not (tmp_path / "plain").exists()
