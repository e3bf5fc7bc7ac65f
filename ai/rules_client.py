"""The service's side of ai/rules_worker.py: one child process, restarted when it dies.

Any failure (the child crashed, answered garbage, took too long) answers that batch in-process, so a
capture never fails because of the helper process; the child is started again on the next batch after a
back-off.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from typing import Any

import orjson

from ai.items import AnalysisItem, AnalysisResult
from ai.rules_worker import read_frame, write_frame
from core.children import child_env

log = logging.getLogger(__name__)

BATCH_TIMEOUT_S = 10.0
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)

Items = list[AnalysisItem]
Results = list[AnalysisResult]


class RulesWorkerClient:
    def __init__(self, command: list[str], analyse_locally: Callable[[Items], Results],
                 timeout: Callable[[float], Any] | None = None) -> None:
        self.command = command
        self.analyse_locally = analyse_locally
        # A context manager factory that silently ends a stuck read (gevent.Timeout(s, False) in the service).
        self._timeout = timeout
        self._proc: subprocess.Popen | None = None
        self._failures = 0
        self._next_start = 0.0
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
                    self._failures = 0
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
        if time.monotonic() < self._next_start:
            return None
        try:
            self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, env=child_env())
        except OSError as exc:
            self._give_up_on_child(exc)
            return None
        return self._proc

    def _give_up_on_child(self, error: BaseException) -> None:
        delay = RESTART_BACKOFF_S[min(self._failures, len(RESTART_BACKOFF_S) - 1)]
        self._failures += 1
        self._next_start = time.monotonic() + delay
        log.warning("rules worker failed (%s); analysing in the service, retrying the worker in %.0f s",
                    error, delay)
        self.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def close(self, grace_s: float = 2.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
