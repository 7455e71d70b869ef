# Shared helpers: results paths, per-job settings, per-backend environments, threads and resources.
import json

from snakemake.settings.types import DeploymentMethod

R = rc.results_dir(config)
LOGS = f"{R}/logs"
BENCH = f"{R}/benchmarks"
USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
# Python interpreter of each backend-bound rule, from environments.<backend> (see rlscaling.config.backend_python).
PY = {
    name: rc.backend_python(config, rc.backend_of(config, name), USE_CONDA, sys.executable)
    for name in ("grpo", "evaluate_endpoint", "evaluate_intermediate", "val_loss")
}


wildcard_constraints:
    model="[A-Za-z0-9_.-]+",
    budget="[A-Za-z0-9_.-]+",
    step=r"\d+",
    dataset="[a-z0-9_]+",


def settings(rule_name):
    """params: the job's resolved settings as canonical JSON, from the wildcards only (so Snakemake records them and
    reruns the job when any of them changes)."""
    return lambda wildcards: rc.job_settings_json(config, rule_name, **dict(wildcards.items()))


def conda_env(rule_name):
    """The conda environment file of the backend that runs a rule (used with --software-deployment-method conda)."""
    return os.path.join(workflow.basedir, rc.conda_env_file(config, rc.backend_of(config, rule_name)))


def threads_for(rule_name):
    t = config["threads"]
    return int(t.get(rule_name, t["default"]))


def model_resource(rule_name, key, default):
    """Per-model resources (production: GPUs by size) from models.<model>.resources.<rule>.<key>."""

    def _get(wildcards):
        model = wildcards.model if hasattr(wildcards, "model") else rc.parse_checkpoint_id(wildcards.checkpoint)[0]
        spec = (config["models"][model].get("resources") or {}).get(rule_name, {})
        return spec.get(key, default)

    return _get


def model_dir(model, budget, step):
    """Directory of the checkpoint evaluated at ``step`` (0 = the base model; else its GRPO run)."""
    if int(step) == 0:
        return f"{R}/models/{model}/{budget}/base"
    return f"{R}/grpo/{model}/{budget}"
