"""The one registry of benchmark families (``kind``) and their scorers; everything else reads it.

A family (:class:`Family`) declares once: its ``kind`` (the config's ``benchmarks.*.kind`` and the name of its
default benchmark), its display title, its scorers in display order, its headline scorer, the few facts the
prompt and data code branch on, and its prompt and answer-check hooks. A scorer (:class:`Scorer`) declares its name
(the ``scorer`` column of summary.csv), its display label and colour, whether it may be a GRPO reward, and the
function that scores it. The config schema's enums, the config check, the training settings, the prompts, the
records loader, the report and the figures read these tuples (tests/test_tasks.py fails when the schema disagrees).
The registration order is the display order of tables, figures and the schema.

Loss-only corpora (WikiText-2's validation-loss rows) have no scorers; they register a title only
(:func:`register_corpus`).

This module is pure (no pandas, no config): the scoring functions come from :mod:`rlscaling.rewards`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rlscaling import rewards

ScoreFn = Callable[[str, "str | int"], "tuple[str | None, float]"]
"""``score(response, answer) -> (extracted answer, score in {0.0, 1.0})`` of one response."""
PromptFn = Callable[..., str]
"""``prompt(item, pool, shots, seed[, instruction=True]) -> str``: the ``consistent`` evaluation prompt of one record
(``pool``: the few-shot records; ``shots``: exemplars, >= 0; ``seed``: the exemplar choice's seed). Only a family whose
``instruction`` is set is passed ``instruction``."""
SeedPromptFn = Callable[[Mapping[str, Any], "Sequence[Mapping[str, Any]] | None", int], str]
"""``seed_prompt(item, pool, shots) -> str``: the seed study's prompt of one record (``prompts.style: seed``)."""
AnswerCheck = Callable[[dict], dict]
"""``check_answer(record) -> record with its canonical answer``; an answer the family's scorers cannot match ->
:class:`rlscaling.tasks.answers.AnswerError` naming it."""


@dataclass(frozen=True)
class Scorer:
    """One scorer of a family.

    ``name``: the ``scorer`` column of summary.csv, ``benchmarks.*.scorers`` and ``grpo.reward_modes`` entries.
    ``score``: the function that scores one response (:data:`ScoreFn`). ``label``: its name in figure legends
    (None: the name itself). ``color``: its line/bar colour in figures (None: the figure's neutral grey).
    ``reward``: offered as a GRPO reward (``grpo.reward_modes``). ``seed``: one of the seed study's own scorers
    (``seed_*``), not one of the project's. ``method``: how it reads an answer, a markdown phrase after its name in
    the report's method text (None: not described there)."""

    name: str
    score: ScoreFn = field(repr=False, compare=False)
    label: str | None = None
    color: str | None = None
    reward: bool = False
    seed: bool = False
    method: str | None = None

    @property
    def display_label(self) -> str:
        return self.label if self.label is not None else self.name


@dataclass(frozen=True)
class Family:
    """One benchmark family.

    ``kind``: the family's name. ``title``: its display title (tables, figure titles and axes). ``scorers``: in
    display order. ``default_scorer``: the report's headline scorer (a name among ``scorers``). ``instruction``:
    whether ``benchmarks.*.instruction`` (verl's GSM8K instruction appended to the question) applies.
    ``seed_few_shot``: whether ``prompts.style: seed`` has few-shot prompts for it (the seed's MATH prompt is
    0-shot only). ``hub_names``: the ``hf:<name>`` datasets whose answers are of this family (the RL data's kind
    is inferred from them).

    The family's hooks (plain functions of its module; None: not offered): ``prompt`` (:data:`PromptFn`, the
    ``consistent`` style), ``seed_prompt`` (:data:`SeedPromptFn`, the ``seed`` style) and ``check_answer``
    (:data:`AnswerCheck`, what a valid ground truth is for the records loader). :mod:`rlscaling.prompts` and
    :mod:`rlscaling.data.records` reach them through the registry."""

    kind: str
    title: str
    scorers: tuple[Scorer, ...]
    default_scorer: str
    instruction: bool = False
    seed_few_shot: bool = True
    hub_names: tuple[str, ...] = ()
    prompt: PromptFn | None = field(default=None, repr=False, compare=False)
    seed_prompt: SeedPromptFn | None = field(default=None, repr=False, compare=False)
    check_answer: AnswerCheck | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = self.scorer_names()
        if len(set(names)) != len(names):
            raise ValueError(f"family {self.kind!r}: duplicate scorer names in {list(names)}")
        if self.default_scorer not in names:
            raise ValueError(f"family {self.kind!r}: default scorer {self.default_scorer!r} is not one of {names}")
        unreachable = [s.name for s in self.scorers if s.reward and s.name not in rewards.ALL_SCORERS]
        if unreachable:
            raise ValueError(
                f"family {self.kind!r}: GRPO rewards {unreachable} are not scorers of rlscaling.rewards (verl's "
                "compute_score and TRL's reward functions reach a reward by name there)"
            )

    def scorer(self, name: str) -> Scorer:
        """The family's scorer ``name``; any other name -> ValueError naming it and the family's scorers."""
        for s in self.scorers:
            if s.name == name:
                return s
        raise _unknown(f"scorer for {self.kind}", name, self.scorer_names())

    def scorer_names(self, *, seed: bool | None = None) -> tuple[str, ...]:
        """Scorer names in display order; ``seed=False``: the project's only, ``seed=True``: the seed's only."""
        return tuple(s.name for s in self.scorers if seed is None or s.seed == seed)


def scored_by_rewards(kind: str, name: str) -> ScoreFn:
    """The :data:`ScoreFn` of a scorer that :func:`rlscaling.rewards.score_response` dispatches (``kind``, ``name``):
    the scorers verl's ``compute_score`` and TRL's reward functions also reach by name."""
    return partial(rewards.score_response, kind, name)


_FAMILIES: dict[str, Family] = {}
_CORPORA: dict[str, str] = {}


def _unknown(what: str, name: object, valid) -> ValueError:
    return ValueError(f"unknown {what} {name!r}; registered: {', '.join(valid)}")


def register(family: Family) -> Family:
    """Add ``family`` (after the ones registered so far); a kind or scorer name registered twice -> ValueError."""
    if family.kind in _FAMILIES or family.kind in _CORPORA:
        raise ValueError(f"benchmark family {family.kind!r} is registered twice")
    taken = {s.name: f.kind for f in _FAMILIES.values() for s in f.scorers}
    clash = [f"{n} ({taken[n]})" for n in family.scorer_names() if n in taken]
    if clash:
        raise ValueError(f"family {family.kind!r}: scorer names already registered by another family: {clash}")
    _FAMILIES[family.kind] = family
    return family


def register_corpus(name: str, title: str) -> None:
    """Register a loss-only corpus (validation-loss rows, no scorers) by its benchmark name and display title."""
    if name in _FAMILIES or name in _CORPORA:
        raise ValueError(f"corpus {name!r} is registered twice")
    _CORPORA[name] = title


def kinds() -> tuple[str, ...]:
    """The registered family names, in registration order."""
    return tuple(_FAMILIES)


def families() -> tuple[Family, ...]:
    return tuple(_FAMILIES.values())


def family(kind: str) -> Family:
    """The family ``kind``; an unregistered one -> ValueError naming it and the registered ones."""
    try:
        return _FAMILIES[kind]
    except (KeyError, TypeError):
        raise _unknown("benchmark family", kind, kinds()) from None


def scorers() -> tuple[Scorer, ...]:
    """Every registered scorer, family by family."""
    return tuple(s for f in _FAMILIES.values() for s in f.scorers)


def scorer_names() -> tuple[str, ...]:
    return tuple(s.name for s in scorers())


def scorer(name: str) -> Scorer:
    """The scorer ``name``; an unregistered one -> ValueError naming it."""
    for s in scorers():
        if s.name == name:
            return s
    raise _unknown("scorer", name, scorer_names())


def reward_modes() -> tuple[str, ...]:
    """The scorers offered as the GRPO reward (``grpo.reward_modes``), family by family."""
    return tuple(s.name for s in scorers() if s.reward)


def default_scorers() -> dict[str, str]:
    """Family -> its headline scorer (the report's gain tables, the cross-model figures), in family order."""
    return {f.kind: f.default_scorer for f in _FAMILIES.values()}


def default_scorer(benchmark: str) -> str | None:
    """The headline scorer of a benchmark named after its family; None for any other name."""
    f = _FAMILIES.get(benchmark)
    return f.default_scorer if f is not None else None


def title(benchmark: str) -> str:
    """Display title of a family or loss corpus (``GSM8K``, ``WikiText-2``); any other benchmark name as is."""
    f = _FAMILIES.get(benchmark)
    if f is not None:
        return f.title
    return _CORPORA.get(benchmark, benchmark)


def scorer_label(name: str) -> str:
    """Display label of a scorer (figure legends); an unregistered name as is."""
    for s in scorers():
        if s.name == name:
            return s.display_label
    return name


def scorer_color(name: str, default: str) -> str:
    """Figure colour of a scorer; ``default`` (a matplotlib colour) when it declares none or is unregistered."""
    for s in scorers():
        if s.name == name:
            return s.color if s.color is not None else default
    return default


def kind_of_hub_dataset(name: str) -> str | None:
    """The family whose answers the hub dataset ``hf:<name>`` has (``Family.hub_names``); None when none says."""
    for f in _FAMILIES.values():
        if name in f.hub_names:
            return f.kind
    return None
