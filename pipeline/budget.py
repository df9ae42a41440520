"""Budgets: how long and how much memory one unit of work may take, enforced where it runs.

A budget is a [limits] key and its value; the caller (ingest, a media job, an archive
expansion) reads the config and passes the numbers in. Three mechanisms:

- `Deadline`: a wall-clock budget handed down to the stages. They check it between
  steps (parts, pages, members) and external programs get the time left as their
  timeout (`pipeline.externals.run_command(deadline=...)`). This is cooperative: it
  works in any thread and costs nothing for normal input, and it is enough because
  every step itself is bounded (linear scans, capped pages, pixels and bytes).
- `alarm`: in the main thread of a process that runs one job at a time (a media
  worker), SIGALRM also interrupts Python code that does not check the deadline
  (pypdf on one huge page, say) at the next bytecode.
- `memory_cap`: RLIMIT_AS for the rest of the job, so an allocation past the budget
  fails with MemoryError (here) or ENOMEM (in a program we start, which inherits
  the limit) instead of the machine swapping; the worker survives and says why.

`run_within` applies all three, and turns what they raise into LimitExceeded naming
the key, with a Chinese sentence for staff (`STAFF_TEXT`).
"""

from __future__ import annotations

import contextlib
import math
import resource
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.errors import LimitExceeded

# What each budget is called in Chinese (the daily report counts refusals by these).
LABELS = {
    "message_seconds": "单封邮件处理时限",
    "media_job_seconds": "单个文件处理时限",
    "video_job_seconds": "视频转码时限",
    "video_max_seconds": "网页视频时长上限",
    "job_memory_bytes": "单个文件处理内存上限",
    "image_max_pixels": "图片像素上限",
    "document_max_pages": "文档页数上限",
    "document_max_chars": "文档文字上限",
    "document_max_unpacked_bytes": "文档解压上限",
}
# What staff read when a budget stops work; {limit} is the value, in Chinese units.
STAFF_TEXT = {
    "message_seconds": "邮件解析和识别超过{limit}的处理时限，已停止处理；原始邮件已保存，"
    "请在邮箱中查看该邮件并手工登记。",
    "media_job_seconds": "生成预览或提取文字超过{limit}的处理时限，已停止；原文件已保存，可下载查看。",
    "video_job_seconds": "视频转码超过{limit}的处理时限，已停止；原视频已保存，可下载查看。",
    "job_memory_bytes": "处理这个文件需要的内存超过{limit}的上限，未生成预览；原文件已保存，可下载查看。",
    "image_max_pixels": "图片过大（{value}），超过{limit}的处理上限，未生成缩略图；原图已保存，可下载查看。",
}
_MEMORY_WORDS = ("Cannot allocate memory", "Out of memory", "out of memory", "malloc of size")
# The memory budget this process runs under now, as (key, bytes): like the RLIMIT_AS it
# mirrors, it belongs to the process, and memory_cap sets and restores both together.
_active_cap: tuple[str, int] | None = None


def seconds_zh(seconds: float) -> str:
    """Returns a duration in Chinese: 45 秒, 10 分钟, 2 小时."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} 小时"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} 分钟"
    return f"{seconds:g} 秒"


def bytes_zh(count: int) -> str:
    """Returns a size in Chinese text: 2 GB, 64 MB, 900 KB."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} 字节"


def pixels_zh(count: int) -> str:
    """Returns a pixel count in Chinese: 1.5 亿像素, 2400 万像素."""
    if count >= 100_000_000:
        return f"{count / 100_000_000:.3g} 亿像素"
    return f"{count / 10_000:.3g} 万像素"


def exceeded(limit: str, detail: str, limit_zh: str, value_zh: str = "") -> LimitExceeded:
    """Returns the LimitExceeded for `limit`, with its Chinese sentence for staff."""
    template = STAFF_TEXT.get(
        limit, "超过{limit}的" + LABELS.get(limit, "处理上限") + "，已停止处理。"
    )
    return LimitExceeded(limit, detail, template.format(limit=limit_zh, value=value_zh))


@dataclass
class Deadline:
    """A wall-clock budget: `seconds` from when it was made (None: no limit)."""

    limit: str  # the [limits] key, named when the deadline is missed
    seconds: float | None
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def none(cls) -> Deadline:
        return cls("", None)

    def remaining(self) -> float:
        if self.seconds is None:
            return float("inf")
        return self.seconds - (time.monotonic() - self.started)

    def check(self, doing: str) -> None:
        """Raises LimitExceeded when the time is up; `doing` says what was under way."""
        if self.remaining() <= 0:
            raise self.missed(doing)

    def missed(self, doing: str) -> LimitExceeded:
        return exceeded(
            self.limit,
            f"{doing}: over the budget of {self.seconds:g} s",
            seconds_zh(self.seconds or 0),
        )

    def timeout(self, own: float) -> float:
        """Returns the time a step may take: its own timeout, or less when the budget ends first."""
        return max(0.001, min(own, self.remaining()))


def memory_capped() -> bool:
    """True when this process runs under a job's memory_cap."""
    return _active_cap is not None


def memory_exceeded(doing: str) -> LimitExceeded:
    """Returns the LimitExceeded of the memory budget this process runs under."""
    limit, extra = _active_cap or ("job_memory_bytes", 0)
    return exceeded(limit, f"{doing}: over the budget of {extra} bytes", bytes_zh(extra))


def is_out_of_memory(stderr: str) -> bool:
    """True when a program's stderr says an allocation failed (ffmpeg, x264, poppler)."""
    return any(word in stderr for word in _MEMORY_WORDS)


def address_space() -> int:
    """Returns the bytes of address space this process holds now (VmSize)."""
    with open("/proc/self/statm", "rb") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


@contextlib.contextmanager
def memory_cap(extra_bytes: int | None, limit: str = "job_memory_bytes") -> Iterator[None]:
    """Limits this process (and programs it starts) to its present size + `extra_bytes`.

    RLIMIT_AS counts address space, not resident pages: it is what the kernel can
    refuse at allocation time, so the job fails cleanly instead of the machine
    swapping or the OOM killer picking a process. The limit is restored afterwards,
    so a worker that runs other work later is not left capped.
    """
    if not extra_bytes:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = address_space() + extra_bytes
    for ceiling in (soft, hard):  # never loosen a limit someone else set
        if ceiling != resource.RLIM_INFINITY:
            want = min(want, ceiling)
    global _active_cap
    previous, _active_cap = _active_cap, (limit, extra_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        _active_cap = previous


@contextlib.contextmanager
def alarm(deadline: Deadline, doing: str) -> Iterator[None]:
    """Interrupts Python code in this (main) thread when the deadline passes.

    Signals reach only the main thread, so elsewhere (an ingest thread, a test's
    worker thread) this does nothing and the stages' own checks are the budget.
    """
    if deadline.seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise deadline.missed(doing)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, deadline.remaining()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


CPU_GRACE = 30  # CPU seconds past the wall-clock budget before the kernel ends the process


@contextlib.contextmanager
def cpu_cap(deadline: Deadline) -> Iterator[None]:
    """Ends this process (SIGXCPU) if the block spins on the CPU long past its deadline.

    SIGALRM (`alarm`) interrupts Python code only: a decoder looping in C never returns
    to the interpreter to see it. RLIMIT_CPU is the kernel's: at the soft limit it sends
    SIGXCPU, whose default action ends the process. Meant for a media worker process,
    whose pool counts the death as an attempt of the job and replaces the worker
    (workers/media/pool.py). The limit allows twice the budget (a decoder's threads
    count too) plus CPU_GRACE, so work that `alarm` can stop never meets it; it is
    restored afterwards.
    """
    if deadline.seconds is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    used = resource.getrusage(resource.RUSAGE_SELF)
    left = max(0.0, deadline.remaining())
    want = math.ceil(used.ru_utime + used.ru_stime + 2 * left + CPU_GRACE)
    for ceiling in (soft, hard):  # never loosen a limit someone else set
        if ceiling != resource.RLIM_INFINITY:
            want = min(want, ceiling)
    resource.setrlimit(resource.RLIMIT_CPU, (want, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


@contextlib.contextmanager
def run_within(
    deadline: Deadline, memory_bytes: int | None, doing: str, memory_limit: str = "job_memory_bytes"
) -> Iterator[None]:
    """Runs the block under a wall-clock and a memory budget; raises LimitExceeded past either.

    For a process that runs one job at a time in its main thread (a media worker, an
    archive expansion); the work inside passes `deadline` on to its stages.
    """
    try:
        with memory_cap(memory_bytes, memory_limit), alarm(deadline, doing):
            yield
    except MemoryError as exc:
        raise exceeded(
            memory_limit,
            f"{doing}: out of memory under the budget of {memory_bytes} bytes",
            bytes_zh(memory_bytes or 0),
        ) from exc
