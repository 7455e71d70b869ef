"""Batched greedy / sampled generation with vLLM: the GPU twin of ``rlscaling.evaluation.transformers_backend``.

:func:`generate` returns exactly what the transformers backend returns, so ``rlscaling.evaluation.run`` scores both
alike. vLLM is imported lazily (it exists only in the GPU environment, ``envs/vllm.yaml``). Prompts are tokenized
here with ``add_special_tokens=False`` (as the transformers backend does) and handed to vLLM as token ids, so both
backends count and see the same prompt tokens. vLLM schedules its own batches: ``batch_size`` is accepted for
signature compatibility and ignored.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

_LLM_CACHE: dict[tuple, Any] = {}


def _import_vllm():
    try:
        import vllm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "evaluate.backend=vllm needs the vllm package, which is not installed in this environment; "
            "use the GPU environment (envs/vllm.yaml) or set evaluate.backend: transformers"
        ) from exc
    return vllm


def sampling_kwargs(max_new_tokens: int, num_samples: int = 1, temperature: float = 0.0, seed: int = 0) -> dict:
    """Keyword arguments of ``vllm.SamplingParams`` for one request.

    Greedy (``temperature == 0``) asks for one sequence (all greedy samples are identical; :func:`reshape_outputs`
    copies it); sampling asks for ``n = num_samples`` seeded sequences at ``temperature`` with no top-p/top-k cut.
    """
    if max_new_tokens < 1 or num_samples < 1:
        raise ValueError(f"max_new_tokens and num_samples must be >= 1 (got {max_new_tokens}, {num_samples})")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    greedy = temperature == 0
    return {
        "n": 1 if greedy else num_samples,
        "temperature": 0.0 if greedy else float(temperature),
        "top_p": 1.0,
        "max_tokens": int(max_new_tokens),
        "seed": int(seed),
        "skip_special_tokens": True,
    }


def reshape_outputs(outputs: Sequence[Any], num_samples: int, prompt_lengths: Sequence[int]) -> list[list[dict]]:
    """vLLM ``RequestOutput`` list (one per prompt, in order) -> per prompt, ``num_samples`` result dicts.

    Each dict is ``{"text", "prompt_tokens", "response_tokens"}``; ``response_tokens`` counts generated tokens
    including a final EOS. A request with a single completion (greedy) is copied ``num_samples`` times.
    """
    if len(outputs) != len(prompt_lengths):
        raise ValueError(f"vLLM returned {len(outputs)} outputs for {len(prompt_lengths)} prompts")
    results = []
    for i, (out, n_prompt) in enumerate(zip(outputs, prompt_lengths)):
        completions = list(out.outputs)
        if len(completions) == 1 and num_samples > 1:
            completions = completions * num_samples
        if len(completions) != num_samples:
            raise ValueError(f"prompt {i}: vLLM returned {len(completions)} completions, expected {num_samples}")
        results.append([{"text": c.text, "prompt_tokens": int(n_prompt), "response_tokens": len(c.token_ids)}
                        for c in completions])
    return results


def check_prompt_lengths(lengths: Sequence[int], max_new_tokens: int, max_model_len: int | None) -> None:
    """Raise ``ValueError`` naming the first prompt that cannot fit ``max_new_tokens`` more tokens."""
    if max_model_len is None:
        return
    for i, n in enumerate(lengths):
        if n + max_new_tokens > max_model_len:
            raise ValueError(f"prompt {i}: {n} prompt tokens + {max_new_tokens} new tokens exceed "
                             f"max_model_len={max_model_len} (evaluate.vllm.max_model_len)")


def load_llm(model_dir: str, tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
             max_model_len: int | None = None, seed: int = 0, dtype: str = "bfloat16") -> Any:
    """A ``vllm.LLM`` for ``model_dir`` (one per process and argument set: reused by later calls)."""
    key = (str(model_dir), tensor_parallel_size, gpu_memory_utilization, max_model_len, seed, dtype)
    if key not in _LLM_CACHE:
        vllm = _import_vllm()
        _LLM_CACHE.clear()  # one engine holds the GPU at a time
        _LLM_CACHE[key] = vllm.LLM(model=str(model_dir), tensor_parallel_size=tensor_parallel_size,
                                   gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
                                   seed=seed, dtype=dtype)
    return _LLM_CACHE[key]


def generate(
    model_dir: str | os.PathLike,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int | None = None,
    num_samples: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
) -> list[list[dict]]:
    """Generate ``num_samples`` continuations per prompt with vLLM (same contract as the transformers backend).

    Returns, in the order of ``prompts``, lists of ``{"text", "prompt_tokens", "response_tokens"}``; ``text`` is the
    continuation only (special tokens dropped). ``temperature == 0`` is greedy. The engine is built once per
    process and argument set (:func:`load_llm`); a prompt too long for ``max_model_len`` raises ``ValueError``.
    """
    del batch_size  # vLLM schedules its own batches
    params = sampling_kwargs(max_new_tokens, num_samples, temperature, seed)
    llm = load_llm(str(model_dir), tensor_parallel_size=tensor_parallel_size,
                  gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len, seed=seed)
    tokenizer = llm.get_tokenizer()
    token_ids = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    lengths = [len(ids) for ids in token_ids]
    check_prompt_lengths(lengths, max_new_tokens, max_model_len)
    sampling = _import_vllm().SamplingParams(**params)
    outputs = llm.generate([{"prompt_token_ids": ids} for ids in token_ids], sampling, use_tqdm=True)
    return reshape_outputs(outputs, num_samples, lengths)
