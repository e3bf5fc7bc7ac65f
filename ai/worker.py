"""The isolated LLM worker process: JSON lines in on stdin, JSON lines out on stdout.

Run as `python agent.py ai-worker [--data-dir DIR] [--settings JSON]` or `python -m ai.worker ...`.

Requests (one per line):  {"id": "7", "op": "analyse"|"ping"|"warm"|"unload"|"shutdown",
                           "text": "...", "language": "pt"|null, "context": {...}, "replies": true}
                          {"id": "8", "op": "draft", "messages": [...], "prompt": "...", "max_tokens": n,
                           "deadline_s": s}  (ai/draft_prompt.py builds messages and prompt)
                          {"id": "9", "op": "cancel", "target": "8"}  (stops draft 8 within a token)
                          {"op": "warm"} loads the model and evaluates what a first answer would (the service
                          sends it ai.prewarm_after_s after it starts)
Responses:                {"id": "7", "ok": true, "analysis": {...}}
                          {"id": "8", "partial": "text"} for each new piece of a draft, then
                          {"id": "8", "ok": true, "draft": {"text", "tokens", "ttft_ms", "tokens_per_s", "stopped"}}
                          {"id": "10", "ok": true, "warm": {"model_version": "...", "ms": 812.5}}
                          or {"id": "7", "ok": false, "error": "..."}
Status lines:             {"status": "loading"|"ready"|"unloaded"|"error", "pid": ..., "model_path": ...}

Jobs run one at a time, in the order they arrive, on the main thread: one llama.cpp context computes at a time.
A thread reads stdin meanwhile, so a cancel reaches a running draft at once (llama.cpp releases the GIL while it
evaluates a token). `--inspect FILE...` prints what each GGUF file is (ai/llm/gguf_info.py) and exits.

llama.cpp is native code that can abort the process (it did, on a grammar edge case); running it here
means such a crash only costs the client a restart. stdout carries the protocol only: fd 1 is
re-pointed at stderr so native prints and stray Python prints can never corrupt it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from ai.analysis import AnalysisContext

log = logging.getLogger("ai.worker")


def protocol_stream() -> IO[str]:
    """A private copy of the original stdout for protocol lines; fd 1 then points at stderr."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "w", encoding="utf-8", buffering=1)


class Worker:
    def __init__(self, settings: dict[str, Any], data_dir: Path, out: IO[str]) -> None:
        from ai.llm import LlmSettings

        self.settings = LlmSettings.from_dict(settings)
        self.models_dir = data_dir / "models"
        self.out = out
        self.model: Any = None  # the one SharedModel the analyses and the drafts use (ai/llm/shared.py)
        self.analyzer: Any = None
        self.drafter: Any = None
        self._send_lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._waiting: set[Any] = set()  # ids of jobs read and not finished: what a cancel may name
        self._cancelled: set[Any] = set()

    def send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self.out.write(json.dumps(message, ensure_ascii=False) + "\n")
            self.out.flush()

    def status(self, state: str, **extra: Any) -> None:
        self.send({"status": state, "pid": os.getpid(), **extra})

    def shared_model(self) -> Any:
        if self.model is None:
            from ai.llm.shared import SharedModel

            self.model = SharedModel(self.settings, self.models_dir)
        return self.model

    def loaded_analyzer(self) -> Any:
        """The analyzer, loading the model on the first job (so an idle agent costs no memory)."""
        if self.analyzer is None:
            from ai.llm import CombinedAnalyzer

            self.status("loading")
            # The combined engine: rules + the model's embedding classifier for the labels, the model
            # for the replies (see ai/llm/combined.py).
            analyzer = CombinedAnalyzer(self.settings, self.models_dir, model=self.shared_model())
            analyzer.load()
            self.analyzer = analyzer
            self.status("ready", model_path=str(analyzer.model_path), model_version=analyzer.model_version)
        return self.analyzer

    def loaded_drafter(self) -> Any:
        """The draft generator (its own llama.cpp context on the shared weights), loaded on first use."""
        if self.drafter is None:
            from ai.llm.draft import DraftGenerator
            from ai.llm.model import model_label

            self.status("loading")
            self.drafter = DraftGenerator(self.shared_model(), self.settings)
            path = self.drafter.model_path
            version = self.analyzer.model_version if self.analyzer is not None else model_label(path)
            self.status("ready", model_path=str(path), model_version=version)
        return self.drafter

    def unload(self) -> None:
        if self.analyzer is not None:
            self.analyzer.close()
            self.analyzer = None
        if self.drafter is not None:
            self.drafter.close()
            self.drafter = None
        if self.model is not None:
            self.model.close()  # the weights go last: every context above used them
            self.model = None
        self.status("unloaded")

    def handle(self, job: dict[str, Any]) -> bool:
        """Run one job; False when the worker should exit."""
        job_id, op = job.get("id"), job.get("op")
        if op == "ping":
            self.send({"id": job_id, "ok": True, "loaded": self.analyzer is not None})
        elif op == "unload":
            self.unload()
            self.send({"id": job_id, "ok": True})
        elif op == "shutdown":
            self.send({"id": job_id, "ok": True})
            return False
        elif op == "analyse":
            self.send({"id": job_id, "ok": True, "analysis": self.analyse(job)})
        elif op == "draft":
            self.send({"id": job_id, "ok": True, "draft": self.draft(job)})
        elif op == "warm":
            self.send({"id": job_id, "ok": True, "warm": self.warm()})
        else:
            self.send({"id": job_id, "ok": False, "error": f"unknown op {op!r}"})
        return True

    def analyse(self, job: dict[str, Any]) -> dict[str, Any]:
        context = AnalysisContext.from_wire(job.get("context"))
        analyzer = self.loaded_analyzer()
        replies = bool(job.get("replies", True))
        text = str(job.get("text", ""))
        return analyzer.analyse_with(text, job.get("language"), context, replies).to_dict()

    def warm(self) -> dict[str, Any]:
        """Load the analyzer and evaluate the reply prefixes: the next answer starts warm. The draft context is not
        made here: it costs ~30 ms to make and ~30 MB to keep (its KV cache), and a draft evaluates its prompt
        anyway."""
        started = time.perf_counter()
        analyzer = self.loaded_analyzer()
        analyzer.warm()
        return {"model_version": analyzer.model_version, "ms": (time.perf_counter() - started) * 1000}

    def draft(self, job: dict[str, Any]) -> dict[str, Any]:
        job_id = job.get("id")
        if job_id in self._cancelled:  # cancelled while it waited: not even the prompt is evaluated
            from ai.llm.draft import draft_result

            return draft_result("", "", 0, 0.0, None, None, "cancelled", False)
        drafter = self.loaded_drafter()
        return drafter.generate(job, lambda: job_id in self._cancelled,
                                lambda text: self.send({"id": job_id, "partial": text}))

    def read_jobs(self, lines: IO[str], jobs: queue.Queue) -> None:
        """The stdin thread: a cancel takes effect here at once; every other job waits its turn in `jobs`."""
        for line in lines:
            if not line.strip():
                continue
            try:
                job = json.loads(line)
                if not isinstance(job, dict):
                    raise ValueError("a job must be a JSON object")
            except ValueError as exc:
                self.send({"id": None, "ok": False, "error": f"bad request: {exc}"})
                continue
            if job.get("op") == "cancel":
                self.cancel(job.get("target"))
                continue
            with self._jobs_lock:
                self._waiting.add(job.get("id"))
            jobs.put(job)
        jobs.put(None)  # stdin closed: the service is gone or asked us to stop

    def cancel(self, job_id: Any) -> None:
        with self._jobs_lock:
            if job_id in self._waiting:  # a cancel for a finished job is ignored, not remembered forever
                self._cancelled.add(job_id)

    def _finished(self, job_id: Any) -> None:
        with self._jobs_lock:
            self._waiting.discard(job_id)
            self._cancelled.discard(job_id)

    def serve(self, lines: IO[str]) -> None:
        jobs: queue.Queue = queue.Queue()
        threading.Thread(target=self.read_jobs, args=(lines, jobs), name="ai-worker-stdin", daemon=True).start()
        while (job := jobs.get()) is not None:
            try:
                if not self.handle(job):
                    return
            except Exception as exc:  # one bad job must not end the worker
                log.exception("job %s failed", job.get("id"))
                self.send({"id": job.get("id"), "ok": False, "error": f"{type(exc).__name__}: {exc}"})
            finally:
                self._finished(job.get("id"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ai-worker", description="CRM Agent LLM worker (JSON lines)")
    parser.add_argument("--data-dir", default=None, help="data directory (models go in <dir>/models)")
    parser.add_argument("--settings", default="{}", help='ai.* settings as JSON, e.g. {"n_threads": 2}')
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--inspect", nargs="+", metavar="GGUF",
                        help="print what each GGUF file is (architecture, quantisation, chat template) as JSON, exit")
    return parser.parse_args(argv)


def inspect_files(paths: list[str], out: IO[str]) -> None:
    from ai.llm.gguf_info import describe_gguf

    out.write(json.dumps({"items": {path: describe_gguf(Path(path)) for path in paths}}) + "\n")
    out.flush()


BACKGROUND_NICENESS = 10


def lower_priority() -> None:
    """Run below the service: LLM follow-ups are background work and must not slow captures down.

    Measured here: with the worker at normal priority a capture stream fell from 2,077 to ~1,300/s while
    the worker analysed follow-ups on both cores; at nice 10 it still fell to ~1,400/s.
    """
    try:
        # Linux: SCHED_IDLE runs only on CPU time nothing else wants (nice 10 still took a fair share).
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(BACKGROUND_NICENESS)
    except (AttributeError, OSError):  # Windows has no nice(); priority stays normal there
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = protocol_stream()
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s ai-worker[%(process)d] %(levelname)s %(name)s: %(message)s")
    if args.inspect:
        inspect_files(args.inspect, out)
        return 0
    from core.paths import resolve_data_dir

    lower_priority()
    worker = Worker(json.loads(args.settings), resolve_data_dir(args.data_dir), out)
    worker.status("started")
    worker.serve(sys.stdin)
    worker.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
