"""core.supervisor: ChildProcess with real tiny child processes (start, readiness, stop then kill, crash and
restart, a stale process) and RestartBackoff's arithmetic (exponential, jitter, cap, reset)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from core.supervisor import ChildProcess, RestartBackoff, stop_pid
from tests.helpers import ROOT

IGNORES_SIGTERM = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                   "print('up', flush=True); sys.stdin.read(); time.sleep(60)")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def children():
    made: list[ChildProcess] = []

    def make(*args, **kwargs) -> ChildProcess:
        child = ChildProcess(*args, **kwargs)
        made.append(child)
        return child

    yield make
    for child in made:
        child.kill()


# -- back-off -------------------------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_its_cap():
    backoff = RestartBackoff(first_s=1.0, maximum_s=10.0, healthy_after_s=None, jitter_s=0.5)
    delays = [backoff.after_failure() for _ in range(6)]
    for delay, base in zip(delays, [1, 2, 4, 8, 10, 10], strict=True):
        assert base <= delay <= min(base + 0.5, 10), delays
    assert backoff.failures == 6


def test_backoff_jitter_is_random_within_its_bounds():
    firsts = []
    for _ in range(50):
        backoff = RestartBackoff(first_s=2.0, maximum_s=60.0)  # jitter: half of first_s unless given
        firsts.append(backoff.after_failure())
    assert all(2.0 <= delay <= 3.0 for delay in firsts), firsts
    assert len(set(firsts)) > 40  # really random, not a constant offset


def test_backoff_starts_over_after_a_healthy_run_or_a_reset():
    backoff = RestartBackoff(first_s=1.0, maximum_s=30.0, healthy_after_s=30.0, jitter_s=0)
    assert [backoff.after_failure(1.0) for _ in range(3)] == [1, 2, 4]
    assert backoff.after_failure(29.9) == 8  # not quite healthy
    assert backoff.after_failure(30.0) == 1  # up for the healthy time: the count starts again
    assert backoff.after_failure(None) == 2  # a start that failed is no healthy run
    backoff.reset()
    assert backoff.after_failure(None) == 1


def test_backoff_survives_a_very_long_crash_loop():
    backoff = RestartBackoff(first_s=1.0, maximum_s=30.0, healthy_after_s=None, jitter_s=0)
    backoff.failures = 5000  # 2**5000 seconds does not fit a float: the cap applies
    assert backoff.after_failure() == 30


def test_tenacity_is_imported_at_the_first_failure_not_at_start():
    """~0.5 MB of idle memory in the tray and the service, for children that mostly never fail."""
    code = ("import sys, core.supervisor, tray.supervisor, ai.worker_client, ai.rules_client; "
            "print('tenacity' in sys.modules); core.supervisor.RestartBackoff().after_failure(); "
            "print('tenacity' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]


# -- start, readiness, stop -----------------------------------------------------------------------------------


def test_start_passes_the_environment_and_pipes(children):
    child = children("echo", python("import os; print(os.environ['CRM_TEST_MARK'])"), stdout=subprocess.PIPE,
                     text=True, extra_env={"CRM_TEST_MARK": "from the owner"})
    proc = child.start()
    assert proc.stdout.read().strip() == "from the owner"
    assert proc.wait(10) == 0
    assert child.starts == 1 and child.pid is None and not child.alive()


def test_readiness_waits_for_the_check_and_fails_for_a_child_that_exits(tmp_path: Path, children):
    flag = tmp_path / "ready"
    slow = children("slow", python(f"import time, pathlib; time.sleep(0.3); pathlib.Path({str(flag)!r}).touch(); "
                                   "time.sleep(60)"))
    slow.start()
    started = time.monotonic()
    assert slow.wait_ready(flag.exists, timeout_s=20)
    assert 0.25 <= time.monotonic() - started < 10

    dying = children("dying", python("raise SystemExit(2)"))
    dying.start()
    started = time.monotonic()
    assert not dying.wait_ready(lambda: False, timeout_s=20)  # ends when the child exits, not at the timeout
    assert time.monotonic() - started < 10


def test_readiness_times_out_and_can_be_abandoned(children):
    child = children("stuck", python("import time; time.sleep(60)"))
    child.start()
    started = time.monotonic()
    assert not child.wait_ready(lambda: False, timeout_s=0.3)
    assert 0.3 <= time.monotonic() - started < 5
    assert child.alive()  # what a child that never got ready deserves is its owner's decision
    assert not child.wait_ready(lambda: False, timeout_s=20, give_up=lambda: True)


def test_stop_sends_sigterm_first(children):
    child = children("polite", python("import time; print('up', flush=True); time.sleep(60)"),
                     stdout=subprocess.PIPE, text=True, grace_s=5)
    proc = child.start()
    assert proc.stdout.readline().strip() == "up"
    started = time.monotonic()
    assert child.stop() == -signal.SIGTERM
    assert time.monotonic() - started < 4


def test_stop_kills_a_child_that_ignores_sigterm_after_the_grace_period(children):
    child = children("stubborn", python(IGNORES_SIGTERM), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                     grace_s=0.5)
    proc = child.start()
    assert proc.stdout.readline().strip() == "up"  # its handler is in place
    started = time.monotonic()
    assert child.stop() == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - started < 3


def test_a_close_message_comes_before_sigterm(children):
    asked: list[int] = []

    def close_stdin(proc: subprocess.Popen) -> None:
        asked.append(proc.pid)
        proc.stdin.close()

    # Exits 0 once its stdin is closed: SIGTERM is never needed.
    polite = children("reader", python("import sys; sys.stdin.read()"), stdin=subprocess.PIPE,
                      ask_to_exit=close_stdin, grace_s=5)
    polite.start()
    assert polite.stop() == 0 and asked == [polite.proc.pid]

    # Ignores both the close and SIGTERM: one grace period after each, then SIGKILL.
    stubborn = children("stubborn", python(IGNORES_SIGTERM), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        text=True, ask_to_exit=close_stdin, grace_s=0.4)
    proc = stubborn.start()
    assert proc.stdout.readline().strip() == "up"
    started = time.monotonic()
    assert stubborn.stop() == -signal.SIGKILL
    assert 0.8 <= time.monotonic() - started < 4


def test_stop_and_kill_without_a_child_do_nothing():
    child = ChildProcess("never", python("pass"))
    assert child.stop() is None and child.kill() is None and child.pid is None


# -- crash, back-off, restart ---------------------------------------------------------------------------------


def test_a_crash_is_restarted_after_the_back_off(children):
    clock = FakeClock()
    child = children("crashy", python("raise SystemExit(3)"), clock=clock,
                     backoff=RestartBackoff(first_s=1.0, maximum_s=30.0, healthy_after_s=10.0, jitter_s=0.5))
    first = child.start()
    assert first.wait(10) == 3
    clock.now += 0.1
    delay = child.failed()
    assert 1.0 <= delay <= 1.5
    assert child.seconds_until_restart() == pytest.approx(delay)
    clock.now += 0.9
    assert 0 < child.seconds_until_restart() <= 0.6  # still waiting: 1 s to 1.5 s in all, 1 s gone
    clock.now += 0.6
    assert child.seconds_until_restart() == 0
    second = child.start()
    assert second.pid != first.pid and second.wait(10) == 3
    assert 2.0 <= child.failed() <= 2.5  # crashed again at once: twice as long
    second_start = clock.now = clock.now + 5
    third = child.start()
    third.wait(10)
    clock.now = second_start + 10  # this one "ran" for the healthy time: the back-off starts over
    assert 1.0 <= child.failed() <= 1.5
    assert child.starts == 3


def test_a_child_that_cannot_start_counts_as_a_failure(children):
    clock = FakeClock()
    child = children("missing", ["/nonexistent/binary"], clock=clock,
                     backoff=RestartBackoff(first_s=1.0, healthy_after_s=0.0, jitter_s=0))
    with pytest.raises(OSError):
        child.start()
    assert child.ran_for_s() is None
    assert child.failed() == 1  # with healthy_after_s=0 any run would have reset it: no run happened
    assert child.failed() == 2


def test_healthy_clears_the_back_off(children):
    clock = FakeClock()
    child = children("worker", python("pass"), clock=clock, backoff=RestartBackoff(healthy_after_s=None, jitter_s=0))
    child.failed()
    child.failed()
    assert child.seconds_until_restart() == 2
    child.healthy()
    assert child.seconds_until_restart() == 0
    assert child.failed() == 1


# -- stale processes ------------------------------------------------------------------------------------------


def test_a_stale_process_is_stopped_before_a_new_start(children):
    leftover = subprocess.Popen(python("import time; time.sleep(60)"))
    try:
        child = children("service", python("pass"), stale=lambda: leftover.pid, grace_s=2)
        assert child.stop_stale() == leftover.pid
        assert not psutil.pid_exists(leftover.pid)  # stopped (and reaped: it was our child)
    finally:
        leftover.kill()
        leftover.wait()
    assert ChildProcess("service", python("pass"), stale=lambda: None).stop_stale() is None
    assert ChildProcess("service", python("pass")).stop_stale() is None


def test_stop_pid_kills_what_ignores_sigterm_and_ignores_what_is_gone():
    stubborn = subprocess.Popen(python(IGNORES_SIGTERM), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert stubborn.stdout.readline().strip() == "up"
        started = time.monotonic()
        assert stop_pid(stubborn.pid, grace_s=0.4) == -signal.SIGKILL  # our child: psutil reads its exit code
        assert 0.4 <= time.monotonic() - started < 4
    finally:
        stubborn.kill()
        stubborn.wait()
        stubborn.stdin.close()
        stubborn.stdout.close()
    gone = subprocess.Popen(python("pass"))
    gone.wait()
    assert stop_pid(gone.pid, grace_s=0.1) is None
