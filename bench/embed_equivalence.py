"""The chunked embeddings (ai/llm/embedder.py) against llama-cpp-python's one-pass Llama.embed, on every message of
the chat sets: the heads' labels must be the same, the vectors equal within float noise.

    python bench/embed_equivalence.py [--limit N]

Baseline in the same run: a separate llama_cpp.Llama in embedding mode, n_batch 272, embed() in one pass (what the
worker ran before the shared model). Also prints the one-pass and chunked time per message and the RSS each left.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, target_line

from ai.llm.embedder import EMBED_N_CTX, Embedder
from ai.llm.heads import load_or_train_heads
from ai.llm.model import assemble_bundled_model
from ai.llm.settings import LlmSettings
from ai.llm.shared import SharedModel

DATA = Path(__file__).resolve().parent / "data"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def main(argv: list[str] | None = None) -> int:
    import llama_cpp

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None)
    opts = parser.parse_args(argv)
    header("embeddings: chunked (shared model) vs one pass (own Llama)")
    texts = []
    for name in ("chat_holdout.csv", "chat_blind.csv"):
        with (DATA / name).open(encoding="utf-8", newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle) if row.get("text")]
    texts = texts[: opts.limit] if opts.limit else texts
    path = assemble_bundled_model(Path(tempfile.gettempdir()) / "crm-agent-test-models")
    settings = LlmSettings()
    base_rss = rss_mb()
    old = llama_cpp.Llama(str(path), embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                          n_ctx=EMBED_N_CTX, n_batch=EMBED_N_CTX, n_threads=settings.n_threads, verbose=False)
    started = time.perf_counter()
    old_vectors = [np.asarray(old.embed(text, truncate=True), dtype=np.float32) for text in texts]
    old_s = time.perf_counter() - started
    old_rss = rss_mb() - base_rss
    old.close()
    del old
    base_rss = rss_mb()
    model = SharedModel.from_file(path, settings)
    embedder = Embedder(model)
    started = time.perf_counter()
    new_vectors = [embedder.embed(text) for text in texts]
    new_s = time.perf_counter() - started
    new_rss = rss_mb() - base_rss
    heads = load_or_train_heads(path, embedder.embed, Path(tempfile.gettempdir()) / "crm-agent-test-models" / "heads")
    same_labels, worst_cos, worst_diff = 0, 1.0, 0.0
    for a, b in zip(old_vectors, new_vectors, strict=True):
        worst_cos = min(worst_cos, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
        worst_diff = max(worst_diff, float(np.abs(a - b).max()))
        (s1, i1), (s2, i2) = heads.predict(a), heads.predict(b)
        same_labels += (max(s1, key=s1.get), max(i1, key=i1.get)) == (max(s2, key=s2.get), max(i2, key=i2.get))
    model.close()
    print(f"   {len(texts)} messages (chat_holdout + chat_blind); load average {os.getloadavg()[0]:.2f}")
    print(f"   baseline one pass (own Llama, n_batch {EMBED_N_CTX}): {old_s / len(texts) * 1000:.0f} ms/message, "
          f"+{old_rss:.0f} MB RSS (model included)")
    print(f"   chunked (shared model):                    {new_s / len(texts) * 1000:.0f} ms/message, "
          f"+{new_rss:.0f} MB RSS (model included)")
    print(f"   worst cosine {worst_cos:.6f}, largest difference {worst_diff:.2e}")
    print(target_line("same sentiment and intent labels", f"{same_labels}/{len(texts)}", "all",
                      same_labels == len(texts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
