"""How a pairing code and its expiry read, the same in the tray's notification and the windows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def group_code(code: str) -> str:
    """"123456" -> "123 456": six digits read and typed in two groups of three."""
    code = "".join(str(code).split())
    return f"{code[:3]} {code[3:]}" if len(code) == 6 else code


def expiry_epoch(value: Any) -> float | None:
    """expires_at as epoch seconds: an ISO stamp (UTC when it names no zone), or epoch seconds or ms."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    return None


def fmt_countdown(seconds: float) -> str:
    """"1:05"; a part of a second left still counts as one ("0:01" until it is really over)."""
    whole = max(0, int(seconds + 0.999))
    return f"{whole // 60}:{whole % 60:02d}"
