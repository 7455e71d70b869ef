"""Scaling-law fits with bootstrap confidence intervals (a package: one module per job).

* :mod:`.common`       errors, array checks, percentile CIs, JSON conversion
* :mod:`.config`       ``FitConfig`` (the workflow config's ``fit`` section)
* :mod:`.power`        gain power law ``gain = a * N^b`` (N in billions, gain in percentage points)
* :mod:`.lse`          log-sum-exp Huber/L-BFGS engine; Chinchilla-style ``y = E + A/x1^alpha + B/x2^beta``
* :mod:`.huber`        generic Huber/L-BFGS engine for laws with an analytic Jacobian
* :mod:`.sigmoid`      ScaleRL sigmoid ``R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)`` per RL curve
* :mod:`.tan`          Tan et al. (2025) ``err(N, C) = ((C0 * N^r) / C)^(k_max * N / (N + N0))``
* :mod:`.joint`        compute-only joint laws ``err = f(C_pretrain, C_rl)``
* :mod:`.size_tokens`  joint laws ``err = f(N, D, C_rl)`` with a Chinchilla pre-training term
* :mod:`.transition`, :mod:`.transition_nd`  transition laws: base accuracy a sigmoid in log C_pretrain / in log D
* :mod:`.law`          ``JointForm``: what a form declares (in its family's ``LAWS``) and is called through
* :mod:`.laws`         the registry: every family's forms registered once (``FORMS``, ``get_form``)
* :mod:`.points`       ``StudyPoints``; :mod:`.crossval` LOSO/LOBO errors beside a no-law baseline
* :mod:`.choose`       which form the data identify (beats the baseline with bootstrap support), forms within noise
* :mod:`.identify`     parameters at a bound, one-sided intervals, perturbed bootstrap starts, identifiability
* :mod:`.selection`, :mod:`.validate`  rows of summary.csv, item bootstrap, input checks (file:row, column)
* :mod:`.study`        everything for ``fits.json``; :mod:`.write` the fit step's fixed set of files

Units: C FLOPs (C_rl = 0 is the base model), N parameters, D tokens, accuracy a fraction in [0, 1],
error = 1 - accuracy, gains percentage points.
"""

from .choose import MIN_GROUPS, choose_form, select_law  # noqa: F401
from .common import (  # noqa: F401
    NO_RESAMPLING,
    FitError,
    FitInputError,
    NoLawError,
    Resampling,
    goodness_of_fit,
    param_table,
    percentile_ci,
    to_jsonable,
)
from .config import FitConfig  # noqa: F401
from .crossval import BASELINE, baseline_predict, cross_validate, leave_one_group_out  # noqa: F401
from .identify import bound_flags, interval  # noqa: F401
from .joint import (  # noqa: F401
    JOINT_FORMS,
    JOINT_FORMULAS,
    fit_joint_law,
    joint_param_names,
    leave_one_size_out,
    predict_joint,
)
from .laws import DEFAULT_FORMS, FAMILIES, FORMS, JointForm, StudyPoints, get_form  # noqa: F401
from .lse import _lse_loss_batch, _lse_loss_grad, fit_two_factor_power_law  # noqa: F401
from .power import fit_power_law, power_law  # noqa: F401
from .selection import (  # noqa: F401
    CONDITION_KEYS,
    FIT_COLUMNS,
    RECORD_COLUMNS,
    SUMMARY_COLUMNS,
    gains_table,
    item_bootstrap_accuracies,
    require_columns,
    select_rows,
    selection_mask,
)
from .sigmoid import SIGMOID_PARAMS, _batched_lm, fit_rl_sigmoid, rl_sigmoid  # noqa: F401
from .size_tokens import (  # noqa: F401
    SizeTokensFit,
    compute_optimal_size,
    fit_size_tokens_law,
    pretrain_error,
    size_tokens_error,
)
from .study import extrapolation_check, fit_seed_gains, fit_summary  # noqa: F401
from .tan import TAN_PARAMS, fit_tan_law, tan_error  # noqa: F401
from .validate import check_records, check_summary, read_records, read_summary  # noqa: F401
from .write import FIT_OUTPUTS, write_fits  # noqa: F401
