"""The local files a study's datasets read: every ``jsonl:<path>`` source of the config, with its config key.

The workflow makes each file an input of the ``prepare_data`` job of the dataset that reads it (editing the file reruns
that preparation and everything downstream). A relative path is read from the workflow directory (where the Snakefile
and ``config.yaml`` live), never from Snakemake's working directory (``snakemake -d``): :func:`resolve_local_sources`
rewrites it, in the config, to the absolute path once, right after the validation and before any job starts, so each
job's settings (``params: settings``) carry the absolute path and a changed path reruns the job too. A missing file
is a :class:`~rlscaling.study.ConfigError` naming the key.

Where sources are named: ``data.rl_train.source`` (dataset ``rl_train``), ``data.rl_train_sets.<set>.source``
(``rl_train_<set>``), ``benchmarks.<b>.source`` (``eval_<b>``,
and ``fewshot_<b>`` unless ``benchmarks.<b>.fewshot_source`` is set), ``val_loss.source`` (``val_text``) and
``data.pretrain_corpus.mixture.<i>.source`` (``pretrain_corpus``); the dataset names are those of
:mod:`rlscaling.data.prepare`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from rlscaling.study import ConfigError
from rlscaling.workflow.plan import dataset_names

JSONL = "jsonl:"


class SourceSlot(NamedTuple):
    """Where one source spec sits in the config: the dataset reading it, its key, and the mapping holding it."""

    dataset: str
    key: str
    holder: dict
    field: str

    @property
    def spec(self) -> str:
        return str(self.holder[self.field])


def source_slots(cfg: dict) -> list[SourceSlot]:
    """Every source spec of a (validated) config, one slot per dataset that reads it (a benchmark's ``source`` serves
    ``eval_<b>`` and, without ``fewshot_source``, ``fewshot_<b>``)."""
    data = cfg.get("data") or {}
    slots = []
    if data.get("rl_train"):
        slots.append(SourceSlot("rl_train", "data.rl_train.source", data["rl_train"], "source"))
    for name, spec in (data.get("rl_train_sets") or {}).items():
        slots.append(SourceSlot(f"rl_train_{name}", f"data.rl_train_sets.{name}.source", spec, "source"))
    for bench, spec in (cfg.get("benchmarks") or {}).items():
        slots.append(SourceSlot(f"eval_{bench}", f"benchmarks.{bench}.source", spec, "source"))
        field = "fewshot_source" if "fewshot_source" in spec else "source"
        slots.append(SourceSlot(f"fewshot_{bench}", f"benchmarks.{bench}.{field}", spec, field))
    val_loss = cfg.get("val_loss") or {}
    if val_loss.get("source", "corpus") != "corpus":
        slots.append(SourceSlot("val_text", "val_loss.source", val_loss, "source"))
    for i, entry in enumerate((data.get("pretrain_corpus") or {}).get("mixture") or []):
        slots.append(SourceSlot("pretrain_corpus", f"data.pretrain_corpus.mixture.{i}.source", entry, "source"))
    return slots


def local_path(spec: str) -> str | None:
    """The file of a ``jsonl:<path>`` spec, as written (``None`` for ``hf:`` and ``procedural:`` specs)."""
    if not spec.startswith(JSONL):
        return None
    return spec[len(JSONL) :].partition("?")[0]


def resolve_local_sources(cfg: dict, base_dir: str | os.PathLike) -> dict:
    """Rewrite, in place, every ``jsonl:`` spec with a relative (or ``~``) path to its absolute path under
    ``base_dir`` (the workflow directory); absolute paths stay as written. Then every file that a prepared dataset
    (:func:`rlscaling.workflow.plan.dataset_names`) reads must exist, else ``ConfigError`` naming its key. Returns
    ``cfg``."""
    for slot in source_slots(cfg):
        file = local_path(slot.spec)
        if file is None or (Path(file).is_absolute() and not file.startswith("~")):
            continue
        query = slot.spec[len(JSONL) + len(file) :]  # "?..." (rejected later by the source parser) or ""
        absolute = os.path.normpath(Path(base_dir) / Path(file).expanduser())
        slot.holder[slot.field] = f"{JSONL}{absolute}{query}"
    needed = set(dataset_names(cfg))
    for slot in source_slots(cfg):
        file = local_path(slot.spec)
        if file is not None and slot.dataset in needed and not Path(file).is_file():
            raise ConfigError(
                f"{slot.key}: no such file {file} ({slot.spec!r}; a relative jsonl: path is read from the workflow "
                f"directory {base_dir})"
            )
    return cfg


def local_files(cfg: dict, dataset: str) -> list[str]:
    """The local files a prepared dataset reads (its ``jsonl:`` sources, once each, in config order): after
    :func:`resolve_local_sources`, absolute paths."""
    files = [local_path(s.spec) for s in source_slots(cfg) if s.dataset == dataset]
    return list(dict.fromkeys(f for f in files if f is not None))
