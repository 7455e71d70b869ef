# rlscaling: how GRPO scales on mathematical reasoning, and how to split compute between pre-training and RL.
# Thin entry point: the rules live in workflow/rules/, the logic in the importable package src/rlscaling/.
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import min_version

min_version("9.0")

# The embedded study is the default; a --configfile (or a profile's `configfile:`) replaces it rather than being
# merged into it (merging would add the embedded study's tiny models to, e.g., the Qwen3 study).
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
# rc: the config's validation; rs: the study's cells, runs and paths; rp: the checkpoints and job counts of the DAG;
# rj: each job's settings; rl: the local data files (jsonl: sources) each dataset reads (separate modules without
# import cycles: pyproject.toml's [tool.importlinter] contracts)
from rlscaling.workflow import config as rc  # noqa: E402
from rlscaling.workflow import job_settings as rj  # noqa: E402
from rlscaling.workflow import local_sources as rl  # noqa: E402
from rlscaling.workflow import plan as rp  # noqa: E402
from rlscaling import study as rs  # noqa: E402
from rlscaling.workflow.job_environment import backend_of, conda_env_file, job_environment  # noqa: E402

# The one validation (schema with defaults + typed settings): every error names its key, before any job starts; the
# one cross-key check that needs data (the tokenizer's vocabulary against the corpus) runs before a first run only.
# Values inside a --config mapping arrive as strings (Snakemake reads them with YAML's BaseLoader): they are read as
# the schema's types first (rlscaling.workflow.config_overrides). Then every jsonl: data source's relative path is made absolute
# against this directory (not the working directory of `snakemake -d`), and a missing file is an error naming its key.
try:
    rc.validate_config(config, workflow.config_settings.config)
    rl.resolve_local_sources(config, workflow.basedir)
    if workflow.is_main_process and config["pretrain"]["backend"] == "transformers":
        if not os.path.isdir(rs.path(config, "tokenizer")):
            rc.check_tokenizer_vocabulary(config)
    if workflow.is_main_process:  # a hub study's first plan (offline: false): every id exists on the hub
        hub_warning = rc.check_hub_ids(config)
        if hub_warning:
            print(f"rlscaling: {hub_warning}", file=sys.stderr)
except rs.ConfigError as exc:
    raise WorkflowError(f"config error, nothing was run: {exc}") from None

# Every job's environment (offline hub, rlscaling importable from src/, the interpreter of each backend-bound rule),
# exported here, before any job starts. Each Snakemake process that parses this file (a cluster job's too) sets it
# from the config, so it is no `envvars:` (variables the user must define); see rlscaling.workflow.job_environment.
USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
os.environ.update(job_environment(config, SRC, USE_CONDA, sys.executable))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    model="[A-Za-z0-9_.-]+",
    budget="[A-Za-z0-9_.-]+",
    seed=r"\d+",
    reward="[a-z_]+",
    variant=r"(?:[a-z_]+=[A-Za-z0-9_.+-]+/)?",  # "" (reference run) or "<key>=<value>/" (rlscaling.study.variant_segment)
    step=r"\d+",
    dataset="[a-z0-9_]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analysis.smk"


rule all:
    default_target: True
    input:
        rs.final_targets(config),
