"""ChildProcess: the one way this program supervises a child process (the service, the AI worker, the rules worker).

It starts a command, waits for it to be ready, stops it gracefully (SIGTERM, or the child's own close message
followed by SIGTERM) and kills it after a grace period, spaces restarts with an exponential back-off with jitter
and a cap (reset after a healthy run), and stops a process a previous run left behind. What each child speaks
stays with its owner: the tray's supervisor reads the service's announcement and polls its health, the AI worker
client runs its JSON-lines protocol and job timeouts, the rules worker client its framed batches.

Nothing here starts a thread or sleeps on its own: waits are plain `subprocess` and `time` calls, so the same
code runs in the tray's threads and in the service's greenlets (gevent patches both modules there).
The windows never import this module: they do not own any process (only the tray owns the service's life).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from core.children import child_env

log = logging.getLogger(__name__)

READY_POLL_FIRST_S = 0.02  # readiness polls start fast (a healthy child answers within a few ms) ...
READY_POLL_MAX_S = 0.5  # ... and slow down for one that loads for a while


@dataclass
class RestartBackoff:
    """How long to wait before starting a child again after it failed.

    The n-th failure in a row waits first_s * 2**(n-1) plus a random jitter of up to jitter_s (half of first_s
    unless given), never more than maximum_s (backoff_delay). The jitter keeps children that failed together
    (a resumed laptop, a full disk) from restarting in lockstep. A run of at least healthy_after_s seconds counts
    as healthy and starts the count again; owners whose children have no such rule (the workers: a job that
    succeeded is the proof) pass None and call reset()."""

    first_s: float = 1.0
    maximum_s: float = 30.0
    healthy_after_s: float | None = 30.0
    jitter_s: float | None = None
    failures: int = 0

    def after_failure(self, ran_for_s: float | None = None) -> float:
        """The delay before the next start, after a child that ran for ran_for_s (None: it never started)."""
        if ran_for_s is not None and self.healthy_after_s is not None and ran_for_s >= self.healthy_after_s:
            self.failures = 0
        self.failures += 1
        jitter_s = self.first_s / 2 if self.jitter_s is None else self.jitter_s
        return backoff_delay(self.failures, self.first_s, self.maximum_s, jitter_s)

    def reset(self) -> None:
        self.failures = 0


def backoff_delay(attempt: int, first_s: float, maximum_s: float, jitter_s: float) -> float:
    """first_s * 2**(attempt-1) plus uniform(0, jitter_s), at most maximum_s: tenacity's wait_exponential_jitter."""
    # Imported at the first failure, not at start (as crm/sync.py does): it costs the tray and the service about
    # 0.5 MB of idle memory and a few ms of start-up, for children that mostly never fail.
    from tenacity import RetryCallState, wait_exponential_jitter

    wait = wait_exponential_jitter(multiplier=first_s, max=maximum_s, jitter=jitter_s)
    # Its wait strategies read only the attempt number of the retry state they are given.
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    return float(wait(state))


AskToExit = Callable[[subprocess.Popen], None]


class ChildProcess:
    """One child process of ours, started again and again over the owner's life.

    command: argv; it is started with core.children.child_env() (plus extra_env) as its environment, so a
    frozen build's children find the bundled libraries. stdin/stdout/stderr are Popen's; text=True makes the
    pipes line-buffered UTF-8 text (errors: what to do with bytes that are not UTF-8).
    ask_to_exit(proc): the child's own polite close (a shutdown message, a closed stdin); stop() waits grace_s
    after it, then sends SIGTERM and waits grace_s again. Without it, SIGTERM is the polite step. Then SIGKILL.
    stale(): the pid of a process a previous run left behind, already checked to be ours (stop_stale()).
    clock: seconds, monotonic; injectable so tests can make every run short or long.
    """

    def __init__(self, name: str, command: Sequence[str], *,
                 stdin: int | IO[Any] | None = subprocess.DEVNULL, stdout: int | IO[Any] | None = subprocess.DEVNULL,
                 stderr: int | IO[Any] | None = subprocess.DEVNULL, text: bool = False, errors: str = "strict",
                 extra_env: dict[str, str] | None = None, ask_to_exit: AskToExit | None = None,
                 grace_s: float = 5.0, backoff: RestartBackoff | None = None,
                 stale: Callable[[], int | None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.command = list(command)
        self._pipes = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
        self._text_options: dict[str, Any] = (
            {"text": True, "encoding": "utf-8", "errors": errors, "bufsize": 1} if text else {})
        self._extra_env = dict(extra_env or {})
        self._ask_to_exit = ask_to_exit
        self.grace_s = grace_s
        self.backoff = backoff or RestartBackoff()
        self._stale = stale
        self._clock = clock
        self._lock = threading.Lock()
        self.proc: subprocess.Popen | None = None  # the last child started (running or not)
        self.starts = 0
        self._started_at: float | None = None
        self._restart_at = 0.0

    # -- state ----------------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running child's pid; None when none runs."""
        proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def alive(self) -> bool:
        return self.pid is not None

    def seconds_until_restart(self) -> float:
        """How much of the back-off after the last failure is left (0: a start is due)."""
        return max(0.0, self._restart_at - self._clock())

    # -- life -----------------------------------------------------------------------------------------------

    def start(self) -> subprocess.Popen:
        """Start the child now (callers wait out seconds_until_restart() first). OSError when it cannot start:
        the caller notes it with failed()."""
        self._started_at = None  # a start that fails is not a run
        env = child_env({**os.environ, **self._extra_env})
        proc = subprocess.Popen(self.command, env=env, **self._pipes, **self._text_options)
        with self._lock:
            self.proc = proc
        self.starts += 1
        self._started_at = self._clock()
        log.debug("started the %s (pid %d)", self.name, proc.pid)  # its owner logs it, with what matters to it
        return proc

    def wait_ready(self, is_ready: Callable[[], bool], timeout_s: float,
                   give_up: Callable[[], bool] = lambda: False) -> bool:
        """Poll is_ready() until it is true (True), or the child exits, give_up() turns true or timeout_s
        passes (False; the caller decides what a child that never got ready deserves)."""
        proc = self.proc
        deadline = self._clock() + timeout_s
        delay = READY_POLL_FIRST_S
        while proc is not None and proc.poll() is None and not give_up():
            if is_ready():
                return True
            if self._clock() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, READY_POLL_MAX_S)
        return False

    def ran_for_s(self) -> float | None:
        """Seconds since the last start (None before the first, and when the last start failed)."""
        return None if self._started_at is None else self._clock() - self._started_at

    def failed(self) -> float:
        """The child exited, or could not start, without being asked to: note it. Returns the back-off delay
        before the next start (seconds_until_restart() counts it down)."""
        delay = self.backoff.after_failure(self.ran_for_s())
        self._restart_at = self._clock() + delay
        return delay

    def healthy(self) -> None:
        """The child proved itself (a job answered): the next failure starts the back-off from first_s."""
        self.backoff.reset()
        self._restart_at = 0.0

    def stop(self, grace_s: float | None = None) -> int | None:
        """Stop the running child gracefully, then kill it after the grace period. Returns its exit code
        (None when no child was ever started). Safe from another thread than the one reading its pipes."""
        grace = self.grace_s if grace_s is None else grace_s
        with self._lock:
            proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            if self._ask_to_exit is not None:
                self._ask(proc)
                if _exited_within(proc, grace):
                    return proc.returncode
            proc.terminate()
            if not _exited_within(proc, grace):
                log.warning("the %s (pid %d) did not stop in %.1f s: killing it", self.name, proc.pid, grace)
                proc.kill()
        return proc.wait()

    def kill(self) -> int | None:
        """Kill the running child at once (a stuck job cannot be interrupted otherwise)."""
        with self._lock:
            proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        return proc.wait()

    def _ask(self, proc: subprocess.Popen) -> None:
        try:
            self._ask_to_exit(proc)  # type: ignore[misc]
        except (OSError, ValueError):  # its stdin is already closed or broken: SIGTERM follows
            pass

    def stop_stale(self) -> int | None:
        """Stop the process a previous run left behind (stale() names it), so that two never share what the
        child owns (the service's data directory). Returns its pid, or None when there was none."""
        pid = self._stale() if self._stale is not None else None
        if pid is None:
            return None
        log.warning("a %s from a previous run is still running (pid %d): stopping it", self.name, pid)
        stop_pid(pid, self.grace_s)
        return pid


def _exited_within(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def stop_pid(pid: int, grace_s: float = 5.0) -> int | None:
    """SIGTERM a process we hold no Popen for, wait grace_s, then SIGKILL. Its exit code when it was our child
    (else None, as for a process that is already gone)."""
    import psutil  # lazily, for start-up speed (~25 ms): only a stale child needs it

    try:
        process = psutil.Process(pid)
        process.terminate()
        try:
            return process.wait(grace_s)
        except psutil.TimeoutExpired:
            process.kill()
            return process.wait(grace_s)
    except psutil.NoSuchProcess:
        return None
