"""What each prepared dataset of the workflow is, from the config: ``results/data/<name>.jsonl``.

Names: ``rl_train`` (GRPO prompts of the reference set, ``data.rl_train``), ``rl_train_<set>`` (those of a set of
``data.rl_train_sets``), ``eval_<bench>`` (evaluated items), ``fewshot_<bench>`` (exemplar pool, drawn
from the train split so it never overlaps the evaluated items; with ``prompts.style: seed`` the whole split in dataset
order, whose first rows are the seed's exemplars), ``pretrain_corpus`` (embedded study only: text
documents with a train/validation split), ``val_text`` (validation-loss texts from a non-corpus source: one record
per whole document, e.g. one WikiText-2 page, so the strided windows of ``val_loss.seq_len`` see long contexts).

Every question record is checked against the answer kind it will be scored as (``rlscaling.data.sources.check_answer``):
``eval_<b>``/``fewshot_<b>`` as ``benchmarks.<b>.kind`` (default: the benchmark's name), ``rl_train`` as
``data.rl_train.kind`` and ``rl_train_<set>`` as ``data.rl_train_sets.<set>.kind`` (default: inferred from an
``hf:gsm8k|math|mmlu`` or ``procedural:`` source). Every error is
raised before anything is returned, prefixed with the config key of the source (of the split for a malformed split
union, of the size when a procedural source holds fewer than ``n`` unique questions).
"""

from __future__ import annotations

from rlscaling.data.sources import DataSourceError, NotEnoughRecordsError, load_records, split_names
from rlscaling.study import ConfigError, prompt_style
from rlscaling.tasks import kind_of_hub_dataset, kinds

DEFAULT_FEWSHOT_N = 64
"""``hf:<name>`` sources whose answer kind is known without configuration."""


def dataset_spec(cfg: dict, name: str) -> dict:
    """Source spec, split, size, seed, answer kind and config key of a named dataset.

    ``kind`` is the answer kind its records must suit (``None`` for ``val_text``: text records); ``key`` is the
    config key of the source, for error messages. ``split`` may be a union, ``"test+validation"``
    (:func:`rlscaling.data.sources.split_names`). Unknown names raise ``ConfigError``.
    """
    seed = int(cfg.get("seed", 0))
    if name == "rl_train" or name.startswith("rl_train_"):
        key = _rl_train_key(cfg, name)
        d = cfg["data"]["rl_train"] if name == "rl_train" else cfg["data"]["rl_train_sets"][name[len("rl_train_") :]]
        return {
            "source": d["source"],
            "split": d.get("split", "train"),
            "n": d.get("n"),
            "seed": _seed(d.get("seed"), seed),
            "kind": _rl_train_kind(d, key),
            "key": f"{key}.source",
        }
    if name.startswith("eval_") or name.startswith("fewshot_"):
        role, bench = name.split("_", 1)
        if bench not in cfg["benchmarks"]:
            raise ConfigError(f"dataset '{name}': no benchmark '{bench}' in benchmarks ({sorted(cfg['benchmarks'])})")
        b = cfg["benchmarks"][bench]
        kind = b.get("kind", bench)
        if kind not in kinds():
            raise ConfigError(
                f"benchmarks.{bench}.kind: cannot infer the family of '{bench}'; set kind: {'|'.join(kinds())}"
            )
        if role == "eval":
            return {
                "source": b["source"],
                "split": b.get("split", "test"),
                "n": b.get("n"),
                "seed": _seed(b.get("seed"), seed),
                "kind": kind,
                "key": f"benchmarks.{bench}.source",
            }
        source = b.get("fewshot_source", b["source"])
        # the seed's exemplars are a split's first rows: keep the whole split in order (procedural: n generated)
        whole = prompt_style(cfg) == "seed" and not source.startswith("procedural:")
        return {
            "source": source,
            "split": b.get("fewshot_split", "train"),
            "n": None if whole else b.get("fewshot_n", DEFAULT_FEWSHOT_N),
            "seed": _seed(b.get("fewshot_seed"), seed + 1),
            "kind": kind,
            "key": f"benchmarks.{bench}.fewshot_source" if "fewshot_source" in b else f"benchmarks.{bench}.source",
        }
    if name == "val_text":
        v = cfg.get("val_loss") or {}
        return {
            "source": v["source"],
            "split": v.get("split", "validation"),
            "n": v.get("n_documents"),
            "seed": seed,
            "kind": None,
            "key": "val_loss.source",
        }
    raise ConfigError(
        f"unknown dataset '{name}' (rl_train, rl_train_<set>, eval_<bench>, fewshot_<bench>, pretrain_corpus, val_text)"
    )


def _rl_train_key(cfg: dict, name: str) -> str:
    """The config key of an RL training set's dataset: ``data.rl_train`` (``rl_train``), ``data.rl_train_sets.<set>``
    (``rl_train_<set>``); a set the config lacks -> ``ConfigError``."""
    if name == "rl_train":
        return "data.rl_train"
    sets, chosen = cfg["data"].get("rl_train_sets") or {}, name[len("rl_train_") :]
    if chosen not in sets:
        raise ConfigError(f"dataset '{name}': no set '{chosen}' in data.rl_train_sets ({sorted(sets)})")
    return f"data.rl_train_sets.{chosen}"


def _split_and_n_keys(cfg: dict, name: str) -> tuple[str, str]:
    """The config keys of a named dataset's split and size (``dataset_spec`` names only), for error messages."""
    if name == "rl_train" or name.startswith("rl_train_"):
        key = _rl_train_key(cfg, name)
        return f"{key}.split", f"{key}.n"
    if name == "val_text":
        return "val_loss.split", "val_loss.n_documents"
    role, bench = name.split("_", 1)
    prefix = f"benchmarks.{bench}.{'fewshot_' if role == 'fewshot' else ''}"
    return f"{prefix}split", f"{prefix}n"


def _seed(value, default: int) -> int:
    """A configured seed, or ``default`` when it is absent or null."""
    return default if value is None else int(value)


def _rl_train_kind(d: dict, key: str = "data.rl_train") -> str:
    """Answer kind of an RL training set (``key``: its config key): its ``kind``, else inferred from the source, else
    ``ConfigError``."""
    if d.get("kind") is not None:
        if d["kind"] not in kinds():
            raise ConfigError(f"{key}.kind: {d['kind']!r} is not one of {', '.join(kinds())}")
        return d["kind"]
    source_kind, _, rest = str(d["source"]).partition(":")
    if source_kind == "procedural":
        return "gsm8k"  # every procedural task has one-number answers
    name = rest.partition("?")[0]
    if source_kind == "hf" and kind_of_hub_dataset(name) is not None:
        return kind_of_hub_dataset(name)
    raise ConfigError(
        f"{key}.kind: cannot tell which scorer the answers of {d['source']!r} must suit; set kind: {'|'.join(kinds())}"
    )


def prepare_dataset(cfg: dict, name: str) -> list[dict]:
    """Build the records of a named dataset (see module docstring); any bad record raises before returning.

    ``val_text`` records are ``{"id", "text", "split": "validation"}``, one per whole document.
    """
    if name == "pretrain_corpus":
        from rlscaling.data.corpus import build_pretrain_corpus, corpus_options

        pc = cfg["data"].get("pretrain_corpus") or {}
        docs = build_pretrain_corpus(**corpus_options(pc))
        frac = float(pc.get("validation_fraction", 0.02))
        n_val = max(1, int(round(len(docs) * frac)))
        return [
            {"id": f"doc{i}", "text": t, "split": "validation" if i >= len(docs) - n_val else "train"}
            for i, t in enumerate(docs)
        ]
    spec = dataset_spec(cfg, name)
    split_key, n_key = _split_and_n_keys(cfg, name)
    try:
        split_names(spec["split"])
    except DataSourceError as exc:
        raise ConfigError(f"dataset '{name}' ({split_key}): {exc}") from None
    try:
        rows = load_records(spec["source"], split=spec["split"], n=spec["n"], seed=spec["seed"], kind=spec["kind"])
    except NotEnoughRecordsError as exc:
        raise NotEnoughRecordsError(f"dataset '{name}' ({n_key} = {spec['n']}): {exc}") from None
    except DataSourceError as exc:
        raise DataSourceError(f"dataset '{name}' ({spec['key']}): {exc}") from None
    if not rows:
        raise ConfigError(f"dataset '{name}' from {spec['source']} (split {spec['split']}) is empty")
    if name == "val_text":
        rows = [{"id": r["id"], "text": r.get("text") or r.get("question", ""), "split": "validation"} for r in rows]
    return rows
