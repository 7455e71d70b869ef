"""Every fit of one study for ``fits.json``: gain laws, RL sigmoids, Tan et al., the joint law and its choice,
and the extrapolation check. Units: N parameters (gain law: billions), D tokens, C FLOPs, accuracy fraction,
gains percentage points.

Confidence intervals are percentile bootstrap intervals: evaluation items are resampled from the per-item
records when available (accuracies recomputed, every form refitted), otherwise the fitted points are resampled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rlscaling.analysis.gains import gain_draws
from rlscaling.compute import head_params_from_summary

from .choose import SELECTION_RULE, choose_form, select_law, within_noise
from .common import FitError, percentile_ci
from .common import public as _public
from .common import status_failed as _status_failed
from .config import FitConfig
from .crossval import BASELINE, cross_validate
from .identify import identifiability
from .laws import JointForm, StudyPoints, get_form
from .power import fit_power_law
from .selection import (
    gains_table,
    item_bootstrap_accuracies,
    require_columns,
    select_rows,
)
from .sigmoid import fit_rl_sigmoid
from .tan import fit_tan_law
from .validate import check_records, check_summary


def _columns(draws: np.ndarray | None, idx) -> np.ndarray | None:
    """The bootstrap accuracy replicates of the rows ``idx`` (None without item draws)."""
    return None if draws is None else draws[:, idx]


def _per_group(rows: pd.DataFrame, keys, sort: bool, entry_of, fit_into) -> list[dict]:
    """One ``fits.json`` entry per group of ``rows``: ``entry_of(key, group)`` starts it (what the group is, units),
    ``fit_into(entry, group, draws_columns)`` adds the fit; a ``FitError`` becomes ``status: failed`` and the reason
    (anything ``fit_into`` stored before failing is kept)."""
    out = []
    for key, g in rows.groupby(keys, sort=sort):
        entry = entry_of(key, g)
        try:
            fit_into(entry, g, g.index.to_numpy())
        except FitError as exc:
            entry.update(_status_failed(exc))
        out.append(entry)
    return out


def _per_budget(rows: pd.DataFrame, units: dict, fit_into) -> list[dict]:
    """:func:`_per_group` over pre-training budgets (ascending); each entry starts ``{pretrain_tokens, units}``."""
    return _per_group(
        rows,
        "pretrain_tokens",
        True,
        lambda tokens, g: {"pretrain_tokens": float(tokens), "units": dict(units)},
        fit_into,
    )


def _with_rl(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the (model, budget) cells that have RL checkpoints (index kept: it addresses the item draws)."""
    has_rl = rows.groupby(["model", "pretrain_tokens"])["rl_step"].transform("max") > 0
    return rows[has_rl]


def _fit_gain_laws(rows, draws, cfg) -> list[dict]:
    def fit_into(entry, g, idx):
        table = gains_table(g.reset_index(drop=True))
        gd = None
        points = table.drop(columns=["base_row", "final_row"]).to_dict("records")
        if draws is not None:
            gd = gain_draws(draws[:, idx], table["base_row"], table["final_row"])
            for point, low, high in zip(points, *percentile_ci(gd, cfg.ci)):
                point.update(gain_ci_low=float(low), gain_ci_high=float(high))  # paired: same item draws
        entry["points"] = points  # kept when the law cannot be fitted (e.g. a non-positive gain)
        fit = fit_power_law(
            table["n_params"] / 1e9, table["gain_pp"], y_draws=gd, bootstrap=cfg.bootstrap, seed=cfg.seed, ci=cfg.ci
        )
        entry.update(status="ok", **_public(fit), bootstrap_params=fit["draws"])

    return _per_budget(rows, {"N": "billion parameters", "gain": "percentage points"}, fit_into)


def _fit_sigmoids(rows, draws, cfg) -> list[dict]:
    def fit_into(entry, g, idx):
        fit = fit_rl_sigmoid(g["c_rl"], g["accuracy"], cfg.resampling(_columns(draws, idx)))
        entry.update(status="ok", **_public(fit))

    return _per_group(
        rows,
        ["model", "pretrain_tokens"],
        False,
        lambda key, g: {
            "model": key[0],
            "pretrain_tokens": float(key[1]),
            "n_params": float(g["n_params"].iloc[0]),
            "units": {"C": "FLOPs", "R": "accuracy fraction"},
        },
        fit_into,
    )


def _fit_tan(rows, draws, cfg) -> list[dict]:
    def fit_into(entry, g, idx):
        fit = fit_tan_law(
            g["n_params"], g["c_rl"], g["accuracy"], cfg.resampling(_columns(draws, idx)), error_floor=cfg.error_floor
        )
        entry.update(status="ok", **_public(fit))

    return _per_budget(rows, {"N": "parameters", "C": "FLOPs", "error": "1 - accuracy"}, fit_into)


def _fit_forms(pts: StudyPoints, cfg: FitConfig) -> tuple[dict, dict]:
    """Point fit and cross-validation of every configured form; returns (entries, cv of the eligible forms)."""
    kw = {"delta": cfg.huber_delta, "error_floor": cfg.error_floor}
    forms, eligible = {}, {}
    for name in cfg.forms:
        form = get_form(name)
        entry = {"formula": form.formula, "separates_size": form.separates_size}
        try:
            fit = form.fit(pts, **kw)
            cv = cross_validate(form, pts, **kw)
            entry.update(status="ok", **_public(fit), cv=cv)
            if any(v["status"] == "ok" for v in cv.values()):
                eligible[name] = cv
        except FitError as exc:
            entry = _status_failed(exc, **entry)
        forms[name] = entry
    return forms, eligible


def _bootstrap_form(entry: dict, form: JointForm, pts: StudyPoints, draws, cfg: FitConfig) -> None:
    if draws is None and cfg.bootstrap <= 0:
        return
    fit = form.fit(pts, delta=cfg.huber_delta, error_floor=cfg.error_floor, resampling=cfg.resampling(draws))
    entry.update(_public(fit), bootstrap_params=fit["draws"])


def _held_out(forms: dict, form: str | None, chosen: str | None) -> dict | None:
    """The held-out predictions of ``form`` (the chosen one, else the best by CV error) for the held-out figure."""
    if form is None:
        return None
    schemes = {
        s: {k: cv[k] for k in ("rmse", "baseline_rmse", "points")}
        for s, cv in forms[form]["cv"].items()
        if cv["status"] == "ok"
    }
    return {"form": form, "chosen": form == chosen, "schemes": schemes, "units": "accuracy fraction"}


def _allocation_form(chosen: str | None, identified: dict) -> tuple[str | None, str | None]:
    """The form the plan uses and a note: the chosen one when it separates N from D, else the best identified
    size/tokens form by the same score, else the chosen one (the pre-training fraction only)."""
    if chosen is None or get_form(chosen).separates_size:
        return chosen, None
    sized = {f: v for f, v in identified.items() if get_form(f).separates_size}
    alloc = choose_form(sized)[0] if sized else None
    if alloc:
        return alloc, (
            f"chosen form {chosen!r} sees only C_pretrain; N and D come from the best size/tokens form {alloc!r}"
        )
    return chosen, (
        f"chosen form {chosen!r} sees only C_pretrain and no size/tokens form is identified: the allocation gives the "
        "pre-training fraction only"
    )


def head_params(rows: pd.DataFrame) -> list[list[float]]:
    """``fits.json``'s ``joint_law.head_params``: ``[[N, H], ...]`` (parameters, ascending N) of the fitted models'
    output heads, recovered from the rows' ``c_pretrain = 6 (N + H) D`` FLOPs
    (:func:`rlscaling.compute.head_params_from_summary`); empty when the compute was counted without a head. The
    allocation converts FLOPs to tokens with the same H (:attr:`rlscaling.fit.allocate.JointLaw.heads`)."""
    return [[n, h] for n, h in sorted(head_params_from_summary(rows).items())]


def _fit_joint(rows: pd.DataFrame, draws, cfg: FitConfig) -> dict:
    """Every joint form, its identifiability, the choice against the no-law baseline (:mod:`.choose`), and the form
    used for the N/D/C_rl allocation.

    The allocation form is the chosen one when it separates N from D, else the best identified size/tokens form by
    the same score (``allocation_note`` says so); both get bootstrap CIs. With no identified form ``chosen`` and
    ``allocation_form`` are None and ``no_law_reason`` says why.
    """
    pts = StudyPoints.from_rows(rows)
    forms, eligible = _fit_forms(pts, cfg)
    sel = select_law(eligible, cfg.ci, cfg.seed)
    chosen = sel["chosen"]
    identified = {f: eligible[f] for f, v in sel["identification"].items() if v["identified"]}
    alloc, note = _allocation_form(chosen, identified)
    # the plan's spread: forms the data cannot tell apart from the form the plan uses (not from the chosen one,
    # when the chosen form sees only C_pretrain and another form gives N and D)
    near_alloc = (
        sel["within_noise"]
        if alloc is None or alloc == chosen
        else within_noise(identified, alloc, sel["choice"]["schemes"], cfg.ci, cfg.seed)
    )
    for name in dict.fromkeys(f for f in (chosen, alloc) if f is not None):
        _bootstrap_form(forms[name], get_form(name), pts, draws, cfg)
    for name, entry in forms.items():
        entry["identifiability"] = identifiability(entry, get_form(name), len(pts.y), sel["identification"].get(name))
    held_out = _held_out(forms, chosen or sel["best"], chosen)
    for entry in forms.values():
        for cv in (entry.get("cv") or {}).values():
            cv.pop("points", None)
    return {
        "identified": chosen is not None,
        "no_law_reason": sel["no_law_reason"],
        "forms": forms,
        "chosen": chosen,
        "best": sel["best"],
        "within_noise": sel["within_noise"],
        "allocation_form": alloc,
        "allocation_within_noise": near_alloc,
        "allocation_note": note,
        "choice": sel["choice"],
        "baseline": BASELINE,
        "selection_rule": SELECTION_RULE,
        "held_out": held_out,
        "fitted_range": pts.fitted_range(),
        "head_params": head_params(rows),
        "units": {"N": "parameters", "D": "tokens", "C": "FLOPs", "err": "1 - accuracy (fraction)"},
    }


def extrapolation_check(rows: pd.DataFrame, draws: np.ndarray | None, cfg: FitConfig, form: str = "additive") -> dict:
    """Fit a joint form without the largest model, predict its points; report error and CI coverage."""
    law = get_form(form)
    largest = rows.loc[rows["n_params"].idxmax(), "model"]
    hold = (rows["model"] == largest).to_numpy()
    pts = StudyPoints.from_rows(rows)
    train, test = pts.subset(~hold), pts.subset(hold)
    fit = law.fit(
        train, delta=cfg.huber_delta, error_floor=cfg.error_floor, resampling=cfg.resampling(_columns(draws, ~hold))
    )
    pred = law.predict_points(fit, test)
    low = high = np.full(len(test.y), np.nan)
    if fit["draws"] is not None:
        ok = fit["draws"][np.all(np.isfinite(fit["draws"]), axis=1)]
        if len(ok):
            low, high = percentile_ci(
                np.stack([law.predict_points(dict(zip(fit["param_names"], d)), test) for d in ok]), cfg.ci
            )
    held = rows[hold]
    points = [
        {
            "pretrain_tokens": float(held["pretrain_tokens"].iloc[i]),
            "rl_step": int(held["rl_step"].iloc[i]),
            "c_pretrain": test.c_pre[i],
            "c_rl": test.c_rl[i],
            "observed": test.y[i],
            "predicted": float(pred[i]),
            "pred_ci_low": float(low[i]),
            "pred_ci_high": float(high[i]),
            "inside_ci": bool(low[i] <= test.y[i] <= high[i]),
        }
        for i in range(len(test.y))
    ]
    resid = pred - test.y
    return {
        "held_out_model": str(largest),
        "form": form,
        "n_params": float(test.n[0]),
        "points": points,
        "mae": float(np.mean(np.abs(resid))),
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "coverage": float(np.mean([p["inside_ci"] for p in points])),
        "units": "accuracy fraction",
    }


def fit_summary(
    summary_df: pd.DataFrame,
    records_df: pd.DataFrame | None = None,
    config: Mapping[str, Any] | FitConfig | None = None,
) -> dict:
    """Every fit for ``fits.json``: gain law, RL sigmoids, Tan et al., joint laws + choice, extrapolation.

    Bootstrap: item resampling from ``records_df`` when given, otherwise point resampling. A form that
    cannot be fitted is recorded with ``status: failed`` and the ``reason``; a missing selection or a
    malformed summary (a bad value: FitInputError naming the row and column) raises.
    """
    cfg = config if isinstance(config, FitConfig) else FitConfig.from_mapping(config)
    rows = select_rows(check_summary(summary_df, cfg), cfg)
    draws = None
    if records_df is not None and cfg.bootstrap > 0:
        draws = item_bootstrap_accuracies(rows, check_records(records_df, cfg), cfg, cfg.bootstrap, cfg.seed)
    result: dict[str, Any] = {
        "selection": {"benchmark": cfg.benchmark, "scorer": cfg.scorer, "shots": int(cfg.shots), "subset": cfg.subset},
        "bootstrap": {
            "n": cfg.bootstrap,
            "ci": cfg.ci,
            "seed": cfg.seed,
            "resampling": "items" if draws is not None else "points",
        },
        "n_points": len(rows),
        "models": rows.groupby("model", sort=False)["n_params"].first().astype(float).to_dict(),
        "allocation_budgets": list(cfg.budgets),
    }
    rl_rows = _with_rl(rows)  # the RL laws describe RL curves: base-only budgets are the pre-training axis
    result["gain_power_law"] = _fit_gain_laws(rl_rows, draws, cfg)
    result["rl_sigmoid"] = _fit_sigmoids(rl_rows, draws, cfg)
    result["tan2025"] = _fit_tan(rl_rows, draws, cfg)
    result["joint_law"] = _fit_joint(rows, draws, cfg)
    chosen = result["joint_law"]["chosen"]
    try:
        if chosen is None:
            raise FitError(f"no joint form was chosen ({result['joint_law']['choice']['reason']})")
        if rows["model"].nunique() < 3:
            raise FitError("extrapolation check needs >= 3 model sizes (2 to fit, 1 to predict)")
        result["extrapolation"] = {"status": "ok", **extrapolation_check(rows, draws, cfg, chosen)}
    except FitError as exc:
        result["extrapolation"] = _status_failed(exc)
    return result


def fit_seed_gains(
    table: pd.DataFrame,
    *,
    benchmark: str = "gsm8k",
    size_column: str = "n_params_nonembedding_b",
    bootstrap: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> dict:
    """Gain power law on a published gain table (N in billions, gain in percentage points).

    ``table`` has columns ``benchmark``, ``size_column`` and ``gain_pp`` (rows with a missing gain are
    dropped and listed). No per-item data exist, so CIs come from resampling the table's points.
    """
    require_columns(table, ("benchmark", size_column, "gain_pp"), "seed table")
    rows = table[table["benchmark"] == benchmark]
    if rows.empty:
        raise FitError(f"seed table: no rows for benchmark {benchmark!r}")
    dropped = rows.loc[rows["gain_pp"].isna(), size_column].tolist()
    rows = rows.dropna(subset=["gain_pp"])
    fit = fit_power_law(rows[size_column], rows["gain_pp"], bootstrap=bootstrap, seed=seed, ci=ci)
    points = [{"n_params_b": float(n), "gain_pp": float(g)} for n, g in zip(rows[size_column], rows["gain_pp"])]
    return {
        "benchmark": benchmark,
        "size_column": size_column,
        "dropped_sizes_missing_gain": dropped,
        "units": {"N": "billion parameters", "gain": "percentage points"},
        "resampling": "points",
        **_public(fit),
        "points": points,
        "bootstrap_params": fit["draws"],
    }


# --------------------------------------------------------------------------------------------------
