"""The config schema and the one YAML loader: the package's ``config.schema.yaml``, parsed once per process.

The schema ships inside the package (package data, read with :mod:`importlib.resources`), so an installed
``rlscaling`` (``pip install .``, no source checkout) validates a config. In the source tree the packaged name is a
relative symlink to ``workflow/schemas/config.schema.yaml``, the one file (where the Snakemake workflow template keeps
it); building a wheel copies its content in.

``ROOT`` is the workflow directory (the source checkout holding the ``Snakefile`` and ``config.yaml``), against which
a config's relative paths resolve; ``None`` for an installed package, which has none.

Imports nothing from rlscaling, so every module that reads the schema's ``default:`` values (the validation in
:mod:`rlscaling.workflow.config`, the study's shape in :mod:`rlscaling.study`, the GRPO settings in
:mod:`rlscaling.training.common`) can import it without importing each other.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import yaml

SCHEMA = resources.files(__package__) / "config.schema.yaml"  # a Traversable: .read_text(), .open()
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: ~10x faster where available


def _workflow_dir() -> Path | None:
    """The source checkout this package is imported from (``src/rlscaling`` two levels below its ``Snakefile``)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "Snakefile").is_file() else None


ROOT: Path | None = _workflow_dir()


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    """The config schema (parsed once per process; read-only: defaults are deep-copied out of it)."""
    with SCHEMA.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=YAML_LOADER)
