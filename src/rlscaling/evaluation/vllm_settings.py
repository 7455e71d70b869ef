"""Engine settings of one vLLM evaluate job, read from the study config (``evaluate.precision``,
``evaluate.vllm.*``) and checked: every invalid or unsupported setting raises an error naming its config key.
No vLLM import here; the engine itself is :mod:`rlscaling.evaluation.vllm_backend`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

PRECISION_DTYPES = {"fp32": "float32", "bf16": "bfloat16"}  # evaluate.precision -> vLLM dtype


@dataclass(frozen=True)
class VllmSettings:
    """Engine settings of one evaluate job (config ``evaluate.precision`` and ``evaluate.vllm.*``).

    - ``precision``: ``fp32`` or ``bf16`` (weights and activations; ``evaluate.precision``).
    - ``tensor_parallel_size``: GPUs per engine (1 on a CPU).
    - ``gpu_memory_utilization``: fraction (0, 1] of GPU memory vLLM may use; ``None`` = 0.9. GPU only: on a CPU
      vLLM reads it as the fraction of *host* memory to reserve, which a shared machine refuses, so it must stay
      unset there and ``cpu_kvcache_space_gib`` sizes the KV cache instead.
    - ``max_model_len``: prompt + generated tokens per sequence; ``None`` = the model's ``max_position_embeddings``.
    - ``cpu_kvcache_space_gib``: KV-cache size on a CPU in GiB (vLLM's ``kv_cache_memory_bytes``; the same as the
      ``VLLM_CPU_KVCACHE_SPACE`` variable, which takes whole GiB only).
    - ``cpu_threads``: OpenMP threads of the CPU worker; vLLM's own binding (``VLLM_CPU_OMP_THREADS_BIND=auto``)
      pins the worker to all cores but one, which collides with other jobs on a shared machine, so a count sets
      ``VLLM_CPU_OMP_THREADS_BIND=nobind`` and ``OMP_NUM_THREADS``. ``None``: vLLM's binding.
    - ``cpu_omp_threads_bind``: explicit ``VLLM_CPU_OMP_THREADS_BIND`` (``auto``, ``nobind`` or core ids such as
      ``0-1`` / ``0,2``); overrides ``cpu_threads``' ``nobind``.
    - ``enforce_eager``: skip graph compilation (``torch.compile`` on a CPU, CUDA graphs on a GPU). ``None``: eager
      on a CPU, compiled on a GPU (vLLM's default).
    - ``multiprocessing``: run the engine core (and its worker) in spawned child processes (``True``) or in the
      caller's process (``False``: ``VLLM_ENABLE_V1_MULTIPROCESSING=0``). ``None``: in-process on a CPU,
      vLLM's default (child processes) on a GPU. Measured on a 2-core CPU with a 99k-parameter model: eager and
      in-process start the engine in ~7 s, vLLM's defaults in ~160 s (two spawned processes that import vLLM
      again, then ~60 s of ``torch.compile``), for a decode speed within 30%.
    - ``seed``: the engine's seed (each request carries its own sampling seed).
    """

    precision: str = "bf16"
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    cpu_kvcache_space_gib: float = 1.0
    cpu_threads: int | None = None
    cpu_omp_threads_bind: str | None = None
    enforce_eager: bool | None = None
    multiprocessing: bool | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.precision not in PRECISION_DTYPES:
            raise ValueError(f"evaluate.precision must be one of {sorted(PRECISION_DTYPES)}, got {self.precision!r}")
        _check_int("tensor_parallel_size", self.tensor_parallel_size, minimum=1)
        if self.gpu_memory_utilization is not None and not (
            _is_number(self.gpu_memory_utilization) and 0 < self.gpu_memory_utilization <= 1
        ):
            raise ValueError(
                f"evaluate.vllm.gpu_memory_utilization must be a fraction in (0, 1] or null, "
                f"got {self.gpu_memory_utilization!r}"
            )
        if self.max_model_len is not None:
            _check_int("max_model_len", self.max_model_len, minimum=1)
        if not (_is_number(self.cpu_kvcache_space_gib) and self.cpu_kvcache_space_gib > 0):
            raise ValueError(
                f"evaluate.vllm.cpu_kvcache_space_gib must be a positive number of GiB, "
                f"got {self.cpu_kvcache_space_gib!r}"
            )
        if self.cpu_threads is not None:
            _check_int("cpu_threads", self.cpu_threads, minimum=1)
        if self.cpu_omp_threads_bind is not None and (
            not isinstance(self.cpu_omp_threads_bind, str) or not self.cpu_omp_threads_bind.strip()
        ):
            raise ValueError(
                f"evaluate.vllm.cpu_omp_threads_bind must be 'auto', 'nobind' or core ids such as "
                f"'0-1', got {self.cpu_omp_threads_bind!r}"
            )
        for name in ("enforce_eager", "multiprocessing"):
            value = getattr(self, name)
            if not (value is None or isinstance(value, bool)):
                raise ValueError(f"evaluate.vllm.{name} must be true, false or null, got {value!r}")
        _check_int("seed", self.seed, minimum=0)

    @property
    def dtype(self) -> str:
        """vLLM's name of :attr:`precision` (``float32`` / ``bfloat16``)."""
        return PRECISION_DTYPES[self.precision]

    @classmethod
    def from_config(cls, evaluate: Mapping[str, Any], threads: int | None = None) -> VllmSettings:
        """Settings from the config's ``evaluate`` section: ``precision`` (default bf16) and the ``vllm`` mapping,
        whose keys are this class's field names except ``precision``; an unknown key raises ``ValueError``.
        ``threads`` (the job's thread count) is the default of ``cpu_threads``."""
        knobs = dict(evaluate.get("vllm") or {})
        names = {f.name for f in fields(cls)} - {"precision"}
        unknown = sorted(set(knobs) - names)
        if unknown:
            raise ValueError(
                f"unknown key(s) evaluate.vllm.{', evaluate.vllm.'.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        if threads is not None and knobs.get("cpu_threads") is None:
            knobs["cpu_threads"] = int(threads)
        return cls(precision=str(evaluate.get("precision", "bf16")), **knobs)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"evaluate.vllm.{name} must be an integer >= {minimum}, got {value!r}")
