"""math-verify behind a process guard: a worker process that answers each comparison within a deadline or is
killed (and restarted on the next request)."""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

_STARTUP_TIMEOUT_S = 60.0
_WORKER_COMMAND = (
    sys.executable,
    "-c",
    "from rlscaling.rewards.math_worker import serve_math_verify; serve_math_verify()",
)


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


def serve_math_verify() -> None:
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


class GuardedWorker:
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
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # .../src
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


_math_worker = GuardedWorker()
atexit.register(lambda: _math_worker.stop())


def _reset_worker_after_fork() -> None:
    global _math_worker
    _math_worker = GuardedWorker()  # the parent's pipes and lock are not ours


os.register_at_fork(after_in_child=_reset_worker_after_fork)


def verdict(gold: str, pred: str, timeout_s: float) -> bool | None:
    """math-verify's verdict on two LaTeX answers from this process's worker: True/False, or None (unparseable,
    error, or no answer within ``timeout_s`` seconds; a slow comparison is interrupted at 0.8 x ``timeout_s``)."""
    reply = _math_worker.request({"gold": gold, "pred": pred, "budget_s": 0.8 * timeout_s}, timeout_s)
    return None if reply is None else reply.get("verdict")
