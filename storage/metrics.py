"""Hourly roll-ups kept in the capture transaction, so the dashboard never scans the messages table."""

from __future__ import annotations

from storage.database import Database

_ADD = ("INSERT INTO metrics_hourly (hour, name, value) VALUES (:hour, :name, :value) "
        "ON CONFLICT (hour, name) DO UPDATE SET value = metrics_hourly.value + excluded.value")


def add_many(db: Database, increments: dict[tuple[str, str], float]) -> None:
    """Add {(hour, name): value} in one statement (the capture batch's increments, summed)."""
    db.executemany(_ADD, [{"hour": hour, "name": name, "value": value} for (hour, name), value in increments.items()])


def totals(db: Database, since_hour: str, until_hour: str) -> dict[str, float]:
    """Sum of every counter over hours in [since_hour, until_hour)."""
    rows = db.all("SELECT name, SUM(value) AS value FROM metrics_hourly WHERE hour >= :a AND hour < :b "
                  "GROUP BY name", {"a": since_hour, "b": until_hour})
    return {r["name"]: float(r["value"]) for r in rows}


def per_hour(db: Database, name: str, since_hour: str) -> dict[str, float]:
    rows = db.all("SELECT hour, value FROM metrics_hourly WHERE name = :n AND hour >= :a",
                  {"n": name, "a": since_hour})
    return {r["hour"]: float(r["value"]) for r in rows}
