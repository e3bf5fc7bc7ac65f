"""What a GGUF file is (architecture, quantisation, chat template), from its metadata (in the worker process).

Read with llama-cpp-python's metadata after a vocab_only load: the weights are not loaded, the vocabulary is
(~0.3 s for Gemma's 262k tokens). Run in a child process (`agent.py ai-worker --inspect`), never in the service:
llama.cpp is native code and a malformed file in the models folder must not be able to take the service down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def file_type_names() -> dict[int, str]:
    """general.file_type number -> quantisation name, from llama.cpp's LLAMA_FTYPE_* constants (Q4_K_M...)."""
    import llama_cpp

    names = {}
    for name in dir(llama_cpp):
        if name.startswith("LLAMA_FTYPE_") and name != "LLAMA_FTYPE_GUESSED":
            names[int(getattr(llama_cpp, name))] = name.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_")
    return names


def describe_gguf(path: Path) -> dict[str, Any]:
    """{"architecture", "quantization", "chat_template", "name"} of one file, or {"error": ...}."""
    try:
        import llama_cpp

        llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    except Exception as exc:  # noqa: BLE001 - a file llama.cpp cannot read is reported, not fatal
        return {"error": f"not a readable GGUF model: {type(exc).__name__}: {exc}"[:300]}
    try:
        metadata = dict(llm.metadata or {})
    finally:
        llm.close()
    file_type = metadata.get("general.file_type")
    try:
        quantization = file_type_names().get(int(file_type), f"type {file_type}") if file_type is not None else None
    except ValueError:
        quantization = str(file_type)
    return {"architecture": metadata.get("general.architecture"), "quantization": quantization,
            "chat_template": bool(metadata.get("tokenizer.chat_template")), "name": metadata.get("general.name")}
