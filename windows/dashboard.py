"""The dashboard window: Overview (cards, charts, recent activity, alerts), Messages, Customers and Knowledge tabs.

Live updates: service events (message.captured, analysis.completed, alert.*) only mark the overview stale;
a Debouncer fetches the figures again at most twice a second, on a worker thread, and the result is drawn
on the Tk thread by changing the existing widgets and chart artists. metrics.updated events carry the
dashboard figures themselves and are drawn without a fetch. CPU/RAM samples are polled from
GET /api/metrics/system at the monitor's sample interval while the window is open.
"""

from __future__ import annotations

import gc
import logging
import time
import tkinter as tk
from tkinter import ttk
from typing import Any

from core.i18n import N_
from desktop.service_client import ServiceUnavailable
from windows.base import BaseWindow
from windows.calls import Debouncer
from windows.charts import DashboardCharts
from windows.customers import CustomersPane
from windows.errors import describe_error
from windows.host import WindowHost
from windows.knowledge import KnowledgePane
from windows.labels import INTENT_LABELS, SENTIMENT_LABELS, label_for
from windows.messages import MessagesPane
from windows.widgets import (
    ScrolledTree,
    StatCard,
    fmt_change,
    fmt_count,
    fmt_duration,
    fmt_percent,
    local_time,
    mnemonic,
    short,
    time_column_width,
)

log = logging.getLogger(__name__)

RECENT_LIMIT = 20
LIVE_INTERVAL_MS = 500  # at most two live redraws a second
MIN_SAMPLE_POLL_MS = 1000
LIVE_EVENTS = ("message.captured", "analysis.completed", "alert.raised", "alert.resolved")
PAIRING_CHANGES = ("pairing.completed", "extension.revoked")  # the empty state's invitation depends on them
INVITE_UNPAIRED = N_("No messages yet. Install the browser extension and pair it to capture your WhatsApp Web chats.")
INVITE_PAIRED = N_("No messages yet. Open https://web.whatsapp.com in the paired browser: its chats appear here.")
# The tabs, "&" before each one's Alt-key letter: translators pick letters that do not collide in their language.
TAB_NAMES = (N_("&Overview"), N_("&Messages"), N_("&Customers"), N_("&Knowledge"))


class OverviewPane(ttk.Frame):
    """Cards, charts, recent activity and active alerts; `show(data)` draws one fetched snapshot."""

    def __init__(self, parent: tk.Misc, window: DashboardWindow) -> None:
        super().__init__(parent, padding=(0, 6, 0, 0))
        self.window = window
        self.tr = window.tr
        self._build_connect_invitation()
        self._build_cards()
        self.charts = DashboardCharts(self, dpi=window.top.winfo_fpixels("1i"), tr=window.tr)
        self.charts.widget.grid(row=2, column=0, columnspan=4, sticky="nsew", pady=(6, 4))
        self._build_lists()
        self.charts.show_note(self.tr._("Loading…"))
        for column in range(4):
            self.columnconfigure(column, weight=1, uniform="cards")
        self.rowconfigure(2, weight=3)
        self.rowconfigure(3, weight=2)

    def _build_connect_invitation(self) -> None:
        """Shown above everything while no message was ever captured: the way to the browser extension."""
        self.connect_bar = ttk.Frame(self, style="Callout.TFrame", padding=(12, 8))
        self.connect_text = ttk.Label(self.connect_bar, style="Callout.TLabel", text=self.tr._(INVITE_UNPAIRED),
                                      wraplength=self.window.scaled((640, 0))[0], justify="left")
        self.connect_text.pack(side="left")
        self.connect_button = ttk.Button(self.connect_bar, text=self.tr._("Connect WhatsApp Web"),
                                         style="Accent.TButton", command=lambda: self.window.app.open("connect"))
        self.connect_button.pack(side="right")

    def set_paired(self, paired: int) -> None:
        """A paired browser that captured nothing yet needs WhatsApp Web opened, not the install steps."""
        self.connect_text.configure(text=self.tr._(INVITE_PAIRED if paired > 0 else INVITE_UNPAIRED))

    def show_connect_invitation(self, shown: bool) -> None:
        if shown and not self.connect_bar.winfo_manager():
            self.connect_bar.grid(row=0, column=0, columnspan=4, sticky="ew", pady=(0, 6))
        elif not shown and self.connect_bar.winfo_manager():
            self.connect_bar.grid_forget()

    def _build_cards(self) -> None:
        tr = self.tr
        titles = {"messages": tr._("Messages today"), "customers": tr._("Customers"),
                  "response": tr._("Average response time"), "conversion": tr._("Conversion rate (30 days)")}
        self.cards: dict[str, StatCard] = {}
        for column, (key, title) in enumerate(titles.items()):
            card = StatCard(self, title, wrap=self.window.scaled((220, 0))[0])
            card.grid(row=1, column=column, sticky="nsew", padx=(0 if column == 0 else 6, 0))
            self.cards[key] = card

    def _build_lists(self) -> None:
        lists = ttk.Frame(self)
        lists.grid(row=3, column=0, columnspan=4, sticky="nsew")
        lists.columnconfigure(0, weight=5)
        lists.columnconfigure(1, weight=2)
        lists.rowconfigure(1, weight=1)
        tr = self.tr
        ttk.Label(lists, text=tr._("Recent activity"), style="Section.TLabel").grid(row=0, column=0, sticky="w")
        ttk.Label(lists, text=tr._("Active alerts"), style="Section.TLabel").grid(row=0, column=1, sticky="w",
                                                                               padx=(8, 0))
        self.recent = ScrolledTree(lists, [("time", tr._("Time"), time_column_width(tr, 60), False),
                                           ("customer", tr._("Customer"), 140, False),
                                           ("dir", "", 28, False), ("text", tr._("Message"), 220, True),
                                           ("sentiment", tr._("Sentiment"), 90, False),
                                           ("intent", tr._("Intent"), 100, False)],
                                   height=5, empty_text=tr._("No messages yet"))
        self.recent.grid(row=1, column=0, sticky="nsew")
        self.recent.tree.bind("<Double-1>", lambda _e: self._open_selected_message())
        self.recent.tree.bind("<Return>", lambda _e: self._open_selected_message())
        self.alerts = ScrolledTree(lists, [("title", tr._("Alert"), 150, True), ("since", tr._("Since"), 56, False)],
                                   height=5, empty_text=tr._("No active alerts"))
        self.alerts.grid(row=1, column=1, sticky="nsew", padx=(8, 0))

    # -- drawing ------------------------------------------------------------------------------------

    def show_dashboard(self, d: dict[str, Any]) -> None:
        tr = self.tr
        y = d.get("yesterday") or {}
        today_msgs = d.get("messages_today")
        self.cards["messages"].set(fmt_count(tr, today_msgs), *fmt_change(tr, today_msgs, y.get("messages")))
        new_today, new_yesterday = d.get("new_customers_today"), y.get("new_customers")
        _delta, tone = fmt_change(tr, new_today, new_yesterday)
        new_text = tr._("{today} new today ({yesterday} yesterday)").format(
            today=fmt_count(tr, new_today), yesterday=fmt_count(tr, new_yesterday))
        self.cards["customers"].set(fmt_count(tr, d.get("total_customers")), new_text, tone)
        response, response_y = d.get("avg_response_time_s"), y.get("avg_response_time_s")
        self.cards["response"].set(fmt_duration(tr, response),
                                   *fmt_change(tr, response, response_y, kind="duration", lower_is_better=True))
        rate, rate_y = d.get("conversion_rate"), y.get("conversion_rate")
        self.cards["conversion"].set(fmt_percent(tr, rate), *fmt_change(tr, rate, rate_y, kind="rate"))
        self.charts.update_dashboard(d)

    def show_recent(self, page: dict[str, Any]) -> None:
        tr = self.tr
        rows = []
        for m in page.get("items", []):
            analysis = m.get("analysis") or {}
            rows.append((str(m["id"]), (local_time(tr, m.get("sent_at"), compact=True), customer_label(m),
                                        "→" if m.get("direction") == "out" else "←", short(m.get("content"), 90),
                                        label_for(tr, SENTIMENT_LABELS, (analysis.get("sentiment") or {}).get("label")),
                                        label_for(tr, INTENT_LABELS, (analysis.get("intent") or {}).get("label")))))
        self.recent.replace(rows, empty_text=tr._("No messages yet — they appear here as WhatsApp Web captures them"))
        self.show_connect_invitation(not rows)

    def show_system(self, system: dict[str, Any]) -> None:
        self.charts.update_samples(system.get("samples") or [])
        rows = [(str(a.get("kind")), (a.get("title") or a.get("kind", ""), local_time(self.tr, a.get("at"))))
                for a in system.get("alerts") or []]
        self.alerts.replace(rows)
        tips = {iid: a.get("message", "") for (iid, _), a in zip(rows, system.get("alerts") or [], strict=True)}
        self.alert_messages = tips

    def show_unavailable(self, problem: str, service_down: bool = False) -> None:
        self.charts.show_note(problem)
        self.charts.redraw()
        text = self.tr._("{problem} — press Start above").format(problem=problem) if service_down else problem
        self.recent.show_message(text, style="Error.TLabel")
        self.alerts.show_message("—", style="Empty.TLabel")

    def _open_selected_message(self) -> None:
        iid = self.recent.selected()
        if iid:
            self.window.show_message(int(iid))


def customer_label(message: dict[str, Any]) -> str:
    customer = message.get("customer") or {}
    return customer.get("name") or customer.get("phone") or message.get("customer_name") or ""


class DashboardWindow(BaseWindow):
    name = "dashboard"
    title = N_("CRM Agent — Dashboard")
    # Wider than the other windows where the screen allows (restore_geometry clamps it to the screen): the
    # Messages tab shares its width between the list and the detail, and the list's text column gets the rest.
    default_size = (1280, 760)

    def __init__(self, app: WindowHost) -> None:
        self.opened_at = time.perf_counter()
        self.first_render_ms: float | None = None
        self.render_times_ms: list[float] = []  # update of widgets + chart artists, per live redraw
        self._loading = False
        self._stale = False
        self._sample_timer: str | None = None
        self._sample_interval_ms = 5000
        self.loaded = {"dashboard": False, "recent": False, "system": False}
        super().__init__(app)

    # -- construction -------------------------------------------------------------------------------

    def build(self, parent: ttk.Frame) -> None:
        self.notebook = ttk.Notebook(parent)
        self.notebook.pack(fill="both", expand=True)
        self.overview = OverviewPane(self.notebook, self)
        self.messages = MessagesPane(self.notebook, self)
        self.customers = CustomersPane(self.notebook, self)
        self.knowledge = KnowledgePane(self.notebook, self)
        for pane, name in zip((self.overview, self.messages, self.customers, self.knowledge), TAB_NAMES, strict=True):
            text, underline = mnemonic(self.tr._(name))
            self.notebook.add(pane, text=text, underline=underline)
        self.notebook.enable_traversal()  # Alt+<the underlined letter> (O/M/C/K in English) and Ctrl+Tab
        self.live = Debouncer(self.top, self._live_update, min_interval_ms=LIVE_INTERVAL_MS)
        self._hidden_stale = False  # events arrived while another tab was shown
        self.notebook.bind("<<NotebookTabChanged>>", lambda _e: self._tab_changed())
        for index in range(4):
            self.top.bind(f"<Control-Key-{index + 1}>", lambda _e, i=index: self.notebook.select(i))
        self.top.bind("<Control-f>", lambda _e: self._focus_search())
        self.top.bind("<Control-s>", lambda _e: self._save())
        self._schedule_samples()

    def refresh(self) -> None:
        self.load_overview()
        self.messages.reload()
        self.customers.reload()
        self.knowledge.reload(self.knowledge.pager.offset)

    def close(self) -> None:
        if self._sample_timer is not None:
            self.top.after_cancel(self._sample_timer)
            self._sample_timer = None
        self.live.cancel()
        super().close()
        # matplotlib's figure and canvas hold reference cycles with Tk objects (the canvas's PhotoImage). Free
        # them here, on the Tk thread: collected later on a worker thread, tkinter cannot delete the image
        # (RuntimeError, the image leaks) and, once the Tk root is gone, deleting the interpreter from another
        # thread aborts the process.
        self.overview.charts.figure.clear()
        gc.collect()

    # -- overview loading ---------------------------------------------------------------------------

    def load_overview(self) -> None:
        """Fetch dashboard figures, recent messages and monitor state on a worker; draw them on Tk."""
        if self._loading:
            self._stale = True  # one more fetch when this one is back: an event arrived meanwhile
            return
        self._loading = True
        self._stale = False
        self.link.run(self._fetch_overview, self._overview_loaded, self._overview_failed)

    def _fetch_overview(self) -> dict[str, Any]:  # worker thread
        return {"dashboard": self.link.request("GET", "/api/metrics/dashboard"),
                "recent": self.link.request("GET", f"/api/messages?limit={RECENT_LIMIT}"),
                "system": self.link.request("GET", "/api/metrics/system")}

    def _overview_loaded(self, data: dict[str, Any]) -> None:
        self._loading = False
        if self.closed:
            return
        self.banner.hide()
        self.render_overview(data)
        if self._stale:
            self.live.trigger()

    def _overview_failed(self, exc: Exception) -> None:
        self._loading = False
        if self.closed:
            return
        problem = describe_error(exc, self.tr)
        self.say(self.tr._("Could not load the dashboard: {problem}").format(problem=problem))
        if self.first_render_ms is None:  # nothing to keep showing: say why, in place of the figures
            self.overview.show_unavailable(problem[:1].upper() + problem[1:],
                                           service_down=isinstance(exc, ServiceUnavailable))
        self.on_error(exc)

    def render_overview(self, data: dict[str, Any]) -> None:
        """Draw one snapshot (Tk thread). Timed: widgets + chart artists here, the Agg draw in the canvas."""
        started = time.perf_counter()
        self.overview.show_dashboard(data["dashboard"])
        self.overview.show_recent(data["recent"])
        self.overview.show_system(data["system"])
        self._apply_interval(data["system"])
        self.say(self.tr._("Dashboard updated at {time}").format(
            time=local_time(self.tr, data["dashboard"].get("generated_at"), with_date=False)))
        self.messages.set_intents(list((data["dashboard"].get("intent_distribution") or {}).keys()))
        self.overview.charts.canvas.draw()  # synchronous: at most twice a second, and the figure is ready now
        elapsed = (time.perf_counter() - started) * 1000
        self.render_times_ms.append(elapsed)
        del self.render_times_ms[:-200]
        self.loaded.update(dashboard=True, recent=True, system=True)
        if self.first_render_ms is None:
            self.first_render_ms = (time.perf_counter() - self.opened_at) * 1000
            log.info("dashboard: first full render %.0f ms after the window was created", self.first_render_ms)
        self.last_overview = data

    # -- live ---------------------------------------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in LIVE_EVENTS:
            self.live.trigger()
            if kind == "message.captured":
                self.messages.new_message_arrived()
        elif kind == "metrics.updated" and isinstance(event.get("data"), dict):
            if self._overview_shown():
                self.overview.show_dashboard(event["data"])
                self.overview.charts.redraw()
            else:
                self._hidden_stale = True
        elif kind == "knowledge.changed":
            self.knowledge.on_knowledge_changed()
        elif isinstance(kind, str) and kind.startswith("reply.draft."):
            self.messages.on_draft_event(event)
        elif kind == "events.lost":
            self.refresh()
        elif kind in PAIRING_CHANGES:
            self._refresh_agent_state()

    def on_health(self, health: dict[str, Any]) -> None:
        part = health.get("extensions") if isinstance(health, dict) else None
        if isinstance(part, dict) and isinstance(part.get("paired"), int):
            self.overview.set_paired(part["paired"])

    def _overview_shown(self) -> bool:
        return self.notebook.index("current") == 0

    def _live_update(self) -> None:
        # Redrawing charts nobody sees costs the Tk thread ~50 ms: catch up when the tab is shown again.
        if self._overview_shown():
            self.load_overview()
        else:
            self._hidden_stale = True

    def _tab_changed(self) -> None:
        if self._hidden_stale and self._overview_shown():
            self._hidden_stale = False
            self.load_overview()

    def _schedule_samples(self) -> None:
        self._sample_timer = self.top.after(self._sample_interval_ms, self._poll_samples)

    def _poll_samples(self) -> None:
        self._sample_timer = None
        if self.closed:
            return
        if self.link.connected and self._overview_shown():
            self.link.get("/api/metrics/system", self._samples_loaded, lambda _exc: None)
        self._schedule_samples()

    def _samples_loaded(self, system: dict[str, Any]) -> None:
        if self.closed:
            return
        self.overview.show_system(system)
        self._apply_interval(system)
        self.overview.charts.redraw()

    def _apply_interval(self, system: dict[str, Any]) -> None:
        interval = system.get("interval_s")
        if isinstance(interval, (int, float)) and interval > 0:
            self._sample_interval_ms = max(MIN_SAMPLE_POLL_MS, int(interval * 1000))

    # -- shortcuts and cross-tab actions ------------------------------------------------------------

    def show_message(self, message_id: int) -> None:
        self.notebook.select(self.messages)
        self.messages.open_message(message_id)

    def _focus_search(self) -> None:
        current = self.notebook.nametowidget(self.notebook.select())
        if current is self.messages:
            self.messages.search.focus()
        elif current is self.customers:
            self.customers.search.focus()
        elif current is self.knowledge:
            self.knowledge.search.focus()

    def _save(self) -> None:
        if self.notebook.nametowidget(self.notebook.select()) is self.customers:
            self.customers.save()

