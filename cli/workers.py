"""`agent.py ai-worker | rules-worker`: the service's helper processes (it starts them; they read their own
arguments)."""

from __future__ import annotations


def ai_worker(argv: list[str]) -> int:
    """The LLM worker process."""
    from ai.worker import main

    return main(argv)


def rules_worker(argv: list[str]) -> int:
    """The built-in analyzer for capture batches."""
    from ai.rules_worker import main

    return main(argv)
