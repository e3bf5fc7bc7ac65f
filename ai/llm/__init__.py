"""The local LLM engine (llama.cpp through llama-cpp-python).

Classification (sentiment, intent) uses the model's mean-pooled embeddings with a small softmax head
trained on labelled chat messages: a 270M base model is a poor few-shot classifier but a usable
encoder. CombinedAnalyzer (the default, used by the worker) pools those probabilities with the built-in
rules engine's. The model generates only the suggested replies, constrained by a grammar so they always
parse.
"""

from typing import Any

from ai.llm.settings import LlmSettings

__all__ = ["CombinedAnalyzer", "LlmAnalyzer", "LlmSettings"]


def __getattr__(name: str) -> Any:
    # The engines pull in numpy and llama.cpp: import them only where they run (the worker), never in the
    # service, which needs LlmSettings alone (its idle memory budget is 80 MB).
    if name == "LlmAnalyzer":
        from ai.llm.analyzer import LlmAnalyzer

        return LlmAnalyzer
    if name == "CombinedAnalyzer":
        from ai.llm.combined import CombinedAnalyzer

        return CombinedAnalyzer
    raise AttributeError(name)
