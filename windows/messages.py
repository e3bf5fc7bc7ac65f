"""The Messages tab: one page of GET /api/messages at a time (never the whole table), search, filters by
sentiment, intent and date, and the detail of the selected message with its analysis and suggested replies
(one click copies a reply to the clipboard)."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Any

from windows.base import BaseWindow
from windows.calls import Debouncer
from windows.errors import describe_error
from windows.widgets import (
    PagedList,
    SearchBox,
    copy_to_clipboard,
    get_text,
    local_day_bounds_ms,
    local_time,
    query_string,
    readonly_text,
    set_text,
    short,
)

PAGE_SIZE = 50
ANY = "Any"
SENTIMENT_CHOICES = (ANY, "positive", "neutral", "negative")
DEFAULT_INTENTS = ("greeting", "pricing", "purchase", "order_status", "support", "complaint", "cancellation",
                   "payment", "scheduling", "praise", "other")
MAX_REPLIES = 3


class MessagesPane(ttk.Frame):
    def __init__(self, parent: tk.Misc, window: BaseWindow) -> None:
        super().__init__(parent, padding=(0, 6, 0, 0))
        self.window = window
        self.link = window.link
        self._detail_seq = 0
        self.detail: dict[str, Any] | None = None
        self.page: dict[str, Any] | None = None
        self._build_filters()
        panes = ttk.PanedWindow(self, orient="horizontal")
        panes.pack(fill="both", expand=True, pady=(6, 0))
        panes.add(self._build_list(panes), weight=3)
        panes.add(self._build_detail(panes), weight=2)

    # -- layout -------------------------------------------------------------------------------------

    def _build_filters(self) -> None:
        bar = ttk.Frame(self)
        bar.pack(fill="x")
        self.search = SearchBox(bar, lambda _text: self.reload(), width=16)
        self.search.pack(side="left")
        ttk.Label(bar, text="Sentiment").pack(side="left", padx=(10, 4))
        self.sentiment = ttk.Combobox(bar, values=SENTIMENT_CHOICES, state="readonly", width=9)
        self.sentiment.set(ANY)
        self.sentiment.pack(side="left")
        ttk.Label(bar, text="Intent").pack(side="left", padx=(10, 4))
        self.intent = ttk.Combobox(bar, values=(ANY, *DEFAULT_INTENTS), state="readonly", width=12)
        self.intent.set(ANY)
        self.intent.pack(side="left")
        ttk.Label(bar, text="From").pack(side="left", padx=(10, 4))
        self.date_from = ttk.Entry(bar, width=10)
        self.date_from.pack(side="left")
        ttk.Label(bar, text="To").pack(side="left", padx=(6, 4))
        self.date_to = ttk.Entry(bar, width=10)
        self.date_to.pack(side="left")
        ttk.Button(bar, text="Clear", command=self.clear_filters, width=6).pack(side="left", padx=(8, 0))
        for combo in (self.sentiment, self.intent):
            combo.bind("<<ComboboxSelected>>", lambda _e: self.reload())
        for entry in (self.date_from, self.date_to):
            entry.bind("<Return>", lambda _e: self.reload())
            entry.bind("<FocusOut>", lambda _e: self._dates_changed())
        self.error = ttk.Label(self, text="", style="FieldError.TLabel")
        self.error.pack(fill="x")
        self._last_dates = ("", "")

    def _build_list(self, parent: tk.Misc) -> ttk.Frame:
        self.paged = PagedList(parent, [("time", "Time", 95, False), ("customer", "Customer", 120, False),
                                        ("dir", "", 26, False), ("text", "Message", 180, True),
                                        ("sentiment", "Sentiment", 92, False), ("intent", "Intent", 100, False)],
                               page_size=PAGE_SIZE, on_page=self.reload, row=lambda m: (str(m["id"]), message_row(m)),
                               noun="messages", empty_text="No messages yet", describe=describe_error,
                               on_error=self.window.on_error)
        self.list, self.pager = self.paged.list, self.paged.pager
        self.list.tree.bind("<<TreeviewSelect>>", lambda _e: self._selected())
        self.list.tree.bind("<Control-c>", lambda _e: self.copy_reply(0))
        return self.paged

    def _build_detail(self, parent: tk.Misc) -> ttk.Frame:
        frame = ttk.Frame(parent, padding=(8, 0, 0, 0))
        self.detail_title = ttk.Label(frame, text="Select a message to see its analysis", style="Section.TLabel")
        self.detail_title.pack(anchor="w")
        self.detail_meta = ttk.Label(frame, text="", style="Muted.TLabel")
        self.detail_meta.pack(anchor="w")
        self.detail_text = readonly_text(frame, height=4)
        self.detail_text.pack(fill="x", pady=(4, 6))
        self.analysis_label = ttk.Label(frame, text="", justify="left")
        self.analysis_label.pack(anchor="w")
        ttk.Label(frame, text="Suggested replies", style="Section.TLabel").pack(anchor="w", pady=(8, 2))
        self.replies: list[tuple[tk.Text, ttk.Button]] = []
        for i in range(MAX_REPLIES):
            row = ttk.Frame(frame)
            row.pack(fill="x", pady=2)
            text = readonly_text(row, height=3, width=30)
            text.pack(side="left", fill="x", expand=True)
            button = ttk.Button(row, text="Copy", width=6, command=lambda i=i: self.copy_reply(i))
            button.pack(side="left", padx=(4, 0))
            self.replies.append((text, button))
        self.no_replies = ttk.Label(frame, text="", style="Empty.TLabel")
        self.no_replies.pack(anchor="w")
        self.copied = ttk.Label(frame, text="", style="Muted.TLabel")
        self.copied.pack(anchor="w")
        self._show_replies([])
        return frame

    # -- loading ------------------------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        """The query for the current filters; ValueError names a bad date."""
        params: dict[str, Any] = {"q": self.search.text}
        if self.sentiment.get() != ANY:
            params["sentiment"] = self.sentiment.get()
        if self.intent.get() != ANY:
            params["intent"] = self.intent.get()
        for entry, key, bound in ((self.date_from, "since", 0), (self.date_to, "until", 1)):
            day = entry.get().strip()
            if day:
                try:
                    params[key] = local_day_bounds_ms(day)[bound]
                except ValueError:
                    raise ValueError(f"{'From' if key == 'since' else 'To'}: use a date like 2026-11-29") from None
        return params

    def reload(self, offset: int = 0) -> None:
        try:
            params = self.filters()
        except ValueError as exc:
            self.error.configure(text=str(exc))
            return
        self.error.configure(text="")
        self._last_dates = (self.date_from.get().strip(), self.date_to.get().strip())
        self.filtered = any(k != "q" or v for k, v in params.items())
        path = "/api/messages" + query_string({**params, "limit": PAGE_SIZE, "offset": offset})
        self.paged.load(self.link.get, path, on_page=self._page_loaded, empty_text=lambda: (
            "No messages match these filters" if self.filtered else "No messages yet"))

    def _page_loaded(self, page: dict[str, Any]) -> None:
        self.page = page

    def _dates_changed(self) -> None:
        if (self.date_from.get().strip(), self.date_to.get().strip()) != self._last_dates:
            self.reload()

    def clear_filters(self) -> None:
        self.search.var.set("")
        self.sentiment.set(ANY)
        self.intent.set(ANY)
        for entry in (self.date_from, self.date_to):
            entry.delete(0, "end")
        self.reload()

    def set_intents(self, labels: list[str]) -> None:
        """The intent labels the service counts (from the dashboard figures), so configured labels appear."""
        if labels:
            self.intent.configure(values=(ANY, *labels))

    def new_message_arrived(self) -> None:
        """A capture event: the first page without filters shows it (the list is not reloaded under a user
        who paged or filtered)."""
        if self.pager.offset == 0 and not self.filtered and not self.search.text:
            self.window.top.after_idle(self._reload_first_page_soon)

    def _reload_first_page_soon(self) -> None:
        if not hasattr(self, "_first_page_debouncer"):
            self._first_page_debouncer = Debouncer(self, self.reload, min_interval_ms=1000)
        self._first_page_debouncer.trigger()

    # -- detail -------------------------------------------------------------------------------------

    def _selected(self) -> None:
        iid = self.list.selected()
        if iid:
            self.open_message(int(iid))

    def open_message(self, message_id: int) -> None:
        self._detail_seq += 1
        seq = self._detail_seq
        self.copied.configure(text="")
        self.link.get(f"/api/messages/{message_id}", lambda m: self._detail_loaded(seq, m),
                      lambda exc: self._detail_failed(seq, exc))

    def _detail_loaded(self, seq: int, message: dict[str, Any]) -> None:
        if seq != self._detail_seq:
            return
        self.detail = message
        customer = message.get("customer") or {}
        who = customer.get("name") or customer.get("phone") or "Unknown"
        direction = "from" if message.get("direction") == "in" else "to"
        self.detail_title.configure(text=f"Message {direction} {who}")
        self.detail_meta.configure(text=f"{customer.get('phone') or ''} · {local_time(message.get('sent_at'))} · "
                                        f"{message.get('type', 'text')} · language {message.get('language') or '?'}")
        set_text(self.detail_text, message.get("content") or "")
        analysis = message.get("analysis") or {}
        self.analysis_label.configure(text=analysis_text(analysis))
        self._show_replies(list(analysis.get("suggested_responses") or []))

    def _detail_failed(self, seq: int, exc: Exception) -> None:
        if seq != self._detail_seq:
            return
        self.detail = None
        self.detail_title.configure(text="Could not load the message")
        self.detail_meta.configure(text=describe_error(exc))
        self.window.on_error(exc)

    def _show_replies(self, replies: list[Any]) -> None:
        texts = [reply_text(r) for r in replies][:MAX_REPLIES]
        for i, (text, button) in enumerate(self.replies):
            if i < len(texts):
                set_text(text, texts[i])
                text.master.pack(fill="x", pady=2, before=self.no_replies)
                button.state(["!disabled"])
            else:
                set_text(text, "")
                text.master.pack_forget()
        has_detail = self.detail is not None
        self.no_replies.configure(text="" if texts or not has_detail else "No suggested replies for this message")
        self.reply_texts = texts

    def copy_reply(self, index: int) -> None:
        texts = getattr(self, "reply_texts", [])
        if index >= len(texts):
            return
        copy_to_clipboard(self, texts[index])
        self.copied.configure(text=f"Reply {index + 1} copied to the clipboard")

    def shown_reply(self, index: int) -> str:
        return get_text(self.replies[index][0])


def message_row(m: dict[str, Any]) -> tuple[str, ...]:
    analysis = m.get("analysis") or {}
    customer = m.get("customer") or {}
    return (local_time(m.get("sent_at")), customer.get("name") or customer.get("phone") or "",
            "→" if m.get("direction") == "out" else "←", short(m.get("content"), 80),
            (analysis.get("sentiment") or {}).get("label", ""), (analysis.get("intent") or {}).get("label", ""))


def reply_text(reply: Any) -> str:
    if isinstance(reply, dict):
        return str(reply.get("text") or reply.get("content") or "")
    return str(reply)


def analysis_text(analysis: dict[str, Any]) -> str:
    if not analysis:
        return "No analysis yet"
    sentiment = analysis.get("sentiment") or {}
    intent = analysis.get("intent") or {}
    score = sentiment.get("score")
    confidence = intent.get("confidence")
    lines = [f"Sentiment: {sentiment.get('label', '?')}" + (f" (score {score:+.2f})" if score is not None else ""),
             f"Intent: {intent.get('label', '?')}"
             + (f" (confidence {confidence:.0%})" if confidence is not None else ""),
             f"Engine: {analysis.get('engine', '?')} · {analysis.get('model_version', '')}"]
    return "\n".join(lines)
