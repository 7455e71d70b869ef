"""``summary.md``'s verdict on the joint law and its identifiability table, from ``fits.json``.

The verdict is the first thing after the title: either the chosen law (which held-out error it beats the no-law
baseline by) or, in bold, that no law was identified and no compute plan was made, with the reason. The
identifiability table gives per form: points vs fitted parameters, the held-out groups of each cross-validation
scheme, the ratio of the form's held-out RMSE to the baseline's (with its one-sided bootstrap limit), the parameters
at a bound, and whether the form is identified; then the chosen form's parameters with honest intervals
(one-sided or unbounded where the data bound them on one side or not at all). Errors are accuracy fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlscaling.report.markdown import md_table, section

SCHEMES = ("loso", "lobo")


def _joint(fits: Mapping[str, Any] | None) -> Mapping:
    return (fits or {}).get("joint_law") or {}


def _level(fits: Mapping[str, Any] | None) -> str:
    return f"{100 * float(((fits or {}).get('bootstrap') or {}).get('ci', 0.95)):g}%"


def section_law_verdict(fits: Mapping[str, Any] | None) -> list[str]:
    """One paragraph a reader cannot miss: the chosen law, or that no law (and no plan) came out of the fit."""
    joint = _joint(fits)
    if not joint.get("forms"):
        return []
    if not joint.get("chosen"):
        reason = joint.get("no_law_reason") or (joint.get("choice") or {}).get("reason") or "no form was identified"
        return [
            "> **No scaling law identified: this study gives no compute plan.** No joint law predicts held-out "
            f"sizes or budgets better than the no-law baseline with bootstrap support: {reason}. `fits/allocation.csv` "
            "and `fits/iso_flop.csv` are header-only and `rlscaling allocate` refuses to plan; the held-out figure "
            "(`fit_heldout`) shows the best form's predictions for reference only.",
            "",
        ]
    entry = joint["forms"][joint["chosen"]]
    versus = [
        f"{s.upper()} {v['versus_baseline']['ratio']:.2f}x"
        for s, v in entry.get("identifiability", {}).get("cv", {}).items()
        if (v.get("versus_baseline") or {}).get("eligible")
    ]
    near = [f for f in joint.get("within_noise") or [] if f != joint["chosen"]]
    return [
        f"**Chosen joint law: `{joint['chosen']}`**: its held-out RMSE is {', '.join(versus)} the no-law baseline's "
        "(supported by a bootstrap over held-out groups)"
        + (
            f"; within noise of it: {', '.join(f'`{f}`' for f in near)} (the plan reports their spread)."
            if near
            else "."
        )
        + (
            f" The plan uses `{joint['allocation_form']}`: {joint['allocation_note']}."
            if joint.get("allocation_note")
            else ""
        )
        + " Identifiability per form: section *Joint law: what the data identify*.",
        "",
    ]


def format_interval(p: Mapping[str, Any]) -> str:
    """A parameter's interval as text: ``[lo, hi]``, ``>= lo`` / ``<= hi`` (one-sided), or why there is none."""
    lo, hi, kind = p.get("ci_low"), p.get("ci_high"), p.get("interval")
    bound = f" (estimate at its {p['at_bound']} bound {p['bound']:.4g})" if p.get("at_bound") else ""
    if kind == "fixed":
        return "fixed (not fitted)"
    if kind == "unbounded":
        return "unbounded: the data do not limit it" + bound
    if lo is not None and hi is not None:
        return f"[{lo:.4g}, {hi:.4g}]"
    if lo is not None:
        return f">= {lo:.4g} (one-sided){bound}"
    if hi is not None:
        return f"<= {hi:.4g} (one-sided){bound}"
    return "no bootstrap" + bound


def _scheme_cell(cv: Mapping | None) -> str:
    if not cv:
        return "–"
    if cv.get("status") != "ok":
        return "did not run"
    return f"{cv['held_out']} of {cv['n_groups']}"


def _versus_cell(ident: Mapping) -> str:
    cells = []
    for scheme in SCHEMES:
        v = (ident.get("cv", {}).get(scheme) or {}).get("versus_baseline") or {}
        if v.get("eligible"):
            mark = "" if v["supported"] else " (not supported)"
            cells.append(f"{scheme.upper()} {v['ratio']:.2f} [<= {v['ratio_upper']:.2f}]{mark}")
    return "; ".join(cells) or "–"


def section_identifiability(fits: Mapping[str, Any] | None) -> list[str]:
    """The identifiability table of every joint form and the chosen form's parameters with their intervals."""
    joint = _joint(fits)
    forms = joint.get("forms") or {}
    if not forms:
        return []
    rows = []
    for name, e in forms.items():
        ident = e.get("identifiability") or {}
        rows.append(
            [
                f"**{name}**" if name == joint.get("chosen") else name,
                f"{ident.get('n_points', '–')} / {ident.get('n_params', '–')}",
                *[_scheme_cell((ident.get("cv") or {}).get(s)) for s in SCHEMES],
                _versus_cell(ident),
                ", ".join(f"{k} ({side})" for k, side in (ident.get("at_bound") or {}).items()) or "–",
                "yes" if ident.get("identified") else f"no: {ident.get('reason') or '–'}"[:160],
            ]
        )
    out = section(
        "## Joint law: what the data identify",
        f"No-law baseline: {joint.get('baseline', '–')}. Ratio = held-out RMSE of the form / of the baseline on the "
        f"same held-out points (below 1: the form predicts better), with its one-sided {_level(fits)} upper limit "
        "over bootstrap resamples of the held-out groups in brackets. Rule: "
        f"{joint.get('selection_rule', '–')}. Held-out predictions: figure `fit_heldout`.",
        md_table(
            [
                "Form",
                "Points / parameters",
                "LOSO groups held out",
                "LOBO groups held out",
                "Held-out RMSE / baseline",
                "At a bound",
                "Identified",
            ],
            rows,
        ),
    )
    name = joint.get("chosen") or joint.get("best")
    params = (forms.get(name) or {}).get("params") or {}
    if params:
        what = "chosen" if name == joint.get("chosen") else "best (not identified, for reference)"
        prow = [[k, f"{v['estimate']:.4g}", format_interval(v)] for k, v in params.items()]
        out += [
            f"Parameters of the {what} form `{name}`: `{forms[name].get('formula', '')}`",
            "",
            md_table(["Parameter", "Estimate", f"{_level(fits)} interval"], prow),
            "",
        ]
    return out
