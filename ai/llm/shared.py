"""One llama.cpp model in memory, any number of contexts on it (embeddings, replies per language, drafts).

llama-cpp-python's Llama() loads the GGUF every time it is called: each instance maps the whole file again
(the kernel shares the pages, but the process's RSS counts every mapping) and repacks the quantised weights
into its own anonymous memory. Measured with the bundled 270M model: the embedder, one reply context and
the draft context, each its own Llama, made the worker 1,002 MB RSS (686 MB before the first draft).
SharedModel loads the model once and gives each user its own context (own KV cache, own batch, own
tokens) on those weights, so the file is mapped once and the weights exist once.

A context is a Llama object whose llama_model is the shared one: everything that only reads the model
(tokenize, metadata, chat templates, samplers) works unchanged, and everything per-context is fresh.
llama-cpp-python has no public way to do this, so context() builds it from a shallow copy of the first
Llama (the base); the attributes it resets are those Llama.__init__ sets after creating its context (0.3.x).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from pathlib import Path
from typing import Any

from ai.llm.model import resolve_model_path
from ai.llm.settings import LlmSettings

log = logging.getLogger(__name__)

# The base Llama exists to own the model (llama-cpp-python always creates a context with it): its own
# context is never used, so it is kept tiny.
BASE_N_CTX = 32


class SharedModel:
    """The model file resolved and loaded on first use; contexts closed with close() (reloadable after)."""

    def __init__(self, settings: LlmSettings, models_dir: Path | None = None, path: Path | None = None) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self._path = path
        self._base: Any = None  # the first Llama: owns the llama_model the other contexts use
        self._contexts: list[Any] = []
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, settings: LlmSettings | None = None) -> SharedModel:
        return cls(settings or LlmSettings(), path=path)

    @property
    def path(self) -> Path:
        if self._path is None:
            if self.models_dir is None:
                raise ValueError("SharedModel needs a model path or a models folder")
            self._path = resolve_model_path(self.settings.model_path, self.models_dir)
        return self._path

    @property
    def loaded(self) -> bool:
        return self._base is not None

    def _loaded(self) -> Any:
        """The base Llama (loading the model on first use): it holds the weights and a tiny unused context."""
        if self._base is None:
            import llama_cpp

            # use_mmap: the weights stay in the page cache, backed by the file, never copied into the heap.
            self._base = llama_cpp.Llama(
                str(self.path), n_ctx=BASE_N_CTX, n_batch=BASE_N_CTX, n_ubatch=BASE_N_CTX,
                n_threads=self.settings.n_threads, n_gpu_layers=self.settings.n_gpu_layers, use_mmap=True,
                verbose=False,
            )
        return self._base

    @property
    def metadata(self) -> dict[str, str]:
        """The GGUF's metadata (loads the model)."""
        with self._lock:
            return dict(self._loaded().metadata or {})

    def context(self, n_ctx: int, n_batch: int | None = None, embedding: bool = False) -> Any:
        """A new llama_cpp.Llama-compatible context of n_ctx tokens on the shared weights.

        embedding=True gives a mean-pooled embedding context (Llama.embed); otherwise a generation context."""
        import llama_cpp

        n_batch = min(n_batch or 512, n_ctx)
        pooling = llama_cpp.LLAMA_POOLING_TYPE_MEAN if embedding else llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED
        with self._lock:
            llm = _context_on(self._loaded(), n_ctx, n_batch, embedding, pooling)
            self._contexts.append(llm)
            return llm

    def release(self, llm: Any) -> None:
        """Free one context's memory (its KV cache); the weights stay until close()."""
        with self._lock:
            if llm in self._contexts:
                self._contexts.remove(llm)
                llm.close()

    def close(self) -> None:
        """Free every context, then the weights (contexts first: they use the model)."""
        with self._lock:
            for llm in reversed(self._contexts):
                llm.close()
            self._contexts.clear()
            if self._base is not None:
                self._base.close()
            self._base = None


def _context_on(base: Any, n_ctx: int, n_batch: int, embedding: bool, pooling: int) -> Any:
    """A Llama sharing base's llama_model, with its own context, batch, token buffer and sampler state."""
    import numpy as np
    from llama_cpp import _internals as internals
    from llama_cpp.llama_tokenizer import LlamaTokenizer

    # Not copy.copy(): Llama's __setstate__ runs __init__ again, which would load the model a second time.
    llm = object.__new__(type(base))
    llm.__dict__.update(base.__dict__)  # shares the model, metadata and chat handlers (read-only)
    llm._stack = contextlib.ExitStack()  # closes only what this copy creates, never the model
    params = type(base.context_params).from_buffer_copy(base.context_params)
    params.n_ctx, params.n_batch, params.n_ubatch = n_ctx, n_batch, n_batch
    params.embeddings, params.pooling_type = embedding, pooling
    llm.context_params = params
    llm.n_batch = n_batch
    llm._ctx = llm._stack.enter_context(contextlib.closing(
        internals.LlamaContext(model=base._model, params=params, verbose=False)))
    llm._batch = llm._stack.enter_context(contextlib.closing(
        internals.LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=n_ctx, verbose=False)))
    llm._n_ctx = llm.n_ctx()
    llm._candidates = internals.LlamaTokenDataArray(n_vocab=llm._n_vocab)
    llm.n_tokens = 0
    llm.input_ids = np.ndarray((n_ctx,), dtype=np.intc)
    llm.scores = np.ndarray((n_batch, llm._n_vocab), dtype=np.single)  # not touched unless logits_all
    llm._mirostat_mu = ctypes.c_float(2.0 * 5.0)
    llm._sampler = None
    llm.cache = None
    llm.tokenizer_ = LlamaTokenizer(llm)
    return llm
