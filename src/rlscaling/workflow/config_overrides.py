"""Values given on Snakemake's command line (``--config key=value``) read as the types the config schema declares.

Snakemake parses a ``--config`` value that is a mapping or a list with YAML's ``BaseLoader``, so every scalar inside
it arrives as a string: ``--config "grpo={'lr': 1e-5, 'steps': 40}"`` gives ``{'grpo': {'lr': '1e-5', 'steps': '40'}}``
(only a top-level scalar, ``--config seed=4321``, is read as a number). :func:`coerce_overrides` rewrites each such
string in the merged config as the type ``workflow/schemas/config.schema.yaml`` declares at its key, before the
config is validated:

- a key that accepts a string keeps it (``null``/``~``/empty becomes ``None`` where the key also accepts null);
- ``integer``: read by Python's ``int`` (``40``); ``number``: ``int``, else ``float`` (``1e-5``, ``0.00001``; a
  YAML config file reads ``1e-5`` as a string, a ``--config`` value as the number it means);
- ``boolean`` and ``null``: read as a YAML config file reads them (``true``/``false``/``yes``/``no``/``on``/``off``;
  ``null``/``~``/empty);
- lists and mappings inside the value (``shots: [0, 1]``, a budget's ``{tokens: ...}``): element by element, with
  the schema's ``items`` / ``properties`` / ``additionalProperties`` / ``patternProperties``, through ``$ref`` and the
  alternatives of ``oneOf`` / ``anyOf`` / ``allOf``.

Only the keys present in ``--config`` are touched: a string that a config file gave stays as it was. A string that
cannot be read as the declared type stops the run with a :class:`rlscaling.study.ConfigError` naming the key, the
value and the type. Keys the schema does not know are left alone (the schema's validation names them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

from rlscaling.study import ConfigError, _key

_YAML = yaml.resolver.Resolver()  # PyYAML's implicit scalar types (what a YAML config file reads for bare text)
_TAG = "tag:yaml.org,2002:"
_ALTERNATIVES = ("oneOf", "anyOf", "allOf")


def coerce_overrides(cfg: dict, overrides: Mapping, schema: dict) -> dict:
    """Rewrite, in ``cfg`` (the merged config), the value of every leaf key of ``overrides`` (Snakemake's parsed
    ``--config``, ``workflow.config_settings.config``) as the schema's type at that key. Returns ``cfg``.

    A mapping in ``overrides`` was merged key by key into ``cfg`` (Snakemake's ``update_config``), so its leaves are
    walked one by one; any other value replaced the config's value whole, so it is read as a whole."""
    _walk(cfg, overrides, [schema], schema, ())
    return cfg


def _walk(cfg: dict, overrides: Mapping, schemas: list[dict], root: dict, path: tuple) -> None:
    for name, given in overrides.items():
        if name not in cfg:  # not merged (cannot happen with Snakemake's merge): nothing to read
            continue
        sub = _children(schemas, name, root)
        if isinstance(given, Mapping) and isinstance(cfg[name], dict):
            _walk(cfg[name], given, sub, root, (*path, name))
        else:
            cfg[name] = coerce(cfg[name], sub, root, (*path, name))


def coerce(value, schemas: list[dict], root: dict, path: tuple = ()):
    """``value`` (strings, and lists / mappings of them, as from ``--config``) read as the types ``schemas`` (the
    schemas that apply at ``path``; ``$ref`` resolved against ``root``) declare."""
    branches = _branches(schemas, root)
    if isinstance(value, Mapping):
        return {k: coerce(v, _children(branches, k, root), root, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
        return [coerce(v, items, root, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _read(value, _types(branches), path)
    return value


def _branches(schemas: list[dict], root: dict) -> list[dict]:
    """The schemas that may apply, ``$ref`` followed and ``oneOf``/``anyOf``/``allOf`` expanded into alternatives
    (a conjunction read as alternatives only widens the types tried; validation checks the value afterwards)."""
    out = []
    for schema in schemas:
        if not isinstance(schema, dict):
            continue
        if "$ref" in schema:
            out.extend(_branches([_resolve(schema["$ref"], root)], root))
        for word in _ALTERNATIVES:
            out.extend(_branches(schema.get(word, []), root))
        if not any(w in schema for w in ("$ref", *_ALTERNATIVES)) or "type" in schema:
            out.append(schema)
    return out


def _resolve(ref: str, root: dict) -> dict:
    """A local JSON pointer (``#/$defs/positive_int``) in the schema."""
    if not ref.startswith("#"):
        raise ValueError(f"config schema: only local $ref are supported, got {ref!r}")
    node = root
    for part in filter(None, ref[1:].split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _children(schemas: list[dict], name: str, root: dict) -> list[dict]:
    """The schemas of key ``name`` inside an object described by ``schemas``."""
    out = []
    for branch in _branches(schemas, root):
        if name in branch.get("properties", {}):
            out.append(branch["properties"][name])
            continue
        matched = [s for pattern, s in branch.get("patternProperties", {}).items() if re.search(pattern, str(name))]
        out.extend(matched)
        if not matched and isinstance(branch.get("additionalProperties"), dict):
            out.append(branch["additionalProperties"])
    return out


def _types(branches: list[dict]) -> set[str] | None:
    """The JSON types the branches accept (``None``: one of them does not say, so anything goes)."""
    types: set[str] = set()
    for branch in branches:
        declared = branch.get("type")
        if declared is None:
            return None
        types.update([declared] if isinstance(declared, str) else declared)
    return types or None


def _read(text: str, types: set[str] | None, path: tuple):
    """``text`` as the first of null, boolean, integer, number that ``types`` accepts and that reads it."""
    tag = _YAML.resolve(yaml.ScalarNode, text, (True, False))
    if types is None:
        return text
    if "null" in types and tag == _TAG + "null":
        return None
    if "string" in types:
        return text
    if "boolean" in types and tag == _TAG + "bool":
        return yaml.constructor.SafeConstructor.bool_values[text.lower()]
    if "integer" in types or "number" in types:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            pass
    wanted = " or ".join(sorted(types))
    raise ConfigError(
        f"{_key(path)}: {text!r} given with --config cannot be read as {wanted} (Snakemake passes the values inside a "
        f"--config mapping or list as strings; each is read as the type the config schema declares for its key)"
    )
