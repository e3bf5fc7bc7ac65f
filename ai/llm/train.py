"""Build the classifier head for the bundled model: `python -m ai.llm.train [--data CSV ...]`.

Copies the labelled rows into ai/llm/heads/training_set.csv (so other GGUF models can be trained on the
same data at run time) and writes ai/llm/heads/<fingerprint>.npz.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

from ai.llm.embedder import Embedder
from ai.llm.heads import SHIPPED_HEADS, TRAINING_SET_FILE, model_fingerprint, train_for_model
from ai.llm.model import resolve_model_path
from ai.llm.settings import LlmSettings
from ai.llm.shared import SharedModel

REPO = Path(__file__).resolve().parents[2]
# Our own chat_dev.csv only: the shipped heads and training_set.csv travel with the product, and the public
# sets in shared/data are non-commercial (B2W reviews, airline tweets) or share-alike (Bitext); see their
# SOURCES.md. Pass --data to train on more for a private build. Never chat_holdout.csv or chat_blind.csv.
DEFAULT_DATA = [REPO / "bench" / "data" / "chat_dev.csv"]
FIELDS = ("text", "language", "sentiment", "intent")


def read_rows(paths: list[Path]) -> list[dict[str, str]]:
    """Labelled rows; a set with only a sentiment or only an intent column leaves the other empty, and one
    without a language column is taken as pt when its name says ptbr, else en (the public sets)."""
    rows = []
    for path in paths:
        language = "pt" if "ptbr" in path.name else "en"
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                rows.append({"text": row["text"], "language": row.get("language") or language,
                             "sentiment": row.get("sentiment") or "", "intent": row.get("intent") or ""})
    return rows


def write_training_set(rows: list[dict[str, str]]) -> None:
    SHIPPED_HEADS.mkdir(parents=True, exist_ok=True)
    with TRAINING_SET_FILE.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, nargs="*", default=DEFAULT_DATA)
    parser.add_argument("--model-path", default="", help="GGUF; default: the bundled model")
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "crm-agent-models")
    args = parser.parse_args(argv)
    rows = read_rows([path for path in args.data if path.is_file()])
    model = resolve_model_path(args.model_path, args.models_dir)
    embedder = Embedder(SharedModel.from_file(model, LlmSettings()))
    started = time.perf_counter()
    heads = train_for_model(embedder.embed, rows, model_fingerprint(model))
    target = SHIPPED_HEADS / f"{heads.fingerprint}.npz"
    heads.save(target)
    write_training_set(rows)
    print(f"trained on {len(rows)} rows in {time.perf_counter() - started:.1f} s -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
