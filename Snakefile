# rlscaling: how GRPO scales on mathematical reasoning, and how to split compute between pre-training and RL.
# Thin entry point: the rules live in workflow/rules/, the logic in the importable package src/rlscaling/.
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

# The embedded study is the default; a --configfile (or a profile's `configfile:`) replaces it rather than being
# merged into it (merging would add the embedded study's tiny models to, e.g., the Qwen3 study).
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
from rlscaling import config as rc  # noqa: E402

# The one validation (schema with defaults + typed settings): every error names its key, before any job starts; the
# one cross-key check that needs data (the tokenizer's vocabulary against the corpus) runs before a first run only.
try:
    rc.validate_config(config)
    if workflow.is_main_process and config["pretrain"]["backend"] == "transformers":
        if not os.path.isdir(rc.path(config, "tokenizer")):
            rc.check_tokenizer_vocabulary(config)
except rc.ConfigError as exc:
    raise WorkflowError(f"config error, nothing was run: {exc}") from None

# Exported here, before any job's Python starts: set inside Python after import, each hub lookup still retries.
# Jobs run by another interpreter (a backend's environment) import rlscaling from src/ through PYTHONPATH.
if config["offline"]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    model="[A-Za-z0-9_.-]+",
    budget="[A-Za-z0-9_.-]+",
    seed=r"\d+",
    reward="[a-z_]+",
    step=r"\d+",
    dataset="[a-z0-9_]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analysis.smk"


rule all:
    default_target: True
    input:
        rc.final_targets(config),
