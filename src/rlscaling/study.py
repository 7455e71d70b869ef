"""The study a (validated) config defines: its cells, GRPO runs, replicate seeds, job seeds and output paths.

Pure functions of the config, shared by the validation (:mod:`rlscaling.workflow.config`), the DAG
(:mod:`rlscaling.workflow.plan`),
each job's settings (:mod:`rlscaling.workflow.job_settings`) and the job code itself (the GRPO job boundary reads
:func:`grpo_settings`; every layer reads ``prompts.style`` and a job's GPUs through :func:`prompt_style` and
:func:`job_gpus`), so it imports nothing of them: only the schema file (:mod:`rlscaling.config_schema`).
Every config error is a :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from rlscaling.config_schema import ROOT, _schema
from rlscaling.tasks import kinds

CHECKPOINT = "{model}/seed_{seed}/{budget}/{variant}{reward}/step_{step}"
"""The ``{checkpoint}`` wildcard of the evaluation rules: one checkpoint of one cell (``reward`` is :data:`BASE` for
the base model, at step 0; ``variant`` is a GRPO run's sweep variant segment, :data:`REFERENCE` for the base model
and the reference runs)."""

# Every path pattern of the workflow, relative to the results directory: Python fills them in (:func:`path`) and the
# rules read them as Snakemake patterns (:func:`pattern`, ``path()`` in workflow/rules/common.smk). Logs and
# benchmark files (``logs/``, ``benchmarks/``) are named by each rule and read by no one, so they are not here.
PATHS = {
    "data_dir": "data",
    "dataset": "data/{dataset}.jsonl",
    "tokenizer": "tokenizer",
    "trunk": "models/{model}/seed_{seed}/trunk",
    "base_model": "models/{model}/seed_{seed}/{budget}/base",
    # {variant}: "" for the reference run (the paths of a study without sweeps), "<key>=<value>/" for a sweep variant
    "grpo": "grpo/{model}/seed_{seed}/{budget}/{variant}{reward}",
    "grpo_state": "state/grpo/{model}/seed_{seed}/{budget}/{variant}{reward}",
    # one checkpoint's evaluation job writes <stem>.records.jsonl + <stem>.summary.json per item of its plan
    "eval_dir": "eval/{checkpoint}",
    "eval_output": "eval/{checkpoint}/{stem}.{ext}",
    "eval_records": f"eval/{CHECKPOINT}/{{bench}}_{{shots}}shot.records.jsonl",
    "eval_summary": f"eval/{CHECKPOINT}/{{bench}}_{{shots}}shot.summary.json",
    "passk_records": f"eval/{CHECKPOINT}/{{bench}}_{{shots}}shot_passk.records.jsonl",
    "passk_summary": f"eval/{CHECKPOINT}/{{bench}}_{{shots}}shot_passk.summary.json",
    "val_loss": "eval/{model}/seed_{seed}/{budget}/base/step_0/val_loss.json",
    "summary": "summary.csv",
    "records": "records.parquet",
    "fits": "fits/fits.json",
    "allocation": "fits/allocation.csv",
    "iso_flop": "fits/iso_flop.csv",
    "figures": "figures",
    "summary_md": "summary.md",
    "findings": "findings.csv",
    "seed_comparison": "seed_comparison.csv",
    # only when the study has sweep variants (grpo.sweeps): each variant against its reference run, paired per item
    "variant_comparisons": "variant_comparisons.csv",
}
EVAL_EXTENSIONS = ("records.jsonl", "summary.json")
"""The ``{ext}`` of the two files an evaluation job writes per item (``eval_output``)."""
BASE = "base"
"""The ``{reward}`` path component and ``reward_mode`` column of a base model (step 0, before any RL): not a mode."""


class ConfigError(ValueError):
    """A config value is wrong or inconsistent; the message names the key."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<config>"


def published_results_path(cfg: dict) -> str | None:
    """``report.published_results`` (the seed's published table), relative paths resolved against the workflow
    directory (an installed package has none: a relative path is a :class:`ConfigError` there); None when not
    configured."""
    configured = cfg["report"]["published_results"]
    if configured is None:
        return None
    path = Path(configured).expanduser()
    if ROOT is None and not path.is_absolute():
        raise ConfigError(
            f"report.published_results: {configured!r} is relative, and relative paths are read from the workflow "
            f"directory (the source checkout holding the Snakefile); this rlscaling is an installed package "
            f"({Path(__file__).resolve().parent}) with none: give an absolute path"
        )
    return str(path if ROOT is None else ROOT / path)


def benchmark_kind(name: str, bench: dict) -> str:
    """Prompt/scorer family of a benchmark: explicit ``kind`` or the benchmark's name."""
    kind = bench.get("kind", name)
    if kind not in kinds():
        raise ConfigError(f"benchmarks.{name}.kind: cannot infer the family of '{name}'; set kind: {'|'.join(kinds())}")
    return kind


def budgets_detail(cfg: dict, model: str) -> dict[str, dict]:
    """Budgets of a model: label -> ``{tokens, hf_id, revision, annealed}`` (per-model budgets replace
    ``pretrain.budgets``; a bare number is tokens; ``hf_id`` falls back to ``models.<model>.hf_id``)."""
    spec = cfg["models"][model]
    raw = spec.get("budgets") or cfg["pretrain"].get("budgets")
    if not raw:
        raise ConfigError(f"models.{model}.budgets: no pre-training budgets (set them here or in pretrain.budgets)")
    out = {}
    for label, b in raw.items():
        b = b if isinstance(b, dict) else {"tokens": b}
        out[str(label)] = {
            "tokens": float(b["tokens"]),
            "hf_id": b.get("hf_id", spec.get("hf_id")),
            "revision": b.get("revision", "main"),
            "annealed": bool(b.get("annealed", False)),
        }
    return out


def budgets(cfg: dict, model: str) -> dict[str, float]:
    """Pre-training budgets of a model: label -> tokens."""
    return {label: b["tokens"] for label, b in budgets_detail(cfg, model).items()}


class Cell(NamedTuple):
    """A pre-trained base model: model size, replicate seed and pre-training budget label."""

    model: str
    seed: int
    budget: str


class RLRun(NamedTuple):
    """A GRPO run: a cell trained with one reward mode (a scorer name) under one variant (the ``{variant}`` path
    segment: :data:`REFERENCE` for the config's own settings, ``"<key>=<value>/"`` for a sweep value)."""

    model: str
    seed: int
    budget: str
    reward: str
    variant: str = ""

    @property
    def cell(self) -> Cell:
        return Cell(self.model, self.seed, self.budget)


def seeds(cfg: dict, model: str) -> list[int]:
    """Replicate seeds of a model: ``models.<model>.seeds``, else ``pretrain.seeds``, else the schema's default."""
    default = _schema()["properties"]["pretrain"]["properties"]["seeds"]["default"]
    return [int(s) for s in (cfg["models"][model].get("seeds") or cfg["pretrain"].get("seeds") or default)]


def reward_modes(cfg: dict) -> list[str]:
    """GRPO reward modes (scorer names); the first is the study's primary mode."""
    return list(cfg["grpo"]["reward_modes"])


def rl_budgets(cfg: dict, model: str) -> list[str]:
    """Budget labels of a model that get GRPO runs (``grpo.budgets``, default every budget), in budget order."""
    chosen = cfg["grpo"].get("budgets")
    return [b for b in budgets(cfg, model) if chosen is None or b in chosen]


def cells(cfg: dict) -> list[Cell]:
    """Every pre-trained base model: (model, seed, budget label)."""
    return [Cell(m, s, b) for m in cfg["models"] for s in seeds(cfg, m) for b in budgets(cfg, m)]


def rl_runs(cfg: dict) -> list[RLRun]:
    """Every GRPO run: each cell of an RL budget x each reward mode (the reference variant), then each of the cell's
    sweep variants (:func:`variants`) with the primary reward mode."""
    out = []
    for m in cfg["models"]:
        for s in seeds(cfg, m):
            for b in rl_budgets(cfg, m):
                out += [RLRun(m, s, b, r) for r in reward_modes(cfg)]
                out += [RLRun(m, s, b, reward_modes(cfg)[0], v.segment) for v in variants(cfg, m, b)[1:]]
    return out


# ---- sweeps: GRPO settings as a DAG dimension (docs/sweeps-design.md)

REFERENCE = ""
"""The ``{variant}`` path segment of a reference run (the config's own GRPO settings): empty, so the paths of a
study without sweeps are unchanged."""
NOT_SWEEPABLE = ("backend", "reward_modes", "budgets", "seed", "sweeps", "save_steps", "save_every", "verl")
"""``grpo`` keys a sweep cannot name: the study's dimensions themselves, the checkpoint schedule, verl's knobs."""
SAFE_VALUE = re.compile(r"[A-Za-z0-9_.+-]+")
"""What a sweep value's text (:func:`value_text`) may hold: it is a path segment."""


class Variant(NamedTuple):
    """One variant of a cell's GRPO runs: the ``{variant}`` path segment, the setting it changes (``key`` None for the
    reference) and its sweep's companion settings (``grpo.sweeps[i].with``, e.g. the ``epochs`` bound a longer-RL
    ``steps`` value needs: settings every value of that sweep takes, not named in its path)."""

    segment: str
    key: str | None = None
    value: object = None
    also: dict | None = None


def sweepable_keys() -> tuple[str, ...]:
    """``grpo`` settings a sweep may name (``grpo.sweeps[i].key``): every schema key but :data:`NOT_SWEEPABLE`."""
    keys = _schema()["properties"]["grpo"]["properties"]
    return tuple(k for k in keys if k not in NOT_SWEEPABLE)


def value_text(value) -> str:
    """A sweep value as it appears in paths: ``true``/``false``, an int's digits, a float's ``repr`` (``0.01``,
    ``1e-05``), a string as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def variant_segment(key: str, value) -> str:
    """The ``{variant}`` path segment of a sweep value: ``"<key>=<value text>/"`` (``"kl_coef=0.01/"``)."""
    return f"{key}={value_text(value)}/"


def variant_label(segment: str) -> str:
    """A variant as people read it: ``kl_coef=0.01``; ``reference`` for :data:`REFERENCE`."""
    return segment.rstrip("/") or "reference"


def sweeps(cfg: dict) -> list[dict]:
    """``grpo.sweeps`` (``[]`` when absent)."""
    return list(cfg["grpo"].get("sweeps") or [])


def variants(cfg: dict, model: str, budget: str) -> list[Variant]:
    """The variants of a cell's GRPO runs: the reference first, then every sweep value (in config order) that applies
    to ``model`` and ``budget`` and differs from the model's own setting; sweeps are not crossed with each other, and
    a value two sweeps of one key share is one variant."""
    reference = {**grpo_settings(cfg, model), TRAIN: reference_train(cfg)}
    out = [Variant(REFERENCE)]
    for _, sweep, v in sweep_values(cfg):
        if model not in (sweep.get("models") or [model]) or budget not in (sweep.get("budgets") or [budget]):
            continue
        if value_text(v.value) != value_text(reference.get(v.key)) and v.segment not in {o.segment for o in out}:
            out.append(v)
    return out


def sweep_values(cfg: dict) -> Iterator[tuple[int, dict, Variant]]:
    """Every value of every sweep, in config order: ``(i, grpo.sweeps[i], its Variant)`` (the one place a sweep value
    becomes a variant: its path segment and its sweep's companion settings)."""
    for i, sweep in enumerate(sweeps(cfg)):
        key, also = sweep["key"], sweep.get("with") or None
        for value in sweep["values"]:
            yield i, sweep, Variant(variant_segment(key, value), key, value, also)


def variant_labels(cfg: dict) -> list[str]:
    """Every variant of the study as people read it (:func:`variant_label`): ``reference`` first, then each sweep
    value that makes a run of some model and RL budget, in config order (the ``variant`` values of ``summary.csv``)."""
    out = [variant_label(REFERENCE)]
    for model in cfg["models"]:
        for budget in rl_budgets(cfg, model):
            labels = [variant_label(v.segment) for v in variants(cfg, model, budget)]
            out += [label for label in labels if label not in out]
    return out


def variant_setting(cfg: dict, segment: str) -> Variant:
    """The variant a ``{variant}`` path segment names among the config's sweeps (a :class:`ConfigError` when none)."""
    if segment == REFERENCE:
        return Variant(REFERENCE)
    for _, _, v in sweep_values(cfg):
        if v.segment == segment:
            return v
    raise ConfigError(f"grpo.sweeps: no sweep value makes the variant '{variant_label(segment)}'")


# ---- the RL training set as a sweep key (grpo.train; docs/sweeps-design.md)

TRAIN = "train"
"""The ``grpo`` key naming a run's RL training set: a set name, or several joined by :data:`JOIN`."""
JOIN = "+"
"""Joins set names into one training set (``gsm8k+math``): the union of their prepared rows, in the name's order."""
REFERENCE_DATASET = "rl_train"
"""The prepared dataset of the reference set, ``data.rl_train`` (``results/data/rl_train.jsonl``, as before sweeps)."""


def reference_train(cfg: dict) -> str:
    """The name of the reference runs' training set, ``data.rl_train``: ``grpo.train``, else ``data.rl_train.kind``
    (``gsm8k`` by default)."""
    return cfg["grpo"].get(TRAIN) or ((cfg.get("data") or {}).get("rl_train") or {}).get("kind") or "gsm8k"


def train_sets(cfg: dict) -> dict[str, dict]:
    """Every named RL training set: name -> its ``data.rl_train``-shaped spec; the reference set first."""
    return {reference_train(cfg): cfg["data"]["rl_train"], **(cfg["data"].get("rl_train_sets") or {})}


def train_names(value: str) -> list[str]:
    """The set names a ``grpo.train`` value joins (``"gsm8k+math"`` -> ``["gsm8k", "math"]``)."""
    return str(value).split(JOIN)


def train_dataset(cfg: dict, name: str) -> str:
    """The prepared dataset (``study.PATHS["dataset"]``'s ``{dataset}``) of a named set: :data:`REFERENCE_DATASET`
    for the reference set, ``rl_train_<name>`` for a set of ``data.rl_train_sets``."""
    return REFERENCE_DATASET if name == reference_train(cfg) else f"{REFERENCE_DATASET}_{name}"


def run_train(cfg: dict, variant: str = "") -> list[str]:
    """The set names a GRPO run of ``variant`` (a ``{variant}`` segment) trains on, in order: a ``train`` variant's
    value, else the reference set."""
    chosen = variant_setting(cfg, variant)
    return train_names(chosen.value) if chosen.key == TRAIN else [reference_train(cfg)]


def train_datasets(cfg: dict) -> list[str]:
    """The prepared RL datasets the study's runs read: the reference's, then each set a ``train`` variant uses (in
    sweep order, once each); a set no variant uses is not prepared."""
    names = [reference_train(cfg)]
    for sweep in sweeps(cfg):
        if sweep["key"] == TRAIN:
            names += [n for value in sweep["values"] for n in train_names(value)]
    return [train_dataset(cfg, n) for n in dict.fromkeys(names)]


def cell_seed(cfg: dict, model: str, seed: int, budget: str | None = None) -> int:
    """A job's RNG seed from (study seed, model, replicate seed[, budget]) only: adding a model, seed or budget
    changes no other job's seed. Without ``budget``: the seed of a (model, seed) pre-training trunk; GRPO runs of one
    cell share their seed across reward modes (paired runs)."""
    key = f"{int(cfg['seed'])}/{model}/seed_{int(seed)}" + ("" if budget is None else f"/{budget}")
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def grpo_settings(cfg: dict, model: str, reward: str | None = None, variant: str = REFERENCE) -> dict:
    """One GRPO run's settings: the ``grpo`` section with the model's overrides applied (``verl`` knobs merged key by
    key), then the sweep ``variant``'s companion settings (``with``) and value (a ``{variant}`` segment,
    :func:`variant_setting`; not a ``train`` value:
    the data is no training setting, :func:`run_train`), and ``reward_mode`` =
    ``reward`` (default: the section's own ``reward_mode``, as in a job's settings, else the primary mode) in place
    of the study-level lists."""
    g = copy.deepcopy(cfg["grpo"])
    modes = g.pop("reward_modes", None)  # a job's pruned config already holds its one reward_mode
    g.pop("budgets", None)
    g.pop("sweeps", None)  # a study-level dimension: a reference run's settings are those of a study without sweeps
    g.pop("seed", None)  # the RL seed reaches a job as its top-level seed (job_settings), not as a GRPO setting
    g.pop(TRAIN, None)  # the data, not a training setting: a train variant's job settings carry it (job_settings)
    g["reward_mode"] = reward or g.get("reward_mode") or modes[0]
    override = copy.deepcopy(cfg["models"][model].get("grpo") or {})
    if "verl" in override:
        g["verl"] = {**(g.get("verl") or {}), **override.pop("verl")}
    g.update(override)
    chosen = variant_setting(cfg, variant)
    g.update(copy.deepcopy(chosen.also or {}))  # the sweep's companion settings (grpo.sweeps[i].with)
    if chosen.key not in (None, TRAIN):  # a train variant trains with the reference settings (its data: run_train)
        g[chosen.key] = copy.deepcopy(chosen.value)
    return g


PROMPT_STYLES = ("consistent", "seed")
"""Values of ``prompts.style``: ``consistent`` (the default) and ``seed``, the seed study's recipe
(:mod:`rlscaling.prompts`)."""


def check_prompt_style(style: str) -> str:
    """``style`` if it is one of :data:`PROMPT_STYLES`; else a ValueError naming ``prompts.style``."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"prompts.style: {style!r} is not one of {', '.join(PROMPT_STYLES)}")
    return style


def prompt_style(cfg: dict) -> str:
    """``prompts.style`` of a config or a job's settings (``consistent`` when absent); an unknown style -> ValueError.
    The one reader of that key: every layer from the data up asks this function."""
    return check_prompt_style((cfg.get("prompts") or {}).get("style", "consistent"))


def resources(cfg: dict, model: str, rule: str) -> dict:
    """``models.<model>.resources.<rule>``: what one of the model's jobs of ``rule`` requests from the cluster
    (``gpus``, ``cpus``, ``mem_mb`` in MiB, ``runtime`` in minutes); ``{}`` when not declared."""
    return dict((cfg["models"][model].get("resources") or {}).get(rule) or {})


def job_gpus(cfg: dict, model: str, rule: str, default: int | None = None) -> int | None:
    """The GPUs a model's ``rule`` job requests (``models.<model>.resources.<rule>.gpus``), ``default`` when not
    declared. The one reader of that key: the rules' ``gpu`` resource, verl's GPUs per node, the tensor-parallel
    check and the GPU-hour estimate all ask this function (each with the default it documents)."""
    return resources(cfg, model, rule).get("gpus", default)


def results_dir(cfg: dict) -> str:
    return cfg.get("results_dir", "results")


def path(cfg: dict, key: str, **wildcards) -> str:
    """A results path from ``PATHS`` with every wildcard filled in (a missing one raises ``KeyError``)."""
    return f"{results_dir(cfg)}/" + PATHS[key].format(**wildcards)


class _KeepWildcards(dict):
    """Format mapping that leaves a field it lacks as the Snakemake wildcard ``{name}``."""

    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def pattern(cfg: dict, key: str, **fixed) -> str:
    """A rule's path pattern from ``PATHS``: the results directory prefixed, the ``fixed`` fields filled in, every
    other field left as a Snakemake wildcard (``pattern(cfg, "dataset")`` -> ``"results/data/{dataset}.jsonl"``)."""
    if key not in PATHS:
        raise KeyError(f"no path '{key}' in rlscaling.study.PATHS ({', '.join(PATHS)})")
    return f"{results_dir(cfg)}/" + PATHS[key].format_map(_KeepWildcards(fixed))


def final_targets(cfg: dict) -> list[str]:
    """What ``rule all`` asks for (the variant comparisons only when the study has sweep variants)."""
    targets = [path(cfg, "summary"), path(cfg, "fits"), path(cfg, "summary_md"), path(cfg, "figures")]
    return targets + ([path(cfg, "variant_comparisons")] if has_variants(cfg) else [])


def has_variants(cfg: dict) -> bool:
    """Whether any sweep value makes a run (:func:`variant_labels` beyond the reference)."""
    return len(variant_labels(cfg)) > 1
