"""The seed's published numbers beside this run's: ``results/seed_comparison.csv``, its ``summary.md`` section and
the published points of the seed's gain-vs-size figure.

**The published table** (``report.published_results``; the user supplies it, the project never copies it): every
accuracy the seed study (josancamon19/rl-scaling-laws) published in its result files, one row per (model, stage,
RL reward, RL step, benchmark, subset, shots, scorer) and source file, plus its README's table numbers marked
``source_file == "README.md"`` (columns :data:`PUBLISHED_COLUMNS`; ``accuracy`` a fraction). Rows of other metrics
(validation loss, perplexity) and of scorers with no counterpart here (verl's in-training validation reward) are
not compared.

**Matching a published cell to this run** (:func:`compare`, seed means of ``summary.csv``):

- model: the seed's name (``Qwen3-4B-Base``) is the last part of a study model's ``hf_id`` (its own name when it
  has none), compared case-insensitively, at every pre-training budget of that model;
- stage: ``base`` is ``rl_step`` 0; ``rl`` is the run trained with the seed's RL reward: the ``reward_mode`` with the
  seed's semantics (:data:`SEED_REWARDS`: ``custom_flexible`` -> ``seed_custom_flexible``), else, where the summary
  has no such run, the project's mode of the same name (:data:`PROJECT_REWARDS`), flagged ``like_for_like = False``
  ("project reward, not like for like"); at the seed's step, or, when the run has no checkpoint there and the step is
  the one the seed evaluated as "after RL" (:data:`SEED_ENDPOINT_STEPS`), at the run's final checkpoint (the note
  names both steps);
- benchmark: every study benchmark of the seed's family (``gsm8k``, ``math``, ``mmlu``), same subset and shots;
- scorer: the like-for-like ``seed_*`` scorer (:data:`SEED_SCORERS`: the seed's own scoring, computed from the same
  generations); where a summary has none for the cell, the project's scorer of the same name
  (:data:`PROJECT_SCORERS`), flagged ``like_for_like = False`` ("project scorer, not like for like"). MATH has no
  project counterpart (the seed's MATH scorer is a string match; the project's reads ``\\boxed{}``).

**Which published number**: a cell can appear in several of the seed's files (re-runs) and in its README. The
number compared is one result file's ``accuracy`` field (the seed's authoritative number; its stored ``correct`` is
sometimes one too low), chosen as: a file with the seed's final prompt layout before one with the earlier few-shot
layout ``G2``, then a per-size file ``results/<size>.json`` (what the README's table was built from), then by file
name. Other files' differing numbers, and the README's number where it differs by more than its rounding (0.05 pp)
or shows ``-``, are named in the note. A cell only the README holds is compared with the README's number, noted.

**Verdict**: ``inside`` when the published number lies in this run's CI (``ci_low``..``ci_high`` of
``summary.csv``: percentile bootstrap over items, the level of ``fit.ci``), ``outside`` otherwise, ``no CI`` when
this run has none.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rlscaling.analysis.views import reference_rows, study_view
from rlscaling.report.markdown import MISSING, fmt_ci, fmt_pct, md_table
from rlscaling.rewards.gsm8k import MODES
from rlscaling.rewards.seed import SEED_REWARD_MODES
from rlscaling.schemas import validate_summary
from rlscaling.study import BASE, benchmark_kind, prompt_style

SEED_SCORERS = {
    "strict": "seed_strict",
    "flexible": "seed_flexible",
    "custom_flexible": "seed_custom_flexible",
    "math_custom_flexible": "seed_math",
    "mmlu_letter_regex": "seed_mmlu_letter",
}
"""The seed's scorer name -> this project's scorer with the seed's semantics (like for like)."""
PROJECT_SCORERS = {
    "strict": "strict",
    "flexible": "flexible",
    "custom_flexible": "custom_flexible",
    "mmlu_letter_regex": "mmlu_letter",
}
"""The seed's scorer name -> the project's own scorer of that idea (compared only where no ``seed_*`` row exists)."""
SEED_REWARDS = {mode.removeprefix("seed_"): mode for mode in SEED_REWARD_MODES}
"""The seed's RL reward (``rl_reward``) -> this project's GRPO reward mode with the seed's semantics (like for like):
``strict`` -> ``seed_strict``, ``custom_flexible`` -> ``seed_custom_flexible``."""
PROJECT_REWARDS = {mode: mode for mode in MODES}
"""The seed's RL reward -> the project's reward mode of that idea (compared only where no ``seed_*`` run exists)."""
SEED_ENDPOINT_STEPS = {
    ("Qwen3-0.6B-Base", "strict"): 72,
    ("Qwen3-0.6B-Base", "custom_flexible"): 56,
    ("Qwen3-0.6B-Base", "custom_flexible+format"): 56,
    ("Qwen3-1.7B-Base", "strict"): 56,
    ("Qwen3-1.7B-Base", "custom_flexible"): 56,
    ("Qwen3-4B-Base", "strict"): 56,
    ("Qwen3-4B-Base", "custom_flexible"): 56,
    ("Qwen3-8B-Base", "custom_flexible"): 50,
    ("Qwen3-14B-Base", "custom_flexible"): 56,
}
"""(seed model, RL reward) -> the GRPO step of the checkpoint the seed evaluated as "after RL" (the README's table;
the step of the RL entries of its per-size result files): seed_recipe.md (e)."""
README = "README.md"
"""``source_file`` of the README's table numbers in the published table."""
PUBLISHED_COLUMNS = (
    "model",
    "stage",
    "rl_reward",
    "rl_step",
    "benchmark",
    "subset",
    "shots",
    "scorer",
    "accuracy",
    "n_items",
    "source_file",
    "source_commit",
    "metric",
    "prompt_version",
    "notes",
)
COMPARISON_COLUMNS = [
    "model",
    "seed_model",
    "n_params",
    "pretrain_tokens",
    "stage",
    "reward",
    "seed_step",
    "step",
    "benchmark",
    "subset",
    "shots",
    "seed_scorer",
    "scorer",
    "like_for_like",
    "prompts",
    "published",
    "source",
    "readme",
    "ours",
    "ci_low",
    "ci_high",
    "verdict",
    "n_items",
    "seed_n_items",
    "note",
    "seed_notes",
]
"""``results/seed_comparison.csv``: one row per matched cell; ``published``, ``readme``, ``ours`` and the CI are
fractions; ``seed_step``/``step`` GRPO steps (0 for base models); ``prompts`` this run's ``prompts.style`` (``seed``:
the seed's prompt recipe); ``source`` the file (``path@commit``) the published number comes from; ``note`` what the
comparison chose, ``seed_notes`` the published row's own provenance note."""
ROUNDING = 0.0005
"""Half of the README's 0.1-point rounding, as a fraction: numbers closer than this agree."""
_KEY = ["model", "stage", "rl_reward", "step", "benchmark", "subset", "shots", "scorer"]
_PER_SIZE_FILE = re.compile(r"^results/[0-9.]+b\.json$")
_OLD_FEWSHOT_LAYOUT = "G2"


@dataclass(frozen=True)
class SeedMapping:
    """How this study names the seed's cells: ``models`` study model -> seed model name (``Qwen3-4B-Base``),
    ``benchmarks`` study benchmark -> the seed's benchmark family (``gsm8k``/``math``/``mmlu``), this run's
    ``prompts.style`` (None: not recorded), and the steps the seed evaluated as "after RL"
    (:data:`SEED_ENDPOINT_STEPS`)."""

    models: Mapping[str, str]
    benchmarks: Mapping[str, str]
    prompt_style: str | None = None
    endpoint_steps: Mapping[tuple[str, str], int] = field(default_factory=lambda: dict(SEED_ENDPOINT_STEPS))

    @classmethod
    def from_settings(cls, settings: Mapping) -> SeedMapping:
        """From :func:`mapping_settings` (the ``seed_comparison`` job's settings)."""
        return cls(dict(settings["models"]), dict(settings["benchmarks"]), settings.get("prompt_style"))


def mapping_settings(cfg: Mapping) -> dict:
    """The mapping a config implies (JSON-able): each model -> the last path part of its ``hf_id`` (the model's own
    name when it has none), each benchmark -> its family (``rlscaling.study.benchmark_kind``), and the config's
    ``prompts.style``."""
    models = {m: str(spec.get("hf_id") or m).rsplit("/", 1)[-1] for m, spec in cfg["models"].items()}
    benchmarks = {b: benchmark_kind(b, spec) for b, spec in cfg["benchmarks"].items()}
    return {"models": models, "benchmarks": benchmarks, "prompt_style": prompt_style(cfg)}


# ------------------------------------------------------------------------------------------ the published table


def check_published_file(path: str | Path) -> None:
    """Raise ``ValueError`` naming the file when it is missing or lacks a column of :data:`PUBLISHED_COLUMNS` (reads
    the header line only)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh), [])
    missing = [c for c in PUBLISHED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing} (expected the seed's published results table)")


def read_published(path: str | Path) -> pd.DataFrame:
    """The published table (checked by :func:`check_published_file`)."""
    check_published_file(path)
    return pd.read_csv(path, dtype={"source_commit": str, "prompt_version": str, "notes": str})


def _with_steps(published: pd.DataFrame, endpoint_steps: Mapping[tuple[str, str], int]) -> pd.DataFrame:
    """Accuracy rows of the compared scorers, with ``step`` (0 for base models; a README row without a step gets
    the step the seed evaluated) and ``rl_reward`` = ``base`` for base models."""
    frame = published[(published["metric"] == "accuracy") & published["scorer"].isin(SEED_SCORERS)].copy()
    base = frame["stage"] == "base"
    frame["rl_reward"] = frame["rl_reward"].where(~base, BASE)
    endpoint = [endpoint_steps.get((m, r)) for m, r in zip(frame["model"], frame["rl_reward"])]
    frame["step"] = frame["rl_step"].fillna(pd.Series(endpoint, index=frame.index, dtype=float))
    frame.loc[base, "step"] = 0
    frame = frame[frame["step"].notna() & frame["shots"].notna()]
    return frame.astype({"step": int, "shots": int})


def _pp(fraction: float) -> str:
    return f"{100 * fraction:.2f}%"


def _choose_file_row(files: pd.DataFrame) -> pd.Series:
    """The result file whose number is compared (see the module docstring)."""
    rank = files.assign(
        _old=files["prompt_version"].astype(str) == _OLD_FEWSHOT_LAYOUT,
        _not_per_size=~files["source_file"].astype(str).str.match(_PER_SIZE_FILE),
    )
    return rank.sort_values(["_old", "_not_per_size", "source_file", "source_commit"], kind="stable").iloc[0]


def _source(row: pd.Series) -> str:
    commit = str(row["source_commit"]) if isinstance(row["source_commit"], str) else ""
    return f"{row['source_file']}@{commit[:7]}" if commit else str(row["source_file"])


def _old_layout(row: pd.Series) -> bool:
    """A few-shot number of the seed's earlier prompt layout (0-shot prompts are the same in every layout)."""
    return row["prompt_version"] == _OLD_FEWSHOT_LAYOUT and row["shots"] > 0


def _joined_notes(rows: pd.DataFrame) -> str:
    """The distinct ``notes`` of some published rows, in order, joined."""
    return "; ".join(dict.fromkeys(str(n) for n in rows["notes"] if isinstance(n, str)))


def _readme_note(readme: pd.DataFrame, published: float | None) -> tuple[float, str | None]:
    """The README's number for a cell and, where it disagrees with ``published`` (or shows ``-``), the note."""
    if readme.empty:
        return math.nan, None
    values = readme["accuracy"].drop_duplicates()
    value = float(values.iloc[0])
    text = _joined_notes(readme)
    if math.isnan(value):
        return value, f"README shows '-' ({text})" if text else "README shows '-'"
    if published is not None and all(abs(v - published) <= ROUNDING + 1e-12 for v in values):
        return value, None
    shown = ", ".join(fmt_pct(v) for v in values)
    return value, f"README shows {shown}" + (f" ({text})" if text else "")


def published_cells(published: pd.DataFrame, endpoint_steps: Mapping | None = None) -> pd.DataFrame:
    """One row per published cell: the number compared (``published``, fraction), where it comes from (``source``),
    the README's number (``readme``, NaN when the README has none) and the ``note`` on the choice."""
    endpoint_steps = SEED_ENDPOINT_STEPS if endpoint_steps is None else endpoint_steps
    frame = _with_steps(published, endpoint_steps)
    rows = []
    for key, group in frame.groupby(_KEY, sort=True):
        cell = dict(zip(_KEY, key))
        is_readme = group["source_file"] == README
        files, readme = group[~is_readme & group["accuracy"].notna()], group[is_readme]
        notes = []
        if not files.empty:
            chosen = _choose_file_row(files)
            value, source = float(chosen["accuracy"]), _source(chosen)
            others = files[(files["accuracy"] - value).abs() > ROUNDING]
            if not others.empty:
                listed = ", ".join(
                    f"{_pp(r['accuracy'])} ({_source(r)}{', G2 layout' if _old_layout(r) else ''})"
                    for _, r in others.iterrows()
                )
                notes.append(f"other result files: {listed}")
            if _old_layout(chosen):
                notes.append(f"the seed's earlier few-shot layout ({_OLD_FEWSHOT_LAYOUT}), not its final one")
            readme_value, readme_note = _readme_note(readme, value)
            seed_notes, n_items = chosen["notes"], chosen["n_items"]
        else:
            readme_value, _ = _readme_note(readme, None)
            if math.isnan(readme_value):
                continue  # a README '-' with no file number: nothing to compare
            value, source = readme_value, _source(readme.iloc[0])
            text = _joined_notes(readme)
            readme_note = "only the README holds this number" + (f" ({text})" if text else "")
            seed_notes, n_items = math.nan, math.nan
        if readme_note:
            notes.append(readme_note)
        rows.append(
            {
                **cell,
                "published": value,
                "source": source,
                "readme": readme_value,
                "seed_n_items": n_items,
                "seed_notes": seed_notes,
                "endpoint": endpoint_steps.get((cell["model"], cell["rl_reward"])) == cell["step"],
                "note": "; ".join(notes),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ the comparison


def _verdict(published: float, low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no CI"
    return "inside" if low <= published <= high else "outside"


def compare(summary: pd.DataFrame, published: pd.DataFrame, mapping: SeedMapping) -> pd.DataFrame:
    """The comparison table (:data:`COMPARISON_COLUMNS`) of this run's ``summary`` (seed means) with the
    ``published`` table, matched as the module docstring says; published cells this run does not cover are left
    out; this run's rows are its reference runs' (the seed's own settings, never a sweep variant). Pure: no file is
    read."""
    cells = published_cells(published, mapping.endpoint_steps)
    ours = study_view(reference_rows(validate_summary(summary)), None)
    ours = ours[ours["model"].isin(mapping.models)]
    if cells.empty or ours.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    key = ["model", "pretrain_tokens", "reward_mode", "rl_step", "benchmark", "subset", "shots", "scorer"]
    index = {tuple(k): r for k, r in zip(ours[key].itertuples(index=False), ours.itertuples(index=False))}
    runs = ours.groupby(["model", "pretrain_tokens", "reward_mode"])["rl_step"].agg(lambda s: set(s.astype(int)))
    studied = ours[["model", "pretrain_tokens"]].drop_duplicates().itertuples(index=False)
    by_seed_name: dict[str, list[tuple[str, float]]] = {}
    for model, tokens in studied:
        by_seed_name.setdefault(mapping.models[model].lower(), []).append((model, tokens))
    rows = []
    for cell in cells.itertuples(index=False):
        like_reward = BASE if cell.stage == "base" else SEED_REWARDS.get(cell.rl_reward)
        candidates = [r for r in (like_reward, PROJECT_REWARDS.get(cell.rl_reward)) if r is not None]
        for model, tokens in by_seed_name.get(cell.model.lower(), []):
            reward = next((r for r in candidates if (model, tokens, r) in runs.index), None)
            steps = runs.get((model, tokens, reward), set())
            notes = [cell.note] if cell.note else []
            if cell.step in steps:
                step = cell.step
            elif reward != BASE and cell.endpoint and steps - {0}:
                step = max(steps)
                notes.insert(0, f"the seed evaluated step {cell.step}; this run's final checkpoint is step {step}")
            else:
                continue
            for bench in (b for b, family in mapping.benchmarks.items() if family == cell.benchmark):
                where = (model, tokens, reward, step, bench, cell.subset, cell.shots)
                like = SEED_SCORERS[cell.scorer]
                mine, scorer = index.get((*where, like)), like
                if mine is None and cell.scorer in PROJECT_SCORERS:
                    scorer = PROJECT_SCORERS[cell.scorer]
                    mine = index.get((*where, scorer))
                if mine is None:
                    continue
                row_notes = list(notes)
                if reward != like_reward:
                    row_notes.insert(0, "project reward (not like for like)")
                if scorer != like:
                    row_notes.insert(0, "project scorer (not like for like)")
                if math.isfinite(cell.seed_n_items) and int(mine.n_items) != int(cell.seed_n_items):
                    row_notes.append(f"this run scored {int(mine.n_items)} items, the seed {int(cell.seed_n_items)}")
                rows.append(
                    {
                        "model": model,
                        "seed_model": cell.model,
                        "n_params": mine.n_params,
                        "pretrain_tokens": tokens,
                        "stage": cell.stage,
                        "reward": reward,
                        "seed_step": cell.step,
                        "step": step,
                        "benchmark": bench,
                        "subset": cell.subset,
                        "shots": cell.shots,
                        "seed_scorer": cell.scorer,
                        "scorer": scorer,
                        "like_for_like": scorer == like and reward == like_reward,
                        "prompts": mapping.prompt_style,
                        "published": cell.published,
                        "source": cell.source,
                        "readme": cell.readme,
                        "ours": mine.accuracy,
                        "ci_low": mine.ci_low,
                        "ci_high": mine.ci_high,
                        "verdict": _verdict(cell.published, mine.ci_low, mine.ci_high),
                        "n_items": int(mine.n_items),
                        "seed_n_items": cell.seed_n_items,
                        "note": "; ".join(row_notes),
                        "seed_notes": cell.seed_notes,
                    }
                )
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    order = ["n_params", "model", "pretrain_tokens", "stage", "reward", "benchmark", "subset", "shots", "seed_scorer"]
    return table.sort_values(order, kind="stable").reset_index(drop=True)


def read_comparison(path: str | Path) -> pd.DataFrame:
    """``results/seed_comparison.csv`` as written by the ``seed_comparison`` rule."""
    return pd.read_csv(path, dtype={"subset": str, "note": str, "seed_notes": str, "source": str}).fillna(
        {"note": "", "seed_notes": ""}
    )


# ------------------------------------------------------------------------------------------ report and figure


def _checkpoint(row) -> str:
    if row.stage == "base":
        return "base"
    return f"RL `{row.reward}` step {int(row.step)}"


def _prompts_sentence(table: pd.DataFrame) -> str:
    styles = sorted({str(s) for s in table["prompts"] if isinstance(s, str) and s})
    if not styles:
        return ""
    if styles == ["seed"]:
        return " This run built its prompts as the seed did (`prompts.style: seed`)."
    return (
        f" This run's prompts are not the seed's (`prompts.style: {', '.join(styles)}`): where the prompts differ "
        f"(few-shot layouts, MATH, MMLU), so may the accuracies."
    )


def section_seed_comparison(table: pd.DataFrame | None, ci: float = 0.95) -> list[str]:
    """The ``summary.md`` section "Seed published vs this run" (no lines when ``table`` is None: nothing published
    was configured)."""
    if table is None:
        return []
    level = f"{100 * ci:g}% CI"
    out = ["## Seed published vs this run", ""]
    if table.empty:
        return out + [
            "No cell of this run matches a published cell of the seed (model by `hf_id`, stage, RL reward and step, "
            "benchmark, subset, shots, scorer): nothing to compare.",
            "",
        ]
    inside = int((table["verdict"] == "inside").sum())
    like = int(table["like_for_like"].astype(bool).sum())
    out += [
        f"The seed study's published accuracies (its result files, josancamon19/rl-scaling-laws, as "
        f"`report.published_results` lists them) beside this run's on the same cells, with this run's {level} over "
        f"items: *inside* when the published number lies in it. The number compared is the seed's result-file "
        f"accuracy; the README's number stands beside it, and the note says where they disagree. `seed_*` scorers "
        f"score this run's generations as the seed did, and `seed_*` GRPO rewards trained as the seed did (like for "
        f"like); notes marked *project scorer* / *project reward* use the project's scorer / a run trained with the "
        f"project's reward instead. **{inside} of {len(table)} cells inside** ({like} like for like). Every row, "
        f"with the seed's own provenance notes: `seed_comparison.csv`." + _prompts_sentence(table),
        "",
    ]
    headers = [
        "Model",
        "Checkpoint",
        "Benchmark",
        "Subset",
        "Shots",
        "Scorer",
        "Seed published",
        "Source",
        "README",
        f"This run [{level}]",
        "Verdict",
        "Note",
    ]
    rows = [
        [
            r.model,
            _checkpoint(r),
            r.benchmark,
            r.subset,
            str(int(r.shots)),
            f"`{r.scorer}`",
            f"{100 * r.published:.2f}%",
            f"`{r.source}`",
            fmt_pct(r.readme) if pd.notna(r.readme) else MISSING,
            fmt_pct(r.ours) + fmt_ci(r.ci_low, r.ci_high),
            r.verdict,
            r.note or "",
        ]
        for r in table.itertuples(index=False)
    ]
    return out + [md_table(headers, rows), ""]


GAIN_CELL = {"seed_scorer": "custom_flexible", "rl_reward": "custom_flexible", "shots": 0, "subset": "all"}
"""The cell of the seed's gain-vs-size table: GSM8K, 0-shot, custom_flexible scorer, the run of the seed's
custom_flexible reward (this run's ``seed_custom_flexible`` run, else its ``custom_flexible`` one: :func:`compare`)."""


def gain_points(table: pd.DataFrame) -> pd.DataFrame:
    """Per study model with both a base and an after-RL row of :data:`GAIN_CELL`: ``n_params``, the published gain
    and this run's (``published_gain_pp``, ``ours_gain_pp``: RL minus base, percentage points)."""
    cols = ["model", "n_params", "published_gain_pp", "ours_gain_pp"]
    sel = table[
        (table["seed_scorer"] == GAIN_CELL["seed_scorer"])
        & (table["shots"] == GAIN_CELL["shots"])
        & (table["subset"].astype(str) == GAIN_CELL["subset"])
        & table["reward"].isin([BASE, SEED_REWARDS[GAIN_CELL["rl_reward"]], PROJECT_REWARDS[GAIN_CELL["rl_reward"]]])
    ]
    rows = []
    for (model, _tokens), part in sel.groupby(["model", "pretrain_tokens"], sort=False):
        base, rl = part[part["stage"] == "base"], part[part["stage"] == "rl"]
        if base.empty or rl.empty:
            continue
        b, r = base.iloc[0], rl.iloc[0]
        rows.append([model, b["n_params"], 100 * (r["published"] - b["published"]), 100 * (r["ours"] - b["ours"])])
    return pd.DataFrame(rows, columns=cols).sort_values("n_params").reset_index(drop=True)


def write_comparison(summary_csv: str | Path, published_path: str | Path, settings: Mapping, out: str | Path) -> int:
    """The ``seed_comparison`` rule: compare and write ``out`` atomically; returns the number of matched cells."""
    from rlscaling.io import write_csv

    table = compare(pd.read_csv(summary_csv), read_published(published_path), SeedMapping.from_settings(settings))
    write_csv(out, table)
    return len(table)
