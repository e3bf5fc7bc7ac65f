"""The isolated LLM worker process: JSON lines in on stdin, JSON lines out on stdout.

Run as `python agent.py ai-worker [--data-dir DIR] [--settings JSON]` or `python -m ai.worker ...`.

Requests (one per line):  {"id": "7", "op": "analyse"|"ping"|"unload"|"shutdown",
                           "text": "...", "language": "pt"|null, "context": {...}, "replies": true}
Responses:                {"id": "7", "ok": true, "analysis": {...}}
                          or {"id": "7", "ok": false, "error": "..."}
Status lines:             {"status": "loading"|"ready"|"unloaded"|"error", "pid": ..., "model_path": ...}

llama.cpp is native code that can abort the process (it did, on a grammar edge case); running it here
means such a crash only costs the client a restart. stdout carries the protocol only: fd 1 is
re-pointed at stderr so native prints and stray Python prints can never corrupt it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
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
        self.analyzer: Any = None

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.out.flush()

    def status(self, state: str, **extra: Any) -> None:
        self.send({"status": state, "pid": os.getpid(), **extra})

    def loaded_analyzer(self) -> Any:
        """The analyzer, loading the model on the first job (so an idle agent costs no memory)."""
        if self.analyzer is None:
            from ai.llm import CombinedAnalyzer

            self.status("loading")
            # The combined engine: rules + the model's embedding classifier for the labels, the model
            # for the replies (see ai/llm/combined.py).
            analyzer = CombinedAnalyzer(self.settings, self.models_dir)
            analyzer.load()
            self.analyzer = analyzer
            self.status("ready", model_path=str(analyzer.model_path), model_version=analyzer.model_version)
        return self.analyzer

    def unload(self) -> None:
        if self.analyzer is not None:
            self.analyzer.close()
            self.analyzer = None
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
        else:
            self.send({"id": job_id, "ok": False, "error": f"unknown op {op!r}"})
        return True

    def analyse(self, job: dict[str, Any]) -> dict[str, Any]:
        context = AnalysisContext.from_wire(job.get("context"))
        analyzer = self.loaded_analyzer()
        replies = bool(job.get("replies", True))
        text = str(job.get("text", ""))
        return analyzer.analyse_with(text, job.get("language"), context, replies).to_dict()

    def serve(self, lines: IO[str]) -> None:
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
            try:
                if not self.handle(job):
                    return
            except Exception as exc:  # one bad job must not end the worker
                log.exception("job %s failed", job.get("id"))
                self.send({"id": job.get("id"), "ok": False, "error": f"{type(exc).__name__}: {exc}"})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ai-worker", description="CRM Agent LLM worker (JSON lines)")
    parser.add_argument("--data-dir", default=None, help="data directory (models go in <dir>/models)")
    parser.add_argument("--settings", default="{}", help='ai.* settings as JSON, e.g. {"n_threads": 2}')
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


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
    from core.paths import resolve_data_dir

    lower_priority()
    worker = Worker(json.loads(args.settings), resolve_data_dir(args.data_dir), out)
    worker.status("started")
    worker.serve(sys.stdin)
    worker.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
