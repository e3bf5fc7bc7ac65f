"""GET /api/ai/models: the GGUF files in the models folder, what each one is, and which one the service uses.

What a file is (architecture, quantisation, whether it carries a chat template) comes from its GGUF metadata,
read by `agent.py ai-worker --inspect` in a short-lived child process (ai/llm/gguf_info.py): llama.cpp is native
code, kept out of the service's process and memory. Answers are kept per (path, size, mtime), so the child runs
only when a file is new or changed.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

from ai.llm.model import bundled_model_name
from core.children import agent_command, child_env

log = logging.getLogger(__name__)

INSPECT_TIMEOUT_S = 120.0
# The same sentence for every UI (the settings window, the dashboard, the extension), said plainly.
ADVICE = ("The bundled Gemma 3 270M is a small base model: its drafts are short and sometimes off. A larger "
          "instruction model drafts better (for example a 1B-4B \"instruct\" GGUF with a chat template, Q4_K_M): "
          "put its .gguf file in the models folder and choose it as ai.model_path.")


class ModelCatalog:
    def __init__(self, models_dir: Path, model_path: str, inspect_command: list[str] | None = None) -> None:
        self.models_dir = models_dir
        self.model_path = model_path
        self.inspect_command = inspect_command or agent_command("ai-worker", "--inspect")
        self._known: dict[tuple[str, int, int], dict[str, Any]] = {}

    def current_path(self) -> Path | None:
        if self.model_path:
            return Path(self.model_path).expanduser()
        name = bundled_model_name()
        return self.models_dir / name if name else None

    def files(self) -> list[Path]:
        found = sorted(p for p in self.models_dir.glob("*.gguf") if p.is_file()) if self.models_dir.is_dir() else []
        current = self.current_path()
        if current is not None and current.is_file() and not any(_same(current, p) for p in found):
            found.append(current)  # ai.model_path outside the models folder is listed too
        return found

    def listing(self) -> dict[str, Any]:
        files = self.files()
        self._inspect([p for p in files if _key(p) not in self._known])
        current = self.current_path()
        items = []
        for path in files:
            info = self._known.get(_key(path), {"error": "could not be inspected"})
            items.append({"file": path.name, "path": str(path), "size_bytes": path.stat().st_size,
                          "quantization": info.get("quantization"), "architecture": info.get("architecture"),
                          "chat_template": bool(info.get("chat_template")), "name": info.get("name"),
                          "current": current is not None and _same(current, path),
                          **({"error": info["error"]} if "error" in info else {})})
        return {"models_dir": str(self.models_dir), "items": items, "advice": ADVICE}

    def _inspect(self, paths: list[Path]) -> None:
        if not paths:
            return
        try:
            done = subprocess.run([*self.inspect_command, *map(str, paths)], capture_output=True, text=True,
                                  timeout=INSPECT_TIMEOUT_S, env=child_env(), stdin=subprocess.DEVNULL)
            lines = done.stdout.strip().splitlines()
            answers = json.loads(lines[-1])["items"] if lines else {}
        except (OSError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
            log.warning("could not inspect the model files: %s", exc)
            return
        for path in paths:
            info = answers.get(str(path))
            if isinstance(info, dict):
                # An error is kept too: a file still being copied changes size or mtime, so it is read again then.
                self._known[_key(path)] = info


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
