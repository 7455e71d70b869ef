"""Per-item evaluation records -> the study's tidy tables ``summary.csv`` and ``records.parquet``.

Their columns and units are defined once, in :mod:`rlscaling.schemas`. ``ci_low``/``ci_high`` are the percentile
bootstrap interval over items (documents for the loss) at the config's ``fit.ci`` level and ``seed`` (seed-mean
rows: over seeds, then items);
``records.parquet`` lets fits and gain CIs bootstrap over items without touching the JSONL files.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from rlscaling import study as rs
from rlscaling.compute import GRPOPasses, cumulative_rl_flops, pretrain_flops
from rlscaling.evaluation.run import majority_item_scores, passk_item_scores
from rlscaling.io import atomic_path, read_json, read_jsonl, write_csv
from rlscaling.metrics import bootstrap_mean_ci, bootstrap_ratio_ci, bootstrap_seed_item_ci
from rlscaling.models.hub import head_params_from_config, model_size, resolve_model_path
from rlscaling.rewards import continues_past_answer
from rlscaling.schemas import CONTINUES, RECORD_COLUMNS, SEED_MEAN, SUMMARY_COLUMNS, SUMMARY_SORT

log = logging.getLogger(__name__)


def _parse_eval_path(p: Path) -> dict:
    """model, seed, budget, variant, reward, step, bench, shots, passk from
    ``.../eval/<model>/seed_<s>/<budget>/[<key>=<value>/]<reward>/step_<k>/<bench>_<s>shot[_passk].summary.json``."""
    name = p.name
    passk = "_passk." in name
    stem = name.split(".")[0].replace("_passk", "")
    bench, shots = stem.rsplit("_", 1)
    return {
        **_parse_checkpoint_dir(p.parent),
        "bench": bench,
        "shots": int(shots.removesuffix("shot")),
        "passk": passk,
    }


def _parse_run_dir(d: Path) -> dict:
    """model, seed (int), budget, variant (its label: ``reference`` or ``<key>=<value>``) and reward of a run directory
    ``<model>/seed_<s>/<budget>/[<key>=<value>/]<reward>`` (a GRPO run, or an evaluation's checkpoint parent; the
    ``<key>=<value>`` segment is :func:`rlscaling.study.variant_segment`, and no budget contains ``=``)."""
    segment = f"{d.parent.name}/" if "=" in d.parent.name else rs.REFERENCE
    budget_dir = d.parents[1] if segment else d.parent
    return {
        "model": budget_dir.parents[1].name,
        "seed": int(budget_dir.parent.name.removeprefix("seed_")),
        "budget": budget_dir.name,
        "variant": rs.variant_label(segment),
        "reward": d.name,
    }


def _parse_checkpoint_dir(d: Path) -> dict:
    """model, seed (int), budget, variant, reward, step of an evaluation directory
    ``<model>/seed_<s>/<budget>/[<key>=<value>/]<reward>/step_<k>`` (5 components for a reference run or a base
    model, 6 for a sweep variant's run: :data:`rlscaling.study.CHECKPOINT`)."""
    return {**_parse_run_dir(d.parent), "step": int(d.name.removeprefix("step_"))}


def base_compute(cfg: dict, model: str, budget: str, base_dir: Path) -> dict:
    """n_params (non-embedding N), head_params (H), pretrain_tokens and c_pretrain = 6·(N + H)·D (FLOPs) of one base
    model (:mod:`rlscaling.compute`). N, H and D come from the base model's ``pretrain.json``
    (:func:`rlscaling.models.hub.model_size`); without one, N is ``models.<model>.n_params``, D the budget and H counted
    from the model's config.json."""
    spec = cfg["models"][model]
    info_path = base_dir / "pretrain.json"
    if info_path.exists():
        size = model_size(base_dir)
        n_params, head = size["n_params_non_embedding"], size["head_params"]
        tokens = float(read_json(info_path).get("tokens_trained", rs.budgets(cfg, model)[budget]))
    elif "n_params" in spec:
        n_params, tokens = float(spec["n_params"]), rs.budgets(cfg, model)[budget]
        head = float(head_params_from_config(resolve_model_path(base_dir)))
    else:
        raise FileNotFoundError(f"{info_path} is missing and models.{model}.n_params is not set")
    return {
        "n_params": n_params,
        "head_params": head,
        "pretrain_tokens": tokens,
        "c_pretrain": pretrain_flops(n_params, tokens, head_params=head),
    }


def rl_compute(base: dict, grpo_dir: Path) -> dict[int, float]:
    """Cumulative C_rl (FLOPs) at every RL step of one GRPO run (step 0: 0 FLOPs); ``base`` is the run's base model
    (:func:`base_compute`: N and H)."""
    c_rl = {0: 0.0}
    with open(grpo_dir / "tokens.csv", encoding="utf-8") as fh:
        steps = list(csv.DictReader(fh))
    run = read_json(grpo_dir / "run.json")
    if "passes" not in run:
        raise ValueError(
            f"{grpo_dir / 'run.json'}: no 'passes' record (which forward passes each GRPO step "
            "performs); C_rl cannot be counted without it"
        )
    passes = GRPOPasses.from_mapping(run["passes"])
    c_rl.update(dict(cumulative_rl_flops(base["n_params"], steps, passes, head_params=base["head_params"])))
    return c_rl


def passk_scorer(pk: dict, scorers: list[str]) -> str:
    """The scorer behind pass@k rows: ``evaluate.pass_at_k.scorer`` or, by default, custom_flexible / the first."""
    want = pk.get("scorer") or ("custom_flexible" if "custom_flexible" in scorers else scorers[0])
    if want not in scorers:
        raise ValueError(f"evaluate.pass_at_k.scorer '{want}' is not among the benchmark's scorers {scorers}")
    return want


class _Tables:
    """Rows of ``summary.csv`` and ``records.parquet`` as they are collected (one study, one bootstrap setting).

    ``bases`` maps (model, seed, budget) to :func:`base_compute`, ``c_rl`` maps (model, seed, budget, variant, reward)
    to :func:`rl_compute`. Every per-seed row keeps its item scores so that :meth:`add_seed_means` can average seeds."""

    def __init__(self, cfg: dict, bases: dict, c_rl: dict, n_boot: int):
        self.cfg, self.bases, self.c_rl, self.n_boot = cfg, bases, c_rl, n_boot
        self.seed = int(cfg.get("seed", 0))
        self.ci = float((cfg.get("fit") or {}).get("ci", 0.95))
        self.rows: list[dict] = []
        self.recs: list[dict] = []
        self.items: dict[tuple, dict[int, tuple[list, list, list]]] = {}  # row key -> seed -> (ids, num, den)

    def meta(self, ck: dict) -> dict:
        """The summary columns that identify one checkpoint ``ck`` (model, seed, budget, variant, reward, step)."""
        base = self.bases[(ck["model"], ck["seed"], ck["budget"])]
        if ck["reward"] == rs.BASE:
            c_rl = {0: 0.0}
        else:
            c_rl = self.c_rl[(ck["model"], ck["seed"], ck["budget"], ck["variant"], ck["reward"])]
        if ck["step"] not in c_rl:
            raise KeyError(f"RL step {ck['step']} of {ck} is not in its tokens.csv")
        return {
            "study": self.cfg["study"],
            "model": ck["model"],
            **base,
            "rl_step": ck["step"],
            "c_rl": c_rl[ck["step"]],
            "seed": str(ck["seed"]),
            "reward_mode": ck["reward"],
            "n_seeds": 1,
            "budget": ck["budget"],
            "variant": ck["variant"],
        }

    def add(self, meta: dict, key: dict, subset: str, scorer: str, scores: list[tuple], den=None) -> None:
        """One per-seed summary row (the mean, or sum(num)/sum(den), of the ``(item id, score)`` pairs, with its item
        bootstrap CI), its per-item records, and its items kept for the seed means."""
        ids, num = [i for i, _ in scores], [v for _, v in scores]
        if den is None:
            est, lo, hi = bootstrap_mean_ci(num, self.n_boot, self.ci, self.seed)
        else:
            est, lo, hi = bootstrap_ratio_ci(num, den, self.n_boot, self.ci, self.seed)
        row = {**meta, **key, "subset": subset, "scorer": scorer, "n_items": len(scores)}
        self.rows.append({**row, "accuracy": est, "ci_low": lo, "ci_high": hi})
        group = tuple(row[c] for c in _SEED_GROUP)
        self.items.setdefault(group, {})[int(meta["seed"])] = (ids, num, den or [1.0] * len(num))
        if den is None:
            self.recs += [{**_record_key(row), "item_id": i, "score": v} for i, v in zip(ids, num)]

    def add_eval(self, summary_path: Path) -> None:
        """The rows of one evaluation file pair (``.summary.json`` + ``.records.jsonl``)."""
        ck = _parse_eval_path(summary_path)
        summ = read_json(summary_path)
        records = read_jsonl(summary_path.with_name(summary_path.name.replace(".summary.json", ".records.jsonl")))
        meta = self.meta(ck)
        key = {"benchmark": ck["bench"], "shots": ck["shots"]}
        if ck["passk"]:
            self._add_passk(meta, key, summ, records)
        else:
            self._add_greedy(meta, key, summ, records)

    def _add_passk(self, meta: dict, key: dict, summ: dict, records: list[dict]) -> None:
        pk = self.cfg["evaluate"]["pass_at_k"]
        scorer = passk_scorer(pk, summ["scorers"])
        for k, per_item in passk_item_scores(records, scorer, [int(k) for k in pk["k"]]).items():
            self.add(meta, key, "all", f"pass@{k}", list(per_item.items()))
        n_samples = summ.get("num_samples") or int(pk["n"])
        self.add(meta, key, "all", f"maj@{n_samples}", list(majority_item_scores(records, scorer).items()))

    def _add_greedy(self, meta: dict, key: dict, summ: dict, records: list[dict]) -> None:
        greedy = [r for r in records if r.get("sample", 0) == 0]
        subsets = {"all": greedy}
        strata = {str(r.get("subject") or "unknown") for r in greedy}
        if summ.get("kind") == "math" or len(strata) > 1:
            for r in greedy:
                subsets.setdefault(str(r.get("subject") or "unknown"), []).append(r)
        for scorer in summ["scorers"]:
            for subset, items in subsets.items():
                self.add(meta, key, subset, scorer, [(r["id"], float(r["score"][scorer])) for r in items])
        if summ.get("kind") == "gsm8k":
            cont = [(r["id"], float(continues_past_answer(r["response"]))) for r in greedy]
            self.add(meta, key, "all", CONTINUES, cont)

    def add_val_loss(self, path: Path) -> None:
        """The validation-loss row (nats/token, CI over documents) of one ``val_loss.json``."""
        docs = read_json(path)["documents"]
        meta = self.meta(_parse_checkpoint_dir(path.parent))
        scores = [(str(i), d["nll_sum"]) for i, d in enumerate(docs)]
        self.add(meta, {"benchmark": "val_loss", "shots": 0}, "all", "loss", scores, [d["n_tokens"] for d in docs])

    def add_seed_means(self) -> None:
        """One ``seed == "mean"`` row per group of per-seed rows (and the per-item seed-mean records), with the
        seeds-then-items bootstrap CI of :func:`bootstrap_seed_item_ci`."""
        template = {tuple(r[c] for c in _SEED_GROUP): r for r in self.rows}
        for group, per_seed in self.items.items():
            common = sorted(set.intersection(*(set(ids) for ids, _, _ in per_seed.values())))
            num, den = _aligned(per_seed, common)
            est, lo, hi = bootstrap_seed_item_ci(num, den, self.n_boot, self.ci, self.seed)
            row = {**template[group], "seed": SEED_MEAN, "n_seeds": len(per_seed), "n_items": len(common)}
            self.rows.append({**row, "accuracy": est, "ci_low": lo, "ci_high": hi})
            if row["scorer"] != "loss":
                means = num.mean(axis=0)
                self.recs += [{**_record_key(row), "item_id": i, "score": float(v)} for i, v in zip(common, means)]


# the columns that identify a row apart from its seed (what the seed mean averages over: never across variants)
_SEED_GROUP = ("model", "budget", "reward_mode", "variant", "rl_step", "benchmark", "subset", "shots", "scorer")


def _record_key(row: dict) -> dict:
    return {c: row[c] for c in RECORD_COLUMNS if c not in ("item_id", "score")}


def _aligned(per_seed: dict, ids: list) -> tuple[np.ndarray, np.ndarray]:
    """(num, den) as seeds x items arrays over the items ``ids`` every seed scored."""
    num, den = [], []
    for _, (seed_ids, n, d) in sorted(per_seed.items()):
        pos = {i: k for k, i in enumerate(seed_ids)}
        num.append([n[pos[i]] for i in ids])
        den.append([d[pos[i]] for i in ids])
    return np.asarray(num, dtype=float), np.asarray(den, dtype=float)


def aggregate_study(
    cfg: dict, eval_summaries, val_loss_files, grpo_dirs, base_dirs, summary_path, records_path, n_boot: int = 1000
) -> pd.DataFrame:
    """Build and atomically write ``summary.csv`` and ``records.parquet``; returns the summary frame.

    ``base_dirs`` are ``.../models/<model>/seed_<s>/<budget>/base``, ``grpo_dirs`` ``.../grpo/<model>/seed_<s>/
    <budget>/[<key>=<value>/]<reward>`` (reference runs and sweep variants); per-seed rows first, then the seed
    means. Each row's ``variant`` is its run's (``reference`` for the base models and the reference runs)."""
    bases = {}
    for base in map(Path, base_dirs):
        model, seed, budget = base.parents[2].name, int(base.parents[1].name.removeprefix("seed_")), base.parent.name
        bases[(model, seed, budget)] = base_compute(cfg, model, budget, base)
    c_rl = {}
    for grpo in map(Path, grpo_dirs):
        run = _parse_run_dir(grpo)
        key = (run["model"], run["seed"], run["budget"], run["variant"], run["reward"])
        c_rl[key] = rl_compute(bases[key[:3]], grpo)
    tables = _Tables(cfg, bases, c_rl, n_boot)
    for path in map(Path, eval_summaries):
        tables.add_eval(path)
    for path in map(Path, val_loss_files):
        tables.add_val_loss(path)
    if not tables.rows:
        raise ValueError("no evaluation results to aggregate")
    tables.add_seed_means()
    summary = pd.DataFrame(tables.rows, columns=SUMMARY_COLUMNS)
    summary = summary.sort_values(SUMMARY_SORT, kind="stable").reset_index(drop=True)
    bad = summary["accuracy"].map(lambda x: x is None or (isinstance(x, float) and math.isnan(x)))
    if bad.any():
        raise ValueError(f"NaN accuracy in {int(bad.sum())} summary rows, e.g. {summary[bad].iloc[0].to_dict()}")
    write_csv(summary_path, summary)
    records = pd.DataFrame(tables.recs, columns=RECORD_COLUMNS)
    with atomic_path(records_path) as tmp:
        records.to_parquet(tmp, index=False)
    return summary
