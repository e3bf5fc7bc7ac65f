"""The built-in rules analyzer: always available, no model file, fast enough for the capture path."""

from ai.builtin.analyzer import MODEL_VERSION, BuiltinAnalyzer

__all__ = ["MODEL_VERSION", "BuiltinAnalyzer"]
