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
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

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


def run_command(cmd: list[str], *, timeout: float, input: bytes | None = None) -> bytes:
    """Return the standard output of `cmd`, run with a time limit.

    The program runs in its own process group; on timeout the whole group is
    killed (ffmpeg may have children). Raises ExternalProgramError carrying the
    command line and stderr when the program is missing, times out or fails.
    """
    log.debug("running %s", cmd)
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
        if held:  # the stop asked for comes first
            raise KeyboardInterrupt from None
        if isinstance(exc, FileNotFoundError):
            raise ExternalProgramError(cmd, NOT_INSTALLED) from None
        raise ExternalProgramError(cmd, f"cannot start ({exc})") from exc
    try:
        if held:  # interrupted while it started: now that it has a pid, it can be killed
            raise KeyboardInterrupt
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        _, err = proc.communicate()
        raise ExternalProgramError(cmd, f"{TIMED_OUT} after {timeout:g} s", _text(err)) from None
    except BaseException:  # KeyboardInterrupt etc.: never leave the child running
        _kill_group(proc)
        proc.wait()
        raise
    if proc.returncode != 0:
        raise ExternalProgramError(cmd, f"{EXITED} {proc.returncode}", _text(err))
    return out


@contextlib.contextmanager
def _interrupt_held(held: list[int]) -> Iterator[None]:
    """Holds back a SIGINT (a pool stopping its workers) while a child program starts.

    A KeyboardInterrupt raised inside Popen, after the fork, leaves a child nobody
    kills: an ffmpeg writing on into a temporary file its caller has just removed.
    Python runs signal handlers in the main thread only, so only there is it held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


def run_ffmpeg(stream: Any, *, timeout: float, cmd: str = "ffmpeg") -> bytes:
    """Return the stdout of the ffmpeg command that an ffmpeg-python stream spec describes.

    ffmpeg-python's own `run()` has no timeout, so the spec is compiled to an
    argument list and run through `run_command`. Logging is reduced to errors so
    that stderr holds the reason for a failure and nothing else.
    """
    import ffmpeg  # ffmpeg-python; imported here so non-media callers need not load it

    spec = stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error")
    args = ffmpeg.compile(spec, cmd=cmd, overwrite_output=True)
    return run_command(args, timeout=timeout)
