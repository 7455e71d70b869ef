"""The registry of the joint-law forms competing for ``fits.json``: every family's forms, registered here once.

Each family module declares its forms as :class:`~.law.JointForm` values in its ``LAWS`` tuple (name, variables,
formula, parameter names, fit / predict / compute-optimal functions); :data:`FAMILIES` lists those modules, in the
order the forms are fitted, reported and listed by the config schema's ``fit.forms`` enum (a test holds the enum to
:data:`FORMS`). Everything else that needs a form -- :mod:`.config`'s default and check, :mod:`.study`,
:mod:`.crossval`, :mod:`.identify`, :mod:`rlscaling.fit.allocate`, the fit figures -- looks it up with
:func:`get_form` or iterates :data:`FORMS`.

* :mod:`.joint`          compute-only power laws ``err = f(C_pretrain, C_rl)``
* :mod:`.size_tokens`    Chinchilla-style laws ``err = f(N, D, C_rl)``
* :mod:`.transition`     base accuracy a sigmoid in log C_pretrain, plus an RL gain
* :mod:`.transition_nd`  base accuracy a sigmoid in log D with a size-dependent midpoint, plus an RL gain

Adding a form: a ``JointForm`` in its family's ``LAWS`` (a new family: its own module with ``LAWS`` and one entry in
:data:`FAMILIES`), its name in the schema's ``fit.forms`` enum and default (``tests/test_fit_laws.py`` fails until
they agree), and its true parameters in that test's ``TRUTH`` (every registered form must recover them).

Units: N parameters, D tokens, C FLOPs, accuracy fraction.
"""

from __future__ import annotations

from . import joint, size_tokens, transition, transition_nd
from .common import FitError
from .law import JointForm
from .points import StudyPoints

__all__ = ["DEFAULT_FORMS", "FAMILIES", "FORMS", "JointForm", "StudyPoints", "get_form", "register"]

# the one registration: a new family module is one entry here (its forms are listed in this order)
FAMILIES = (joint, size_tokens, transition, transition_nd)


def register(*families) -> dict[str, JointForm]:
    """Every form of ``families`` (modules with a ``LAWS`` tuple) by name, in declaration order; FitError when two
    forms share a name (naming both families)."""
    forms: dict[str, JointForm] = {}
    for family in families:
        for law in family.LAWS:
            if law.name in forms:
                raise FitError(f"joint-law form {law.name!r} registered twice: {forms[law.name].family}, {law.family}")
            forms[law.name] = law
    return forms


FORMS: dict[str, JointForm] = register(*FAMILIES)
DEFAULT_FORMS: tuple[str, ...] = tuple(FORMS)  # the forms a fit compares unless config fit.forms picks fewer


def get_form(name: str) -> JointForm:
    """The registered form ``name``; FitError listing the known ones otherwise."""
    if name not in FORMS:
        raise FitError(f"unknown joint-law form {name!r}; known: {sorted(FORMS)}")
    return FORMS[name]
