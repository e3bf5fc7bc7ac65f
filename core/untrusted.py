"""Values that come from outside (clients, config files): control characters found and made visible.

One definition shared by the settings' path validator (core/config.py) and the log formatter
(core/logging_setup.py), so a CR, LF, NUL, other C0/C1 control or a Unicode line/paragraph separator can neither
forge a log line nor reach a file name.
"""

from __future__ import annotations

import re

# C0 controls (CR, LF, NUL, ...), DEL, C1 controls (NEL U+0085 included), LINE and PARAGRAPH SEPARATOR.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    if named:
        return named
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def loggable(text: str) -> str:
    """text on one line: every control character written as a visible escape (\\n, \\r, \\x00, \\u2028)."""
    return CONTROL_CHARACTERS.sub(_escaped, text)
