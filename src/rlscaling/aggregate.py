"""Per-item evaluation records -> the study's tidy tables ``summary.csv`` and ``records.parquet``.

Their columns and units are defined once, in :mod:`rlscaling.schemas`. ``ci_low``/``ci_high`` are the percentile
bootstrap interval over items (documents for the loss) at the config's ``fit.ci`` level and ``seed``;
``records.parquet`` lets fits and gain CIs bootstrap over items without touching the JSONL files.
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
from .schemas import RECORD_COLUMNS, SUMMARY_COLUMNS, SUMMARY_SORT

log = logging.getLogger(__name__)


def _parse_eval_path(p: Path) -> dict:
    """model, budget, step, bench, shots, passk from ``.../eval/<model>/<budget>/step_<k>/<bench>_<s>shot[...]``."""
    name = p.name
    passk = "_passk." in name
    stem = name.split(".")[0].replace("_passk", "")
    bench, shots = stem.rsplit("_", 1)
    return {
        "model": p.parents[2].name,
        "budget": p.parents[1].name,
        "step": int(p.parent.name.split("_", 1)[1]),
        "bench": bench,
        "shots": int(shots.removesuffix("shot")),
        "passk": passk,
    }


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
            raise ValueError(
                f"{grpo_dir / 'run.json'}: no 'passes' record (which forward passes each GRPO step "
                "performs); C_rl cannot be counted without it"
            )
        passes = GRPOPasses.from_mapping(run["passes"])
        c_rl.update(dict(cumulative_rl_flops(n_params, steps, passes)))
    return {
        "n_params": n_params,
        "pretrain_tokens": tokens,
        "c_pretrain": pretrain_flops(n_params, tokens),
        "c_rl": c_rl,
    }


def passk_scorer(pk: dict, scorers: list[str]) -> str:
    """The scorer behind pass@k rows: ``evaluate.pass_at_k.scorer`` or, by default, custom_flexible / the first."""
    want = pk.get("scorer") or ("custom_flexible" if "custom_flexible" in scorers else scorers[0])
    if want not in scorers:
        raise ValueError(f"evaluate.pass_at_k.scorer '{want}' is not among the benchmark's scorers {scorers}")
    return want


class _Tables:
    """Rows of ``summary.csv`` and ``records.parquet`` as they are collected (one study, one bootstrap setting)."""

    def __init__(self, cfg: dict, compute: dict[tuple[str, str], dict], n_boot: int):
        self.cfg, self.compute, self.n_boot = cfg, compute, n_boot
        self.seed = int(cfg.get("seed", 0))
        self.ci = float((cfg.get("fit") or {}).get("ci", 0.95))
        self.rows: list[dict] = []
        self.recs: list[dict] = []

    def cell_meta(self, model: str, budget: str, step: int) -> dict:
        """The summary columns that identify one checkpoint (sizes, tokens, FLOPs)."""
        c = self.compute[(model, budget)]
        if step not in c["c_rl"]:
            raise KeyError(f"RL step {step} of {model}/{budget} is not in its tokens.csv")
        return {
            "study": self.cfg["study"],
            "model": model,
            "n_params": c["n_params"],
            "pretrain_tokens": c["pretrain_tokens"],
            "c_pretrain": c["c_pretrain"],
            "rl_step": step,
            "c_rl": c["c_rl"][step],
        }

    def add(self, meta: dict, key: dict, subset: str, scorer: str, scores: list[tuple]) -> None:
        """One summary row (mean and bootstrap CI of the ``(item id, score)`` pairs) and its per-item records."""
        mean, lo, hi = bootstrap_mean_ci([v for _, v in scores], self.n_boot, self.ci, self.seed)
        self.rows.append(
            {
                **meta,
                "benchmark": key["benchmark"],
                "subset": subset,
                "shots": key["shots"],
                "scorer": scorer,
                "n_items": len(scores),
                "accuracy": mean,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
        self.recs += [{**key, "subset": subset, "scorer": scorer, "item_id": i, "score": v} for i, v in scores]

    def add_eval(self, summary_path: Path) -> None:
        """The rows of one evaluation file pair (``.summary.json`` + ``.records.jsonl``)."""
        meta = _parse_eval_path(summary_path)
        summ = read_json(summary_path)
        records = read_jsonl(summary_path.with_name(summary_path.name.replace(".summary.json", ".records.jsonl")))
        base = self.cell_meta(meta["model"], meta["budget"], meta["step"])
        key = {
            "model": meta["model"],
            "budget": meta["budget"],
            "pretrain_tokens": base["pretrain_tokens"],
            "rl_step": meta["step"],
            "benchmark": meta["bench"],
            "shots": meta["shots"],
        }
        if meta["passk"]:
            self._add_passk(base, key, summ, records)
        else:
            self._add_greedy(base, key, summ, records)

    def _add_passk(self, base: dict, key: dict, summ: dict, records: list[dict]) -> None:
        pk = self.cfg["evaluate"]["pass_at_k"]
        scorer = passk_scorer(pk, summ["scorers"])
        for k, per_item in passk_item_scores(records, scorer, [int(k) for k in pk["k"]]).items():
            self.add(base, key, "all", f"pass@{k}", list(per_item.items()))
        n_samples = summ.get("num_samples") or int(pk["n"])
        self.add(base, key, "all", f"maj@{n_samples}", list(majority_item_scores(records, scorer).items()))

    def _add_greedy(self, base: dict, key: dict, summ: dict, records: list[dict]) -> None:
        greedy = [r for r in records if r.get("sample", 0) == 0]
        subsets = {"all": greedy}
        if summ.get("kind") == "math":
            for r in greedy:
                subsets.setdefault(str(r.get("subject") or "unknown"), []).append(r)
        for scorer in summ["scorers"]:
            for subset, items in subsets.items():
                self.add(base, key, subset, scorer, [(r["id"], float(r["score"][scorer])) for r in items])

    def add_val_loss(self, path: Path) -> None:
        """The validation-loss row (nats/token, CI over documents) of one ``val_loss.json``."""
        model, budget, step = path.parents[2].name, path.parents[1].name, int(path.parent.name.split("_", 1)[1])
        docs = read_json(path)["documents"]
        est, lo, hi = bootstrap_ratio_ci(
            [d["nll_sum"] for d in docs], [d["n_tokens"] for d in docs], self.n_boot, self.ci, self.seed
        )
        self.rows.append(
            {
                **self.cell_meta(model, budget, step),
                "benchmark": "val_loss",
                "subset": "all",
                "shots": 0,
                "scorer": "loss",
                "n_items": len(docs),
                "accuracy": est,
                "ci_low": lo,
                "ci_high": hi,
            }
        )


def aggregate_study(
    cfg: dict, eval_summaries, val_loss_files, grpo_dirs, base_dirs, summary_path, records_path, n_boot: int = 1000
) -> pd.DataFrame:
    """Build and atomically write ``summary.csv`` and ``records.parquet``; returns the summary frame."""
    compute: dict[tuple[str, str], dict] = {}
    for base, grpo in zip(base_dirs, grpo_dirs):
        base, grpo = Path(base), Path(grpo)
        model, budget = base.parents[1].name, base.parent.name
        compute[(model, budget)] = cell_compute(cfg, model, budget, base, grpo)
    tables = _Tables(cfg, compute, n_boot)
    for path in map(Path, eval_summaries):
        tables.add_eval(path)
    for path in map(Path, val_loss_files):
        tables.add_val_loss(path)
    if not tables.rows:
        raise ValueError("no evaluation results to aggregate")
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
