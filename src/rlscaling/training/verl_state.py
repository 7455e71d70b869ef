"""Which run a GRPO state directory belongs to: its settings record, written at launch and checked on every resume.

A GRPO job keeps verl's state (FSDP checkpoints, metrics, rollout dumps) in a directory outside its output so that a
retried job resumes (see :func:`rlscaling.training.verl_backend.launch_grpo`). The directory's path names only the
cell (model, seed, budget, reward mode), so a retry after a config edit would find the checkpoints of a run with other
settings. To rule that out, :func:`run_identity` describes everything that decides what is trained, and
:data:`SETTINGS_FILE` in the state directory holds the identity of the run that wrote it:

- ``verl``: every Hydra override ``verl.trainer.main_ppo`` gets (learning rate, batch sizes, steps, seeds, GPUs,
  lengths, ``grpo.verl.extra_overrides`` ...), with the run's own paths replaced by placeholders and without
  :data:`NEUTRAL_OVERRIDES` (keys that only place the run on the machine);
- ``train_data_sha256``: SHA-256 of the training parquet's rows as written (prompts, answers, reward mode);
- ``base_model``: the resolved base-model directory and the size and modification time (ns) of each of its files
  (a base model retrained in place has new times; content is not hashed: tens of GB).

A state directory whose record differs (or that has none) is discarded before training, and the keys that differ are
logged and kept in ``run.json`` (``discarded_state``): the retried job starts fresh. Stopping instead would leave every
config edit after a failure to a manual ``rm -r``, and the discarded state belongs to a run whose output Snakemake
has already deleted. ``grpo.verl.keep_fsdp_checkpoints`` is not part of the identity (it does not change what is
trained); the environment enters only through the file verl loads the reward from (the installed
``rlscaling/rewards/verl_entry.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlscaling.io import read_json, write_json

log = logging.getLogger(__name__)

SETTINGS_FILE = "rlscaling_run.json"
"""The identity of the run a state directory belongs to (:func:`run_identity`), written before verl starts."""
NEUTRAL_OVERRIDES = frozenset({"ray_kwargs.ray_init.num_cpus"})
"""Overrides left out of the identity: Ray's CPU count schedules workers and enters no computation."""
PLACEHOLDERS = {
    "model_dir": "<base_model>",
    "train_parquet": "<state>/train.parquet",
    "val_parquet": "<state>/val.parquet",
    "ckpt_dir": "<state>/checkpoints",
    "rollout_dir": "<state>/rollouts",
}
"""The run's own paths as they appear in the identity (the state directory may move; the base model is described
by ``base_model``)."""


def table_sha256(parquet_path: str | os.PathLike) -> str:
    """SHA-256 of a parquet file's rows (as JSON, keys sorted): independent of the writer's version and layout."""
    import pyarrow.parquet as pq

    rows = pq.read_table(parquet_path).to_pylist()
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def model_dir_identity(model_dir: str | os.PathLike) -> dict[str, Any]:
    """``{"path", "files": {name: [bytes, mtime_ns]}}`` of a model directory's visible files (empty if absent)."""
    root = Path(model_dir)
    files = {}
    if root.is_dir():
        for f in sorted(root.rglob("*")):
            rel = f.relative_to(root)
            if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                st = f.stat()
                files[rel.as_posix()] = [st.st_size, st.st_mtime_ns]
    return {"path": str(root.resolve()), "files": files}


def run_identity(overrides: list[str], train_parquet: str | os.PathLike, model_dir: str | os.PathLike) -> dict:
    """What decides a GRPO run's result (see the module docstring); ``overrides`` built with :data:`PLACEHOLDERS`."""
    verl = {}
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in NEUTRAL_OVERRIDES:
            verl[key] = value
    return {
        "verl": verl,
        "train_data_sha256": table_sha256(train_parquet),
        "base_model": model_dir_identity(model_dir),
    }


def identity_key(identity: Mapping) -> str:
    """A short digest of an identity (recorded in ``run.json`` as ``state_key``)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): obj}


def differing_keys(old: Mapping, new: Mapping) -> list[str]:
    """Dotted keys whose values differ between two identities (present in one only included), sorted."""
    a, b = _flat(old), _flat(new)
    return sorted(k for k in a.keys() | b.keys() if a.get(k, object()) != b.get(k, object()))


def recorded_identity(state_dir: str | os.PathLike) -> dict | None:
    """The identity recorded in ``state_dir`` (None when there is none or it cannot be read)."""
    path = Path(state_dir) / SETTINGS_FILE
    try:
        got = read_json(path)
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return got if isinstance(got, dict) else None


def stale_keys(state_dir: str | os.PathLike, identity: Mapping, keep: frozenset[str] = frozenset()) -> list[str]:
    """Why ``state_dir`` is not this run's: the differing keys, ``["<no settings record>"]`` when it holds state
    (anything besides ``keep``) but no record; ``[]`` when it is this run's or holds nothing."""
    root = Path(state_dir)
    held = [p for p in root.iterdir() if p.name not in keep | {SETTINGS_FILE}] if root.is_dir() else []
    old = recorded_identity(root)
    if old is None:
        return ["<no settings record>"] if held else []
    return differing_keys(old, identity)


def discard(path: str | os.PathLike, keep: frozenset[str] = frozenset()) -> None:
    """Delete everything in directory ``path`` except the names in ``keep``."""
    root = Path(path)
    if not root.is_dir():
        return
    for p in root.iterdir():
        if p.name in keep:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def claim(state_dir: str | os.PathLike, identity: Mapping, keep: frozenset[str] = frozenset()) -> list[str]:
    """Make ``state_dir`` this run's: discard another run's state (all but ``keep``, logged with the keys that
    differ) and record ``identity``. Returns the differing keys ([] when the state was this run's or empty)."""
    keys = stale_keys(state_dir, identity, keep)
    if keys:
        shown = ", ".join(keys[:12]) + (f" (+{len(keys) - 12} more)" if len(keys) > 12 else "")
        log.warning("%s holds the state of a run with other settings (%s): discarded, training starts fresh",
                    state_dir, shown)  # fmt: skip
        discard(state_dir, keep)
    write_json(Path(state_dir) / SETTINGS_FILE, dict(identity))
    return keys
