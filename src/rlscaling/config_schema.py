"""The config schema file and the one YAML loader: ``workflow/schemas/config.schema.yaml``, parsed once per process.

Imports nothing from rlscaling, so every module that reads the schema's ``default:`` values (the validation in
:mod:`rlscaling.config`, the study's shape in :mod:`rlscaling.study`, the GRPO settings in
:mod:`rlscaling.training.common`) can import it without importing each other.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: ~10x faster where available


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    """The config schema (parsed once per process; read-only: defaults are deep-copied out of it)."""
    with open(SCHEMA, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=YAML_LOADER)
