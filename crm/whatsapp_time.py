"""WhatsApp Web's `data-pre-plain-text` ("[10:32, 05/12/2024] Ana: ") -> when the message was sent, and who sent it.

The text is in the browser user's locale: 24 h or 12 h clock (PM, p. m., a.m., 오후 ...), day/month or
month/day, dots, slashes or ISO dates, 2- or 4-digit years. It carries local time to the minute, so the
browser's UTC offset comes with it. Anything that does not parse is answered None: the caller falls back
to the capture timestamp, never to an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

# Locales whose numeric dates put the month first (navigator.language, lowercase). Everything else reads
# day first, which is the rule in most of the world (pt-BR, es, en-GB, de, fr, it ...).
MONTH_FIRST_LOCALES = frozenset({
    "en", "en-us", "en-ph", "en-as", "en-gu", "en-mp", "en-pr", "en-um", "en-vi", "en-fm", "en-mh", "en-pw",
    "es-us", "fil", "fil-ph",
})

_BRACKETED = re.compile(r"^\s*\[(?P<inside>[^\]]{3,80})\]\s?(?P<rest>.*)$", re.DOTALL)
_PM_WORDS = frozenset({"pm", "下午", "午後", "오후"})
_AM_WORDS = frozenset({"am", "上午", "午前", "오전"})
_MARKER_NOISE = re.compile(r"[\s.]+")
_MERIDIEM = r"(?:[ap]\.?\s?m\.?|上午|下午|午前|午後|오전|오후)"
_TIME = re.compile(rf"^\s*(?P<pre>{_MERIDIEM})?\s*(?P<h>\d{{1,2}})[:.](?P<m>\d{{2}})(?:[:.](?P<s>\d{{2}}))?"
                   rf"\s*(?P<post>{_MERIDIEM})?\s*$", re.IGNORECASE)
_NUMBERS = re.compile(r"\d+")


@dataclass(frozen=True)
class PrePlainText:
    candidates: tuple[datetime, ...]  # UTC, most likely first (a second one when the day/month order is a guess)
    sender: str | None


# Earliest and latest capture timestamps accepted: WhatsApp did not exist before 2009; a year ahead
# catches ms/s mixups.
_MIN_TS = datetime(2009, 1, 1, tzinfo=timezone.utc)
_MAX_FUTURE_DAYS = 366


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (with or without zone; naive means UTC) or epoch milliseconds."""
    if isinstance(value, bool):
        raise ValueError("must be an ISO 8601 string or epoch milliseconds")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        try:
            dt = datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError("epoch milliseconds out of range") from None
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_timestamp(int(text))
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO 8601 string or epoch milliseconds") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
    else:
        raise ValueError("must be an ISO 8601 string or epoch milliseconds")
    dt = dt.astimezone(timezone.utc)
    if dt < _MIN_TS or (dt - datetime.now(timezone.utc)).days > _MAX_FUTURE_DAYS:
        raise ValueError("is outside the accepted range (2009 to one year from now); epoch values are milliseconds")
    return dt


def accepted_range(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The earliest and latest sent times a capture may carry (the same bounds as parse_timestamp)."""
    now = now or datetime.now(timezone.utc)
    return _MIN_TS, now + timedelta(days=_MAX_FUTURE_DAYS)


def parse_pre_plain_text(text: str, locale: str | None = None,
                         utc_offset_min: int | None = None) -> PrePlainText | None:
    """The moments the text may mean (aware UTC) and the sender's name; None when it does not parse.

    utc_offset_min is east-positive minutes (-new Date().getTimezoneOffset()); None means this machine's
    local zone (the agent and the browser normally run on the same computer).
    """
    match = _BRACKETED.match(text or "")
    if match is None:
        return None
    parts = _time_and_date(match.group("inside"))
    if parts is None:
        return None
    clock, date_text = parts
    dates = _dates(date_text, month_first=_month_first(locale))
    if clock is None or not dates:
        return None
    moments = tuple(_to_utc(datetime(d.year, d.month, d.day, *clock), utc_offset_min) for d in dates)
    return PrePlainText(moments, _sender(match.group("rest")))


def choose_sent_at(seen_at: datetime, text: str | None, locale: str | None, utc_offset_min: int | None,
                   earliest: datetime, latest: datetime) -> datetime:
    """The sent time to store: the parsed one when it parses and is plausible, else seen_at.

    Plausible: inside [earliest, latest] and not after the moment the extension saw the row (a day of slack
    for a wrong offset). When the parsed time falls in the same minute as seen_at, seen_at wins: it has
    seconds.
    """
    if not text:
        return seen_at
    parsed = parse_pre_plain_text(text, locale, utc_offset_min)
    if parsed is None:
        return seen_at
    for moment in parsed.candidates:
        if earliest <= moment <= latest and moment <= seen_at + timedelta(days=1):
            same_minute = moment.replace(second=0, microsecond=0) == seen_at.replace(second=0, microsecond=0)
            return seen_at if same_minute else moment
    return seen_at


def sender_name(text: str | None) -> str | None:
    """The name between "] " and the final ": " (None when absent or the text does not parse)."""
    match = _BRACKETED.match(text or "")
    return _sender(match.group("rest")) if match else None


# -- the pieces -------------------------------------------------------------------------------------------

def _time_and_date(inside: str) -> tuple[tuple[int, int, int] | None, str] | None:
    """Split "10:32 p. m., 5/12/2024" into the parsed clock and the date text (either may come first)."""
    first, comma, second = inside.partition(",")
    if not comma:
        return None
    if ":" not in first and ":" in second:  # a locale that writes the date first
        first, second = second, first
    return _clock(first), second


def _clock(text: str) -> tuple[int, int, int] | None:
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute, second = int(match.group("h")), int(match.group("m")), int(match.group("s") or 0)
    # "p. m.", "P.M.", "pm" with any spaces (ICU puts narrow no-break ones) -> "pm"
    marker = _MARKER_NOISE.sub("", (match.group("pre") or match.group("post") or "").lower())
    if marker:
        if not 1 <= hour <= 12:
            return None
        is_pm = marker in _PM_WORDS
        if not is_pm and marker not in _AM_WORDS:
            return None
        hour = hour % 12 + (12 if is_pm else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second


def _dates(text: str, *, month_first: bool) -> list[datetime]:
    """The calendar dates the text can mean, most likely first."""
    numbers = _NUMBERS.findall(text)
    if len(numbers) != 3:
        return []
    if len(numbers[0]) == 4:  # ISO and East Asian forms: year first, then month, then day
        return _valid([(int(numbers[0]), int(numbers[1]), int(numbers[2]))])
    a, b, year = int(numbers[0]), int(numbers[1]), _full_year(numbers[2])
    if year is None:
        return []
    day_first, month_first_order = (year, b, a), (year, a, b)
    if a > 12:
        return _valid([day_first])
    if b > 12:
        return _valid([month_first_order])
    if a == b:
        return _valid([day_first])
    return _valid([month_first_order, day_first] if month_first else [day_first, month_first_order])


def _full_year(text: str) -> int | None:
    if len(text) == 4:
        return int(text)
    if len(text) == 2:  # WhatsApp began in 2009: a 2-digit year is this century
        return 2000 + int(text)
    return None


def _valid(orders: list[tuple[int, int, int]]) -> list[datetime]:
    dates = []
    for year, month, day in orders:
        if not 2009 <= year <= 2200:  # WhatsApp's lifetime, roughly; keeps offset arithmetic far from year 9999
            continue
        try:
            dates.append(datetime(year, month, day))
        except ValueError:
            continue
    return dates


def _month_first(locale: str | None) -> bool:
    if not locale:
        return False
    return locale.strip().lower().replace("_", "-") in MONTH_FIRST_LOCALES


def _to_utc(local: datetime, utc_offset_min: int | None) -> datetime:
    if utc_offset_min is None:
        return local.astimezone().astimezone(timezone.utc)  # naive -> this machine's zone at that date
    return (local - timedelta(minutes=utc_offset_min)).replace(tzinfo=timezone.utc)


def _sender(rest: str) -> str | None:
    rest = rest.rstrip()
    if rest.endswith(":"):
        rest = rest[:-1]
    rest = rest.strip()
    return rest[:256] or None
