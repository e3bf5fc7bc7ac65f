"""The ai.* settings the LLM engine reads, as one plain object (easy to pass to the worker as JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from core.config import defaults


@dataclass(frozen=True)
class LlmSettings:
    model_path: str = ""
    n_threads: int = 2
    n_ctx: int = 1024
    temperature: float = 0.2
    max_tokens: int = 64
    use_gpu: bool = False
    keep_alive_s: float = 300
    queue_size: int = 64
    job_timeout_s: float = 30.0

    @classmethod
    def from_config(cls, config: Any) -> LlmSettings:
        """From a core.config.Config (or any mapping with "ai.<name>" keys); missing keys use defaults."""
        values = {}
        for f in fields(cls):
            key = f"ai.{f.name}"
            try:
                values[f.name] = config[key]
            except KeyError:
                values[f.name] = defaults()[key]
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LlmSettings:
        """From {"n_threads": 2, ...} or {"ai.n_threads": 2, ...}; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        plain = {k.removeprefix("ai."): v for k, v in data.items()}
        return cls(**{k: v for k, v in plain.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def n_gpu_layers(self) -> int:
        # -1 offloads every layer; 0 keeps everything on the CPU (the CPU-only build ignores -1 anyway).
        return -1 if self.use_gpu else 0
