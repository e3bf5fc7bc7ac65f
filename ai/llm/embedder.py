"""Mean-pooled sentence embeddings from the GGUF model (a separate llama.cpp context in embedding mode)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ai.llm.settings import LlmSettings

# Messages longer than this are cut: the head was trained on chat messages, and a long paste would
# otherwise cost seconds of prompt evaluation for little gain in the label.
MAX_EMBED_TOKENS = 256


class Embedder:
    def __init__(self, model_path: Path, settings: LlmSettings) -> None:
        import llama_cpp

        self._llm = llama_cpp.Llama(
            str(model_path),
            embedding=True,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            n_ctx=MAX_EMBED_TOKENS + 16,
            n_batch=MAX_EMBED_TOKENS + 16,
            n_threads=settings.n_threads,
            n_gpu_layers=settings.n_gpu_layers,
            verbose=False,
        )
        self._lock = threading.Lock()  # one llama.cpp context must not be used by two threads at once

    def embed(self, text: str) -> np.ndarray:
        with self._lock:
            # truncate=True cuts the input to n_batch tokens instead of failing on a long paste.
            vector = self._llm.embed(text, truncate=True)
        return np.asarray(vector, dtype=np.float32)

    def close(self) -> None:
        self._llm.close()
