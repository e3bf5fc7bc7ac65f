"""AiWorkerClient: runs the LLM worker process for the service and owns its whole life.

Plain stdlib subprocess/threading/queue, so it is cooperative under gevent.monkey.patch_all() and
works in plain threads (tests). One dispatcher thread sends one job at a time to the child (llama.cpp
uses every core for one job anyway); a reader thread turns the child's stdout lines into messages and a
second one forwards its stderr to logging (an undrained pipe would block the child).

Drafts ("Draft with AI", op "draft") go through the same dispatcher, so the worker still runs one job at a time
(one llama.cpp context computing); they wait in a lane of their own that the dispatcher empties first, because a
person is waiting for them, while analyses are background follow-ups. Their number is bounded by the caller
(crm/drafts.py: one per user, ai.max_drafts in all), so they cannot starve the analyses for long. A draft's
pieces reach the caller's on_partial as the worker streams them; cancel() sends {"op": "cancel"} on the pipe at
once (the worker reads stdin on another thread) or drops a draft that has not started.

A child that dies (native crash, OOM kill) fails the in-flight job with WorkerCrashed, which the caller
treats as "use the built-in analysis"; the job is not retried, since it may be what crashed the worker.
The next job restarts the child after an exponential back-off with jitter (0.5 s doubling to 60 s), kept by
core.supervisor.ChildProcess, which also starts and stops the process; the pipe protocol stays here.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ai.analysis import AnalysisContext
from ai.llm.settings import LlmSettings
from core.children import agent_command
from core.supervisor import ChildProcess, RestartBackoff

log = logging.getLogger(__name__)

STATES = ("off", "loading", "ready", "busy", "crashed")
GRACEFUL_STOP_S = 5.0
LOAD_TIMEOUT_S = 180.0  # assembling the bundled model + loading; the job timeout starts after "ready"
BACKOFF_FIRST_S = 0.5  # plus up to a quarter second of jitter, doubling up to BACKOFF_MAX_S
BACKOFF_MAX_S = 60.0
CHILD_EXITED = object()


class AiWorkerError(RuntimeError):
    """The LLM could not answer this job; fall back to the built-in analysis."""


class QueueFull(AiWorkerError):
    """ai.queue_size jobs are already waiting (the API answers 429)."""


class JobTimeout(AiWorkerError):
    pass


class WorkerCrashed(AiWorkerError):
    pass


@dataclass
class _Job:
    op: str
    payload: dict[str, Any]
    timeout_s: float
    future: Future = field(default_factory=Future)
    id: str = ""
    on_partial: Callable[[str], None] | None = None  # a draft's pieces as they come


URGENT_OPS = frozenset(("draft",))
RESULT_KEYS = {"analyse": "analysis", "draft": "draft", "warm": "warm"}  # where each op's answer carries its result


class _JobQueue:
    """Jobs waiting for the worker: drafts first (someone waits for them), then the rest in order.

    Only the ordinary lane is capped (ai.queue_size); drafts are capped by their caller."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._urgent: collections.deque[_Job] = collections.deque()
        self._normal: collections.deque[_Job] = collections.deque()
        self._ready = threading.Condition()

    def put_nowait(self, job: _Job) -> None:
        with self._ready:
            if job.op in URGENT_OPS:
                self._urgent.append(job)
            elif len(self._normal) >= self.maxsize:
                raise queue.Full
            else:
                self._normal.append(job)
            self._ready.notify()

    def get(self, timeout: float) -> _Job:
        with self._ready:
            if not self._ready.wait_for(lambda: self._urgent or self._normal, timeout):
                raise queue.Empty
            return (self._urgent or self._normal).popleft()

    def get_nowait(self) -> _Job:
        return self.get(0)

    def qsize(self) -> int:
        return len(self._urgent) + len(self._normal)


def worker_process(command: list[str]) -> ChildProcess:
    """The worker's process: JSON lines on stdin/stdout, its log on stderr; asked to exit with a shutdown op."""
    return ChildProcess("AI worker", command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, ask_to_exit=_ask_worker_to_exit, grace_s=GRACEFUL_STOP_S,
                        backoff=RestartBackoff(first_s=BACKOFF_FIRST_S, maximum_s=BACKOFF_MAX_S, healthy_after_s=None))


def _ask_worker_to_exit(proc: subprocess.Popen) -> None:
    """The polite stop: a shutdown op, then a closed stdin (the worker exits at either)."""
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"id": "stop", "op": "shutdown"}) + "\n")
    proc.stdin.flush()
    proc.stdin.close()


class _Pipes:
    """The pipes of one running worker and the threads reading them (an undrained pipe blocks the child)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.messages: queue.Queue[Any] = queue.Queue()
        self._send_lock = threading.Lock()  # the dispatcher sends jobs, a caller's thread sends cancels
        threading.Thread(target=self._read_stdout, name="ai-worker-stdout", daemon=True).start()
        threading.Thread(target=self._read_stderr, name="ai-worker-stderr", daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.messages.put(json.loads(line))
            except ValueError:
                log.warning("ai-worker wrote a non-JSON line: %.200s", line)
        self.messages.put(CHILD_EXITED)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            log.debug("ai-worker[%s]: %s", self.proc.pid, line.rstrip())

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        with self._send_lock:
            self.proc.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
            self.proc.stdin.flush()


class AiWorkerClient:
    """Starts the worker on the first job, queues jobs with backpressure, restarts it when it dies and
    stops it after ai.keep_alive_s idle. clock is injectable (seconds, monotonic) for the idle logic."""

    def __init__(
        self,
        command: list[str],
        settings: LlmSettings | dict[str, Any] | Any,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.command = list(command)
        self.settings = _as_settings(settings)
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._jobs = _JobQueue(self.settings.queue_size)
        self._current: _Job | None = None  # the job the worker is running
        self._ids = itertools.count(1)
        self._process = worker_process(self.command)
        self._pipes: _Pipes | None = None  # the running worker's pipes; None while no worker is wanted
        self._dispatcher: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._callbacks: list[Callable[[dict[str, Any]], None]] = []
        self._stopping = threading.Event()
        self._state = "off"
        self._last_used = clock()
        self._info: dict[str, Any] = {"model_path": None, "model_version": None, "last_error": None,
                                      "restarts": 0, "jobs_done": 0, "jobs_failed": 0}

    # -- public API -------------------------------------------------------------------------------

    def submit(
        self, text: str, language: str | None = None, context: AnalysisContext | None = None,
        replies: bool = True, timeout_s: float | None = None,
    ) -> Future:
        """Queue an analysis; the Future gives the analysis dict or raises AiWorkerError.
        Raises QueueFull at once when ai.queue_size jobs are waiting."""
        payload = {"text": text, "language": language, "replies": replies,
                   "context": context.to_wire() if context else None}
        return self._enqueue(_Job("analyse", payload, timeout_s or self.settings.job_timeout_s))

    def analyse(
        self, text: str, language: str | None = None, context: AnalysisContext | None = None,
        replies: bool = True, timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Blocking submit(); waits for the queue as well as the job itself."""
        return self.submit(text, language, context, replies, timeout_s).result()

    def submit_draft(self, payload: dict[str, Any], on_partial: Callable[[str], None], timeout_s: float) -> DraftJob:
        """Queue a streamed draft (payload: messages, prompt, max_tokens, deadline_s). on_partial(text) gets each
        new piece on the dispatcher's thread; the handle's future gives the worker's draft result (its "stopped"
        says why it ended) or raises AiWorkerError. timeout_s is the backstop that restarts a stuck worker."""
        job = _Job("draft", payload, timeout_s, on_partial=on_partial)
        self._enqueue(job)
        return DraftJob(self, job)

    def cancel(self, job: _Job) -> None:
        """Stop a draft: drop it if it has not started, else tell the worker (it stops within a token or two)."""
        if job.future.cancel():
            return
        pipes = self._pipes
        if self._current is job and pipes is not None and not job.future.done():
            try:
                pipes.send({"id": f"cancel-{job.id}", "op": "cancel", "target": job.id})
            except (OSError, ValueError):
                pass  # the worker is gone: the job fails with WorkerCrashed anyway

    def prewarm(self) -> Future | None:
        """Start the worker and load the model now, in the background (the worker runs at idle priority), so the
        first analysis or draft does not wait for it. None when the worker is already running or wanted: then
        the model is loading or loaded anyway. The future gives {"model_version", "ms"}."""
        if self._pipes is not None or self._jobs.qsize() or self._current is not None:
            return None
        return self._enqueue(_Job("warm", {}, LOAD_TIMEOUT_S))

    def ping(self, timeout_s: float = 10.0) -> bool:
        """Health check: True when the worker answers (a stopped worker answers False without starting)."""
        try:
            return bool(self._enqueue(_Job("ping", {}, timeout_s)).result(timeout=timeout_s + 5))
        except Exception:  # noqa: BLE001 - a failed health check is an answer, not an error
            return False

    def unload(self) -> None:
        """Stop the worker now (frees the model's memory); the next job starts it again."""
        self._enqueue(_Job("unload", {}, GRACEFUL_STOP_S * 3)).result()

    def on_state_change(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """callback(status_dict) after every state change (the service publishes ai.state events)."""
        self._callbacks.append(callback)

    @property
    def state(self) -> str:
        return self._state

    def status(self) -> dict[str, Any]:
        pid = self._process.pid
        return {"state": self._state, "pid": pid, "rss_bytes": _rss(pid), "queue_depth": self._jobs.qsize(),
                **self._info}

    def check_idle(self) -> bool:
        """Stop the worker when idle for keep_alive_s; True when it was stopped. Called by the dispatcher
        every poll interval; tests with a fake clock call it directly."""
        if self._pipes is None or self._state == "busy":
            return False
        if self._clock() - self._last_used < self.settings.keep_alive_s:
            return False
        log.info("ai-worker idle for %.0f s: unloading", self._clock() - self._last_used)
        self._stop_child("off")
        return True

    def shutdown(self, timeout_s: float = GRACEFUL_STOP_S * 2, grace_s: float = GRACEFUL_STOP_S) -> None:
        """Fail waiting jobs, stop the dispatcher and the worker (terminate, then kill after grace_s).

        The service passes short waits: the worker holds nothing that must be saved, and the tray kills
        a service that takes more than 5 s to stop."""
        self._stopping.set()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=timeout_s)
        self._fail_waiting_jobs(AiWorkerError("the AI worker is shutting down"))
        self._stop_child("off", grace_s=grace_s)

    # -- dispatcher -------------------------------------------------------------------------------

    def _enqueue(self, job: _Job) -> Future:
        if self._stopping.is_set():
            raise AiWorkerError("the AI worker is shutting down")
        job.id = str(next(self._ids))
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"{self.settings.queue_size} AI jobs already waiting") from None
        self._ensure_dispatcher()
        return job.future

    def _ensure_dispatcher(self) -> None:
        with self._start_lock:
            if self._dispatcher is None or not self._dispatcher.is_alive():
                thread = threading.Thread(target=self._dispatch_loop, name="ai-dispatch", daemon=True)
                self._dispatcher = thread
                thread.start()

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self._jobs.get(timeout=self._poll_interval_s)
            except queue.Empty:
                self.check_idle()
                continue
            if job.future.set_running_or_notify_cancel():
                self._current = job
                try:
                    self._run(job)
                finally:
                    self._current = None

    def _run(self, job: _Job) -> None:
        try:
            result = self._control(job) if job.op in ("ping", "unload") else self._analyse(job)
        except AiWorkerError as exc:
            self._info["jobs_failed"] += 1
            self._info["last_error"] = str(exc)
            job.future.set_exception(exc)
        except Exception as exc:  # never let the dispatcher die: the caller falls back instead
            log.exception("AI job %s failed unexpectedly", job.id)
            self._info["jobs_failed"] += 1
            self._info["last_error"] = f"{type(exc).__name__}: {exc}"
            job.future.set_exception(AiWorkerError(str(exc)))
        else:
            job.future.set_result(result)
        finally:
            self._last_used = self._clock()
            if self.settings.keep_alive_s == 0:
                self.check_idle()

    def _control(self, job: _Job) -> Any:
        if job.op == "unload":
            self._stop_child("off")
            return True
        if self._pipes is None or not self._process.alive():
            return False
        return bool(self._exchange(job).get("ok"))

    def _analyse(self, job: _Job) -> dict[str, Any]:
        """An analysis or a draft: the worker's answer ("analysis" or "draft")."""
        self._start_child_if_needed()
        reply = self._exchange(job)
        if not reply.get("ok"):
            raise AiWorkerError(f"worker error: {reply.get('error')}")
        self._process.healthy()
        self._info["jobs_done"] += 1
        return reply[RESULT_KEYS[job.op]]

    def _exchange(self, job: _Job) -> dict[str, Any]:
        """Send one job and wait for its answer, following status lines; the job's own timeout
        starts once the model is loaded."""
        pipes = self._pipes
        assert pipes is not None
        try:
            pipes.send({"id": job.id, "op": job.op, **job.payload})
        except (OSError, ValueError):
            self._child_died(pipes)
            raise WorkerCrashed("the AI worker exited before taking the job") from None
        if job.op in ("analyse", "draft") and self._state == "ready":
            self._set_state("busy")
        deadline = self._clock_real() + job.timeout_s
        while True:
            remaining = deadline - self._clock_real()
            if remaining <= 0:
                # The worker runs one job at a time and cannot be interrupted: a stuck job means a restart.
                log.warning("AI job %s timed out after %.1f s; restarting the worker", job.id, job.timeout_s)
                self._stop_child("off", kill=True)
                raise JobTimeout(f"AI job timed out after {job.timeout_s:g} s")
            try:
                message = pipes.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is CHILD_EXITED:
                code = self._child_died(pipes)
                raise WorkerCrashed(f"the AI worker died during the job (exit code {code})")
            if "status" in message:
                deadline = self._on_status(message, deadline, job.timeout_s)
            elif message.get("id") == job.id and "partial" in message:
                if job.on_partial is not None:
                    job.on_partial(message["partial"])
            elif message.get("id") == job.id:
                if self._state == "busy":
                    self._set_state("ready")
                return message

    def _on_status(self, message: dict[str, Any], deadline: float, timeout_s: float) -> float:
        status = message["status"]
        if status == "loading":
            self._set_state("loading")
            return self._clock_real() + LOAD_TIMEOUT_S
        if status == "ready":
            self._info["model_path"] = message.get("model_path")
            self._info["model_version"] = message.get("model_version")
            self._set_state("busy")
            return self._clock_real() + timeout_s
        return deadline

    @staticmethod
    def _clock_real() -> float:
        # Job deadlines use real time even when tests inject a fake clock for the idle logic.
        return time.monotonic()

    # -- child life -------------------------------------------------------------------------------

    def _start_child_if_needed(self) -> None:
        if self._pipes is not None and self._process.alive():
            return
        if self._pipes is not None:
            self._child_died(self._pipes)
        wait = self._process.seconds_until_restart()
        if wait > 0:
            log.info("restarting the AI worker in %.1f s (backoff)", wait)
            self._stopping.wait(wait)
            if self._stopping.is_set():
                raise AiWorkerError("the AI worker is shutting down")
        try:
            proc = self._process.start()
        except OSError as exc:
            self._record_failure(f"cannot start the AI worker: {exc}")
            raise AiWorkerError(f"cannot start the AI worker: {exc}") from exc
        self._pipes = _Pipes(proc)
        self._last_used = self._clock()
        log.info("AI worker started (pid %s)", proc.pid)
        self._set_state("ready" if self._info["model_path"] else "loading")

    def _child_died(self, pipes: _Pipes) -> int | None:
        """Record an unexpected exit and schedule the restart backoff; returns the exit code."""
        if self._pipes is not pipes:  # stopped on purpose meanwhile (shutdown, unload): not a crash
            return pipes.proc.wait()
        self._pipes = None
        code = self._process.kill()
        self._info["restarts"] += 1
        self._record_failure(f"AI worker exited unexpectedly (exit code {code})")
        self._set_state("crashed")
        return code

    def _record_failure(self, message: str) -> None:
        self._info["last_error"] = message
        self._process.failed()

    def _stop_child(self, state: str, kill: bool = False, grace_s: float = GRACEFUL_STOP_S) -> None:
        pipes, self._pipes = self._pipes, None
        if pipes is not None:
            self._process.kill() if kill else self._process.stop(grace_s)
        if self._state != state:
            self._set_state(state)

    def _fail_waiting_jobs(self, error: AiWorkerError) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(error)

    def _set_state(self, state: str) -> None:
        assert state in STATES
        self._state = state
        snapshot = self.status()
        for callback in list(self._callbacks):
            try:
                callback(snapshot)
            except Exception:  # a broken listener must not break the worker's life cycle
                log.exception("ai state callback failed")


class DraftJob:
    """A queued or running draft: its future and the way to cancel it."""

    def __init__(self, client: AiWorkerClient, job: _Job) -> None:
        self._client = client
        self._job = job
        self.future: Future = job.future

    def cancel(self) -> None:
        self._client.cancel(self._job)


def _as_settings(settings: Any) -> LlmSettings:
    if isinstance(settings, LlmSettings):
        return settings
    if isinstance(settings, dict):
        return LlmSettings.from_dict(settings)
    return LlmSettings.from_config(settings)


def _rss(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except Exception:  # noqa: BLE001 - the child may exit between the check and the read
        return None


def worker_command(data_dir: str, settings: LlmSettings, base: list[str] | None = None) -> list[str]:
    """argv for the worker: `agent.py ai-worker` (frozen or source) unless base is given."""
    if base is None:
        base = agent_command("ai-worker")
    return [*base, "--data-dir", data_dir, "--settings", json.dumps(settings.to_dict())]
