"""rlscaling: how GRPO reinforcement learning scales on mathematical reasoning.

Importable core of the Snakemake workflow: scorers (``rewards``), prompts, data sources, compute
accounting, training and evaluation backends, aggregation, fitting, allocation and plots.
"""

__version__ = "0.1.0"
