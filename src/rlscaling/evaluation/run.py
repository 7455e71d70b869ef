"""One evaluation job: prompts -> one generation pass -> per-item records scored by every scorer -> summary.

Greedy jobs generate one response per item; pass@k jobs generate ``n`` samples per item at a temperature and
report the unbiased pass@k for each configured ``k``. Records keep the response and, per scorer, the extracted
answer and the score, so every table and figure can be recomputed without running a model again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

from rlscaling.io import read_jsonl, write_json, write_jsonl
from rlscaling.metrics import bootstrap_mean_ci, pass_at_k
from rlscaling.rewards.seed import seed_truth
from rlscaling.study import benchmark_kind, prompt_style
from rlscaling.tasks import family

log = logging.getLogger(__name__)


def checkpoint_path(model_dir: str | Path, step: int) -> Path:
    """The HF model directory of a checkpoint: the base model for step 0, ``<grpo dir>/step_<k>`` otherwise."""
    model_dir = Path(model_dir)
    if step == 0:
        return model_dir
    ckpt = model_dir / f"step_{step}"
    if not ckpt.is_dir():
        saved = sorted(p.name for p in model_dir.glob("step_*"))
        raise FileNotFoundError(f"{ckpt} does not exist; the GRPO run saved {saved} (check grpo.save_steps)")
    return ckpt


def score_response(kind: str, response: str, item: dict, scorers: list[str]) -> tuple[dict, dict]:
    """(extracted answer per scorer, score per scorer) for one response (each registered scorer's function,
    :mod:`rlscaling.tasks`).

    The seed's scorers compare with the seed's ground-truth string (``rewards.seed.seed_truth``), the others with
    the record's canonical answer."""
    extracted: dict[str, str | None] = {}
    scores: dict[str, float] = {}
    for s in scorers:
        scorer = family(kind).scorer(s)
        truth = seed_truth(kind, item) if scorer.seed else item["answer"]
        extracted[s], scores[s] = scorer.score(response, truth)
    return extracted, scores


def build_eval_prompts(
    kind: str,
    items: list[dict],
    pool: list[dict] | None,
    shots: int,
    seed: int,
    instruction: bool,
    style: str = "consistent",
) -> list[str]:
    """The evaluation prompts of one benchmark and shot count (``rlscaling.prompts.build_prompts``)."""
    from rlscaling import prompts

    with_instruction = instruction and family(kind).instruction  # a family without one never reads the key
    return prompts.build_prompts(items, pool or [], shots, seed, kind, instruction=with_instruction, style=style)


def generate(
    cfg: dict,
    model_path: Path,
    prompts_: list[str],
    max_new_tokens: int,
    num_samples: int,
    temperature: float,
    seed: int,
    threads: int,
    stop: list[str] | None = None,
) -> list[list[dict]]:
    """Dispatch to the configured generation backend (same return shape for every backend).

    A vLLM engine is built once per process and reused by every later call on the same model (``vllm_backend``'s
    engine cache), so one checkpoint's job starts one engine for all its benchmarks, shot counts and samples.
    """
    ev = cfg["evaluate"]
    extra = {"stop": list(stop)} if stop else {}
    if ev["backend"] == "vllm":
        from .vllm_backend import VllmSettings, get_generator

        engine = get_generator(str(model_path), VllmSettings.from_config(ev, threads))
        return engine.generate(prompts_, max_new_tokens, num_samples, temperature, seed, stop=list(stop or ()))
    from .transformers_backend import generate as hf_generate

    return hf_generate(
        str(model_path),
        prompts_,
        max_new_tokens=max_new_tokens,
        batch_size=int(ev.get("batch_size", 32)),
        num_samples=num_samples,
        temperature=temperature,
        seed=seed,
        threads=threads,
        **extra,
    )


def evaluate_checkpoint(cfg: dict, model_dir, step: int, data_dir, out_dir, threads: int = 1) -> dict:
    """Evaluate one checkpoint on every item of its plan (``cfg["plan"]``: ``[bench, shots, passk]``), loading the
    model (or starting the vLLM engine) once; writes ``<bench>_<shots>shot[_passk].{records.jsonl,summary.json}``
    under ``out_dir`` and returns ``{stem: {"wall_s", "accuracy"}}`` plus the job's total wall time."""
    from rlscaling.models.checkpoints import check_if_local
    from rlscaling.models.hub import resolve_model_path

    t0 = time.time()
    model_path = Path(resolve_model_path(checkpoint_path(model_dir, step)))
    check_if_local(model_path)  # a missing or truncated file is named before any backend loads it
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    done: dict = {}
    if cfg["evaluate"]["backend"] == "vllm":  # start the engine once, before any generation, and time it
        from .vllm_backend import VllmSettings, get_generator

        engine = get_generator(str(model_path), VllmSettings.from_config(cfg["evaluate"], threads))
        done["engine"] = {"import_s": round(engine.import_s, 3), "engine_start_s": round(engine.engine_start_s, 3)}
        log.info("vLLM engine for %s: import %.1f s, start %.1f s", model_path, engine.import_s, engine.engine_start_s)
    for bench, shots, passk in cfg["plan"]:
        stem = f"{bench}_{shots}shot" + ("_passk" if passk else "")
        pool = data_dir / f"fewshot_{bench}.jsonl" if shots > 0 else None
        summary = evaluate_job(
            cfg,
            model_path,
            0,
            bench,
            int(shots),
            items_path=data_dir / f"eval_{bench}.jsonl",
            pool_path=pool,
            records_path=out_dir / f"{stem}.records.jsonl",
            summary_path=out_dir / f"{stem}.summary.json",
            passk=bool(passk),
            threads=threads,
            step_label=step,
        )
        done[stem] = {
            "wall_s": summary["wall_s"],
            "generate_s": summary["generate_s"],
            "generated_tokens": summary["generated_tokens"],
            "accuracy": summary["accuracy"],
        }
        log.info("%s step %d %s: %s (%.1f s)", model_dir, step, stem, summary["accuracy"], summary["wall_s"])
    done["wall_s"] = round(time.time() - t0, 3)
    return done


def evaluate_job(
    cfg: dict,
    model_dir,
    step: int,
    bench: str,
    shots: int,
    items_path,
    pool_path,
    records_path,
    summary_path,
    passk: bool = False,
    threads: int = 1,
    step_label: int | None = None,
) -> dict:
    """Run one checkpoint x benchmark x shots evaluation; writes records (JSONL) and a summary (JSON).

    ``model_dir``/``step`` locate the model (:func:`checkpoint_path`); ``step_label`` is the RL step recorded in the
    summary (default ``step``). Greedy unless ``passk`` (``evaluate.pass_at_k``: n samples at its temperature)."""
    t0 = time.time()
    spec = cfg["benchmarks"][bench]
    kind = benchmark_kind(bench, spec)
    items = read_jsonl(items_path)
    pk = cfg["evaluate"]["pass_at_k"] if passk else None
    if pk and pk.get("n_items"):
        items = items[: int(pk["n_items"])]
    pool = read_jsonl(pool_path) if pool_path else None
    seed = int(cfg.get("seed", 0))
    style = prompt_style(cfg)
    prompts_ = build_eval_prompts(kind, items, pool, shots, seed, bool(spec.get("instruction", False)), style)
    model_path = checkpoint_path(model_dir, step)
    clip = _clip_report(prompts_, model_path, spec.get("max_prompt_tokens"))
    n, temperature = (int(pk["n"]), float(pk["temperature"])) if pk else (1, 0.0)
    sampling = {"num_samples": n, "temperature": temperature, "passk": passk, "stop": list(spec.get("stop") or [])}
    t_gen, max_new = time.time(), int(spec.get("max_new_tokens", 256))
    outs = generate(cfg, model_path, prompts_, max_new, n, temperature, seed, threads, stop=sampling["stop"])
    generate_s = round(time.time() - t_gen, 3)
    if len(outs) != len(items):
        raise RuntimeError(f"backend returned {len(outs)} results for {len(items)} prompts")
    scorers = list(spec["scorers"])
    records = scored_records(kind, items, outs, scorers)
    write_jsonl(records_path, records)
    step_recorded = step if step_label is None else step_label
    identity = {"model_dir": str(model_path), "step": step_recorded, "benchmark": bench, "kind": kind}
    identity.update(shots=shots, n_items=len(items))
    timing = {"clip": clip, "wall_s": round(time.time() - t0, 3), "generate_s": generate_s}
    outcome = _outcome(records, scorers, n, [int(k) for k in pk["k"]] if pk else None, seed)
    summary = {**identity, **sampling, "scorers": scorers, **timing, **outcome}
    write_json(summary_path, summary)
    return summary


def _outcome(records: list[dict], scorers: list[str], num_samples: int, ks: list[int] | None, seed: int) -> dict:
    """Generated tokens (total and mean per response) and every scorer's accuracy (:func:`_accuracies`)."""
    lengths = [r["response_tokens"] for r in records if r["response_tokens"] is not None]
    return {
        "generated_tokens": sum(lengths),
        "mean_response_tokens": _mean(lengths),
        "accuracy": _accuracies(records, scorers, num_samples, ks, seed),
    }


def _clip_report(prompts_: list[str], model_path: Path, limit: int | None) -> dict | None:
    """How many prompts exceed ``max_prompt_tokens`` (tokens; logged, and evaluated in full), or None."""
    if not limit:
        return None
    from transformers import AutoTokenizer

    from rlscaling.prompts import clip_report

    clip = clip_report(prompts_, AutoTokenizer.from_pretrained(str(model_path)), int(limit))
    if clip["n_over"]:
        log.warning(
            "%d of %d prompts exceed max_prompt_tokens=%d (clip rate %.1f%%); they are evaluated in full",
            clip["n_over"],
            clip["n"],
            limit,
            100 * clip["clip_rate"],
        )
    return clip


def scored_records(kind: str, items: list[dict], outs: list[list[dict]], scorers: list[str]) -> list[dict]:
    """Per-item records (one per sample): response, token counts, and every scorer's extraction and score.

    With a seed scorer among ``scorers`` a record also holds ``seed_answer``, the ground-truth string the seed's
    scorers compared (GSM8K: commas kept); without one, records keep their shape."""
    records = []
    with_seed = any(family(kind).scorer(s).seed for s in scorers)
    for item, samples in zip(items, outs):
        for j, out in enumerate(samples):
            extracted, scores = score_response(kind, out["text"], item, scorers)
            record = {
                "id": item["id"],
                "sample": j,
                "prompt_tokens": out.get("prompt_tokens"),
                "response": out["text"],
                "response_tokens": out.get("response_tokens"),
                "answer": item["answer"],
                "subject": item.get("subject"),
                "level": item.get("level"),
                "extracted": extracted,
                "score": scores,
            }
            if with_seed:
                record["seed_answer"] = seed_truth(kind, item)
            records.append(record)
    return records


def _accuracies(records: list[dict], scorers: list[str], num_samples: int, ks: list[int] | None, seed: int) -> dict:
    """Per scorer: greedy accuracy with its item-bootstrap CI (fractions), or unbiased pass@k for each k."""
    if ks is not None:
        return {
            s: {f"pass@{k}": _mean(v) for k, v in _passk_per_item(records, s, num_samples, ks).items()} for s in scorers
        }
    out = {}
    for s in scorers:
        mean, lo, hi = bootstrap_mean_ci([r["score"][s] for r in records], seed=seed)
        out[s] = {"accuracy": mean, "ci_low": lo, "ci_high": hi}
    return out


def _passk_per_item(records: list[dict], scorer: str, n: int, ks: list[int]) -> dict[int, list[float]]:
    by_item: dict[str, int] = {}
    for r in records:
        by_item[r["id"]] = by_item.get(r["id"], 0) + int(r["score"][scorer] > 0)
    return {k: [pass_at_k(n, c, k) for c in by_item.values()] for k in ks}


def passk_item_scores(records: list[dict], scorer: str, ks: list[int]) -> dict[int, dict[str, float]]:
    """Per-item unbiased pass@k from sampled records: ``{k: {item_id: value}}`` (used by aggregation)."""
    n_by_item: dict[str, int] = {}
    c_by_item: dict[str, int] = {}
    for r in records:
        n_by_item[r["id"]] = n_by_item.get(r["id"], 0) + 1
        c_by_item[r["id"]] = c_by_item.get(r["id"], 0) + int(r["score"][scorer] > 0)
    return {k: {i: pass_at_k(n_by_item[i], c_by_item[i], k) for i in n_by_item if k <= n_by_item[i]} for k in ks}


def majority_item_scores(records: list[dict], scorer: str) -> dict[str, float]:
    """Per-item majority-vote accuracy (maj@n) from sampled records: ``{item_id: 0.0 or 1.0}``.

    The vote is over each sample's extracted answer under ``scorer`` (no answer counts as a vote for "none",
    which is never correct); ties go to the answer sampled first. The item scores 1 when a sample carrying the
    winning answer scored > 0, so answer equivalence is the scorer's own (e.g. math-verify for MATH).
    """
    counts: dict[str, Counter] = {}
    correct: dict[str, set] = {}
    for r in records:
        answer = (r.get("extracted") or {}).get(scorer)
        counts.setdefault(r["id"], Counter())[answer] += 1
        if answer is not None and r["score"][scorer] > 0:
            correct.setdefault(r["id"], set()).add(answer)
    # a Counter keeps first-seen order and max() returns the first maximum: ties go to the answer sampled first
    return {i: float(max(c, key=c.get) in correct.get(i, ())) for i, c in counts.items()}


def val_loss_job(cfg: dict, model_dir, step: int, texts_path, out_path, threads: int = 1) -> dict:
    """Validation loss (mean token NLL, nats) of a checkpoint on held-out texts, with per-document sums (per-block
    with ``val_loss.method: blocks``, the seed's recipe; ``documents`` then lists blocks, ids ``block-<i>``)."""
    from .perplexity import block_losses, document_losses

    vl = cfg.get("val_loss") or {}
    rows = [r for r in read_jsonl(texts_path) if r.get("split", "validation") == "validation"]
    if vl.get("n_documents"):
        rows = rows[: int(vl["n_documents"])]
    if not rows:
        raise ValueError(f"{texts_path}: no validation texts (rows with split=validation)")
    t0 = time.time()
    from rlscaling.models.checkpoints import check_if_local
    from rlscaling.models.hub import resolve_model_path

    model_path = resolve_model_path(checkpoint_path(model_dir, step))
    check_if_local(model_path)  # a missing or truncated file is named before transformers loads it
    texts = [r["text"] for r in rows]
    if vl.get("method", "strided") == "blocks":
        per_doc = block_losses(model_path, texts, int(vl["seq_len"]), vl.get("chunk_rows"))
        ids = [f"block-{i}" for i in range(len(per_doc))]
    else:
        seq_len, stride = int(vl.get("seq_len", 256)), int(vl.get("stride", 128))
        per_doc = document_losses(model_path, texts, seq_len=seq_len, stride=stride)
        ids = [r["id"] for r in rows]
    nll = sum(d["nll_sum"] for d in per_doc)
    ntok = sum(d["n_tokens"] for d in per_doc)
    out = {
        "step": step,
        "loss": nll / max(ntok, 1),
        "n_tokens": ntok,
        "n_documents": len(rows),
        "documents": [{"id": i, **d} for i, d in zip(ids, per_doc)],
        "wall_s": round(time.time() - t0, 3),
    }
    write_json(out_path, out)
    return {k: v for k, v in out.items() if k != "documents"}


def _mean(xs) -> float | None:
    xs = list(xs)
    return float(sum(xs) / len(xs)) if xs else None
