"""The one way mailroom runs external programs: with a timeout, and errors that say why.

Every call to ffmpeg, ffprobe, pdftoppm, antiword, catdoc and friends goes through
`run_command`, so a hung program is always killed and a failure always carries the
command line and the program's stderr (beets `util.command_output` does the same).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

from pipeline import budget
from pipeline.budget import Deadline
from pipeline.errors import ExternalProgramError

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
except OSError:
    _LIBC = None

# ExternalProgramError.problem starts with one of these, so callers can tell
# "the file is bad" (a non-zero exit) from "the machine is wrong" (missing, hung).
NOT_INSTALLED = "is not installed"
TIMED_OUT = "timed out"
EXITED = "exited with status"


def run_command(
    cmd: list[str],
    *,
    timeout: float,
    input: bytes | None = None,
    deadline: Deadline | None = None,
    max_output: int | None = None,
) -> bytes:
    """Return the standard output of `cmd`, run with a time limit.

    The program runs in its own process group; on timeout the whole group is
    killed (ffmpeg may have children). Raises ExternalProgramError carrying the
    command line and stderr when the program is missing, times out or fails.

    `deadline`: the job's budget; the program gets at most the time left, and
    running out of it raises LimitExceeded naming the budget. A program that runs
    out of memory under the job's memory cap raises LimitExceeded too.
    `max_output`: read at most this many bytes of stdout, then stop the program
    (pdftotext on a 100,000-page PDF): the first max_output bytes are returned.
    """
    log.debug("running %s", cmd)
    limit = deadline.timeout(timeout) if deadline is not None else timeout
    held: list[int] = []
    try:
        with _interrupt_held(held):
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=_own_group_dying_with_parent,
            )
    except OSError as exc:
        _deliver(held)  # the stop asked for comes first
        if isinstance(exc, FileNotFoundError):
            raise ExternalProgramError(cmd, NOT_INSTALLED) from None
        raise ExternalProgramError(cmd, f"cannot start ({exc})") from exc
    try:
        _deliver(held)  # interrupted while it started: now that it has a pid, it can be killed
        if input is not None:
            out, err = proc.communicate(input, timeout=limit)
            cut = False
        else:
            out, err, cut = _read_capped(proc, limit, max_output)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        _, err = proc.communicate()
        if deadline is not None and deadline.remaining() <= 0:
            raise deadline.missed(f"{cmd[0]} was stopped") from None
        raise ExternalProgramError(cmd, f"{TIMED_OUT} after {limit:g} s", _text(err)) from None
    except BaseException:  # KeyboardInterrupt, a job's alarm: never leave the child running
        _kill_group(proc)
        proc.wait()
        raise
    if proc.returncode != 0 and not cut:
        if budget.memory_capped() and budget.is_out_of_memory(_text(err)):
            raise budget.memory_exceeded(f"{cmd[0]} ran out of memory")
        raise ExternalProgramError(cmd, f"{EXITED} {proc.returncode}", _text(err))
    return out


_STDERR_KEPT = 64 * 1024  # the tail of stderr kept for the error message


def _read_capped(
    proc: subprocess.Popen, timeout: float, max_output: int | None
) -> tuple[bytes, bytes, bool]:
    """Returns (stdout, the tail of stderr, cut) once the program ends or has said enough.

    Like communicate(), but stdout stops at max_output bytes (the program is killed and
    `cut` is True) and only the last _STDERR_KEPT bytes of stderr are held, so neither
    a flood of text nor of warnings can fill this process's memory.
    """
    ends = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            left = ends - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if key.data is err and len(err) > 2 * _STDERR_KEPT:
                    del err[:-_STDERR_KEPT]
                if key.data is out and max_output is not None and len(out) > max_output:
                    _kill_group(proc)
                    proc.wait()
                    return bytes(out[:max_output]), bytes(err), True
    try:
        proc.wait(timeout=max(0.001, ends - time.monotonic()))
    except subprocess.TimeoutExpired:  # closed its output but kept running
        raise subprocess.TimeoutExpired(proc.args, timeout) from None
    return bytes(out), bytes(err), False


def _deliver(held: list[int]) -> None:
    """Acts on a signal held back while the program started (see _interrupt_held)."""
    if signal.SIGINT in held:
        raise KeyboardInterrupt
    if signal.SIGALRM in held:  # a job's deadline (pipeline.budget.alarm): its handler raises
        signal.raise_signal(signal.SIGALRM)


@contextlib.contextmanager
def _interrupt_held(held: list[int]) -> Iterator[None]:
    """Holds back a SIGINT (a pool stopping its workers), and the SIGALRM of a job's
    deadline, while a child program starts.

    An exception raised inside Popen, after the fork, leaves a child nobody kills: an
    ffmpeg writing on into a temporary file its caller has just removed. Python runs
    signal handlers in the main thread only, so only there is it held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signums = [signal.SIGINT]
    if callable(signal.getsignal(signal.SIGALRM)):  # a Python handler: a deadline's alarm
        signums.append(signal.SIGALRM)
    previous = {n: signal.signal(n, lambda signum, _frame: held.append(signum)) for n in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _own_group_dying_with_parent() -> None:
    """Runs in the child before exec: own process group, and killed if we are killed.

    Without PR_SET_PDEATHSIG an ffmpeg whose worker was SIGKILLed would go on
    transcoding for nobody (Linux only; elsewhere just the new session).
    """
    os.setsid()
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", errors="replace")


@cache
def program_available(name: str) -> bool:
    """Return True when the program `name` is on PATH (checked once per process)."""
    return shutil.which(name) is not None


def run_ffmpeg(
    stream: Any, *, timeout: float, cmd: str = "ffmpeg", deadline: Deadline | None = None
) -> bytes:
    """Return the stdout of the ffmpeg command that an ffmpeg-python stream spec describes.

    ffmpeg-python's own `run()` has no timeout, so the spec is compiled to an
    argument list and run through `run_command`. Logging is reduced to errors so
    that stderr holds the reason for a failure and nothing else.
    """
    import ffmpeg  # ffmpeg-python; imported here so non-media callers need not load it

    spec = stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error")
    args = ffmpeg.compile(spec, cmd=cmd, overwrite_output=True)
    return run_command(args, timeout=timeout, deadline=deadline)
