"""The file verl loads the reward from: ``reward.custom_reward_function.path=<this file>``, ``name=compute_score``.

verl executes this file on its own (``importlib.util.spec_from_file_location``), not as part of the package, so a
relative import would fail here: it imports :func:`rlscaling.rewards.compute_score` absolutely, which needs
``rlscaling`` importable in verl's environment (``pip install -e .`` or ``PYTHONPATH=<repo>/src``).
"""

from rlscaling.rewards import compute_score

__all__ = ["compute_score"]
