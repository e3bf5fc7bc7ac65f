"""Offline message analysis: the analyzer interface, the built-in analyzer and the llama.cpp engine."""
