"""Mean-pooled sentence embeddings from the GGUF model (an embedding-mode context on the shared model).

The text is evaluated EMBED_CHUNK_TOKENS at a time, each chunk attending to the earlier ones through the KV
cache, and the chunks' means are averaged by their token counts: the same vector as one pass over the whole
text (a causal model; measured cosine 1.0, largest difference 3e-5 on values up to 75), with bounded memory.
Why: llama.cpp computes the full-vocabulary logits of every token of a pooled-embedding batch (Gemma's
262,144-token vocabulary: ~2 MB of logits and output buffer per token). In one pass a 151-token message left
the worker 305 MB larger for good (the buffers stay touched); 32-token chunks bound that at ~65 MB.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ai.llm.shared import SharedModel

# Messages longer than this are cut: the head was trained on chat messages, and a long paste would
# otherwise cost seconds of prompt evaluation for little gain in the label.
MAX_EMBED_TOKENS = 256
# Most chat messages fit in one chunk (no extra cost); a longer one costs ~20% more CPU than one pass.
EMBED_CHUNK_TOKENS = 16
# Kept as before chunking (llama-cpp-python's embed() cut at its n_batch, MAX_EMBED_TOKENS + 16): the shipped
# heads were trained on vectors of texts cut there.
EMBED_N_CTX = MAX_EMBED_TOKENS + 16


class Embedder:
    def __init__(self, model: SharedModel) -> None:
        self._model = model
        self._llm = model.context(EMBED_N_CTX, EMBED_CHUNK_TOKENS, embedding=True)
        self._lock = threading.Lock()  # one llama.cpp context must not be used by two threads at once

    def embed(self, text: str) -> np.ndarray:
        with self._lock:
            return mean_pooled_embedding(self._llm, text)

    def close(self) -> None:
        self._model.release(self._llm)


def mean_pooled_embedding(llm: Any, text: str) -> np.ndarray:
    """The mean of the last hidden states of text's tokens (BOS included), cut to the context's size.

    llm: a llama_cpp.Llama context in embedding mode (SharedModel.context(..., embedding=True))."""
    import llama_cpp

    tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)[:EMBED_N_CTX] or [llm.token_bos()]
    ctx = llm._ctx.ctx
    n_embd = llm.n_embd()
    llama_cpp.llama_kv_self_clear(ctx)
    total = np.zeros(n_embd, dtype=np.float64)
    for start in range(0, len(tokens), llm.n_batch):
        chunk = tokens[start:start + llm.n_batch]
        llm._batch.set_batch(batch=chunk, n_past=start, logits_all=True)
        llm._ctx.decode(llm._batch)
        # The pooled embedding of this batch: the mean over its tokens (earlier chunks reached it via the KV cache).
        total += np.ctypeslib.as_array(llama_cpp.llama_get_embeddings_seq(ctx, 0), shape=(n_embd,)) * len(chunk)
    return (total / len(tokens)).astype(np.float32)
