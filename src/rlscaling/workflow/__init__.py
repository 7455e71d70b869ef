"""The workflow layer: reading and validating a config, the DAG's checkpoints and job counts, each rule's
job settings, the jobs' environments and entry point. The only layer that reads the raw config.
"""
