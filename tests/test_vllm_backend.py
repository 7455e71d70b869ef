"""vLLM backend: sampling-parameter mapping and output reshaping, with a fake ``vllm`` module (no GPU, no vllm)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest

from rlscaling.evaluation import vllm_backend as vb


@dataclass
class FakeCompletion:
    text: str
    token_ids: list[int]


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
        return [FakeRequest([FakeCompletion(f"p{len(p['prompt_token_ids'])}s{j}", [7] * (j + 1))
                             for j in range(sampling.kwargs["n"])]) for p in prompts]


@pytest.fixture
def fake_vllm(monkeypatch):
    created = []

    def make_llm(**kwargs):
        llm = FakeLLM(kwargs)
        created.append(llm)
        return llm

    module = types.SimpleNamespace(LLM=make_llm, SamplingParams=lambda **kw: types.SimpleNamespace(kwargs=kw))
    monkeypatch.setitem(sys.modules, "vllm", module)
    vb._LLM_CACHE.clear()
    yield created
    vb._LLM_CACHE.clear()


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


def test_generate_greedy_shape_and_counts(fake_vllm):
    out = vb.generate("/m", ["ab", "abcd", "x"], max_new_tokens=5, num_samples=3, temperature=0.0)
    assert [len(r) for r in out] == [3, 3, 3]
    assert out[1][0] == {"text": "p4s0", "prompt_tokens": 4, "response_tokens": 1}
    assert out[1][0] == out[1][2]  # greedy samples are the one decoded sequence
    llm = fake_vllm[0]
    assert llm.kwargs["model"] == "/m" and llm.kwargs["tensor_parallel_size"] == 1


def test_generate_sampling_keeps_prompt_order_and_samples(fake_vllm):
    out = vb.generate("/m", ["abc", "a"], max_new_tokens=5, num_samples=2, temperature=1.0, seed=9,
                      tensor_parallel_size=2, gpu_memory_utilization=0.5, max_model_len=64)
    assert [[d["text"] for d in r] for r in out] == [["p3s0", "p3s1"], ["p1s0", "p1s1"]]
    assert [d["response_tokens"] for d in out[0]] == [1, 2]
    llm = fake_vllm[0]
    assert (llm.kwargs["tensor_parallel_size"], llm.kwargs["gpu_memory_utilization"], llm.kwargs["max_model_len"]) \
        == (2, 0.5, 64)
    assert llm.calls[0][1].kwargs["seed"] == 9


def test_engine_reused_across_calls(fake_vllm):
    vb.generate("/m", ["a"], max_new_tokens=2)
    vb.generate("/m", ["b"], max_new_tokens=2, num_samples=2, temperature=0.7)
    assert len(fake_vllm) == 1


def test_prompt_too_long_names_prompt(fake_vllm):
    with pytest.raises(ValueError, match="prompt 1: 10 prompt tokens"):
        vb.generate("/m", ["a", "x" * 10], max_new_tokens=8, max_model_len=16)


def test_reshape_rejects_wrong_counts():
    with pytest.raises(ValueError, match="2 outputs for 1 prompts"):
        vb.reshape_outputs([FakeRequest([]), FakeRequest([])], 1, [3])
    with pytest.raises(ValueError, match="prompt 0: vLLM returned 2 completions, expected 3"):
        vb.reshape_outputs([FakeRequest([FakeCompletion("a", [1]), FakeCompletion("b", [1])])], 3, [1])


def test_missing_vllm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    vb._LLM_CACHE.clear()
    with pytest.raises(ImportError, match="evaluate.backend=vllm needs the vllm package"):
        vb.generate("/m", ["a"], max_new_tokens=2)
