"""The seed's published numbers beside this run's (rlscaling.report.seed_comparison): cell matching, the verdict against
this run's CI, which published number is compared (result file before README, the note where they disagree),
unmatched cells left out, the report section, the gain figure's published points and the config check.

Most tests use a tiny synthetic published table; the ones on the seed's real table read
``../shared/reference/seed_results.csv`` (never copied into the repository) and skip, naming it, when it is absent."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import copy
import math
from pathlib import Path

import pandas as pd
import pytest

from rlscaling import study as rs
from rlscaling.report.seed_comparison import (
    COMPARISON_COLUMNS,
    PROJECT_SCORERS,
    PUBLISHED_COLUMNS,
    SEED_ENDPOINT_STEPS,
    SEED_SCORERS,
    SeedMapping,
    compare,
    gain_points,
    mapping_settings,
    read_comparison,
    read_published,
    section_seed_comparison,
    write_comparison,
)
from rlscaling.schemas import SUMMARY_COLUMNS
from rlscaling.workflow import config as rc
from rlscaling.workflow import plan as rp
from test_fit_real import _reference  # the shared reference folder, or a skip naming the file

REPO = Path(__file__).resolve().parents[1]
MAPPING = SeedMapping(
    models={"q4": "Qwen3-4B-Base", "q8": "Qwen3-8B-Base", "other": "Other-1B"},
    benchmarks={"gsm8k": "gsm8k", "math": "math"},
)
N_PARAMS = {"q06": 4.4e8, "q4": 3.6e9, "q8": 6.95e9, "q14": 13.2e9, "other": 1e9}
TOKENS = 3.6e13


def pub_row(model, stage, scorer, accuracy, source="results/4b.json", **kw) -> dict:
    row = dict.fromkeys(PUBLISHED_COLUMNS)
    row.update(
        model=model,
        stage=stage,
        rl_reward=None,
        rl_step=math.nan,
        benchmark="gsm8k",
        subset="all",
        shots=0,
        scorer=scorer,
        accuracy=accuracy,
        n_items=1319,
        source_file=source,
        source_commit="f4e43f5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        metric="accuracy",
        prompt_version="G3",
        notes=None,
    )
    row.update(kw)
    return row


def our_row(model, scorer, accuracy, low, high, step=0, reward="base", **kw) -> dict:
    row = {
        "study": "synthetic",
        "model": model,
        "n_params": N_PARAMS[model],
        "pretrain_tokens": TOKENS,
        "c_pretrain": 6 * N_PARAMS[model] * TOKENS,
        "rl_step": step,
        "c_rl": 0.0 if step == 0 else 1e18 * step,
        "benchmark": "gsm8k",
        "subset": "all",
        "shots": 0,
        "scorer": scorer,
        "n_items": 1319,
        "accuracy": accuracy,
        "ci_low": low,
        "ci_high": high,
        "seed": "mean",
        "reward_mode": reward,
        "n_seeds": 1,
    }
    row.update(kw)
    return row


RL = {"rl_reward": "custom_flexible", "rl_step": 56.0}
PUBLISHED = pd.DataFrame(
    [
        # 4B base, custom_flexible: a result file and the README agree (40.7 vs 40.71 within rounding)
        pub_row("Qwen3-4B-Base", "base", "custom_flexible", 0.80440),
        pub_row("Qwen3-4B-Base", "base", "custom_flexible", 0.804, source="README.md", notes="README table"),
        # 4B base, strict: two files (the per-size one wins), README disagrees beyond its rounding
        pub_row("Qwen3-4B-Base", "base", "strict", 0.67475),
        pub_row("Qwen3-4B-Base", "base", "strict", 0.6641, source="eval/results.json", prompt_version="G2"),
        pub_row("Qwen3-4B-Base", "base", "strict", 0.674, source="README.md", notes="collapse bullet"),
        # 4B after RL at the seed's step 56
        pub_row("Qwen3-4B-Base", "rl", "custom_flexible", 0.88476, **RL),
        pub_row("Qwen3-4B-Base", "rl", "custom_flexible", 0.885, source="README.md", rl_reward="custom_flexible"),
        # a number only the README holds (flexible-scored RL), with its note
        pub_row("Qwen3-4B-Base", "rl", "flexible", 0.683, source="README.md", notes="mislabelled", **RL),
        # MATH base: the file has a number, the README shows '-'
        pub_row("Qwen3-4B-Base", "base", "math_custom_flexible", 0.1946, benchmark="math", n_items=5000),
        pub_row("Qwen3-4B-Base", "base", "math_custom_flexible", math.nan, source="README.md", benchmark="math"),
        # 8B: the seed evaluated step 50; this run's final checkpoint is 56
        pub_row(
            "Qwen3-8B-Base",
            "rl",
            "custom_flexible",
            0.8984,
            source="results/8b.json",
            rl_reward="custom_flexible",
            rl_step=50.0,
        ),
        pub_row("Qwen3-8B-Base", "base", "custom_flexible", 0.8150, source="results/8b.json"),
        # not in this run: another model, a shot count, a reward this run lacks, a loss, an unmapped scorer
        pub_row("Qwen3-0.6B-Base", "base", "custom_flexible", 0.4071, source="results/0.6b.json"),
        pub_row("Qwen3-4B-Base", "base", "custom_flexible", 0.7635, shots=4),
        pub_row("Qwen3-4B-Base", "rl", "custom_flexible", 0.8840, rl_reward="strict", rl_step=56.0),
        pub_row("Qwen3-4B-Base", "base", "causal_lm_loss", math.nan, metric="loss", benchmark="wikitext2"),
        pub_row("Qwen3-4B-Base", "rl", "verl_val_reward_mean@1", 0.56, rl_reward="unknown", rl_step=0.0),
    ]
)
SUMMARY = pd.DataFrame(
    [
        our_row("q4", "seed_custom_flexible", 0.80, 0.78, 0.82),  # 80.44 inside
        our_row("q4", "custom_flexible", 0.70, 0.68, 0.72),  # ignored: the seed_* row exists
        our_row("q4", "strict", 0.50, 0.47, 0.53),  # no seed_strict row: project scorer, 67.5 outside
        # q4 trained with the seed's own reward (like for like), q8 with the project's (the fallback)
        our_row("q4", "seed_custom_flexible", 0.90, 0.89, 0.91, step=56, reward="seed_custom_flexible"),  # 88.5 outside
        our_row("q4", "seed_flexible", 0.69, 0.66, 0.72, step=56, reward="seed_custom_flexible"),  # 68.3 inside
        our_row("q4", "seed_custom_flexible", 0.10, 0.09, 0.11, step=56, reward="custom_flexible"),  # ignored
        our_row("q4", "seed_math", 0.20, 0.18, 0.22, benchmark="math", n_items=500),  # 19.46 inside
        our_row("q8", "seed_custom_flexible", 0.82, 0.80, 0.84),
        our_row("q8", "seed_custom_flexible", 0.85, 0.83, 0.87, step=28, reward="custom_flexible"),
        our_row("q8", "seed_custom_flexible", 0.90, 0.88, 0.92, step=56, reward="custom_flexible"),  # vs 50: inside
        our_row("other", "seed_custom_flexible", 0.5, 0.4, 0.6),  # a model the seed never published
        our_row("q4", "seed_custom_flexible", 0.5, 0.4, 0.6, seed="1"),  # a replicate row: the seed mean is used
    ],
    columns=SUMMARY_COLUMNS,
)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return compare(SUMMARY, PUBLISHED, MAPPING)


def cell(table, model, scorer, stage="base", benchmark="gsm8k") -> pd.Series:
    hit = table[(table["model"] == model) & (table["scorer"] == scorer) & (table["stage"] == stage)]
    hit = hit[hit["benchmark"] == benchmark]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_every_matched_cell_and_nothing_else(table):
    assert list(table.columns) == COMPARISON_COLUMNS
    got = set(zip(table["model"], table["stage"], table["benchmark"], table["scorer"], table["step"]))
    assert got == {
        ("q4", "base", "gsm8k", "seed_custom_flexible", 0),
        ("q4", "base", "gsm8k", "strict", 0),
        ("q4", "rl", "gsm8k", "seed_custom_flexible", 56),
        ("q4", "rl", "gsm8k", "seed_flexible", 56),
        ("q4", "base", "math", "seed_math", 0),
        ("q8", "base", "gsm8k", "seed_custom_flexible", 0),
        ("q8", "rl", "gsm8k", "seed_custom_flexible", 56),
    }


def test_verdict_is_the_published_number_against_our_ci(table):
    for r in table.itertuples():
        assert r.verdict == ("inside" if r.ci_low <= r.published <= r.ci_high else "outside")
    assert cell(table, "q4", "seed_custom_flexible").verdict == "inside"
    assert cell(table, "q4", "seed_custom_flexible", stage="rl").verdict == "outside"
    assert cell(table, "q4", "seed_custom_flexible")["ours"] == 0.80  # the seed mean, not the replicate row


def test_no_ci_no_verdict():
    no_ci = SUMMARY.assign(ci_low=math.nan, ci_high=math.nan)
    assert set(compare(no_ci, PUBLISHED, MAPPING)["verdict"]) == {"no CI"}


def test_project_scorer_only_without_a_seed_scorer_row(table):
    like = cell(table, "q4", "seed_custom_flexible")
    assert like.like_for_like and "project scorer" not in like.note
    strict = cell(table, "q4", "strict")
    assert not strict.like_for_like and strict.note.startswith("project scorer (not like for like)")
    assert strict.verdict == "outside"


def test_the_seeds_reward_run_is_like_for_like_the_projects_only_without_one(table):
    """The seed's RL reward custom_flexible is our seed_custom_flexible run where the summary has one (q4: its
    custom_flexible run is ignored); else the project's custom_flexible run, marked not like for like (q8)."""
    rl4 = cell(table, "q4", "seed_custom_flexible", stage="rl")
    assert rl4.reward == "seed_custom_flexible" and rl4.ours == 0.90
    assert rl4.like_for_like and "project reward" not in rl4.note
    rl8 = cell(table, "q8", "seed_custom_flexible", stage="rl")
    assert rl8.reward == "custom_flexible" and not rl8.like_for_like
    assert rl8.note.startswith("project reward (not like for like)")
    base = cell(table, "q4", "seed_custom_flexible")
    assert base.reward == "base" and base.like_for_like


def test_result_file_number_is_compared_and_the_readme_shown(table):
    base = cell(table, "q4", "seed_custom_flexible")
    assert base.published == 0.80440 and base.source == "results/4b.json@f4e43f5"
    assert base.readme == 0.804 and base.note == ""  # agrees within the README's rounding: no note
    strict = cell(table, "q4", "strict")
    assert strict.published == 0.67475 and strict.source.startswith("results/4b.json")
    assert "66.41% (eval/results.json@f4e43f5)" in strict.note  # the other file's number is named
    assert "README shows 67.4% (collapse bullet)" in strict.note
    math_base = cell(table, "q4", "seed_math", benchmark="math")
    assert math_base.published == 0.1946 and "README shows '-'" in math_base.note
    assert "this run scored 500 items, the seed 5000" in math_base.note


def test_a_readme_only_number_is_compared_and_says_so(table):
    flex = cell(table, "q4", "seed_flexible", stage="rl")
    assert flex.published == 0.683 and flex.source.startswith("README.md")
    assert "only the README holds this number (mislabelled)" in flex.note
    assert flex.verdict == "inside"


def test_the_seeds_evaluated_step_meets_our_final_checkpoint(table):
    rl8 = cell(table, "q8", "seed_custom_flexible", stage="rl")
    assert (rl8.seed_step, rl8.step) == (50, 56)
    assert "the seed evaluated step 50; this run's final checkpoint is step 56" in rl8.note
    # a step the seed did not evaluate as "after RL" is matched exactly or not at all
    odd = compare(SUMMARY, PUBLISHED.replace({"rl_step": {50.0: 44.0}}), MAPPING)
    assert not ((odd["model"] == "q8") & (odd["stage"] == "rl")).any()


def test_no_study_model_or_cell_in_common_gives_an_empty_table():
    other = SeedMapping(models={"q4": "Qwen3-14B-Base"}, benchmarks={"gsm8k": "gsm8k"})
    empty = compare(SUMMARY, PUBLISHED, other)
    assert empty.empty and list(empty.columns) == COMPARISON_COLUMNS
    lines = "\n".join(section_seed_comparison(empty))
    assert "## Seed published vs this run" in lines and "nothing to compare" in lines


def test_the_section_says_whose_prompts_this_run_used():
    for style, says in (("seed", "built its prompts as the seed did"), ("consistent", "prompts are not the seed's")):
        mapping = SeedMapping(MAPPING.models, MAPPING.benchmarks, prompt_style=style)
        table = compare(SUMMARY, PUBLISHED, mapping)
        assert set(table["prompts"]) == {style}
        assert says in "\n".join(section_seed_comparison(table))


def test_report_section(table):
    assert section_seed_comparison(None) == []  # nothing configured: no section at all
    text = "\n".join(section_seed_comparison(table, ci=0.9))
    assert "## Seed published vs this run" in text
    n_inside = int((table["verdict"] == "inside").sum())
    assert f"**{n_inside} of {len(table)} cells inside**" in text
    assert "This run [90% CI]" in text
    assert "| q4 | RL `seed_custom_flexible` step 56 | gsm8k | all | 0 | `seed_custom_flexible` | 88.48% |" in text
    assert "| 90.0% [89.0, 91.0] | outside |" in text
    assert text.count("\n| q") == len(table)


def test_summary_md_carries_the_section_only_when_given(table):
    from rlscaling.report.summary import render_summary_md

    summary = SUMMARY[SUMMARY["model"] != "other"]
    without = render_summary_md(summary, reward_mode="custom_flexible")
    with_it = render_summary_md(summary, reward_mode="custom_flexible", seed_comparison=table)
    assert "Seed published" not in without
    section = "\n".join(section_seed_comparison(table)).rstrip()
    assert section in with_it
    assert with_it.replace(section, "").rstrip() == without.rstrip()  # the section is all that changes


def test_csv_round_trip_and_gain_points(table, tmp_path):
    pub, summ, out = tmp_path / "published.csv", tmp_path / "summary.csv", tmp_path / "seed_comparison.csv"
    PUBLISHED.to_csv(pub, index=False)
    SUMMARY.to_csv(summ, index=False)
    settings = {"models": dict(MAPPING.models), "benchmarks": dict(MAPPING.benchmarks)}
    assert write_comparison(summ, pub, settings, out) == len(table)
    back = read_comparison(out)
    pd.testing.assert_frame_equal(
        back[["model", "published", "ours", "verdict"]], table[["model", "published", "ours", "verdict"]]
    )
    pts = gain_points(back).set_index("model")
    assert set(pts.index) == {"q4", "q8"}  # each has a base and an after-RL custom_flexible GSM8K 0-shot cell
    assert pts.loc["q4", "published_gain_pp"] == pytest.approx(100 * (0.88476 - 0.80440))
    assert pts.loc["q8", "ours_gain_pp"] == pytest.approx(100 * (0.90 - 0.82))


def test_gain_figure_carries_the_published_points(table, tmp_path):
    from rlscaling.report.plots.fits import plot_all_fits

    fits = {
        "selection": {"benchmark": "gsm8k", "scorer": "custom_flexible", "shots": 0, "subset": "all"},
        "seed_table": {
            "benchmark": "gsm8k",
            "size_column": "non-embedding N",
            "points": [{"n_params_b": 3.6, "gain_pp": 8.1}, {"n_params_b": 6.95, "gain_pp": 8.3}],
            "a": 10.0,
            "b": -0.1,
        },
    }
    summary = SUMMARY[SUMMARY["seed"] == "mean"]
    plain = plot_all_fits(fits, summary, tmp_path / "plain")
    marked = plot_all_fits(fits, summary, tmp_path / "marked", seed_comparison=table)
    assert [p.name for p in plain] == [p.name for p in marked]
    svg = {p.name: p.read_text() for p in marked if p.suffix == ".svg"}
    plain_svg = {p.name: p.read_text() for p in plain if p.suffix == ".svg"}
    assert "seed result files (published)" in svg["fit_gain_vs_size_seed.svg"]
    assert "seed result files" not in plain_svg["fit_gain_vs_size_seed.svg"]
    assert svg["fit_gain_vs_size.svg"] == plain_svg["fit_gain_vs_size.svg"]  # the study's own figure is untouched


# ------------------------------------------------------------------------------------------------ config


def test_every_mapped_scorer_is_a_scorer_of_the_project():
    from rlscaling.rewards import ALL_SCORERS

    assert set(SEED_SCORERS.values()) | set(PROJECT_SCORERS.values()) <= set(ALL_SCORERS)


def test_mapping_from_the_qwen3_config():
    cfg = rc.load_config(REPO / "configs" / "qwen3.yaml")
    settings = mapping_settings(cfg)
    assert settings["prompt_style"] == cfg["prompts"]["style"]
    assert settings["models"]["qwen3-8b"] == "Qwen3-8B-Base"
    assert settings["benchmarks"] == {"gsm8k": "gsm8k", "math": "math", "mmlu": "mmlu"}


def _micro(**report) -> dict:
    cfg = rc.load_config(REPO / "tests" / "configs" / "micro.yaml", validate=False)
    cfg = copy.deepcopy(cfg)
    cfg["report"] = report
    return cfg


def test_a_missing_published_file_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(rs.ConfigError, match=r"report\.published_results: .*nowhere\.csv does not exist"):
        rc.validate_config(_micro(published_results=str(tmp_path / "nowhere.csv")))
    bad = tmp_path / "bad.csv"
    bad.write_text("model,stage,accuracy\n")
    with pytest.raises(rs.ConfigError, match=r"report\.published_results: .*bad\.csv: no column\(s\) \['rl_reward'"):
        rc.validate_config(_micro(published_results=str(bad)))
    good = tmp_path / "good.csv"
    PUBLISHED.to_csv(good, index=False)
    cfg = rc.validate_config(_micro(published_results=str(good)))
    assert rs.published_results_path(cfg) == str(good)
    assert rp.expected_job_counts(cfg)["seed_comparison"] == 1
    assert rc.validate_config(_micro())["report"] == {"published_results": None}  # the default: nothing compared
    assert "seed_comparison" not in rp.expected_job_counts(rc.validate_config(_micro()))


def test_a_relative_path_is_relative_to_the_workflow_directory():
    cfg = {"report": {"published_results": "../shared/reference/seed_results.csv"}}
    assert rs.published_results_path(cfg) == str(REPO / "../shared/reference/seed_results.csv")


# ------------------------------------------------------------------------------------ the seed's real table


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return read_published(_reference("seed_results.csv"))


def test_endpoint_steps_are_the_steps_of_the_per_size_files(real):
    rl = real[(real["stage"] == "rl") & real["source_file"].str.match(r"^results/[0-9.]+b\.json$")]
    found = {(m, r): int(s) for m, r, s in zip(rl["model"], rl["rl_reward"], rl["rl_step"])}
    assert found == SEED_ENDPOINT_STEPS


def _real_summary(real: pd.DataFrame, shift: float) -> pd.DataFrame:
    """This run = the seed's per-size-file numbers for 4B and 14B (GSM8K 0-shot custom_flexible base and after RL,
    MATH base), 14B's after-RL GSM8K shifted by ``shift`` (fraction); CI +-0.02."""
    rows = []
    names = {"Qwen3-4B-Base": "q4", "Qwen3-14B-Base": "q14"}
    per_size = real[real["source_file"].str.match(r"^results/[0-9.]+b\.json$") & real["model"].isin(names)]
    keep = per_size[
        (per_size["subset"] == "all")
        & (per_size["shots"] == 0)
        & (per_size["rl_reward"].isna() | (per_size["rl_reward"] == "custom_flexible"))
        & (
            (per_size["scorer"] == "custom_flexible")
            | ((per_size["scorer"] == "math_custom_flexible") & (per_size["stage"] == "base"))
        )
    ]
    for r in keep.itertuples():
        step = 0 if r.stage == "base" else int(r.rl_step)
        acc = r.accuracy + (shift if (r.model, r.stage, r.benchmark) == ("Qwen3-14B-Base", "rl", "gsm8k") else 0.0)
        rows.append(
            {
                **our_row("q4", "x", acc, acc - 0.02, acc + 0.02),
                "model": names[r.model],
                "n_params": N_PARAMS[names[r.model]],
                "rl_step": step,
                "reward_mode": "base" if step == 0 else "seed_custom_flexible",
                "benchmark": r.benchmark,
                "scorer": "seed_custom_flexible" if r.benchmark == "gsm8k" else "seed_math",
                "n_items": int(r.n_items),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def test_on_the_seeds_real_table(real):
    mapping = SeedMapping(
        models={"q4": "Qwen3-4B-Base", "q14": "Qwen3-14B-Base"}, benchmarks={"gsm8k": "gsm8k", "math": "math"}
    )
    summary = _real_summary(real, shift=0.05)
    table = compare(summary, real, mapping)
    assert len(table) == len(summary)  # every synthetic cell is a published cell
    assert (table["source"].str.match(r"^results/(4b|14b)\.json@")).all()  # the per-size files' numbers
    outside = table[table["verdict"] == "outside"]
    assert list(zip(outside["model"], outside["stage"], outside["benchmark"])) == [("q14", "rl", "gsm8k")]
    math14 = cell(table, "q14", "seed_math", benchmark="math")
    assert "README shows '-'" in math14.note  # the README's table shows '-' where the file has a number
    # the README's rounded after-RL numbers agree with the files: shown, no note
    rl4 = cell(table, "q4", "seed_custom_flexible", stage="rl")
    assert abs(rl4.readme - rl4.published) <= 0.0005 and rl4.note == ""


def test_real_readme_disagreements_are_named(real):
    """seed_recipe.md's list: the README's 0.6B "strict after RL 69.1%" is the custom_flexible-scored number; the
    4B strict 0-shot number differs between the seed's files."""
    mapping = SeedMapping(models={"q06": "Qwen3-0.6B-Base", "q4": "Qwen3-4B-Base"}, benchmarks={"gsm8k": "gsm8k"})
    summary = pd.DataFrame(
        [
            our_row("q06", "seed_strict", 0.68, 0.66, 0.70, step=72, reward="seed_strict"),
            our_row("q4", "seed_strict", 0.67, 0.65, 0.69),
        ],
        columns=SUMMARY_COLUMNS,
    )
    table = compare(summary, real, mapping)
    strict06 = cell(table, "q06", "seed_strict", stage="rl")
    assert strict06.source.startswith("results/benchmarks.json") and "README shows 69.1%" in strict06.note
    assert "scored with custom_flexible" in strict06.note
    strict4 = cell(table, "q4", "seed_strict")
    assert strict4.source.startswith("results/4b.json") and "eval/results.json" in strict4.note


def test_the_qwen3_dag_compares_before_the_report_and_figures(tmp_path):
    """With report.published_results set, the Qwen3 plan has one seed_comparison job, and the report tables and the
    figures wait for it (edges of `snakemake --dag`); unset (the shipped config), there is none."""
    import json
    import re
    import subprocess

    from test_workflow import dry_run_jobs, snakemake_command

    published = tmp_path / "published.csv"
    PUBLISHED.to_csv(published, index=False)
    qwen3 = REPO / "configs" / "qwen3.yaml"
    setting = ("--config", "report=" + json.dumps({"published_results": str(published)}))
    jobs = dry_run_jobs(tmp_path, *setting, config=qwen3)
    assert jobs["seed_comparison"] == 1
    assert jobs == rp.expected_job_counts(
        rc.validate_config({**rc.load_config(qwen3, validate=False), "report": {"published_results": str(published)}})
    )
    dot = subprocess.run(
        snakemake_command(tmp_path, qwen3, "--dag", *setting), capture_output=True, text=True, check=True
    ).stdout
    ids = {name: node for node, name in re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", dot, flags=re.M)}
    edges = set(re.findall(r"^\s*(\d+) -> (\d+)", dot, flags=re.M))
    for reader in ("report_tables", "plots"):
        assert (ids["seed_comparison"], ids[reader]) in edges, reader
    assert (ids["aggregate"], ids["seed_comparison"]) in edges
    assert "seed_comparison" not in dry_run_jobs(tmp_path, config=qwen3)
