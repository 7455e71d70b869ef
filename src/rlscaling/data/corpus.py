"""The embedded study's pre-training corpus: what the tiny base models see, and why.

Goal: base models that are *partly* competent at the RL/eval task (``chain_sum`` with 3–4 terms of
one digit, solved with worked partial sums ending ``#### n``), so that GRPO has something to
teach, and that show the base-model behaviours the study measures. Choices:

Every knob is a key of the config's ``data.pretrain_corpus`` section (:func:`corpus_options`).

* **Related, easier problems, not the eval task itself.** The default mixture (``DEFAULT_MIXTURE``)
  is worked single-digit facts (``chain_sum`` with 2 terms, 30% of the problems), 3-term chains of
  single digits (60%) and a few 2-term problems with 2-digit numbers (10%). Every kind of worked
  step the eval needs appears, but 4-term chains — half the eval set — never do: base models must
  generalise to longer chains (tiny ones mostly fail to, and 60 GRPO steps did not teach them either). (Adding
  10% of 4-term chains was tried: it delayed the copy-the-operands transition past the short budget. With 5% or
  15%, tiny-m at 1.5M tokens solved 91% of 3-term chains but only 4-11% of 4-term ones: it writes three steps
  but copies the wrong operands, so a share of 4-term chains does not make them learnable at this size.)
* **Problems repeat.** Each source is a fixed pool of unique problems sampled with replacement
  (the single-digit question spaces are small: 160 two-term questions in the ``train`` split), as
  arithmetic facts recur in real text.
* **Disjoint from the evaluated items.** Problems come from ``rlscaling.data.sources.load_records(spec,
  split="train", ...)``; the procedural generator assigns every question text to one split by a
  hash, so no pre-training question is ever a ``test`` (eval) question. RL prompts are drawn from the
  same ``train`` split, so they may occur in pre-training, as in real web-scale corpora: in the default
  study 932 of the 2,000 (3-term) RL questions also appear in the corpus, whose 3-term pool covers about half
  of that small question space; RL never sees an answer, and no eval question is in either.
* **Noisy solutions.** In a fraction ``noise`` of the solutions, one digit of one worked result is
  replaced by a different digit (the rest of the solution is left as is), as in scraped web math;
  base models learn the format robustly but imperfect arithmetic.
* **A common misconception (``sign_slip``).** In a share ``sign_slip`` of the chain problems the solution is
  a student's consistent error: every negative step result is written, and carried on, without its minus sign
  (``3 - 5 = 2. 2 - 6 = 4.\n#### 4``), as in the arithmetic mistakes of scraped web math. Unlike ``noise`` (a
  different random digit each time, so the right digit stays the most likely), a systematic error that is the
  *majority* (0.6 by default) becomes the base model's greedy answer, while the 40% of solutions that keep the sign
  leave the right behaviour in the base distribution, just not its mode: what RL against a verifier can fix.
  Measured (default study, greedy, 0-shot): base models got 0-6% of the 3-term chains with a negative partial sum
  right, against 15-76% of those without; GRPO took tiny-l at 1.5M tokens from 0% to 31% on the former and 16% to
  23% overall. Without the slip (``sign_slip: 0``), greedy decoding already followed the correct majority, and no
  GRPO setting tried moved a model's greedy accuracy beyond +4 pp: the base models' errors were copying the 3rd or
  4th operand, a step they guess at chance and that RL did not discover in 60 steps.
* **Answer-only solutions (off by default).** A share ``answer_only`` of the blocks (corpus-wide, or per source
  through ``CorpusSource.answer_only``) keep only their ``#### n`` line, as many web answers do; base models then
  learn both styles. Measured (tiny-m, 1.5M tokens): with 70% of the 3-term chains answer-only, greedy answers
  turned direct (41% right on 3-term chains; with 50%, greedy stayed worked and was 72% right), but sampled direct
  answers beat sampled worked ones (28% vs 16% at T = 0.8), so GRPO moved the model further toward direct answers,
  not toward worked steps.
* **Multi-problem documents.** Each document is 2–6 ``Question: …\\nAnswer: …\\n#### n`` blocks
  joined by blank lines (the few-shot prompt layout, ``blocks_per_document``), ended by ``<|endoftext|>`` at packing.
  After answering, a base model therefore tends to write a *new* ``Question:`` rather than stop — the
  instruction collapse of real base models, which ``strict`` scoring penalises and
  ``custom_flexible`` (cut at the first ``####``) forgives. Nothing in the scorers is engineered
  for it; it is simply what the text distribution teaches.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CorpusSource:
    """A procedural source of the corpus: ``pool`` unique problems, drawn with replacement by ``weight``."""

    spec: str  # a ``rlscaling.data.sources`` source spec, e.g. "procedural:chain_sum?terms=2&digits=1"
    weight: float  # relative share of the corpus's problem blocks
    pool: int  # unique problems drawn from the ``train`` split (small difficulty ranges have few)
    answer_only: float | None = None  # this source's share of answer-only solutions (None: the corpus-wide one)


DEFAULT_MIXTURE: tuple[CorpusSource, ...] = (
    CorpusSource("procedural:chain_sum?terms=2&digits=1", 0.3, 150),  # single-digit facts, worked
    CorpusSource("procedural:chain_sum?terms=3&digits=1", 0.6, 1500),  # 3-term chains
    CorpusSource("procedural:chain_sum?terms=2&digits=1-2", 0.1, 2000),  # bigger numbers, one step
)
BLOCKS_PER_DOCUMENT = (2, 6)
NOISE_FRACTION = 0.1
CORPUS_SPLIT = "train"
_RESULT = re.compile(r"= (-?\d+)")
_CHAIN_BLOCK = re.compile(r"Question: What is ([-+*/ \d]+)\?\nAnswer: ")


def format_block(question: str, solution: str) -> str:
    """One ``Question: …\\nAnswer: …`` block; ``solution`` already ends with ``\\n#### n``."""
    return f"Question: {question}\nAnswer: {solution}"


def corrupt_one_digit(solution: str, rng: random.Random) -> str:
    """Replace one digit of one worked result (the ``n`` of some ``= n``) by a different digit.

    The final ``#### n`` line is left untouched. A solution without worked results is returned unchanged.
    """
    body_end = solution.rfind("\n####")
    matches = list(_RESULT.finditer(solution, 0, body_end if body_end >= 0 else len(solution)))
    if not matches:
        return solution
    m = rng.choice(matches)
    start, end = m.span(1)
    digit_positions = [i for i in range(start, end) if solution[i].isdigit()]
    pos = rng.choice(digit_positions)
    leading = pos == digit_positions[0] and len(digit_positions) > 1  # never turn "17" into "07"
    choices = [d for d in "0123456789" if d != solution[pos] and not (leading and d == "0")]
    return solution[:pos] + rng.choice(choices) + solution[pos + 1 :]


def drop_worked_steps(block: str) -> str:
    """The block with its worked steps removed: ``Question: …\\nAnswer: #### n`` (an answer-only solution)."""
    head, sep, _ = block.partition("\nAnswer:")
    final = block.rfind("\n####")
    if not sep or final < 0:
        return block
    return f"{head}\nAnswer: {block[final + 1 :]}"


def sign_slip_block(block: str) -> str:
    """``block`` with its solution re-rendered with the sign slip (negative step results lose their minus sign,
    see :func:`rlscaling.data.procedural.render_steps`). Blocks that are not an arithmetic ``What is …?`` problem, or
    have no negative step result, come back unchanged."""
    from rlscaling.data.procedural import render_steps

    m = _CHAIN_BLOCK.match(block)
    if not m:
        return block
    try:
        steps, answer = render_steps(m.group(1), sign_slip=True)
    except ValueError:
        return block
    return f"{block[: m.end()]}{steps}\n#### {answer}"


def load_pools(mixture: Sequence[CorpusSource], seed: int) -> list[list[str]]:
    """Per source, its ``pool`` unique problems as formatted blocks (``train`` split, deterministic for ``seed``)."""
    from rlscaling.data.sources import load_records  # imported late: data pulls in optional hub dependencies

    pools = []
    for i, source in enumerate(mixture):
        records = load_records(source.spec, split=CORPUS_SPLIT, n=source.pool, seed=seed * 1000 + i)
        if not records:
            raise ValueError(f"corpus source {source.spec!r} gave no problems")
        pools.append([format_block(r["question"], r["solution"]) for r in records])
    return pools


def build_pretrain_corpus(
    n_documents: int,
    seed: int,
    mixture: Sequence[CorpusSource] = DEFAULT_MIXTURE,
    blocks_per_document: tuple[int, int] = BLOCKS_PER_DOCUMENT,
    noise: float = NOISE_FRACTION,
    answer_only: float = 0.0,
    sign_slip: float = 0.0,
) -> list[str]:
    """``n_documents`` pre-training documents (see module docstring), deterministic for ``seed``.

    Each document has ``blocks_per_document`` (inclusive range) problems; each problem picks a source
    with probability proportional to its weight, then a problem of that source's pool uniformly (so
    problems repeat, as facts do in real corpora); a fraction ``sign_slip`` of them carry the sign misconception
    (:func:`sign_slip_block`); then a fraction ``answer_only`` lose their worked steps, and a fraction ``noise`` of
    the others get one corrupted digit in a worked step (all fractions in [0, 1]).
    """
    if n_documents < 1:
        raise ValueError(f"data.pretrain_corpus.n_documents must be >= 1, got {n_documents}")
    lo, hi = blocks_per_document
    if not 1 <= lo <= hi:
        raise ValueError(f"blocks_per_document must be 1 <= lo <= hi, got {blocks_per_document}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be a fraction in [0, 1], got {noise}")
    if not 0.0 <= sign_slip <= 1.0:
        raise ValueError(f"sign_slip must be a fraction in [0, 1], got {sign_slip}")
    for share in (answer_only, *(s.answer_only for s in mixture if s.answer_only is not None)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"answer_only must be a fraction in [0, 1], got {share}")
    weights = [source.weight for source in mixture]
    if not mixture or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"corpus mixture needs non-negative weights with a positive sum, got {list(mixture)}")
    pools = load_pools(mixture, seed)
    rng = random.Random(seed)
    documents = []
    for _ in range(n_documents):
        blocks = []
        for source in rng.choices(range(len(pools)), weights=weights, k=rng.randint(lo, hi)):
            block = rng.choice(pools[source])
            if sign_slip > 0 and rng.random() < sign_slip:
                block = sign_slip_block(block)
            share = answer_only if mixture[source].answer_only is None else mixture[source].answer_only
            if share > 0 and rng.random() < share:
                block = drop_worked_steps(block)
            elif rng.random() < noise:
                block = corrupt_one_digit(block, rng)
            blocks.append(block)
        documents.append("\n\n".join(blocks))
    return documents


def corpus_options(section: Mapping) -> dict:
    """Keyword arguments of :func:`build_pretrain_corpus` from the config's ``data.pretrain_corpus`` section
    (``n_documents``, ``seed``, ``noise``, ``answer_only``, ``sign_slip``, ``blocks_per_document``, ``mixture``);
    keys it omits take the function's defaults."""
    opts = {"n_documents": int(section.get("n_documents", 10000)), "seed": int(section.get("seed", 0))}
    for key in ("noise", "answer_only", "sign_slip"):
        if key in section:
            opts[key] = float(section[key])
    if "blocks_per_document" in section:
        lo, hi = section["blocks_per_document"]
        opts["blocks_per_document"] = (int(lo), int(hi))
    if "mixture" in section:
        opts["mixture"] = tuple(
            CorpusSource(
                str(m["source"]),
                float(m["weight"]),
                int(m["pool"]),
                None if m.get("answer_only") is None else float(m["answer_only"]),
            )
            for m in section["mixture"]
        )
    return opts
