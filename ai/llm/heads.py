"""Finding or training the classifier heads that match the loaded model's embeddings.

The head for the bundled model ships in ai/llm/heads/ (built by `python -m ai.llm.train`). For any other
GGUF the head is trained on first load from the labelled messages stored inside the shipped head file
(so this also works in the frozen build) and cached in <data_dir>/models/heads/.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ai.llm.classifier import ClassifierHeads, train_heads

log = logging.getLogger(__name__)

SHIPPED_HEADS = Path(__file__).resolve().parent / "heads"
TRAINING_SET_FILE = SHIPPED_HEADS / "training_set.csv"


def model_fingerprint(path: Path) -> str:
    """Cheap identity of a GGUF: size + first and last MiB (hashing GBs on every start would take seconds)."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, path.stat().st_size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]


def read_training_set(path: Path = TRAINING_SET_FILE) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row.get("text")]


def train_for_model(
    embed: Callable[[str], np.ndarray], rows: list[dict[str, str]], fingerprint: str
) -> ClassifierHeads:
    embeddings = np.stack([embed(row["text"]) for row in rows])
    return train_heads(embeddings, [r["sentiment"] for r in rows], [r["intent"] for r in rows], fingerprint)


def load_or_train_heads(model: Path, embed: Callable[[str], np.ndarray], cache_dir: Path) -> ClassifierHeads:
    fingerprint = model_fingerprint(model)
    for candidate in (SHIPPED_HEADS / f"{fingerprint}.npz", cache_dir / f"{fingerprint}.npz"):
        if candidate.is_file():
            heads = ClassifierHeads.load(candidate)
            if heads.fingerprint == fingerprint:
                return heads
    log.info("no classifier head for %s yet; training one (one-off)", model.name)
    heads = train_for_model(embed, read_training_set(), fingerprint)
    heads.save(cache_dir / f"{fingerprint}.npz")
    return heads
