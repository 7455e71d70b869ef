"""Uniform dataset records from ``hf:``, ``procedural:`` and ``jsonl:`` sources.

A source is a string spec ``<kind>:<name>[?key=value&...]``:

- ``hf:gsm8k`` (openai/gsm8k, config ``main``), ``hf:math`` (EleutherAI/hendrycks_math per-subject
  configs, falling back to DigitalLearningGmbH/MATH-lighteval), ``hf:mmlu`` (cais/mmlu, config ``all``;
  split ``train`` means MMLU's few-shot ``dev`` split), ``hf:wikitext2`` (WikiText-2 raw, one text record per
  Wikipedia page: EleutherAI/wikitext_document_level, as lm-eval's ``wikitext`` task; see ``wikitext_pages``),
  ``hf:wikitext2_lines`` (the line-level ``wikitext``/``wikitext-2-raw-v1`` rows verbatim, blank rows included, in
  order: the seed study's validation-loss text).
  Option ``data_dir=/path`` loads local files instead (``<split>.parquet|jsonl|json|csv`` or
  ``<split>-*.<ext>`` anywhere under the directory, in the hub dataset's column layout) through the same
  ``datasets.load_dataset`` call and row converters.
- ``procedural:<task>?terms=3-4&digits=1-2`` — see ``rlscaling.data.procedural``.
- ``jsonl:<path>`` — local JSON lines already in the record shape.

A split may be a union, ``"test+validation"`` (:func:`split_names`): ``procedural:`` sources cover it with
:func:`rlscaling.data.procedural.generate_union` (every question of a smaller term count first, split by split);
``hf:`` sources concatenate the splits' rows in the given order before subsampling (their ids name the split).

Records have the uniform shape of :mod:`rlscaling.data.records` (question records ``id, question, answer,
solution, subject, level, choices, source``; text records ``id, text, source``).

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
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rlscaling.data import procedural
from rlscaling.data.records import (  # noqa: F401  (re-exported: the record API of rlscaling.data.sources)
    LETTERS,
    OPTIONAL_FIELDS,
    QUESTION_FIELDS,
    DataSourceError,
    canonical_answer,
    check_answer,
    gsm8k_row_to_record,
    is_wikitext_title,
    math_row_to_record,
    mmlu_row_to_record,
    validate_record,
    wikitext_line_to_record,
    wikitext_page_to_record,
    wikitext_pages,
)
from rlscaling.io import iter_jsonl
from rlscaling.tasks import kinds

KINDS = ("hf", "procedural", "jsonl")
HF_OPTIONS = ("data_dir",)
OFFLINE_HELP = (
    'Options: (1) populate the Hugging Face cache on a networked machine (python -c "import datasets; '
    'datasets.load_dataset(...)") and copy it here, then set HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1; '
    "(2) point the source at local files with '?data_dir=/path'; (3) use a 'procedural:<task>' or "
    "'jsonl:<path>' source instead."
)


class NotEnoughRecordsError(DataSourceError):
    """A ``procedural:`` request for more unique items than its question space holds (``n`` is the culprit)."""


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
        allowed = procedural.TASK_OPTIONS[name] + ("format",)  # format: procedural.FORMATS
    else:
        allowed = ()
    for key in options:
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise DataSourceError(f"data source {spec!r}: unknown option {key!r} for {kind}:{name}; allowed: {known}")


def split_names(split: str, spec: str = "") -> tuple[str, ...]:
    """``"test+validation"`` -> ``("test", "validation")``; ``"test"`` -> ``("test",)``.

    An empty part (``"test+"``), whitespace around a name or a split named twice -> ``DataSourceError`` (prefixed
    with ``spec`` when given). Whether the names exist is up to the source.
    """
    names = tuple(str(split).split("+"))
    if any(not name or name != name.strip() for name in names) or len(set(names)) != len(names):
        where = f"{spec}: " if spec else ""
        raise DataSourceError(f"{where}split {split!r}: expected one split name or distinct names joined by '+'")
    return names


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


def _rows_wikitext2_lines(split: str, source: str, data_dir: str | None) -> Any:
    return _load_local(data_dir, split, source) if data_dir else _load_hub(*WIKITEXT_LINES, split, source)


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
    "wikitext2_lines": HFDataset(("train", "validation", "test"), _rows_wikitext2_lines, wikitext_line_to_record),
}


def _hf_records(
    name: str, options: Mapping[str, str], splits: tuple[str, ...], spec: str, kind: str | None
) -> list[dict]:
    """Records of every split in ``splits``, split by split (two names of one hub split are refused)."""
    dataset = HF_LOADERS[name]
    hub = [dataset.hub_split(split, spec) for split in splits]
    if len(set(hub)) != len(hub):
        raise DataSourceError(f"{spec}: split {'+'.join(splits)!r} names one {name} split twice ({'+'.join(hub)})")
    records = []
    for split in hub:
        for idx, row in enumerate(dataset.load_rows(split, spec, options.get("data_dir"))):
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


def _procedural_records(
    spec: str, name: str, options: Mapping[str, str], splits: tuple[str, ...], n: int | None, seed: int
) -> list[dict]:
    """Generated items of one split (:func:`procedural.generate`) or a union (:func:`procedural.generate_union`)."""
    if n is None:
        raise DataSourceError(f"{spec}: procedural sources need n (how many items to generate)")
    try:
        if len(splits) == 1:
            return procedural.generate(name, n, seed, splits[0], **options)
        return procedural.generate_union(name, n, seed, splits, **options)
    except procedural.ProceduralError as exc:
        error = NotEnoughRecordsError if isinstance(exc, procedural.ExhaustedError) else DataSourceError
        raise error(f"{spec}: {exc}") from None


def load_records(
    spec: str, split: str = "test", n: int | None = None, seed: int = 0, kind: str | None = None
) -> list[dict]:
    """Records of ``split`` from a source spec (see module docstring); at most ``n``, chosen by ``seed``.

    ``hf:``/``jsonl:`` sources return a seeded subsample (original order kept) when ``n`` is below
    their size, else everything; ``procedural:`` sources generate exactly ``n`` items (``n`` is
    required there; ``NotEnoughRecordsError`` if their question space is too small). ``split`` may be a union
    ``"a+b"`` (:func:`split_names`). A ``jsonl:`` file is one split: ``split`` is ignored for it. With ``kind``
    (a benchmark family, :func:`rlscaling.tasks.kinds`) every record of the source, not only the subsample, must pass
    :func:`check_answer`.
    """
    source_kind, name, options = parse_spec(spec)
    if kind is not None and kind not in kinds():
        raise ValueError(f"answer kind {kind!r}: expected one of {', '.join(kinds())} or None")
    if n is not None and n < 0:
        raise DataSourceError(f"{spec}: n must be >= 0, got {n}")
    if source_kind == "jsonl":
        return _subsample(_jsonl_records(name, spec, kind), n, seed)
    splits = split_names(split, spec)
    if source_kind == "procedural":
        records = []
        for i, rec in enumerate(_procedural_records(spec, name, options, splits, n, seed)):
            where = f"{spec} {split} item {i} (id {rec.get('id')!r})"
            rec = validate_record({**rec, "source": spec}, where)
            records.append(check_answer(rec, kind, where) if kind else rec)
        return records
    return _subsample(_hf_records(name, options, splits, spec, kind), n, seed)
