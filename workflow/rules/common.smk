# Shared helpers: results paths, threads, per-model resources.
R = rc.results_dir(config)
LOGS = f"{R}/logs"
BENCH = f"{R}/benchmarks"


wildcard_constraints:
    model="[A-Za-z0-9_.-]+",
    budget="[A-Za-z0-9_.-]+",
    step=r"\d+",
    shots=r"\d+",
    bench="[a-z0-9_]+",
    dataset="[a-z0-9_]+",


def threads_for(rule_name):
    t = config.get("threads", {})
    return int(t.get(rule_name, t.get("default", 1)))


def model_resource(rule_name, key, default):
    """Per-model resources (production: GPUs by size) from models.<model>.resources.<rule>.<key>."""

    def _get(wildcards):
        spec = config["models"][wildcards.model].get("resources", {}).get(rule_name, {})
        return spec.get(key, default)

    return _get


def model_dir(wildcards):
    """Directory of the checkpoint evaluated at wildcards.step (0 = the pre-trained base model)."""
    if int(wildcards.step) == 0:
        return f"{R}/models/{wildcards.model}/{wildcards.budget}/base"
    return f"{R}/grpo/{wildcards.model}/{wildcards.budget}"
