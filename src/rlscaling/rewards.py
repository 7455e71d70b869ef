"""Answer extraction and scoring: GSM8K (three modes), MATH (math-verify, last or first box), MMLU letters.

Every scorer is a *total* function of the model response: any ``str`` (empty, 1 MB, control characters,
unbalanced braces, non-ASCII digits) yields an answer or ``None`` and a score of 0.0 or 1.0, never an
exception, in time linear in the response length. Only programming/data errors raise ``ValueError``: an
unknown mode, scorer or data source, or a ground truth that is not an answer.

GSM8K modes (see docs/scorers.md for the table and how they differ from verl and lm-eval):

- ``strict``: only ``#### <number>`` counts; the LAST marker followed by a number wins.
- ``flexible``: the last number anywhere in the response.
- ``custom_flexible``: cut the response right after the number that follows the FIRST ``####`` and take
  the last number of what remains (= that number). If the first ``####`` has no number after it, cut at
  the marker and take the last number before it. Without any ``####`` it equals ``flexible``.

A *number* is ASCII only: an optional sign (``-``/``+``, only when not glued to a preceding letter, digit
or ``)`` -- so ``10-3`` is ``10`` and ``3``), an optional ``$``, then digits with optional exact-3-digit
thousands groups (``1,234,567``) and an optional decimal part (``12.50``), or a bare decimal part
(``.5``). A ``.`` or ``,`` alone is not a number and a sentence-final period is not a decimal point
(``3.`` is 3). Numbers are compared exactly as canonical decimal strings (:func:`canonical_number`).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

MODES = ("strict", "flexible", "custom_flexible")
"""GSM8K extraction modes."""

SCORERS: dict[str, tuple[str, ...]] = {
    "gsm8k": MODES,
    "math": ("math_verify", "math_verify_first"),
    "mmlu": ("mmlu_letter",),
}
"""The scorer names of each benchmark family (``kind``): the one list that configs, schemas and the evaluation
job read. A scorer name is the ``scorer`` column of summary.csv and ``extra_info["reward_mode"]`` in verl."""

ALL_SCORERS: tuple[str, ...] = tuple(name for names in SCORERS.values() for name in names)
"""Every scorer name, in family order."""

REWARD_MODES: tuple[str, ...] = MODES
"""Scorers the workflow offers as the GRPO reward (``grpo.reward_mode``): the GSM8K modes (RL prompts have numeric
answers). The entry points :func:`compute_score` and :func:`make_reward_fn` accept any of :data:`ALL_SCORERS`."""

MARKER = "####"

# ---------------------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------------------

# Sign only when not glued to a preceding word character or ')' (so "10-3" is two numbers, "=-3" is -3).
_SIGN = r"(?:(?<![0-9A-Za-z_)])[-+])?"
# Digits with exact 3-digit thousands groups, else a plain digit run; optional decimals; or ".5".
_BODY = r"(?:(?:[0-9]{1,3}(?:,[0-9]{3}(?![0-9]))+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+)"
_NUMBER_SRC = _SIGN + r"\$?" + _BODY
_NUMBER = re.compile(_NUMBER_SRC)
# After "####": optional horizontal space, optional "$" (and space), then a number.
_AFTER_MARKER = re.compile(r"[ \t]*+(?:\$[ \t]*+)?" + _NUMBER_SRC)
# On the REVERSED text: the first digit of a number right after a marker ("5 $ ####" is "#### $ 5").
_REVERSED_MARKER_DIGIT = re.compile(r"[0-9]\.?\$?[-+]?(?:[ \t]*+\$)?+[ \t]*+####")
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


def _canonical_token(token: str) -> str:
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
    return _canonical_token(text.strip().rstrip("."))


@functools.lru_cache(maxsize=1 << 16)
def _canonical_truth(ground_truth: str) -> str:
    canonical = canonical_number(str(ground_truth))
    if canonical is None:
        raise ValueError(f"ground truth {ground_truth!r} is not a number (expected e.g. '72', '1,234', '-3.5')")
    return canonical


def _last_number(text: str, end: int) -> str | None:
    """Canonical last number of ``text[:end]``, scanning backwards from ``end`` (cost ~ distance to it).

    Specification: the last match of ``_NUMBER.finditer(text[:end])`` (a left-to-right scan). A reversed
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
            return run if run[0] != "0" or len(run) == 1 else _canonical_token(run)
    sync = _REVERSED_SYNC.search(reversed_tail, m.start(), m.end())
    if sync is not None:
        separator_at = run_end - 1 - (sync.start() - m.start())
        start = separator_at + 1 if sync.lastgroup == "after" else separator_at
    else:
        for _ in range(2):  # at most "-$" in front of the digits
            if start > 0 and text[start - 1] in _SIGN_OR_DOLLAR:
                start -= 1
    last = None
    for last in _NUMBER.finditer(text, start, run_end):
        pass
    return None if last is None else _canonical_token(last.group())


# ---------------------------------------------------------------------------------------------------------
# GSM8K
# ---------------------------------------------------------------------------------------------------------


def _number_after_marker(text: str, marker_at: int) -> str | None:
    m = _AFTER_MARKER.match(text, marker_at + 4)
    return None if m is None else _canonical_token(m.group().lstrip(" \t$"))


def _extract_strict(text: str) -> str | None:
    at = text.rfind(MARKER)
    for _ in range(4):  # usually the last marker has its number
        if at < 0:
            return None
        answer = _number_after_marker(text, at)
        if answer is not None:
            return answer
        at = text.rfind(MARKER, 0, at)
    if at < 0:
        return None
    # Many numberless markers: one backward regex scan finds the last marker followed by a number.
    m = _REVERSED_MARKER_DIGIT.search(text[::-1])
    return None if m is None else _number_after_marker(text, len(text) - m.end())


def _extract_flexible(text: str) -> str | None:
    return _last_number(text, len(text))


def _extract_custom_flexible(text: str) -> str | None:
    at = text.find(MARKER)
    if at < 0:
        return _last_number(text, len(text))
    answer = _number_after_marker(text, at)
    return answer if answer is not None else _last_number(text, at)


_GSM8K_EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "strict": _extract_strict,
    "flexible": _extract_flexible,
    "custom_flexible": _extract_custom_flexible,
}


def _unknown(kind: str, name: object, valid: Sequence[str]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")


def extract_gsm8k(response: str, mode: str, window: int | None = None) -> str | None:
    """Canonical GSM8K answer of ``response`` under ``mode`` (see module doc), or ``None``.

    ``window``: if set, only the last ``window`` characters of the response are read (verl uses 300).
    """
    try:
        extract = _GSM8K_EXTRACTORS[mode]
    except (KeyError, TypeError):
        raise _unknown("GSM8K mode", mode, MODES) from None
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
            raise ValueError(f"window must be a positive number of characters or None, got {window!r}")
        response = response[-window:] if isinstance(response, str) else response
    if not isinstance(response, str):
        return None
    return extract(response)


def score_gsm8k(response: str, ground_truth: str, mode: str, window: int | None = None) -> float:
    """1.0 if the extracted answer equals ``ground_truth`` numerically (``"12.00"`` == ``"12"``), else 0.0."""
    answer = extract_gsm8k(response, mode, window)
    return 1.0 if answer is not None and answer == _canonical_truth(ground_truth) else 0.0


# ---------------------------------------------------------------------------------------------------------
# MATH: boxed answers, normalisation, math-verify behind a process guard
# ---------------------------------------------------------------------------------------------------------

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# After the command name: "{" (spaces allowed before it), or spaces then a bare token ("\\boxed 5").
_BOX_ARG = re.compile(r"[ \t]*+\{|[ \t]++([^\s${}]++)")
_BOX_START = re.compile(r"\\(?:boxed|fbox)(?:" + _BOX_ARG.pattern + ")")


def _closing_brace(text: str, open_at: int, limit: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_at`` within ``text[:limit]``, else -1 (one step per ``}``)."""
    depth, pos = 0, open_at
    while True:
        close = text.find("}", pos, limit)
        if close < 0:
            return -1
        depth += text.count("{", pos, close) - 1
        if depth == 0:
            return close
        pos = close + 1


def _box_argument(text: str, at: int, limit: int) -> re.Match | None:
    """Match of what follows the box command at ``at`` within ``text[:limit]``: ``{`` (group 1 None) or a bare
    token (group 1)."""
    name_end = at + (6 if text.startswith("\\boxed", at) else 5)
    return _BOX_ARG.match(text, name_end, limit)


def _boxed_content(text: str, at: int, limit: int) -> str | None:
    """Argument of the box command at ``at`` (``{...}`` balanced, or ``\\boxed 5``), within ``text[:limit]``."""
    m = _box_argument(text, at, limit)
    if m is None:
        return None
    if m.group(1) is not None:  # bare argument: "\\boxed 5"
        return m.group(1)
    close = _closing_brace(text, m.end() - 1, limit)
    return None if close < 0 else text[m.end() : close]


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (balanced nested braces) or ``\\boxed 5``.

    If the last box never closes, earlier boxes that close before it are tried; linear time.
    """
    if not isinstance(text, str):
        return None
    last = {cmd: text.rfind(cmd) for cmd in _BOX_COMMANDS}  # each command's last start before `limit`
    limit = len(text)
    while True:
        cmd = max(last, key=last.__getitem__)
        at = last[cmd]
        if at < 0:
            return None
        content = _boxed_content(text, at, limit)
        if content is not None:
            return content
        limit = at  # an earlier box can only be balanced if it closes before this one opens
        last[cmd] = text.rfind(cmd, 0, at)


def _matching_braces(text: str, start: int) -> dict[int, int]:
    """``{open index: close index}`` of every balanced brace pair in ``text[start:]`` (one pass, a stack)."""
    pairs, stack = {}, []
    for m in _BRACE.finditer(text, start):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


_BRACE = re.compile(r"[{}]")


def extract_first_boxed(text: str) -> str | None:
    """Content of the FIRST complete ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 5`` (by start position).

    A box that never closes is skipped. Linear time: the first box is matched directly; only if it never closes
    are all later braces paired in one pass.
    """
    if not isinstance(text, str):
        return None
    pairs: dict[int, int] | None = None  # computed once the first box fails to close
    for m in _BOX_START.finditer(text):
        if m.group(1) is not None:  # bare argument: "\\boxed 5"
            return m.group(1)
        open_at = m.end() - 1
        if pairs is None:
            close = _closing_brace(text, open_at, len(text))
            if close >= 0:
                return text[m.end() : close]
            pairs = _matching_braces(text, open_at)
        elif open_at in pairs:
            return text[m.end() : pairs[open_at]]
    return None


_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_DEGREES = re.compile(r"\^\{?\\circ\}?")
_TRAILING_UNIT = re.compile(r"\\(?:text|mbox|mathrm)\{[^{}]*+\}$")
_WHOLE_TEXT = re.compile(r"\\(?:text|mbox|mathrm)\{([^{}]*+)\}")


def normalise_math_answer(answer: str) -> str:
    """Normalised string of a LaTeX answer for exact comparison (the fallback when math-verify can't decide).

    Drops whitespace, ``$``, ``\\left``/``\\right``, ``\\!``/``\\,``/``\\;``, ``^\\circ``, a trailing ``.``
    and a trailing ``\\text{unit}``; ``\\dfrac``/``\\tfrac`` -> ``\\frac``; ``\\text{X}`` alone -> ``X``.
    """
    s = "".join(answer.split())
    for spacing in ("\\!", "\\,", "\\;", "\\:"):
        s = s.replace(spacing, "")
    s = _LEFT_RIGHT.sub("", s).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _DEGREES.sub("", s).strip("$").rstrip(".")
    whole = _WHOLE_TEXT.fullmatch(s)
    if whole is not None:
        return whole.group(1).rstrip(".")
    unit = _TRAILING_UNIT.search(s)
    if unit is not None and unit.start() > 0:
        s = s[: unit.start()]
    return s.rstrip(".")


def _math_answer(response: str) -> str | None:
    """``math_verify``'s answer: the last box, else the last ``#### n``, else the last number."""
    boxed = extract_boxed(response)
    if boxed is not None:
        return boxed
    return _extract_strict(response) or _extract_flexible(response)


def _math_first_answer(response: str) -> str | None:
    """``math_verify_first``'s answer: the first complete box, else GSM8K ``custom_flexible`` (the number after the
    first ``####``; without a marker, the last number)."""
    boxed = extract_first_boxed(response)
    if boxed is not None:
        return boxed
    return _extract_custom_flexible(response)


def extract_math(response: str, scorer: str = "math_verify") -> str | None:
    """The answer that ``scorer`` (``math_verify``: last box; ``math_verify_first``: first box) compares, or None."""
    try:
        extract = _MATH_EXTRACTORS[scorer]
    except (KeyError, TypeError):
        raise _unknown("MATH scorer", scorer, tuple(_MATH_EXTRACTORS)) from None
    return extract(response) if isinstance(response, str) else None


_MATH_EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "math_verify": _math_answer,
    "math_verify_first": _math_first_answer,
}


_STARTUP_TIMEOUT_S = 60.0
_WORKER_COMMAND = (sys.executable, "-c", "from rlscaling.rewards import _serve_math_verify; _serve_math_verify()")


class _WorkerTimeout(BaseException):
    """Raised by SIGALRM inside the worker; a BaseException so library ``except Exception`` can't eat it."""


def _verify_pair(gold: str, pred: str) -> bool | None:
    """math-verify verdict on two LaTeX answers; ``None`` when either side does not parse."""
    from math_verify import parse, verify

    gold_parsed = parse(f"\\boxed{{{gold}}}", parsing_timeout=None)
    pred_parsed = parse(f"\\boxed{{{pred}}}", parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return None
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


def _serve_math_verify() -> None:
    """Worker loop (own process, main thread): one JSON request per stdin line, one verdict per stdout line.

    Request ``{"gold", "pred", "budget_s"}``; reply ``{"verdict": true|false|null}`` (null = no verdict:
    unparseable, error, or over ``budget_s``, enforced here with SIGALRM so the worker survives it).
    """
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    import math_verify  # noqa: F401  (import cost paid before "ready")

    def on_alarm(signum, frame):
        raise _WorkerTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        verdict = None
        try:
            request = json.loads(line)
            signal.setitimer(signal.ITIMER_REAL, max(float(request["budget_s"]), 1e-3))
            try:
                verdict = _verify_pair(request["gold"], request["pred"])
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except (_WorkerTimeout, Exception):
            verdict = None
        out.write(json.dumps({"verdict": verdict}) + "\n")
        out.flush()


class _GuardedWorker:
    """A line-protocol child process answering within a deadline or killed (restarted on next use).

    A process, not a thread: a stalled sympy computation may hold the GIL or sit in C code where no
    signal reaches it, and a killed process frees its CPU and memory. Thread-safe (one request at a time)
    and usable from any thread, unlike math-verify's own ``signal.alarm`` timeouts.
    """

    def __init__(self, command: Sequence[str] = _WORKER_COMMAND):
        self.command = tuple(command)
        self._proc: subprocess.Popen | None = None
        self._buffer = b""
        self._lock = threading.Lock()

    def request(self, payload: dict, timeout_s: float) -> dict | None:
        """Send ``payload``; the reply, or ``None`` if none came within ``timeout_s`` (the worker is killed)."""
        with self._lock:
            proc = self._ensure_started()
            try:
                proc.stdin.write((json.dumps(payload) + "\n").encode())
                proc.stdin.flush()
            except OSError:
                self.stop()
                return None
            line = self._read_line(time.monotonic() + timeout_s)
            if line is None:
                self.stop()
                return None
            try:
                return json.loads(line)
            except ValueError:
                return None

    def stop(self) -> None:
        proc, self._proc, self._buffer = self._proc, None, b""
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout) if proc is not None else ():
            try:
                stream.close()
            except OSError:
                pass

    def _ensure_started(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self.stop()
        src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (src, os.environ.get("PYTHONPATH")))))
        self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        if self._read_line(time.monotonic() + _STARTUP_TIMEOUT_S) != b"ready":
            self.stop()
            raise RuntimeError(f"scorer worker {' '.join(self.command)!r} did not start (is math-verify installed?)")
        return self._proc

    def _read_line(self, deadline: float) -> bytes | None:
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # worker died
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


_math_worker = _GuardedWorker()
atexit.register(lambda: _math_worker.stop())


def _reset_worker_after_fork() -> None:
    global _math_worker
    _math_worker = _GuardedWorker()  # the parent's pipes and lock are not ours


os.register_at_fork(after_in_child=_reset_worker_after_fork)


def _ground_truth_answer(ground_truth: str) -> str:
    if not isinstance(ground_truth, str) or not ground_truth.strip():
        raise ValueError(f"MATH ground truth must be a non-empty string, got {ground_truth!r}")
    boxed = extract_boxed(ground_truth)
    return boxed if boxed is not None else ground_truth


def score_math(response: str, ground_truth: str, timeout_s: float = 5.0, scorer: str = "math_verify") -> float:
    """1.0 if the response's answer equals ``ground_truth`` (a LaTeX answer or a solution with a box), else 0.0.

    ``scorer="math_verify"``: the answer is the last ``\\boxed{}``/``\\fbox{}``; without one, the last
    ``#### n``, else the last number. ``scorer="math_verify_first"``: the first complete box; without one, the
    GSM8K ``custom_flexible`` answer (:func:`extract_math`). Equal after :func:`normalise_math_answer` -> 1.0 at
    once; otherwise math-verify decides, in a worker process that is killed after ``timeout_s`` seconds (no
    verdict, timeout or error -> 0.0).
    """
    gold = _ground_truth_answer(ground_truth)
    pred = extract_math(response, scorer)
    return _math_answer_score(pred, gold, timeout_s)


def _math_answer_score(pred: str | None, gold: str, timeout_s: float) -> float:
    """1.0 if the extracted ``pred`` equals the ground-truth answer ``gold`` (normalised strings, else math-verify)."""
    if pred is None:
        return 0.0
    if normalise_math_answer(pred) == normalise_math_answer(gold):
        return 1.0
    reply = _math_worker.request({"gold": gold, "pred": pred, "budget_s": 0.8 * timeout_s}, timeout_s)
    return 1.0 if reply is not None and reply.get("verdict") is True else 0.0


# ---------------------------------------------------------------------------------------------------------
# MMLU letters
# ---------------------------------------------------------------------------------------------------------

_LETTERS = "ABCD"
# 1. the response opens with the letter: "C", "C.", "(C)", "C)", "C:", "C," or "C" then a line break.
_LEADING_LETTER = re.compile(r"\s*+\(?([A-D])(?:[.):,]|[ \t]*+(?:\n|$))")
# 2. an answer statement: "Answer: C", "the answer is (C)", "answer is: C".
_ANSWER_PHRASE = re.compile(r"(?i:answer)(?:\s++(?i:is))?+\s*+:?+\s*+\(?+([A-D])(?![A-Za-z0-9])")
# 3. a parenthesised letter anywhere: "(C)".
_PAREN_LETTER = re.compile(r"\(([A-D])\)")


def extract_mmlu_letter(response: str) -> str | None:
    """The chosen letter A-D, or ``None``. Precedence: leading letter > first answer phrase > first ``(X)``.

    The first occurrence wins (a base model that goes on to invent new questions is scored on the first
    one); letters are uppercase only, so the article "a" is never an answer.
    """
    if not isinstance(response, str):
        return None
    for pattern in (_LEADING_LETTER, _ANSWER_PHRASE, _PAREN_LETTER):
        m = pattern.match(response) if pattern is _LEADING_LETTER else pattern.search(response)
        if m is not None:
            return m.group(1)
    return None


def _correct_letter(correct: str | int) -> str:
    if isinstance(correct, int) and not isinstance(correct, bool) and 0 <= correct < len(_LETTERS):
        return _LETTERS[correct]
    letter = correct.strip().strip("()").upper() if isinstance(correct, str) else None
    if letter not in tuple(_LETTERS):
        raise ValueError(f"MMLU ground truth must be a letter A-D (or index 0-3), got {correct!r}")
    return letter


def score_mmlu(response: str, correct_letter: str) -> float:
    """1.0 if the extracted letter equals ``correct_letter`` (``"C"``, ``"(c)"`` or index ``2``), else 0.0."""
    return 1.0 if extract_mmlu_letter(response) == _correct_letter(correct_letter) else 0.0


# ---------------------------------------------------------------------------------------------------------
# Entry points: scorer registry, verl compute_score, TRL reward functions
# ---------------------------------------------------------------------------------------------------------


def score(scorer: str, response: str, ground_truth: str, window: int | None = None) -> float:
    """Score ``response`` with any scorer in :data:`ALL_SCORERS` (``window`` applies to GSM8K modes only)."""
    kind = _KIND_OF_SCORER.get(scorer) if isinstance(scorer, str) else None
    if kind is None:
        raise _unknown("scorer", scorer, ALL_SCORERS)
    if kind == "gsm8k" and window is not None:
        return score_gsm8k(response, ground_truth, scorer, window)
    return score_response(kind, scorer, response, ground_truth)[1]


_KIND_OF_SCORER = {name: kind for kind, names in SCORERS.items() for name in names}


def score_response(kind: str, scorer: str, response: str, answer: str | int) -> tuple[str | None, float]:
    """(extracted answer, score) of one response to a ``kind`` benchmark item (``gsm8k``, ``math``, ``mmlu``) with
    ground truth ``answer``, under ``scorer`` (one of ``SCORERS[kind]``). The extracted answer is the one the scorer
    compared: a canonical number (GSM8K), a LaTeX answer (MATH: box or fallback), a letter (MMLU), or None."""
    if kind not in SCORERS:
        raise _unknown("benchmark kind", kind, tuple(SCORERS))
    if scorer not in SCORERS[kind]:
        raise _unknown(f"scorer for {kind}", scorer, SCORERS[kind])
    if kind == "gsm8k":
        extracted = extract_gsm8k(response, scorer)
        return extracted, 1.0 if extracted is not None and extracted == _canonical_truth(answer) else 0.0
    if kind == "math":
        extracted = extract_math(response, scorer)
        return extracted, _math_answer_score(extracted, _ground_truth_answer(answer), timeout_s=5.0)
    extracted = extract_mmlu_letter(response)
    return extracted, 1.0 if extracted == _correct_letter(answer) else 0.0


_GSM8K_SOURCES = ("openai/gsm8k", "gsm8k")
_MATH_SOURCES = ("math", "hendrycks_math", "digitallearninggmbh/math-lighteval", "math500", "huggingfaceh4/math-500")
_MMLU_SOURCES = ("mmlu", "cais/mmlu")


def default_scorer(data_source: str) -> str:
    """The scorer a data source is scored with unless told otherwise; unknown sources -> ValueError."""
    source = data_source.lower() if isinstance(data_source, str) else ""
    if source in _GSM8K_SOURCES or source.startswith(("procedural", "gsm8k")):
        return "custom_flexible"
    if source in _MATH_SOURCES:
        return "math_verify"
    if source in _MMLU_SOURCES:
        return "mmlu_letter"
    raise ValueError(
        f"unknown data_source {data_source!r}; known: {', '.join(_GSM8K_SOURCES + _MATH_SOURCES + _MMLU_SOURCES)}, "
        "or any name starting with 'procedural' or 'gsm8k'"
    )


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None, **kwargs: Any
) -> float:
    """verl ``custom_reward_function`` entry point (``custom_reward_function.name=compute_score``).

    The scorer is ``extra_info["reward_mode"]`` if given (any of :data:`ALL_SCORERS`), else
    ``custom_flexible`` for GSM8K-like sources, ``math_verify`` for MATH, ``mmlu_letter`` for MMLU;
    ``extra_info["reward_window"]`` sets the GSM8K character window. Extra verl kwargs are ignored.
    """
    scorer = default_scorer(data_source)
    info = extra_info if isinstance(extra_info, dict) else {}
    return score(info.get("reward_mode") or scorer, solution_str, ground_truth, info.get("reward_window"))


def _completion_text(completion: Any) -> str:
    """Text of a TRL completion: a string, or a chat list of ``{"role", "content"}`` messages (joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts = []
    for message in completion or ():
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, list):  # multimodal-style [{"type": "text", "text": ...}]
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(content if isinstance(content, str) else "")
    return "".join(parts)


def make_reward_fn(mode: str, answer_key: str = "answer") -> Callable[..., list[float]]:
    """TRL reward function ``fn(prompts, completions, **kwargs) -> list[float]`` scoring with ``mode``.

    Ground truths arrive as the dataset column ``kwargs[answer_key]`` (one per completion);
    ``fn.__name__ == f"{mode}_reward"`` is what TRL logs.
    """
    if mode not in ALL_SCORERS:
        raise _unknown("reward mode", mode, ALL_SCORERS)

    def reward_fn(prompts=None, completions=(), **kwargs: Any) -> list[float]:
        if answer_key not in kwargs:
            raise ValueError(f"reward {mode!r}: dataset column {answer_key!r} missing; got {sorted(kwargs)}")
        truths = kwargs[answer_key]
        if len(truths) != len(completions):
            raise ValueError(f"reward {mode!r}: {len(completions)} completions but {len(truths)} {answer_key!r}")
        return [score(mode, _completion_text(c), t) for c, t in zip(completions, truths)]

    reward_fn.__name__ = reward_fn.__qualname__ = f"{mode}_reward"
    return reward_fn
