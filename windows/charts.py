"""The dashboard's four charts in one matplotlib Figure on a FigureCanvasTkAgg.

The artists (bars, lines, labels) are created once; an update changes their data (set_height, set_data,
set_text) and asks for one redraw (draw_idle), which Tk runs when it is idle. Building a Figure costs tens of
milliseconds and a full layout more, so nothing is re-created on a live update. Axes limits are set by hand
from the data (no autoscale pass).
"""

from __future__ import annotations

import math
import os
import sys
import time
import tkinter as tk
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _keep_matplotlib_cache() -> None:
    """PyInstaller's runtime hook points MPLCONFIGDIR at a new temporary directory on every start, so the
    binary would rebuild matplotlib's font cache (about 1.2 s here) each time a dashboard opens; keep it in
    the user's cache directory instead."""
    if getattr(sys, "frozen", False):
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("crm-agent", appauthor=False)) / "matplotlib"
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.environ["MPLCONFIGDIR"] = str(path)
        except OSError:
            pass  # the temporary directory still works, only slower


_keep_matplotlib_cache()

from babel.dates import format_skeleton  # noqa: E402
from babel.units import format_unit  # noqa: E402
from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg  # noqa: E402 - after the cache location is set
from matplotlib.figure import Figure  # noqa: E402

from core.i18n import N_, Translator  # noqa: E402
from windows.labels import INTENT_LABELS, SENTIMENT_LABELS, label_for  # noqa: E402
from windows.theme import PALETTE, SENTIMENT_COLOURS  # noqa: E402
from windows.widgets import parse_iso  # noqa: E402

SENTIMENTS = ("positive", "neutral", "negative")
MAX_INTENTS = 8  # the most frequent intents shown; the rest are summed into "other labels"
OTHER_LABELS = N_("other labels")
MIN_WSPACE = 0.38  # room for English labels ("order status") left of the sentiment and intent charts
TICK_FONT_PT = 7


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _nice_top(value: float) -> float:
    """A y-axis top a little above value, so the tallest bar does not touch the frame."""
    return max(1.0, value * 1.15)


def _count_ticks(top: float) -> list[int]:
    """At most 4 whole-number ticks under top (explicit ticks: no locator pass on each draw)."""
    step = max(1, math.ceil(top / 3))
    magnitude = 10 ** max(0, len(str(step)) - 1)
    step = math.ceil(step / magnitude) * magnitude
    return list(range(0, int(top) + 1, step))


def _minute_ticks(span: float) -> list[float]:
    step = next((s for s in (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60) if span / s <= 6), 120)
    return [-step * i for i in range(int(span // step), -1, -1)]


def _ago(tr: Translator, minutes: float) -> str:
    """An x tick of the CPU/RAM chart: "now", "-30 s", "-5 min" (a minus sign; the locale's number and unit)."""
    if minutes == 0:
        return tr._("now")
    seconds = round(-minutes * 60)
    if seconds < 60:
        return "−" + format_unit(seconds, "duration-second", length="short", locale=tr.locale)
    return "−" + format_unit(seconds / 60, "duration-minute", length="short", locale=tr.locale, format="#,##0.##")


class TimedCanvas(FigureCanvasTkAgg):
    """FigureCanvasTkAgg that remembers how long its last draw took (Agg render + copy into Tk)."""

    last_draw_ms: float = 0.0
    draws: int = 0

    def draw(self) -> None:
        started = time.perf_counter()
        super().draw()
        self.last_draw_ms = (time.perf_counter() - started) * 1000
        self.draws += 1


class DashboardCharts:
    """Messages per hour, sentiment, intents, CPU/RAM — four axes of one figure."""

    def __init__(self, parent: tk.Misc, dpi: float, tr: Translator) -> None:
        p = PALETTE
        self.tr = tr
        self.figure = Figure(figsize=(9.6, 3.6), dpi=dpi, facecolor=p["bg"])
        self.figure.subplots_adjust(left=0.05, right=0.99, top=0.9, bottom=0.12, wspace=MIN_WSPACE, hspace=0.55)
        self._wspace = MIN_WSPACE
        grid = self.figure.add_gridspec(2, 5)
        self.ax_hours = self.figure.add_subplot(grid[0, :3])
        self.ax_perf = self.figure.add_subplot(grid[1, :3])
        self.ax_sentiment = self.figure.add_subplot(grid[0, 3:])
        self.ax_intents = self.figure.add_subplot(grid[1, 3:])
        for ax in (self.ax_hours, self.ax_perf, self.ax_sentiment, self.ax_intents):
            self._style(ax)
        self._build_hours()
        self._build_sentiment()
        self._build_intents()
        self._build_perf()
        self.canvas = TimedCanvas(self.figure, master=parent)
        self.widget = self.canvas.get_tk_widget()
        self.widget.configure(background=p["bg"], highlightthickness=0)

    # -- construction (once) ------------------------------------------------------------------------

    @staticmethod
    def _style(ax: Any) -> None:
        p = PALETTE
        ax.set_facecolor(p["surface"])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(p["border"])
        ax.tick_params(colors=p["muted"], labelsize=7, length=2)

    @staticmethod
    def _title(ax: Any, text: str) -> None:
        # A fixed y turns off matplotlib's title placement, which measures every tick label on each draw.
        # wrap: a longer language breaks the title at the figure's edge instead of running past it.
        ax.set_title(text, loc="left", fontsize=9, color=PALETTE["text"], pad=4, y=1.0, wrap=True)

    def _empty_note(self, ax: Any) -> Any:
        return ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", fontsize=8,
                       color=PALETTE["muted"], style="italic")

    def _build_hours(self) -> None:
        ax = self.ax_hours
        self._title(ax, self.tr._("Messages per hour (last 24 h)"))
        self.hour_bars = ax.bar(range(24), [0] * 24, color=PALETTE["accent"], width=0.8)
        ax.set_xlim(-0.6, 23.6)
        ax.set_ylim(0, 1)
        ax.set_xticks(range(0, 24, 3))
        self.hours_note = self._empty_note(ax)

    def _build_sentiment(self) -> None:
        ax = self.ax_sentiment
        self._title(ax, self.tr._("Sentiment today (customer messages)"))
        self.sentiment_bars = ax.barh(range(3), [0] * 3, color=[SENTIMENT_COLOURS[s] for s in SENTIMENTS],
                                      height=0.6)
        ax.set_yticks(range(3), [capitalized(label_for(self.tr, SENTIMENT_LABELS, s)) for s in SENTIMENTS])
        ax.tick_params(axis="y", length=0)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_visible(False)  # the counts are written next to the bars
        self.sentiment_labels = [ax.text(0, i, "", va="center", ha="left", fontsize=7, color=PALETTE["text"])
                                 for i in range(3)]
        self.sentiment_note = self._empty_note(ax)

    def _build_intents(self) -> None:
        ax = self.ax_intents
        self._title(ax, self.tr._("Intents today (customer messages)"))
        self.intent_bars = ax.barh(range(MAX_INTENTS), [0] * MAX_INTENTS, color=PALETTE["accent_dark"], height=0.7)
        ax.set_yticks(range(MAX_INTENTS), [""] * MAX_INTENTS)
        ax.tick_params(axis="y", labelsize=7, length=0)
        ax.set_xlim(0, 1)
        ax.xaxis.set_visible(False)
        self.intent_labels = [ax.text(0, i, "", va="center", ha="left", fontsize=7, color=PALETTE["text"])
                              for i in range(MAX_INTENTS)]
        self.intents_note = self._empty_note(ax)

    def _build_perf(self) -> None:
        ax = self.ax_perf
        self._title(ax, self.tr._("CPU and RAM (%)"))
        (self.cpu_line,) = ax.plot([], [], color=PALETTE["accent"], linewidth=1.4, label="CPU")
        (self.ram_line,) = ax.plot([], [], color=PALETTE["warning"], linewidth=1.4, label="RAM")
        ax.set_ylim(0, 100)
        ax.set_yticks([0, 50, 100])
        ax.set_xlim(-1, 0)
        # Two coloured words instead of a legend (a Legend costs ~10 ms of every draw).
        for x, (text, colour) in ((0.01, ("CPU", PALETTE["accent"])), (0.08, ("RAM", PALETTE["warning"]))):
            ax.text(x, 0.97, text, transform=ax.transAxes, ha="left", va="top", fontsize=7, color=colour,
                    fontweight="bold")
        self.perf_note = self._empty_note(ax)

    # -- updates ------------------------------------------------------------------------------------

    def update_dashboard(self, dashboard: dict[str, Any]) -> None:
        """Hourly series, sentiment and intents from GET /api/metrics/dashboard (or a metrics.updated event)."""
        self._update_hours(dashboard.get("messages_per_hour") or [])
        self._update_sentiment(dashboard.get("sentiment_distribution") or {})
        self._update_intents(dashboard.get("intent_distribution") or {})

    def _update_hours(self, buckets: Sequence[dict[str, Any]]) -> None:
        counts = [int(b.get("count", 0)) for b in buckets][-24:]
        counts = [0] * (24 - len(counts)) + counts
        for bar, count in zip(self.hour_bars, counts, strict=True):
            bar.set_height(count)
        top = _nice_top(max(counts))
        self.ax_hours.set_ylim(0, top)
        self.ax_hours.set_yticks(_count_ticks(top))
        hours = [parse_iso(b.get("hour")) for b in buckets][-24:]
        labels = [format_skeleton("Hm", h.astimezone(), locale=self.tr.locale) if h else "" for h in hours]
        self.ax_hours.set_xticks(range(0, 24, 3), [labels[i] if i < len(labels) else "" for i in range(0, 24, 3)])
        self.hours_note.set_text("" if any(counts) else self.tr._("No messages in the last 24 hours"))
        self.hour_counts = counts

    def _update_sentiment(self, distribution: dict[str, int]) -> None:
        counts = [int(distribution.get(s, 0)) for s in SENTIMENTS]
        total = sum(counts)
        top = _nice_top(max(counts)) * 1.35  # room for the labels right of the bars
        self.ax_sentiment.set_xlim(0, top)
        for i, (bar, count) in enumerate(zip(self.sentiment_bars, counts, strict=True)):
            bar.set_width(count)
            share = f" {self.tr.integer(count)} ({self.tr.percent(count / total)})" if total else ""
            self.sentiment_labels[i].set_text(share)
            self.sentiment_labels[i].set_x(count)
        self.sentiment_note.set_text("" if total else self.tr._("No customer messages today"))
        self.sentiment_counts = dict(zip(SENTIMENTS, counts, strict=True))

    def _update_intents(self, distribution: dict[str, int]) -> None:
        ranked = sorted(((label, int(n)) for label, n in distribution.items() if int(n) > 0),
                        key=lambda item: (-item[1], item[0]))
        if len(ranked) > MAX_INTENTS:
            rest = sum(n for _, n in ranked[MAX_INTENTS - 1:])
            ranked = [*ranked[: MAX_INTENTS - 1], (OTHER_LABELS, rest)]
        shown = ranked + [("", 0)] * (MAX_INTENTS - len(ranked))
        top = _nice_top(max([n for _, n in ranked], default=0)) * 1.2
        self.ax_intents.set_xlim(0, top)
        for i, (bar, (_label, count)) in enumerate(zip(self.intent_bars, shown, strict=True)):
            bar.set_width(count)
            self.intent_labels[i].set_text(f" {self.tr.integer(count)}" if count else "")
            self.intent_labels[i].set_x(count)
        labels = [self._intent_label(label) for label, _ in shown]
        self.ax_intents.set_yticks(range(MAX_INTENTS), labels)
        self._make_room_for(labels + [t.get_text() for t in self.ax_sentiment.get_yticklabels()])
        # Only the used rows: a day with three intents gets three wide bars, not three and five gaps.
        self.ax_intents.set_ylim(max(len(ranked), 3) - 0.5, -0.5)
        self.intents_note.set_text("" if ranked else self.tr._("No customer messages today"))
        self.intent_counts = dict(ranked)

    def update_samples(self, samples: Sequence[dict[str, Any]], now: float | None = None) -> None:
        """CPU/RAM samples from GET /api/metrics/system (oldest first), on a "minutes ago" axis."""
        now = time.time() if now is None else now
        points = [(parse_iso(s.get("at")), s.get("cpu"), s.get("memory")) for s in samples]
        points = [(at.timestamp(), cpu, ram) for at, cpu, ram in points if at is not None]
        xs = [(at - now) / 60 for at, _, _ in points]
        self.cpu_line.set_data(xs, [cpu for _, cpu, _ in points])
        self.ram_line.set_data(xs, [ram for _, _, ram in points])
        span = max(1.0, -min(xs, default=0.0))  # the minutes the service has been sampling, up to its history
        self.ax_perf.set_xlim(-span, 0)
        ticks = _minute_ticks(span)
        self.ax_perf.set_xticks(ticks, [_ago(self.tr, t) for t in ticks])
        self.perf_note.set_text("" if points else self.tr._("Collecting samples…"))
        self.samples_shown = len(points)

    def _make_room_for(self, labels: list[str]) -> None:
        """Widen the gap left of the sentiment and intent charts to their longest label (a longer language, a
        long configured intent), so the labels never run into the hourly chart. An estimate from the number of
        characters: measuring text needs a renderer pass, which this update path avoids."""
        longest = max((len(label) for label in labels), default=0)
        needed_px = longest * TICK_FONT_PT * 0.62 * self.figure.dpi / 72 + 10
        usable_px = self.figure.get_figwidth() * self.figure.dpi * (0.99 - 0.05)
        # Five grid columns and four gaps of wspace * column width each: solve the gap for needed_px.
        wspace = max(MIN_WSPACE, 5 * needed_px / max(1.0, usable_px - 4 * needed_px))
        if abs(wspace - self._wspace) > 0.02:
            self._wspace = wspace
            self.figure.subplots_adjust(wspace=wspace)

    def _intent_label(self, label: str) -> str:
        return self.tr._(OTHER_LABELS) if label == OTHER_LABELS else label_for(self.tr, INTENT_LABELS, label)

    def show_note(self, text: str) -> None:
        """Loading or error text over every chart, with empty data (before the first answer, service down)."""
        self.update_dashboard({"messages_per_hour": [], "sentiment_distribution": {}, "intent_distribution": {}})
        self.update_samples([])
        for note in (self.hours_note, self.sentiment_note, self.intents_note, self.perf_note):
            note.set_text(text)

    def redraw(self) -> None:
        self.canvas.draw_idle()
