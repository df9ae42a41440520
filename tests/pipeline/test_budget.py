"""The budget mechanism itself: deadlines, the address-space cap, the alarm, programs."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline import budget
from pipeline.budget import Deadline, memory_cap, run_within
from pipeline.errors import ExternalProgramError, LimitExceeded
from pipeline.externals import run_command

ROOT = Path(__file__).resolve().parents[2]

MIB = 1024 * 1024


def test_a_deadline_counts_down_and_names_its_limit_when_missed():
    deadline = Deadline("message_seconds", 60)
    deadline.check("parsing")  # well within
    assert 59 < deadline.remaining() <= 60 and deadline.timeout(5) == 5
    late = Deadline("message_seconds", 0.001, started=time.monotonic() - 1)
    assert late.timeout(30) == 0.001
    with pytest.raises(LimitExceeded) as missed:
        late.check("reading part 3")
    assert missed.value.limit == "message_seconds"
    assert (
        str(missed.value) == "reading part 3: over the budget of 0.001 s (limits.message_seconds)"
    )
    assert "处理时限" in missed.value.staff
    assert Deadline.none().remaining() == float("inf")


def test_the_memory_cap_refuses_allocations_past_it_and_is_lifted_after():
    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory_cap(64 * MIB):
        assert budget.memory_capped()
        small = bytearray(8 * MIB)  # within the cap
        with pytest.raises(MemoryError):
            bytearray(512 * MIB)
        del small
    assert resource.getrlimit(resource.RLIMIT_AS) == before and not budget.memory_capped()
    assert len(bytearray(512 * MIB)) == 512 * MIB


def test_run_within_turns_running_out_of_memory_into_the_named_limit():
    with pytest.raises(LimitExceeded) as refused, run_within(Deadline.none(), 64 * MIB, "a job"):
        bytearray(1024 * MIB)
    assert refused.value.limit == "job_memory_bytes"
    assert refused.value.staff.startswith("处理这个文件需要的内存超过64 MB的上限")


def test_the_alarm_stops_python_code_that_never_checks_the_deadline():
    started = time.monotonic()
    with (
        pytest.raises(LimitExceeded) as stopped,
        run_within(Deadline("media_job_seconds", 0.2), None, "a busy loop"),
    ):
        while True:
            pass
    assert time.monotonic() - started < 5
    assert stopped.value.limit == "media_job_seconds"


def test_the_alarm_leaves_other_threads_to_their_own_checks():
    done = []

    def work():
        with run_within(Deadline("media_job_seconds", 0.05), None, "a thread's job"):
            time.sleep(0.2)  # signals reach only the main thread: nothing interrupts this
        done.append(True)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert done == [True]


def test_a_program_gets_only_the_time_left_and_then_names_the_budget():
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as stopped:
        run_command(["sleep", "30"], timeout=60, deadline=Deadline("video_job_seconds", 0.3))
    assert time.monotonic() - started < 10
    assert stopped.value.limit == "video_job_seconds"
    with pytest.raises(ExternalProgramError, match="timed out"):  # its own timeout: not a budget
        run_command(["sleep", "30"], timeout=0.2, deadline=Deadline("video_job_seconds", 60))


def test_a_program_saying_too_much_is_stopped_at_the_output_cap():
    out = run_command(["yes", "辽宁"], timeout=30, max_output=1000)
    assert len(out) == 1000 and out.startswith("辽宁\n".encode())


def test_a_program_out_of_memory_under_a_cap_is_the_memory_budget():
    oom = ["sh", "-c", "echo 'malloc of size 3418304 failed' >&2; exit 1"]
    with pytest.raises(ExternalProgramError):  # no cap: an ordinary failure
        run_command(oom, timeout=10)
    with memory_cap(256 * MIB), pytest.raises(LimitExceeded) as refused:
        run_command(oom, timeout=10)
    assert refused.value.limit == "job_memory_bytes"


def test_a_deadline_passing_while_a_program_starts_still_kills_it(monkeypatch):
    """The alarm is held while Popen forks (raised there, it would orphan the child) and
    delivered once the child has a pid. The moment cannot be hit on demand, so the signal
    is raised from inside Popen; the program and the kill are real."""
    import subprocess

    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen_interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGALRM)  # the deadline passes mid-start
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", popen_interrupted)
    with pytest.raises(LimitExceeded), run_within(Deadline("media_job_seconds", 60), None, "a job"):
        run_command(["sleep", "30"], timeout=60)
    assert started and started[0].wait(timeout=10) == -signal.SIGKILL


def test_the_cpu_cap_ends_a_process_stuck_in_c_code_that_the_alarm_cannot_reach():
    # sum() over a huge range loops in C and never returns to the interpreter, so the
    # alarm's exception is never raised; the kernel's RLIMIT_CPU ends the process.
    code = (
        "from pipeline import budget\n"
        "budget.CPU_GRACE = 1\n"
        "deadline = budget.Deadline('media_job_seconds', 0.5)\n"
        "with budget.cpu_cap(deadline), budget.run_within(deadline, None, 'spin'):\n"
        "    sum(range(10**13))\n"
        "print('finished')\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == -signal.SIGXCPU, done.stderr
    assert "finished" not in done.stdout
    assert time.monotonic() - started < 30  # about 2 s of CPU: twice the budget + the grace


def test_the_cpu_cap_is_lifted_after_the_block_and_never_loosens_a_limit():
    before = resource.getrlimit(resource.RLIMIT_CPU)
    with budget.cpu_cap(Deadline("media_job_seconds", 5)):
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        assert soft != resource.RLIM_INFINITY and hard == before[1]
    assert resource.getrlimit(resource.RLIMIT_CPU) == before
    with budget.cpu_cap(Deadline.none()):
        assert resource.getrlimit(resource.RLIMIT_CPU) == before
