"""Numbers in model responses: the number grammar shared by the GSM8K modes and the MATH fallback.

A *number* is ASCII only: an optional sign (``-``/``+``, only when not glued to a preceding letter, digit
or ``)`` -- so ``10-3`` is ``10`` and ``3``), an optional ``$``, then digits with optional exact-3-digit
thousands groups (``1,234,567``) and an optional decimal part (``12.50``), or a bare decimal part
(``.5``). A ``.`` or ``,`` alone is not a number and a sentence-final period is not a decimal point
(``3.`` is 3). Numbers are compared exactly as canonical decimal strings (:func:`canonical_number`).
"""

from __future__ import annotations

import functools
import re

# Sign only when not glued to a preceding word character or ')' (so "10-3" is two numbers, "=-3" is -3).
_SIGN = r"(?:(?<![0-9A-Za-z_)])[-+])?"
# Digits with exact 3-digit thousands groups, else a plain digit run; optional decimals; or ".5".
_BODY = r"(?:(?:[0-9]{1,3}(?:,[0-9]{3}(?![0-9]))+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)"
NUMBER_SRC = _SIGN + r"\$?" + _BODY
NUMBER = re.compile(NUMBER_SRC)
# A whole string that is one number (ground truths, canonical_number); a final "." is allowed.
_WHOLE_NUMBER = re.compile(r"\s*+(?:[-+]?\$|\$?[-+]?)[ \t]*+" + _BODY + r"\.?\s*+")
# On the REVERSED text: the first digit run (digits, '.' and ',') is the last one of the original.
_REVERSED_RUN = re.compile(r"[0-9][0-9.,]*+")
_SIGN_OR_DOLLAR = "-+$"
# Sync points of a [0-9.,] run, matched on the REVERSED run (so the first match is the last one). No
# number straddles them, so a forward scan restarted there finds the same last number. In original order:
#   after: a separator followed by a separator (".,", ".."), a comma not followed by exactly 3 digits and
#          a non-digit (it cannot be a thousands separator), a comma right after decimals (".5,");
#   at:    a period right after decimals (".5." -- the second period starts afresh).
_REVERSED_SYNC = re.compile(
    r"(?P<after>(?<=[.,])[.,]|(?:(?<![0-9]{3})|(?<=[0-9]{4})),|,(?=[0-9]++\.))|(?P<at>\.(?=[0-9]++\.))"
)


def canonical_token(token: str) -> str:
    """Canonical decimal string of a matched number token ('$1,234.50' -> '1234.5', '-0' -> '0')."""
    if token.isdigit() and (token[0] != "0" or len(token) == 1):  # fast path: plain integer
        return token
    negative = "-" in token
    digits = token.translate(_DROP_DECORATION)
    whole, _, frac = digits.partition(".")
    whole = whole.lstrip("0") or "0"
    frac = frac.rstrip("0")
    canonical = f"{whole}.{frac}" if frac else whole
    return "-" + canonical if negative and canonical != "0" else canonical


_DROP_DECORATION = str.maketrans("", "", "+-$, \t\n\r\f\v")


def canonical_number(text: str) -> str | None:
    """Canonical string of a text that is exactly one number, else ``None``.

    No commas, no ``$``, no sign ``+``, no trailing ``.``, no leading zeros, no trailing decimal zeros,
    ``-0`` -> ``0``: ``"$1,234.50"`` -> ``"1234.5"``, ``"12.0"`` -> ``"12"``, ``"+3"`` -> ``"3"``,
    ``".5"`` -> ``"0.5"``. ASCII digits only; no exponents or fractions (``"1e5"``, ``"3/4"`` -> None).
    Idempotent. Use it to canonicalise ground truths.
    """
    if not isinstance(text, str) or _WHOLE_NUMBER.fullmatch(text) is None:
        return None
    return canonical_token(text.strip().rstrip("."))


@functools.lru_cache(maxsize=1 << 16)
def canonical_truth(ground_truth: str) -> str:
    canonical = canonical_number(str(ground_truth))
    if canonical is None:
        raise ValueError(f"ground truth {ground_truth!r} is not a number (expected e.g. '72', '1,234', '-3.5')")
    return canonical


def last_number(text: str, end: int) -> str | None:
    """Canonical last number of ``text[:end]``, scanning backwards from ``end`` (cost ~ distance to it).

    Specification: the last match of ``NUMBER.finditer(text[:end])`` (a left-to-right scan). A reversed
    search finds the last run of ``[0-9.,]`` ending in a digit; the run is re-scanned forwards from its
    last *sync point* -- a place no number can straddle (see ``_REVERSED_SYNC``) -- or from its start,
    including a glued sign or ``$``. So ``1,234.50`` and ``1.2.3`` split exactly as a full forward scan
    splits them, and a 1 MB run such as ``1,1,1,...`` costs one backward regex search.
    """
    # Reverse only a tail first: responses nearly always end close to their last number.
    lo = end - 64 if end > 64 else 0
    while True:
        reversed_tail = text[lo:end][::-1]
        m = _REVERSED_RUN.search(reversed_tail)
        if m is not None and (m.end() < end - lo or lo == 0):
            break
        if m is None and lo == 0:
            return None
        lo = lo - 4 * (end - lo) if lo > 4 * (end - lo) else 0
    run_end = end - m.start()
    start = end - m.end()
    if start == 0 or text[start - 1] not in _SIGN_OR_DOLLAR:
        run = text[start:run_end]
        if run.isdigit():  # fast path: a plain digit run with nothing glued in front
            return run if run[0] != "0" or len(run) == 1 else canonical_token(run)
    sync = _REVERSED_SYNC.search(reversed_tail, m.start(), m.end())
    if sync is not None:
        separator_at = run_end - 1 - (sync.start() - m.start())
        start = separator_at + 1 if sync.lastgroup == "after" else separator_at
    else:
        for _ in range(2):  # at most "-$" in front of the digits
            if start > 0 and text[start - 1] in _SIGN_OR_DOLLAR:
                start -= 1
    last = None
    for last in NUMBER.finditer(text, start, run_end):  # noqa: B007  (only the last match is wanted)
        pass
    return None if last is None else canonical_token(last.group())
