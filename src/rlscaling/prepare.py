"""What each prepared dataset of the workflow is, from the config: ``results/data/<name>.jsonl``.

Names: ``rl_train`` (GRPO prompts), ``eval_<bench>`` (evaluated items), ``fewshot_<bench>`` (exemplar pool, drawn
from the train split so it never overlaps the evaluated items), ``pretrain_corpus`` (embedded study only: text
documents with a train/validation split), ``val_text`` (validation-loss texts from a non-corpus source).
"""

from __future__ import annotations

from .config import ConfigError

DEFAULT_FEWSHOT_N = 64


def dataset_spec(cfg: dict, name: str) -> dict:
    """Source spec, split, size and seed of a named dataset; unknown names raise ``ConfigError``."""
    seed = int(cfg.get("seed", 0))
    if name == "rl_train":
        d = cfg["data"]["rl_train"]
        return {"source": d["source"], "split": d.get("split", "train"), "n": d.get("n"), "seed": d.get("seed", seed)}
    if name.startswith("eval_") or name.startswith("fewshot_"):
        kind, bench = name.split("_", 1)
        if bench not in cfg["benchmarks"]:
            raise ConfigError(f"dataset '{name}': no benchmark '{bench}' in benchmarks ({sorted(cfg['benchmarks'])})")
        b = cfg["benchmarks"][bench]
        if kind == "eval":
            return {"source": b["source"], "split": b.get("split", "test"), "n": b.get("n"), "seed": b.get("seed", seed)}
        return {
            "source": b.get("fewshot_source", b["source"]),
            "split": b.get("fewshot_split", "train"),
            "n": b.get("fewshot_n", DEFAULT_FEWSHOT_N),
            "seed": b.get("fewshot_seed", seed + 1),
        }
    if name == "val_text":
        v = cfg.get("val_loss") or {}
        return {"source": v["source"], "split": "validation", "n": v.get("n_documents"), "seed": seed}
    raise ConfigError(f"unknown dataset '{name}' (rl_train, eval_<bench>, fewshot_<bench>, pretrain_corpus, val_text)")


def prepare_dataset(cfg: dict, name: str) -> list[dict]:
    """Build the records of a named dataset (see module docstring)."""
    if name == "pretrain_corpus":
        from .corpus import build_pretrain_corpus, corpus_options

        pc = cfg["data"].get("pretrain_corpus") or {}
        docs = build_pretrain_corpus(**corpus_options(pc))
        frac = float(pc.get("validation_fraction", 0.02))
        n_val = max(1, int(round(len(docs) * frac)))
        return [
            {"id": f"doc{i}", "text": t, "split": "validation" if i >= len(docs) - n_val else "train"}
            for i, t in enumerate(docs)
        ]
    from .data import load_records

    spec = dataset_spec(cfg, name)
    rows = load_records(spec["source"], split=spec["split"], n=spec["n"], seed=int(spec["seed"]))
    if not rows:
        raise ConfigError(f"dataset '{name}' from {spec['source']} (split {spec['split']}) is empty")
    if name == "val_text":
        rows = [{"id": r["id"], "text": r.get("text") or r.get("question", ""), "split": "validation"} for r in rows]
    return rows
