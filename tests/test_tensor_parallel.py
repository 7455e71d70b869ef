"""Tensor-parallel sizes against the GPUs a job requests: a size that does not fit stops validation, naming the keys."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from rlscaling import study as rs
from rlscaling.workflow import config as rc
from rlscaling.workflow.tensor_parallel import tensor_parallel_problems

ROOT = Path(__file__).resolve().parents[1]


def raw(name):
    with open(ROOT / "configs" / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def qwen3_raw():
    return raw("qwen3.yaml")


@pytest.mark.parametrize("name", ["qwen3.yaml", "evolm.yaml", "olmo2.yaml"])
def test_shipped_gpu_configs_fit(name):
    assert tensor_parallel_problems(rc.load_config(ROOT / "configs" / name)) == []


def test_vllm_size_beyond_the_evaluate_gpus_is_named(qwen3_raw):
    cfg = copy.deepcopy(qwen3_raw)
    cfg["evaluate"]["vllm"]["tensor_parallel_size"] = 2  # every qwen3 size requests 1 evaluation GPU
    with pytest.raises(rs.ConfigError) as exc:
        rc.validate_config(cfg)
    msg = str(exc.value)
    assert "evaluate.vllm.tensor_parallel_size=2 exceeds the 1 GPU(s)" in msg
    assert "models.qwen3-0.6b.resources.evaluate.gpus" in msg and "models.qwen3-14b.resources.evaluate.gpus" in msg
    for model in cfg["models"]:  # raising each model's evaluate GPUs to 2 makes it fit
        cfg["models"][model]["resources"]["evaluate"]["gpus"] = 2
    rc.validate_config(copy.deepcopy(cfg))


def test_vllm_size_without_declared_gpus_is_named(qwen3_raw):
    cfg = copy.deepcopy(qwen3_raw)
    cfg["evaluate"]["vllm"]["tensor_parallel_size"] = 2
    for model in cfg["models"]:
        del cfg["models"][model]["resources"]["evaluate"]
    with pytest.raises(rs.ConfigError, match=re.escape("exceeds the 0 GPU(s)")):
        rc.validate_config(cfg)


def test_vllm_size_is_not_checked_for_the_transformers_backend(qwen3_raw):
    cfg = copy.deepcopy(qwen3_raw)
    cfg["evaluate"]["backend"] = "transformers"
    cfg["evaluate"]["vllm"]["tensor_parallel_size"] = 4
    rc.validate_config(cfg)


def test_per_model_verl_size_not_dividing_the_grpo_gpus_is_named(qwen3_raw):
    cfg = copy.deepcopy(qwen3_raw)
    model = "qwen3-14b"
    cfg["models"][model]["grpo"]["verl"]["tensor_model_parallel_size"] = 3
    with pytest.raises(rs.ConfigError) as exc:
        rc.validate_config(cfg)
    gpus = cfg["models"][model]["resources"]["grpo"]["gpus"]
    assert gpus % 3  # the premise: 3 does not divide this size's GPUs
    assert (
        f"models.{model}.grpo.verl.tensor_model_parallel_size=3 does not divide the {gpus} GPU(s) of the GRPO job "
        f"of '{model}' (models.{model}.resources.grpo.gpus)" in str(exc.value)
    )


def test_global_verl_size_and_undeclared_gpus_are_named(qwen3_raw):
    cfg = copy.deepcopy(qwen3_raw)
    cfg["grpo"]["verl"]["tensor_model_parallel_size"] = 2
    small = "qwen3-0.6b"
    del cfg["models"][small]["resources"]["grpo"]  # verl then runs on one GPU
    problems = tensor_parallel_problems(rc.apply_schema(cfg))
    named = [p for p in problems if f"'{small}'" in p]
    assert len(named) == 1
    assert named[0].startswith("grpo.verl.tensor_model_parallel_size=2 does not divide the 1 GPU(s)")
    assert "its default when not set" in named[0]
