"""The built-in analyzer in a process of its own, for the service's capture batches.

The service is one gevent process: on a busy capture path the rules analysis took about a quarter of its
one core. Analysing each group-commit batch here lets a second core do that work while the service parses
the next requests. Protocol on stdin/stdout: frames of a 4-byte big-endian length and an orjson payload.
Request: [[text, language or null, customer name or null, direction, message type], ...].
Answer:  [[language or null, analysis dict], ...] in the same order.
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

import orjson

from ai.analysis import AnalysisContext, Analyzer

HEADER_BYTES = 4


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        return None
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(len(payload).to_bytes(HEADER_BYTES, "big") + payload)
    stream.flush()


def analyse_items(analyzer: Analyzer, items: list[list[Any]]) -> list[list[Any]]:
    """The language of each text and its analysis, exactly as the service would compute them in-process."""
    from ai.language import detect_language

    results = []
    for text, language, name, direction, message_type in items:
        language = language or (detect_language(text) if text.strip() else None)
        context = AnalysisContext(customer_name=name, direction=direction, message_type=message_type)
        results.append([language, analyzer.analyse(text, language, context).to_dict()])
    return results


def main(argv: list[str] | None = None) -> int:
    from ai.builtin import BuiltinAnalyzer

    analyzer = BuiltinAnalyzer()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        payload = read_frame(stdin)
        if payload is None:
            return 0
        write_frame(stdout, orjson.dumps(analyse_items(analyzer, orjson.loads(payload))))


if __name__ == "__main__":
    sys.exit(main())
