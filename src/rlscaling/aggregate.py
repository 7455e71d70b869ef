"""Per-item evaluation records -> the study's tidy tables.

``summary.csv`` has exactly the columns in ``SUMMARY_COLUMNS`` (other tools read it; keep them stable): one row per
model x pre-training budget x RL step x benchmark x subset x shots x scorer. ``accuracy`` is a fraction in [0, 1]
(for ``scorer == "loss"`` it is the validation loss in nats/token), ``c_pretrain`` and ``c_rl`` are FLOPs, and
``ci_low``/``ci_high`` are the 95% percentile bootstrap interval over items (documents for the loss).

``records.parquet`` holds one row per item and scorer (``model, budget, pretrain_tokens, rl_step, benchmark, subset,
shots, scorer, item_id, score``) so that fits can bootstrap over items without touching the JSONL files.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import pandas as pd

from . import config as rc
from .compute import GRPOPasses, cumulative_rl_flops, pretrain_flops
from .evaluation.run import majority_item_scores, passk_item_scores
from .io import atomic_path, read_json, read_jsonl, write_csv
from .metrics import bootstrap_mean_ci, bootstrap_ratio_ci

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["study", "model", "n_params", "pretrain_tokens", "c_pretrain", "rl_step", "c_rl", "benchmark",
                   "subset", "shots", "scorer", "n_items", "accuracy", "ci_low", "ci_high"]
RECORD_COLUMNS = ["model", "budget", "pretrain_tokens", "rl_step", "benchmark", "subset", "shots", "scorer",
                  "item_id", "score"]


def _parse_eval_path(p: Path) -> dict:
    """model, budget, step, bench, shots, passk from ``.../eval/<model>/<budget>/step_<k>/<bench>_<s>shot[...]``."""
    name = p.name
    passk = "_passk." in name
    stem = name.split(".")[0].replace("_passk", "")
    bench, shots = stem.rsplit("_", 1)
    return {"model": p.parents[2].name, "budget": p.parents[1].name, "step": int(p.parent.name.split("_", 1)[1]),
            "bench": bench, "shots": int(shots.removesuffix("shot")), "passk": passk}


def cell_compute(cfg: dict, model: str, budget: str, base_dir: Path, grpo_dir: Path) -> dict:
    """n_params (non-embedding), pretrain_tokens, c_pretrain (FLOPs) and cumulative c_rl per RL step (FLOPs)."""
    spec = cfg["models"][model]
    info_path = base_dir / "pretrain.json"
    if info_path.exists():
        info = read_json(info_path)
        n_params = float(info["n_params_non_embedding"])
        tokens = float(info.get("tokens_trained", rc.budgets(cfg, model)[budget]))
    elif "n_params" in spec:
        n_params, tokens = float(spec["n_params"]), rc.budgets(cfg, model)[budget]
    else:
        raise FileNotFoundError(f"{info_path} is missing and models.{model}.n_params is not set")
    c_rl = {0: 0.0}
    tokens_csv = grpo_dir / "tokens.csv"
    if tokens_csv.exists():
        with open(tokens_csv, encoding="utf-8") as fh:
            steps = list(csv.DictReader(fh))
        run = read_json(grpo_dir / "run.json")
        if "passes" not in run:
            raise ValueError(f"{grpo_dir / 'run.json'}: no 'passes' record (which forward passes each GRPO step "
                             "performs); C_rl cannot be counted without it")
        passes = GRPOPasses.from_mapping(run["passes"])
        c_rl.update(dict(cumulative_rl_flops(n_params, steps, passes)))
    return {"n_params": n_params, "pretrain_tokens": tokens, "c_pretrain": pretrain_flops(n_params, tokens),
            "c_rl": c_rl}


def passk_scorer(pk: dict, scorers: list[str]) -> str:
    """The scorer behind pass@k rows: ``evaluate.pass_at_k.scorer`` or, by default, custom_flexible / the first."""
    want = pk.get("scorer") or ("custom_flexible" if "custom_flexible" in scorers else scorers[0])
    if want not in scorers:
        raise ValueError(f"evaluate.pass_at_k.scorer '{want}' is not among the benchmark's scorers {scorers}")
    return want


def aggregate_study(cfg: dict, eval_summaries, val_loss_files, grpo_dirs, base_dirs, summary_path, records_path,
                    n_boot: int = 1000) -> pd.DataFrame:
    """Build and atomically write ``summary.csv`` and ``records.parquet``; returns the summary frame."""
    seed = int(cfg.get("seed", 0))
    ci = float((cfg.get("fit") or {}).get("ci", 0.95))
    compute: dict[tuple[str, str], dict] = {}
    for base, grpo in zip(base_dirs, grpo_dirs):
        base, grpo = Path(base), Path(grpo)
        model, budget = base.parents[1].name, base.parent.name
        compute[(model, budget)] = cell_compute(cfg, model, budget, base, grpo)

    rows: list[dict] = []
    recs: list[dict] = []

    def cell_meta(model, budget, step):
        c = compute[(model, budget)]
        if step not in c["c_rl"]:
            raise KeyError(f"RL step {step} of {model}/{budget} is not in its tokens.csv")
        return {"study": cfg["study"], "model": model, "n_params": c["n_params"],
                "pretrain_tokens": c["pretrain_tokens"], "c_pretrain": c["c_pretrain"], "rl_step": step,
                "c_rl": c["c_rl"][step]}

    for sp in map(Path, eval_summaries):
        meta = _parse_eval_path(sp)
        summ = read_json(sp)
        records = read_jsonl(sp.with_name(sp.name.replace(".summary.json", ".records.jsonl")))
        base = cell_meta(meta["model"], meta["budget"], meta["step"])
        key = {"model": meta["model"], "budget": meta["budget"], "pretrain_tokens": base["pretrain_tokens"],
               "rl_step": meta["step"], "benchmark": meta["bench"], "shots": meta["shots"]}
        if meta["passk"]:
            pk = cfg["evaluate"]["pass_at_k"]
            scorer = passk_scorer(pk, summ["scorers"])
            ks = [int(k) for k in pk["k"]]
            for k, per_item in passk_item_scores(records, scorer, ks).items():
                vals = list(per_item.values())
                mean, lo, hi = bootstrap_mean_ci(vals, n_boot, ci, seed)
                rows.append({**base, "benchmark": meta["bench"], "subset": "all", "shots": meta["shots"],
                             "scorer": f"pass@{k}", "n_items": len(vals), "accuracy": mean,
                             "ci_low": lo, "ci_high": hi})
                recs += [{**key, "subset": "all", "scorer": f"pass@{k}", "item_id": i, "score": v}
                         for i, v in per_item.items()]
            n_samples = summ.get("num_samples") or int(pk["n"])
            majority = majority_item_scores(records, scorer)
            mean, lo, hi = bootstrap_mean_ci(list(majority.values()), n_boot, ci, seed)
            rows.append({**base, "benchmark": meta["bench"], "subset": "all", "shots": meta["shots"],
                         "scorer": f"maj@{n_samples}", "n_items": len(majority), "accuracy": mean,
                         "ci_low": lo, "ci_high": hi})
            recs += [{**key, "subset": "all", "scorer": f"maj@{n_samples}", "item_id": i, "score": v}
                     for i, v in majority.items()]
            continue
        greedy = [r for r in records if r.get("sample", 0) == 0]
        subsets = {"all": greedy}
        if summ.get("kind") == "math":
            for r in greedy:
                subsets.setdefault(str(r.get("subject") or "unknown"), []).append(r)
        for scorer in summ["scorers"]:
            for subset, items in subsets.items():
                vals = [float(r["score"][scorer]) for r in items]
                mean, lo, hi = bootstrap_mean_ci(vals, n_boot, ci, seed)
                rows.append({**base, "benchmark": meta["bench"], "subset": subset, "shots": meta["shots"],
                             "scorer": scorer, "n_items": len(vals), "accuracy": mean, "ci_low": lo, "ci_high": hi})
                recs += [{**key, "subset": subset, "scorer": scorer, "item_id": r["id"], "score": float(r["score"][scorer])}
                         for r in items]

    for vp in map(Path, val_loss_files):
        model, budget, step = vp.parents[2].name, vp.parents[1].name, int(vp.parent.name.split("_", 1)[1])
        vl = read_json(vp)
        docs = vl["documents"]
        est, lo, hi = bootstrap_ratio_ci([d["nll_sum"] for d in docs], [d["n_tokens"] for d in docs], n_boot, ci, seed)
        rows.append({**cell_meta(model, budget, step), "benchmark": "val_loss", "subset": "all", "shots": 0,
                     "scorer": "loss", "n_items": len(docs), "accuracy": est, "ci_low": lo, "ci_high": hi})

    if not rows:
        raise ValueError("no evaluation results to aggregate")
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    summary = summary.sort_values(["model", "pretrain_tokens", "rl_step", "benchmark", "subset", "shots", "scorer"],
                                  kind="stable").reset_index(drop=True)
    bad = summary["accuracy"].map(lambda x: x is None or (isinstance(x, float) and math.isnan(x)))
    if bad.any():
        raise ValueError(f"NaN accuracy in {int(bad.sum())} summary rows, e.g. {summary[bad].iloc[0].to_dict()}")
    write_csv(summary_path, summary)
    records = pd.DataFrame(recs, columns=RECORD_COLUMNS)
    with atomic_path(records_path) as tmp:
        records.to_parquet(tmp, index=False)
    return summary
