"""A "Draft with AI" reply, streamed token by token (in the worker process).

A model whose GGUF carries a chat template (tokenizer.chat_template) gets the prompt's `messages` through that
template: llama-cpp-python picks it from the metadata when chat_format is None (it may name a known format it
recognises in the template instead; either way the model's own template). A model without one (the bundled Gemma 3
270M base model: llama-cpp-python would fall back to "llama-2", which it was never trained on) gets the plain
transcript `prompt` and writes one line.

Generation stops at the model's end, at max_tokens, at the deadline, or within a token when should_stop() turns
true (a cancel read by the worker's stdin thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from ai.llm.replies import has_chat_template
from ai.llm.settings import LlmSettings
from ai.llm.shared import SharedModel

# The bundled base model continues the transcript with the customer's next line: one line is the reply.
PLAIN_STOP = ["\n"]
MIN_REPLY_TOKENS = 8


class DraftTooLong(ValueError):
    """The prompt leaves no room for a reply in the model's context."""


class DraftGenerator:
    def __init__(self, model: SharedModel, settings: LlmSettings) -> None:
        self.model = model
        self.model_path = model.path
        self.settings = settings
        # Its own context (ai.n_ctx tokens) on the worker's shared weights. chat_format stays None:
        # llama-cpp-python then takes the GGUF's own chat template when it has one.
        self.llm = model.context(settings.n_ctx, min(512, settings.n_ctx))
        self.chat = has_chat_template(self.llm)

    def close(self) -> None:
        self.model.release(self.llm)

    def generate(self, job: dict[str, Any], should_stop: Callable[[], bool],
                 on_piece: Callable[[str], None]) -> dict[str, Any]:
        """Stream the reply: on_piece(text) for each new piece; the result when it stops."""
        max_tokens = int(job.get("max_tokens") or 160)
        deadline_s = float(job.get("deadline_s") or 30.0)
        temperature = float(job.get("temperature", self.settings.temperature))
        started = time.perf_counter()
        deadline = started + deadline_s
        chunks = self._chat_stream(job, max_tokens, temperature) if self.chat else \
            self._plain_stream(job, max_tokens, temperature)
        pieces: list[str] = []
        tokens, first_at, last_at, stopped = 0, None, None, "max_tokens"
        try:
            for chunk in chunks:
                if should_stop():
                    stopped = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = _chunk_text(choice, self.chat)
                if text:
                    tokens += 1
                    last_at = time.perf_counter()
                    first_at = first_at or last_at
                    pieces.append(text)
                    on_piece(text)
                if choice.get("finish_reason"):
                    stopped = "eos" if choice["finish_reason"] == "stop" else "max_tokens"
                    break
                if time.perf_counter() >= deadline:
                    stopped = "deadline"
                    break
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # ends llama-cpp-python's generator: no further token is evaluated
        return draft_result(self.model_path.name, "".join(pieces), tokens, started, first_at, last_at, stopped,
                            self.chat)

    def _chat_stream(self, job: dict[str, Any], max_tokens: int, temperature: float) -> Iterator[dict[str, Any]]:
        return self.llm.create_chat_completion(messages=job["messages"], stream=True, max_tokens=max_tokens,
                                               temperature=temperature)

    def _plain_stream(self, job: dict[str, Any], max_tokens: int, temperature: float) -> Iterator[dict[str, Any]]:
        prompt = job["prompt"]
        prompt_tokens = len(self.llm.tokenize(prompt.encode("utf-8"), add_bos=True))
        room = self.settings.n_ctx - prompt_tokens - 1
        if room < MIN_REPLY_TOKENS:
            raise DraftTooLong(f"the prompt takes {prompt_tokens} of the model's {self.settings.n_ctx} tokens")
        return self.llm.create_completion(prompt, stream=True, max_tokens=min(max_tokens, room),
                                          temperature=temperature, stop=PLAIN_STOP)


def _chunk_text(choice: dict[str, Any], chat: bool) -> str:
    if chat:
        return choice.get("delta", {}).get("content") or ""
    return choice.get("text") or ""


def draft_result(model: str, text: str, tokens: int, started: float, first_at: float | None,
                 last_at: float | None, stopped: str, chat: bool) -> dict[str, Any]:
    """ttft_ms: from the start of the draft (the prompt's evaluation included) to its first piece; tokens_per_s:
    the pieces after the first over the time they took (generation speed, the prompt excluded)."""
    ttft_ms = (first_at - started) * 1000 if first_at else None
    rate = (tokens - 1) / (last_at - first_at) if first_at and last_at and last_at > first_at else None
    return {"model": model, "text": text.strip(), "tokens": tokens, "ttft_ms": ttft_ms, "tokens_per_s": rate,
            "stopped": stopped, "chat_template": chat}
