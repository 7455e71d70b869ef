#!/usr/bin/env bash
# Proves, without a GPU, that our verl launch is well-formed for every model size of a study config:
#   1. verl 0.9.1's own Hydra config (verl/trainer/config/ppo_trainer.yaml, as `main_ppo` composes it) accepts every
#      override rlscaling.training.verl_backend.overrides_for generates (a key verl lacks is an error);
#   2. every overridden value has the type of verl's default for that key (int/float/bool/str/list);
#   3. verl's own `validate_config` (dataclass construction + batch-size arithmetic for the GPU count) passes;
#   4. `python -m verl.trainer.main_ppo --cfg job <overrides>` (verl's real entry point) parses them (smallest size);
#   5. our reward entry point loads through verl's reward-loading code (get_custom_reward_fn) and scores a
#      correct and a wrong GSM8K response 1.0 / 0.0.
# verl pins transformers<5.11 and antlr4 4.9 (via hydra), older than the main stack, so it lives in its own venv
# (.venv-verl, git-ignored). Minimal set measured for steps 1-5 (2026-11-24): verl --no-deps, torch (CPU wheel),
# ray, tensordict, hydra-core, transformers 5.10, datasets, codetiming, pillow, math-verify.
# Usage: .ci/verl_check.sh [config.yaml]   (default configs/qwen3.yaml). Exit status 0 only if every size passes.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-configs/qwen3.yaml}"
VENV="${VERL_VENV:-.venv-verl}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
export RAY_USAGE_STATS_ENABLED=0 TOKENIZERS_PARALLELISM=false
t0=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
  python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
pip_q() { "$PY" -m pip install -q "$@" 2>&1 | grep -v -e '^WARNING: Location' -e 'dependency resolver' -e '^verl 0.9.1 requires' || true; }
if ! "$PY" -c "import verl, ray, tensordict, hydra, math_verify, rlscaling" 2>/dev/null \
   || [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("verl"))' 2>/dev/null)" != "0.9.1" ]; then
  echo "[verl_check] installing verl 0.9.1 and its minimal dependencies into $VENV"
  pip_q "torch==2.13.0"                       # the CPU wheel; anything looser pulls multi-GB CUDA builds
  pip_q --no-deps "verl==0.9.1"               # its full requirement set (vllm, flash-attn, ...) is GPU-only
  pip_q "ray==2.60.0" "tensordict==0.10.0" "hydra-core==1.3.8" "transformers==5.10.4" "datasets" \
        "codetiming" "pillow" "pyarrow" "math-verify==0.9.0"
  pip_q --no-deps -e .                        # rlscaling itself (its own pins would replace verl's)
  for mod in verl ray tensordict hydra math_verify rlscaling; do
    "$PY" -c "import $mod" || { echo "[verl_check] FAIL: cannot import $mod in $VENV"; exit 1; }
  done
fi
echo "[verl_check] environment ready after $((SECONDS - t0)) s"

WORK=$(mktemp -d -t verl_check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
status=0
"$PY" - "$CONFIG" "$WORK" <<'PY' || status=$?
import os
import sys
import time

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from rlscaling.workflow import config as rc
from rlscaling.training import verl_backend as vb

cfg = rc.load_config(sys.argv[1], validate=False)
tmp = sys.argv[2]
paths = {"model_dir": f"{tmp}/model", "train_parquet": f"{tmp}/train.parquet", "val_parquet": f"{tmp}/val.parquet",
         "ckpt_dir": f"{tmp}/ckpt", "rollout_dir": f"{tmp}/rollouts"}


def kind(value):
    """Type class of a config value: bool, number (int accepted where float is), str, list, dict, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float" if isinstance(value, float) else "int"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    return "dict"


def type_errors(default_cfg, composed, keys):
    errors = []
    for key in keys:
        default = OmegaConf.select(default_cfg, key, throw_on_missing=False)
        value = OmegaConf.select(composed, key)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if OmegaConf.is_config(default):
            default = OmegaConf.to_container(default, resolve=False)
        dk, vk = kind(default), kind(value)
        if dk == "null" or dk == vk or (dk == "float" and vk == "int"):
            continue
        if isinstance(default, str) and default.startswith("${"):  # an interpolation: no declared type
            continue
        errors.append(f"{key}: verl default {default!r} ({dk}) but we pass {value!r} ({vk})")
    return errors


from verl.trainer.ppo.utils import need_critic, need_reference_policy  # noqa: E402
from verl.utils.config import omega_conf_to_dataclass, validate_config  # noqa: E402

failed = []
with initialize_config_module(config_module="verl.trainer.config", version_base=None):
    default_cfg = compose(config_name="ppo_trainer")
    for model in cfg["models"]:
        t = time.time()
        try:
            generated = vb.override_map(*vb.parse_verl_job(cfg, model), paths)
            keys = list(generated)
            overrides = vb.overrides_for(cfg, model, paths)
            composed = compose(config_name="ppo_trainer", overrides=overrides)  # unknown key -> error here
            errs = type_errors(default_cfg, composed, keys)
            mismatched = [k for k, v in generated.items()
                          if OmegaConf.to_container(OmegaConf.create({"v": OmegaConf.select(composed, k)}))["v"]
                          != (list(v) if isinstance(v, tuple) else v)]
            errs += [f"{k}: composed value differs from the one generated" for k in mismatched]
            if errs:
                raise ValueError("; ".join(errs))
            validate_config(composed, use_reference_policy=need_reference_policy(composed),
                            use_critic=need_critic(composed))
            omega_conf_to_dataclass(composed.actor_rollout_ref.rollout)
            omega_conf_to_dataclass(composed.algorithm)
            if not need_reference_policy(composed) == (composed.actor_rollout_ref.actor.kl_loss_coef > 0):
                raise ValueError("reference policy use does not follow kl_coef")
            print(f"[verl_check] PASS {model}: {len(overrides)} overrides compose, types match, "
                  f"validate_config ok ({time.time() - t:.1f} s)")
        except Exception as exc:  # report every size, then fail
            failed.append(model)
            print(f"[verl_check] FAIL {model}: {type(exc).__name__}: {exc}")

# Our reward through verl's own loader (reads reward.custom_reward_function.{path,name} from the config).
from verl.trainer.ppo.reward import get_custom_reward_fn  # noqa: E402

passed = [m for m in cfg["models"] if m not in failed]
if not passed:
    print("[verl_check] FAIL reward: no model size composed, nothing to load the reward from")
    sys.exit(1)
first = passed[0]
with initialize_config_module(config_module="verl.trainer.config", version_base=None):
    composed = compose(config_name="ppo_trainer", overrides=vb.overrides_for(cfg, first, paths))
fn = get_custom_reward_fn(composed)
mode = cfg["grpo"]["reward_modes"][0]
good = fn(data_source="gsm8k", solution_str="3 + 4 = 7\n#### 7\nQuestion: next", ground_truth="7",
          extra_info={"reward_mode": mode})
bad = fn(data_source="gsm8k", solution_str="3 + 4 = 8\n#### 8", ground_truth="7", extra_info={"reward_mode": mode})
if (good, bad) == (1.0, 0.0):
    print(f"[verl_check] PASS reward: verl's get_custom_reward_fn loaded {composed.reward.custom_reward_function.path}"
          f"::compute_score ({mode}: correct -> {good}, wrong -> {bad})")
else:
    failed.append("reward")
    print(f"[verl_check] FAIL reward: expected (1.0, 0.0), got ({good}, {bad})")

with open(os.path.join(tmp, "overrides.txt"), "w") as fh:
    fh.write("\n".join(vb.overrides_for(cfg, first, paths)))
sys.exit(1 if failed else 0)
PY
# verl's real CLI entry point parses the same strings (no shell quoting involved: one override per line).
first_overrides="$WORK/overrides.txt"
mapfile -t OVR < "$first_overrides"
if "$PY" -m verl.trainer.main_ppo --cfg job "${OVR[@]}" > "${first_overrides%.txt}.job.yaml" 2>&1 \
   && grep -q "adv_estimator: grpo" "${first_overrides%.txt}.job.yaml"; then
  echo "[verl_check] PASS main_ppo --cfg job parses the generated overrides"
else
  echo "[verl_check] FAIL main_ppo --cfg job:"; tail -20 "${first_overrides%.txt}.job.yaml"; status=1
fi
echo "[verl_check] done in $((SECONDS - t0)) s: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
