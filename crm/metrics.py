"""Dashboard figures, read from the hourly roll-ups and a few indexed counts.

Definitions (also in the API document):
- "today" is the local calendar day of the machine running the agent, in whole UTC hours;
- avg_response_time_s: mean time from a customer's first unanswered inbound message to the next
  outbound message in the same conversation, over replies sent today;
- conversion_rate: conversations started in the last 30 days that converted, divided by all conversations
  started in those 30 days (0 when there are none). A conversation converted when a person marked it
  "converted" or when its customer's status is now "customer" (set by hand, or from a purchase with payment
  evidence: docs/decisions.md "Customer status from evidence"); a churned customer's conversation no longer
  counts unless it was marked by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from ai.analysis import INTENT_LABELS, SENTIMENT_LABELS
from core.clock import Clock, hour_bucket, iso
from storage import customers as customer_rows
from storage import metrics as metric_rows
from storage.database import Database

CONVERSION_WINDOW_DAYS = 30


def _local_midnight(now: datetime) -> datetime:
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _day_figures(db: Database, start: datetime, end: datetime) -> dict[str, Any]:
    totals = metric_rows.totals(db, hour_bucket(start), hour_bucket(end))
    responses = totals.get("response_count", 0.0)
    return {
        "messages": int(totals.get("messages", 0)),
        "inbound": int(totals.get("direction.in", 0)),
        "outbound": int(totals.get("direction.out", 0)),
        "new_customers": int(totals.get("new_customers", 0)),
        "avg_response_time_s": round(totals.get("response_time_sum", 0.0) / responses, 1) if responses else None,
        "sentiment": {label: int(totals.get(f"sentiment.{label}", 0)) for label in SENTIMENT_LABELS},
        "intent": {label: int(totals.get(f"intent.{label}", 0)) for label in INTENT_LABELS},
    }


def conversion_rate(db: Database, until: datetime) -> float:
    since = iso(until - timedelta(days=CONVERSION_WINDOW_DAYS))
    row = db.one("SELECT COUNT(*) AS started, SUM(CASE WHEN c.status = 'converted' OR cu.status = 'customer' "
                 "THEN 1 ELSE 0 END) AS converted FROM conversations c JOIN customers cu ON cu.id = c.customer_id "
                 "WHERE c.started_at >= :a AND c.started_at < :b", {"a": since, "b": iso(until)})
    started = int(row["started"] or 0) if row else 0
    return round(int(row["converted"] or 0) / started, 4) if started else 0.0


def active_conversations(db: Database, now: datetime) -> int:
    return customer_rows.active_conversation_count(db, iso(now - timedelta(hours=24)))


def messages_per_hour(db: Database, now: datetime) -> list[dict[str, Any]]:
    """24 buckets, oldest first, ending with the current hour."""
    first = now - timedelta(hours=23)
    counts = metric_rows.per_hour(db, "messages", hour_bucket(first))
    buckets = []
    for i in range(24):
        hour = hour_bucket(first + timedelta(hours=i))
        buckets.append({"hour": hour + ":00Z", "count": int(counts.get(hour, 0))})
    return buckets


def system_usage(data_dir: Path) -> dict[str, float]:
    return {
        "cpu": psutil.cpu_percent(interval=None),
        "memory": psutil.virtual_memory().percent,
        "disk": psutil.disk_usage(str(data_dir)).percent,
    }


def dashboard(db: Database, clock: Clock, data_dir: Path) -> dict[str, Any]:
    now = clock.now()
    midnight = _local_midnight(now)
    next_hour = now + timedelta(hours=1)
    today = _day_figures(db, midnight, next_hour)
    yesterday = _day_figures(db, midnight - timedelta(days=1), midnight)
    return {
        "generated_at": iso(now),
        "messages_today": today["messages"],
        "active_conversations": active_conversations(db, now),
        "new_customers_today": today["new_customers"],
        # Neither a group's own pseudo-customer nor a merged @lid key (docs/decisions.md) is a customer.
        "total_customers": customer_rows.customer_total(db),
        "avg_response_time_s": today["avg_response_time_s"],
        "conversion_rate": conversion_rate(db, now),
        "sentiment_distribution": today["sentiment"],
        "intent_distribution": today["intent"],
        "messages_per_hour": messages_per_hour(db, now),
        "yesterday": {
            "messages": yesterday["messages"],
            "new_customers": yesterday["new_customers"],
            "avg_response_time_s": yesterday["avg_response_time_s"],
            "conversion_rate": conversion_rate(db, midnight),
        },
        "system": system_usage(data_dir),
    }
