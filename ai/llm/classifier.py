"""A softmax-regression head over sentence embeddings, in numpy (no scikit-learn in the runtime).

Measured on bench/data/chat_holdout.csv with Gemma 3 270M mean-pooled embeddings, trained on
chat_dev.csv: logistic regression reached intent accuracy 0.88 / sentiment 0.93, against 0.66 / 0.69
for nearest-centroid, so the head is a regularised multinomial logistic regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass
class Standardiser:
    """Per-dimension standardisation then L2 normalisation: the raw embedding axes have very
    different scales, and a few large ones otherwise dominate the dot products."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, vectors: np.ndarray) -> Standardiser:
        return cls(vectors.mean(axis=0), vectors.std(axis=0) + 1e-6)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        z = (vectors - self.mean) / self.scale
        return z / (np.linalg.norm(z, axis=-1, keepdims=True) + 1e-12)


@dataclass
class SoftmaxHead:
    labels: tuple[str, ...]
    weights: np.ndarray  # (dim, n_labels)
    bias: np.ndarray  # (n_labels,)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return _softmax(features @ self.weights + self.bias)


def train_softmax_head(
    features: np.ndarray, labels: list[str], l2: float = 1e-4, steps: int = 2000, learning_rate: float = 2.0
) -> SoftmaxHead:
    """Full-batch gradient descent; a few hundred examples x 640 dims trains in about a second."""
    names = tuple(sorted(set(labels)))
    index = {name: i for i, name in enumerate(names)}
    targets = np.eye(len(names))[[index[label] for label in labels]]
    count, dim = features.shape
    weights = np.zeros((dim, len(names)))
    bias = np.zeros(len(names))
    for _ in range(steps):
        grad = (_softmax(features @ weights + bias) - targets) / count
        weights -= learning_rate * (features.T @ grad + l2 * weights)
        bias -= learning_rate * grad.sum(axis=0)
    return SoftmaxHead(names, weights.astype(np.float32), bias.astype(np.float32))


@dataclass
class ClassifierHeads:
    """Everything needed to turn an embedding into sentiment and intent probabilities."""

    standardiser: Standardiser
    sentiment: SoftmaxHead
    intent: SoftmaxHead
    fingerprint: str  # which model's embeddings these heads were trained on

    @property
    def dim(self) -> int:
        return int(self.standardiser.mean.shape[0])

    def predict(self, embedding: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
        features = self.standardiser.apply(embedding.reshape(1, -1))
        sentiment = self.sentiment.probabilities(features)[0]
        intent = self.intent.probabilities(features)[0]
        return (
            {label: float(p) for label, p in zip(self.sentiment.labels, sentiment, strict=True)},
            {label: float(p) for label, p in zip(self.intent.labels, intent, strict=True)},
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            mean=self.standardiser.mean.astype(np.float32),
            scale=self.standardiser.scale.astype(np.float32),
            sentiment_labels=np.array(self.sentiment.labels),
            sentiment_weights=self.sentiment.weights,
            sentiment_bias=self.sentiment.bias,
            intent_labels=np.array(self.intent.labels),
            intent_weights=self.intent.weights,
            intent_bias=self.intent.bias,
            fingerprint=np.array(self.fingerprint),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ClassifierHeads:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                Standardiser(data["mean"], data["scale"]),
                SoftmaxHead(tuple(str(x) for x in data["sentiment_labels"]), data["sentiment_weights"],
                            data["sentiment_bias"]),
                SoftmaxHead(tuple(str(x) for x in data["intent_labels"]), data["intent_weights"],
                            data["intent_bias"]),
                str(data["fingerprint"]),
            )


def _labelled(features: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """The rows that carry this label (a public set may label only sentiment or only intent)."""
    keep = [i for i, label in enumerate(labels) if label]
    return features[keep], [labels[i] for i in keep]


def train_heads(
    embeddings: np.ndarray, sentiments: list[str], intents: list[str], fingerprint: str
) -> ClassifierHeads:
    """Both heads over the same standardised embeddings; an empty label leaves that row out of that head."""
    standardiser = Standardiser.fit(embeddings)
    features = standardiser.apply(embeddings)
    return ClassifierHeads(
        standardiser,
        train_softmax_head(*_labelled(features, sentiments)),
        train_softmax_head(*_labelled(features, intents)),
        fingerprint,
    )
