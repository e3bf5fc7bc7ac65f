"""The service's side of ai/rules_worker.py: one child process, restarted when it dies.

Any failure (the child crashed, answered garbage, took too long) answers that batch in-process, so a
capture never fails because of the helper process; the child is started again on the next batch after a
back-off (1 s doubling to 30 s, with jitter), kept by core.supervisor.ChildProcess with the process itself.
The batches and their timeout stay here.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from typing import Any

import orjson

from ai.items import AnalysisItem, AnalysisResult
from ai.rules_worker import read_frame, write_frame
from core.supervisor import ChildProcess, RestartBackoff

log = logging.getLogger(__name__)

BATCH_TIMEOUT_S = 10.0
STOP_GRACE_S = 2.0

Items = list[AnalysisItem]
Results = list[AnalysisResult]


class RulesWorkerClient:
    def __init__(self, command: list[str], analyse_locally: Callable[[Items], Results],
                 timeout: Callable[[float], Any] | None = None) -> None:
        self.command = command
        self.analyse_locally = analyse_locally
        # A context manager factory that silently ends a stuck read (gevent.Timeout(s, False) in the service).
        self._timeout = timeout
        # Framed batches on stdin/stdout. No polite close message: the worker holds nothing, SIGTERM ends it.
        self._process = ChildProcess("rules worker", command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     grace_s=STOP_GRACE_S,
                                     backoff=RestartBackoff(first_s=1.0, maximum_s=30.0, healthy_after_s=None))
        self._proc: subprocess.Popen | None = None  # the child batches go to; None until one is wanted again
        self.batches_in_worker = 0
        self.batches_local = 0

    def analyse(self, items: Items) -> Results:
        if not items:
            return []
        proc = self._running_child()
        if proc is not None:
            try:
                results = self._exchange(proc, items)
                if len(results) == len(items):
                    self._process.healthy()
                    self.batches_in_worker += 1
                    return results
                raise RuntimeError(f"{len(results)} answers for {len(items)} items")
            except Exception as exc:  # noqa: BLE001 - any failure: answer here, restart the child later
                self._give_up_on_child(exc)
        self.batches_local += 1
        return self.analyse_locally(items)

    def _exchange(self, proc: subprocess.Popen, items: Items) -> Results:
        """One batch over the pipe: the only place the service serialises analysis items and results."""
        write_frame(proc.stdin, orjson.dumps([item.to_wire() for item in items]))
        payload = None
        if self._timeout is None:
            payload = read_frame(proc.stdout)
        else:
            with self._timeout(BATCH_TIMEOUT_S):  # on expiry the block ends and payload stays None
                payload = read_frame(proc.stdout)
        if payload is None:
            raise RuntimeError(f"rules worker gave no answer (exit code {proc.poll()})")
        return [AnalysisResult.from_wire(wire) for wire in orjson.loads(payload)]

    def _running_child(self) -> subprocess.Popen | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._process.seconds_until_restart() > 0:
            return None
        try:
            self._proc = self._process.start()
        except OSError as exc:
            self._give_up_on_child(exc)
            return None
        return self._proc

    def _give_up_on_child(self, error: BaseException) -> None:
        delay = self._process.failed()
        log.warning("rules worker failed (%s); analysing in the service, retrying the worker in %.1f s",
                    error, delay)
        self.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._proc is not None else None

    def close(self, grace_s: float = STOP_GRACE_S) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._process.stop(grace_s)
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except OSError:  # a broken pipe's buffered bytes cannot be flushed any more
                pass
