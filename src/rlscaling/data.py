"""Uniform dataset records from ``hf:``, ``procedural:`` and ``jsonl:`` sources.

A source is a string spec ``<kind>:<name>[?key=value&...]``:

- ``hf:gsm8k`` (openai/gsm8k, config ``main``), ``hf:math`` (EleutherAI/hendrycks_math per-subject
  configs, falling back to DigitalLearningGmbH/MATH-lighteval), ``hf:mmlu`` (cais/mmlu, config ``all``;
  split ``train`` means MMLU's few-shot ``dev`` split), ``hf:wikitext2`` (WikiText-2 raw, one text record per
  Wikipedia page: EleutherAI/wikitext_document_level, as lm-eval's ``wikitext`` task; see ``wikitext_pages``).
  Option ``data_dir=/path`` loads local files instead (``<split>.parquet|jsonl|json|csv`` or
  ``<split>-*.<ext>`` anywhere under the directory, in the hub dataset's column layout) through the same
  ``datasets.load_dataset`` call and row converters.
- ``procedural:<task>?terms=3-4&digits=1-2`` — see ``rlscaling.procedural``.
- ``jsonl:<path>`` — local JSON lines already in the record shape.

Question records (docs/architecture.md): ``id, question, answer`` (canonical), ``solution``, ``subject``,
``level``, ``choices``, ``source``. Text records (``hf:wikitext2``, or a jsonl of ``{"id", "text"}``):
``id, text, source``.

Given an answer kind (``load_records(..., kind="gsm8k"|"math"|"mmlu")``), every record is checked to be
scorable by that benchmark's scorer (:func:`check_answer`) and the error names the file and line (``jsonl:``),
or the source, split and row/item index with the record id (``hf:``, ``procedural:``).

Hub access never hangs: with ``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE`` set before ``datasets`` is
imported, a missing cache fails at once; without them, an unreachable hub is detected by a 3 s socket
probe before ``load_dataset`` would spend ~25 s in retries. Either way one ``DataSourceError`` names the
dataset and the ways out.
"""

from __future__ import annotations

import os
import random
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rlscaling import procedural
from rlscaling.io import iter_jsonl

from rlscaling.rewards import canonical_number, extract_boxed

KINDS = ("hf", "procedural", "jsonl")
QUESTION_FIELDS = ("id", "question", "answer")  # required; the rest default to None
OPTIONAL_FIELDS = ("solution", "subject", "level", "choices", "source")
HF_OPTIONS = ("data_dir",)
LETTERS = "ABCD"
ANSWER_KINDS = ("gsm8k", "math", "mmlu")
"""Answer families a question record can be checked against (the benchmark kinds of the config)."""
OFFLINE_HELP = (
    "Options: (1) populate the Hugging Face cache on a networked machine (python -c \"import datasets; "
    "datasets.load_dataset(...)\") and copy it here, then set HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1; "
    "(2) point the source at local files with '?data_dir=/path'; (3) use a 'procedural:<task>' or "
    "'jsonl:<path>' source instead."
)


class DataSourceError(ValueError):
    """A data source that cannot be parsed, loaded or validated; the message names the culprit."""


# --------------------------------------------------------------------------- specs


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``"procedural:chain_sum?terms=3-4"`` -> ``("procedural", "chain_sum", {"terms": "3-4"})``.

    Unknown kind, hf dataset, procedural task or option -> ``DataSourceError`` naming it.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise DataSourceError(f"data source {spec!r}: expected '<kind>:<name>[?key=value&...]', kinds: {KINDS}")
    kind, rest = spec.split(":", 1)
    if kind not in KINDS:
        raise DataSourceError(f"data source {spec!r}: unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    name, _, query = rest.partition("?")
    if not name:
        raise DataSourceError(f"data source {spec!r}: empty name after '{kind}:'")
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in options:
            raise DataSourceError(f"data source {spec!r}: option {key!r} given twice")
        options[key] = value
    if query and not options:
        raise DataSourceError(f"data source {spec!r}: cannot parse options {query!r} (use key=value&key=value)")
    _check_options(spec, kind, name, options)
    return kind, name, options


def _check_options(spec: str, kind: str, name: str, options: Mapping[str, str]) -> None:
    if kind == "hf":
        if name not in HF_LOADERS:
            raise DataSourceError(f"data source {spec!r}: unknown hf dataset {name!r}; known: {', '.join(HF_LOADERS)}")
        allowed: tuple[str, ...] = HF_OPTIONS
    elif kind == "procedural":
        if name not in procedural.TASK_OPTIONS:
            raise DataSourceError(
                f"data source {spec!r}: unknown procedural task {name!r}; known: {', '.join(procedural.TASKS)}"
            )
        allowed = procedural.TASK_OPTIONS[name]
    else:
        allowed = ()
    for key in options:
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise DataSourceError(f"data source {spec!r}: unknown option {key!r} for {kind}:{name}; allowed: {known}")


# --------------------------------------------------------------------------- validation


def validate_record(rec: Any, where: str) -> dict:
    """Check a record's shape; return it with absent optional fields set to ``None``.

    Question records need non-empty string ``id``, ``question``, ``answer``; multiple-choice records
    (``choices`` set) need a letter answer within the choices. Text records (``text`` and no
    ``question``) need ``id`` and ``text``. ``where`` (e.g. ``"file.jsonl:12"``) prefixes every error.
    """
    if not isinstance(rec, dict):
        raise DataSourceError(f"{where}: expected a JSON object record, got {type(rec).__name__}")
    if "text" in rec and "question" not in rec:
        for key in ("id", "text"):
            _require_str(rec, key, where)
        return {"id": rec["id"], "text": rec["text"], "source": rec.get("source")}
    for key in QUESTION_FIELDS:
        _require_str(rec, key, where)
    out = {key: rec[key] for key in QUESTION_FIELDS}
    out.update({key: rec.get(key) for key in OPTIONAL_FIELDS})
    for key in ("solution", "subject", "source"):
        if out[key] is not None and not isinstance(out[key], str):
            raise DataSourceError(f"{where}: field {key!r} must be a string or null, got {type(out[key]).__name__}")
    if out["level"] is not None and (isinstance(out["level"], bool) or not isinstance(out["level"], (str, int))):
        raise DataSourceError(f"{where}: field 'level' must be a string, an int or null")
    choices = out["choices"]
    if choices is not None:
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) or not 2 <= len(choices) <= 4:
            raise DataSourceError(f"{where}: field 'choices' must be a list of 2-4 strings")
        if out["answer"] not in LETTERS[: len(choices)]:
            raise DataSourceError(
                f"{where}: answer {out['answer']!r} is not a choice letter in {LETTERS[: len(choices)]!r}"
            )
    return out


def _require_str(rec: Mapping[str, Any], key: str, where: str) -> None:
    if key not in rec:
        raise DataSourceError(f"{where}: missing required field {key!r}")
    if not isinstance(rec[key], str) or not rec[key].strip():
        raise DataSourceError(f"{where}: field {key!r} must be a non-empty string, got {rec[key]!r}")


def canonical_answer(answer: Any) -> str:
    """Numbers canonicalised (``"1,200.0"`` -> ``"1200"``); other answers (LaTeX, letters) stripped."""
    text = str(answer).strip()
    return canonical_number(text) or text


def check_answer(rec: dict, kind: str, where: str) -> dict:
    """Check that a validated record can be scored as a ``kind`` item; return it with its canonical answer.

    - ``gsm8k``: the answer is one number by the scorers' own ``rewards.canonical_number`` (``"1,200"`` ->
      ``"1200"``); words, ``NaN``, fractions and exponents are refused (every response would score 0).
    - ``math``: a non-empty answer; one given as ``\\boxed{...}`` must have a non-empty box.
    - ``mmlu``: ``choices`` (2-4 strings) and a letter answer among them.

    A text record (no ``question``) is refused for every kind. ``where`` prefixes every error.
    """
    if kind not in ANSWER_KINDS:
        raise ValueError(f"answer kind {kind!r}: expected one of {', '.join(ANSWER_KINDS)}")
    if "question" not in rec:
        raise DataSourceError(f"{where}: a text record (no 'question'), but {kind} items need question and answer")
    answer = rec["answer"]
    if kind == "gsm8k":
        number = canonical_number(answer)
        if number is None:
            raise DataSourceError(
                f"{where}: answer {answer!r} is not a number the GSM8K scorers can match "
                "(expected one decimal number such as '72', '1,234', '-3.5', '$20'; "
                "no words, NaN, fractions or exponents)"
            )
        return {**rec, "answer": number}
    if kind == "math":
        boxed = extract_boxed(answer)
        if not answer.strip() or (boxed is not None and not boxed.strip()):
            raise DataSourceError(f"{where}: MATH answer {answer!r} is empty")
        return {**rec, "answer": canonical_answer(answer)}
    choices = rec.get("choices")
    if not choices:
        raise DataSourceError(f"{where}: MMLU items need 'choices' (a list of 2-4 strings) and a letter answer")
    letters = LETTERS[: len(choices)]
    if answer not in letters:
        raise DataSourceError(f"{where}: answer {answer!r} is not a choice letter in {letters!r}")
    return rec


# --------------------------------------------------------------------------- row converters (pure)

_CALCULATOR = re.compile(r"<<[^<>]*>>")


def gsm8k_row_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """openai/gsm8k row (``question``, ``answer`` = worked text ending ``#### n``) -> record.

    The solution keeps the worked text without GSM8K's ``<<48/2=24>>`` calculator annotations and ends
    ``\\n#### <canonical answer>``.
    """
    raw = str(row["answer"])
    if "####" not in raw:
        raise DataSourceError(f"gsm8k {split} row {idx}: answer has no '####' line: {raw[-60:]!r}")
    body, final = raw.rsplit("####", 1)
    answer = canonical_number(final.strip())
    if answer is None:
        raise DataSourceError(f"gsm8k {split} row {idx}: final answer {final.strip()!r} is not a number")
    steps = _CALCULATOR.sub("", body).rstrip()
    return {
        "id": f"gsm8k-{split}-{idx}",
        "question": str(row["question"]).strip(),
        "answer": answer,
        "solution": f"{steps}\n#### {answer}" if steps else f"#### {answer}",
        "subject": None,
        "level": None,
        "choices": None,
        "source": "hf:gsm8k",
    }


def math_row_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """MATH row (``problem``, ``solution``, ``type``, ``level``) -> record; answer = last ``\\boxed``.

    ``level`` ``"Level 3"`` becomes ``3`` (other values, e.g. ``"Level ?"``, are kept as strings).
    """
    solution = str(row["solution"])
    boxed = extract_boxed(solution)
    if boxed is None or not boxed.strip():
        raise DataSourceError(f"math {split} row {idx}: no \\boxed answer in the solution")
    level = row.get("level")
    m = re.fullmatch(r"Level (\d+)", str(level))
    return {
        "id": f"math-{split}-{idx}",
        "question": str(row["problem"]).strip(),
        "answer": canonical_answer(boxed),
        "solution": solution,
        "subject": row.get("type"),
        "level": int(m.group(1)) if m else level,
        "choices": None,
        "source": "hf:math",
    }


def mmlu_row_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """cais/mmlu row (``question``, ``subject``, ``choices`` [4], ``answer`` 0-3) -> record, answer a letter."""
    choices = [str(c) for c in row["choices"]]
    answer = row["answer"]
    letter = LETTERS[int(answer)] if not isinstance(answer, str) or answer.isdigit() else answer.strip().upper()
    return {
        "id": f"mmlu-{split}-{idx}",
        "question": str(row["question"]).strip(),
        "answer": letter,
        "solution": None,
        "subject": row.get("subject"),
        "level": None,
        "choices": choices,
        "source": "hf:mmlu",
    }


def wikitext_page_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """Document-level WikiText row (``page``: one whole Wikipedia article) -> text record ``{id, text, source}``.

    The page text is kept verbatim; ``idx`` is the page's position in the split.
    """
    return {"id": f"wikitext2-{split}-{idx}", "text": str(row["page"]), "source": "hf:wikitext2"}


_WIKITEXT_TITLE = re.compile(r"= [^=](?:.*[^=])? =")


def is_wikitext_title(line: str) -> bool:
    """Whether a WikiText line is a page's top-level heading ``" = Title = "`` (not ``" = = Section = = "``)."""
    return _WIKITEXT_TITLE.fullmatch(line.strip()) is not None


def wikitext_pages(lines: Iterable[str]) -> list[str]:
    """Rebuild whole pages from line-level WikiText rows (``wikitext``/``wikitext-2-raw-v1``, one row per line).

    A page starts at a top-level heading line (:func:`is_wikitext_title`); section headings (``= = ... = =``,
    ``= = = ... = = =``) and blank lines stay inside it. A page is its lines (each without its trailing newline)
    joined by ``"\\n"``, as the raw file's lines are in EleutherAI/wikitext_document_level, whose builder splits
    the raw file the same way. The line-level dataset stores the raw file's whitespace-only lines as ``""``, so
    the rebuilt pages may differ from the document-level ones in the whitespace of blank lines only. Lines
    before the first heading are dropped.
    """
    pages: list[list[str]] = []
    current: list[str] = []
    for row in lines:
        line = row[:-1] if row.endswith("\n") else row
        if is_wikitext_title(line):
            pages.append(current)
            current = []
        current.append(line)
    pages.append(current)
    return ["\n".join(page) for page in pages if page and is_wikitext_title(page[0])]


# --------------------------------------------------------------------------- hf loading

MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)


def hub_offline() -> bool:
    """Whether ``datasets`` runs in offline mode (``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE`` at its import)."""
    import datasets

    return bool(datasets.config.HF_HUB_OFFLINE)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub endpoint (``HF_ENDPOINT``) opens within ``timeout`` seconds."""
    url = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def _load_hub(dataset: str, config: str | None, split: str, source: str, hint: bool = True) -> Any:
    """``datasets.load_dataset(dataset, config, split=split)`` or one ``DataSourceError``; never hangs.

    Offline mode fails at once on a missing cache; online, a failed 3 s probe of the hub stops us
    before ``datasets`` spends ~25 s retrying. ``hint`` appends the ways out (``OFFLINE_HELP``).
    """
    import datasets

    where = f"{source}: cannot load {dataset}" + (f" (config {config})" if config else "") + f", split {split}"
    help_text = f" {OFFLINE_HELP}" if hint else ""
    offline = hub_offline()
    if not offline and not hub_reachable():
        raise DataSourceError(f"{where}: the Hugging Face hub is unreachable and offline mode is off.{help_text}")
    try:
        return datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:  # noqa: BLE001 - boundary: any loader failure becomes one clear message
        reason = "offline mode and no cached copy" if offline else "load failed"
        detail = (str(exc).strip().splitlines() or [""])[0]
        raise DataSourceError(f"{where}: {reason} ({type(exc).__name__}: {detail}).{help_text}") from None


def _local_files(data_dir: str, split: str, source: str) -> tuple[str, list[str]]:
    """Files for ``split`` under ``data_dir`` and the ``datasets`` builder that reads them."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataSourceError(f"{source}: data_dir {data_dir} is not a directory")
    builders = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in builders and (p.stem == split or p.stem.startswith(f"{split}-"))
    )
    if not files:
        raise DataSourceError(
            f"{source}: no files for split {split!r} under {data_dir} "
            f"(expected {split}.parquet|jsonl|json|csv or {split}-*.<ext>)"
        )
    kinds = {builders[p.suffix] for p in files}
    if len(kinds) > 1:
        raise DataSourceError(f"{source}: mixed file types for split {split!r} under {data_dir}: {sorted(kinds)}")
    return kinds.pop(), [str(p) for p in files]


def _load_local(data_dir: str, split: str, source: str) -> Any:
    import datasets

    builder, files = _local_files(data_dir, split, source)
    try:
        return datasets.load_dataset(builder, data_files={split: files}, split=split)
    except Exception as exc:  # noqa: BLE001 - boundary
        raise DataSourceError(f"{source}: cannot read {files[0]} ({type(exc).__name__}: {exc})") from None


def _rows_gsm8k(split: str, source: str, data_dir: str | None) -> Any:
    return _load_local(data_dir, split, source) if data_dir else _load_hub("openai/gsm8k", "main", split, source)


def _rows_math(split: str, source: str, data_dir: str | None) -> Any:
    if data_dir:
        return _load_local(data_dir, split, source)
    import datasets

    try:
        parts = [_load_hub("EleutherAI/hendrycks_math", s, split, source, hint=False) for s in MATH_SUBJECTS]
        return datasets.concatenate_datasets(parts)
    except DataSourceError as first:
        try:
            return _load_hub("DigitalLearningGmbH/MATH-lighteval", "default", split, source, hint=False)
        except DataSourceError as second:
            raise DataSourceError(f"{first} Fallback: {second} {OFFLINE_HELP}") from None


def _rows_mmlu(split: str, source: str, data_dir: str | None) -> Any:
    return _load_local(data_dir, split, source) if data_dir else _load_hub("cais/mmlu", "all", split, source)


# lm-eval's ``wikitext`` task (lm_eval/tasks/wikitext/wikitext.yaml) scores whole pages: dataset_path
# EleutherAI/wikitext_document_level, dataset_name wikitext-2-raw-v1, text field ``page``.
WIKITEXT_DOCUMENTS = ("EleutherAI/wikitext_document_level", "wikitext-2-raw-v1")
WIKITEXT_LINES = ("wikitext", "wikitext-2-raw-v1")


def _page_rows(rows: Any, source: str) -> list[dict]:
    """``[{"page": text}, ...]`` from document-level rows (``page``) or line-level rows (``text``)."""
    columns = list(getattr(rows, "column_names", None) or (rows[0].keys() if len(rows) else []))
    if "page" in columns:
        pages = [str(row["page"]) for row in rows]
    elif "text" in columns:
        pages = wikitext_pages(str(row["text"]) for row in rows)
    else:
        raise DataSourceError(f"{source}: WikiText rows need a 'page' (one per page) or 'text' (one per line) column")
    return [{"page": page} for page in pages if page.strip()]


def _rows_wikitext2(split: str, source: str, data_dir: str | None) -> Any:
    if data_dir:
        return _page_rows(_load_local(data_dir, split, source), source)
    try:
        return _page_rows(_load_hub(*WIKITEXT_DOCUMENTS, split, source, hint=False), source)
    except DataSourceError as first:
        try:  # the line-level copy, pages rebuilt by wikitext_pages
            return _page_rows(_load_hub(*WIKITEXT_LINES, split, source, hint=False), source)
        except DataSourceError as second:
            raise DataSourceError(f"{first} Fallback: {second} {OFFLINE_HELP}") from None


RowLoader = Callable[[str, str, "str | None"], Any]
Converter = Callable[[Mapping[str, Any], int, str], dict]


@dataclass(frozen=True)
class HFDataset:
    """How to read one ``hf:`` dataset: its splits (``split_map`` renames requested splits), rows, converter."""

    splits: tuple[str, ...]
    load_rows: RowLoader
    convert: Converter
    split_map: Mapping[str, str] = field(default_factory=dict)

    def hub_split(self, split: str, source: str) -> str:
        mapped = self.split_map.get(split, split)
        if mapped not in self.splits:
            raise DataSourceError(f"{source}: split {split!r} does not exist; available: {', '.join(self.splits)}")
        return mapped


HF_LOADERS: dict[str, HFDataset] = {
    "gsm8k": HFDataset(("train", "test"), _rows_gsm8k, gsm8k_row_to_record),
    "math": HFDataset(("train", "test"), _rows_math, math_row_to_record),
    # MMLU has no train split: its 5-per-subject few-shot pool is ``dev``
    "mmlu": HFDataset(("test", "validation", "dev"), _rows_mmlu, mmlu_row_to_record, {"train": "dev"}),
    "wikitext2": HFDataset(("train", "validation", "test"), _rows_wikitext2, wikitext_page_to_record),
}


def _hf_records(name: str, options: Mapping[str, str], split: str, spec: str, kind: str | None) -> list[dict]:
    dataset = HF_LOADERS[name]
    split = dataset.hub_split(split, spec)
    rows = dataset.load_rows(split, spec, options.get("data_dir"))
    records = []
    for idx, row in enumerate(rows):
        try:
            rec = dataset.convert(row, idx, split)
        except KeyError as exc:
            raise DataSourceError(f"{spec}: {split} row {idx} lacks column {exc.args[0]!r}") from None
        where = f"{spec} {split} row {idx} (id {rec.get('id')!r})"
        rec = validate_record({**rec, "source": spec}, where)
        records.append(check_answer(rec, kind, where) if kind else rec)
    return records


# --------------------------------------------------------------------------- jsonl and procedural


def _jsonl_records(path: str, spec: str, kind: str | None) -> list[dict]:
    """Every record of a JSON-lines file, validated (and checked as ``kind`` items); errors name ``path:line``."""
    if not Path(path).is_file():
        raise DataSourceError(f"{spec}: no such file {path}")
    try:
        rows = list(iter_jsonl(path))  # not UTF-8, malformed JSON, not an object -> "path:line: ..."
    except ValueError as exc:
        raise DataSourceError(str(exc)) from None
    out = []
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        rec = validate_record(row, where)
        if kind:
            rec = check_answer(rec, kind, where)
        elif "question" in rec:
            rec["answer"] = canonical_answer(rec["answer"])
        rec["source"] = rec.get("source") or spec
        out.append(rec)
    return out


def _subsample(records: list[dict], n: int | None, seed: int) -> list[dict]:
    """``n`` records drawn without replacement by ``seed``, in their original order (all if ``n`` is None)."""
    if n is None or n >= len(records):
        return records
    keep = sorted(random.Random(seed).sample(range(len(records)), n))
    return [records[i] for i in keep]


def load_records(
    spec: str, split: str = "test", n: int | None = None, seed: int = 0, kind: str | None = None
) -> list[dict]:
    """Records of ``split`` from a source spec (see module docstring); at most ``n``, chosen by ``seed``.

    ``hf:``/``jsonl:`` sources return a seeded subsample (original order kept) when ``n`` is below
    their size, else everything; ``procedural:`` sources generate exactly ``n`` items (``n`` is
    required there). A ``jsonl:`` file is one split: ``split`` is ignored for it. With ``kind``
    (one of ``ANSWER_KINDS``) every record of the source, not only the subsample, must pass
    :func:`check_answer`.
    """
    source_kind, name, options = parse_spec(spec)
    if kind is not None and kind not in ANSWER_KINDS:
        raise ValueError(f"answer kind {kind!r}: expected one of {', '.join(ANSWER_KINDS)} or None")
    if n is not None and n < 0:
        raise DataSourceError(f"{spec}: n must be >= 0, got {n}")
    if source_kind == "procedural":
        if n is None:
            raise DataSourceError(f"{spec}: procedural sources need n (how many items to generate)")
        try:
            generated = procedural.generate(name, n, seed, split, **options)
        except procedural.ProceduralError as exc:
            raise DataSourceError(f"{spec}: {exc}") from None
        records = []
        for i, rec in enumerate(generated):
            where = f"{spec} {split} item {i} (id {rec.get('id')!r})"
            rec = validate_record({**rec, "source": spec}, where)
            records.append(check_answer(rec, kind, where) if kind else rec)
        return records
    if source_kind == "jsonl":
        return _subsample(_jsonl_records(name, spec, kind), n, seed)
    return _subsample(_hf_records(name, options, split, spec, kind), n, seed)
