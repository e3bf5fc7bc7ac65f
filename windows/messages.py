"""The Messages tab: one page of GET /api/messages at a time (never the whole table), search, filters by
sentiment, intent and date, and the detail of the selected message with its analysis and suggested replies
(one click copies a reply to the clipboard; a reply grounded in the knowledge base names its entry), and
"Draft with AI": POST /api/replies/draft, the reply.draft.* events stream the text into a read-only box,
cancellable, copied by the user, never sent by itself."""

from __future__ import annotations

import tkinter as tk
from datetime import date
from tkinter import ttk
from typing import Any

from core.i18n import N_, Translator
from windows.base import BaseWindow
from windows.calls import Debouncer
from windows.errors import ApiError, describe_error, error_field
from windows.forms import ScrollFrame
from windows.labels import INTENT_LABELS, SENTIMENT_LABELS, TYPE_LABELS, label_for, labels_for, value_of
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
    time_column_width,
)

PAGE_SIZE = 50
ANY = N_("Any")
SENTIMENT_CHOICES = ("positive", "neutral", "negative")
DEFAULT_INTENTS = ("greeting", "pricing", "purchase", "order_status", "support", "complaint", "cancellation",
                   "payment", "scheduling", "praise", "other")
MAX_REPLIES = 3
DRAFT_NOTE = N_("A draft is never sent by itself: copy it, check it, send it from WhatsApp.")
LLM_OFF = N_("The AI model is turned off. Turn it on in Settings → AI (“llm enabled”), save, and restart the "
             "service when asked.")
DRAFT_FINISHED = ("reply.draft.completed", "reply.draft.failed", "reply.draft.cancelled")


class MessagesPane(ttk.Frame):
    def __init__(self, parent: tk.Misc, window: BaseWindow) -> None:
        super().__init__(parent, padding=(0, 6, 0, 0))
        self.window = window
        self.tr = window.tr
        self.link = window.link
        self._detail_seq = 0
        self.intents: tuple[str, ...] = DEFAULT_INTENTS
        self.detail: dict[str, Any] | None = None
        self.page: dict[str, Any] | None = None
        self.filtered = False
        self.draft = DraftState()
        self._build_filters()
        panes = ttk.PanedWindow(self, orient="horizontal")
        panes.pack(fill="both", expand=True, pady=(6, 0))
        panes.add(self._build_list(panes), weight=3)
        panes.add(self._build_detail(panes), weight=2)

    # -- layout -------------------------------------------------------------------------------------

    def _build_filters(self) -> None:
        tr = self.tr
        bar = ttk.Frame(self)
        bar.pack(fill="x")
        # A grid whose only stretchy column is the search box: in a longer language, or a narrow window, the
        # search entry gives up room first and the filters and Clear stay whole.
        self.search = SearchBox(bar, lambda _text: self.reload(), label=tr._("Search"), width=14)
        ttk.Label(bar, text=tr._("Sentiment"))
        # The comboboxes show words in the user's language; filters() turns them back into the API's values.
        self.sentiment = ttk.Combobox(bar, values=(tr._(ANY), *labels_for(tr, SENTIMENT_LABELS, SENTIMENT_CHOICES)),
                                      state="readonly", width=9)
        self.sentiment.set(tr._(ANY))
        ttk.Label(bar, text=tr._("Intent"))
        self.intent = ttk.Combobox(bar, values=(tr._(ANY), *labels_for(tr, INTENT_LABELS, DEFAULT_INTENTS)),
                                   state="readonly", width=12)
        self.intent.set(tr._(ANY))
        ttk.Label(bar, text=tr._("From"))
        self.date_from = ttk.Entry(bar, width=10)
        ttk.Label(bar, text=tr._("To"))
        self.date_to = ttk.Entry(bar, width=10)
        ttk.Button(bar, text=tr._("Clear"), command=self.clear_filters, width=-6)
        for column, widget in enumerate(bar.winfo_children()):
            label_gap = 8 if isinstance(widget, ttk.Label) else 0
            widget.grid(row=0, column=column, sticky="ew" if column == 0 else "w",
                        padx=(label_gap, 4) if label_gap else (8 if isinstance(widget, ttk.Button) else 0, 0))
        bar.columnconfigure(0, weight=1)
        for combo in (self.sentiment, self.intent):
            combo.bind("<<ComboboxSelected>>", lambda _e: self.reload())
        for entry in (self.date_from, self.date_to):
            entry.bind("<Return>", lambda _e: self.reload())
            entry.bind("<FocusOut>", lambda _e: self._dates_changed())
        self.error = ttk.Label(self, text="", style="FieldError.TLabel")
        self.error.pack(fill="x")
        self._last_dates = ("", "")

    def _build_list(self, parent: tk.Misc) -> ttk.Frame:
        tr = self.tr
        self.paged = PagedList(parent, [("time", tr._("Time"), time_column_width(tr, 95), False),
                                        ("customer", tr._("Customer"), 110, False),
                                        ("dir", "", 26, False), ("text", tr._("Message"), 100, True),
                                        ("sentiment", tr._("Sentiment"), 92, False),
                                        ("intent", tr._("Intent"), 100, False)],
                               page_size=PAGE_SIZE, on_page=self.reload,
                               row=lambda m: (str(m["id"]), message_row(tr, m)),
                               failure=tr._("Could not load the messages: {problem}"),
                               empty_text=tr._("No messages yet"), describe=lambda exc: describe_error(exc, tr),
                               on_error=self._list_failed, tr=tr)
        self.list, self.pager = self.paged.list, self.paged.pager
        self.paged.on_select(lambda iid: self.open_message(int(iid)))
        self.list.tree.bind("<Control-c>", lambda _e: self.copy_reply(0))
        return self.paged

    def _build_detail(self, parent: tk.Misc) -> ttk.Frame:
        # Scrollable: on a small screen the draft box stays reachable (and is scrolled to when asked for).
        self.detail_scroll = ScrollFrame(parent)
        frame = self.detail_scroll.inner
        frame.configure(padding=(8, 0, 8, 4))
        tr = self.tr
        self.detail_title = ttk.Label(frame, text=tr._("Select a message to see its analysis"), style="Section.TLabel",
                                      wraplength=360, justify="left")
        self.detail_title.pack(anchor="w")
        self.detail_meta = ttk.Label(frame, text="", style="Muted.TLabel")
        self.detail_meta.pack(anchor="w")
        self.detail_text = readonly_text(frame, height=3)
        self.detail_text.pack(fill="x", pady=(4, 6))
        self.analysis_label = ttk.Label(frame, text="", justify="left")
        self.analysis_label.pack(anchor="w")
        head = ttk.Frame(frame)
        head.pack(fill="x", pady=(8, 2))
        ttk.Label(head, text=tr._("Suggested replies"), style="Section.TLabel").pack(side="left")
        self.copied = ttk.Label(head, text="", style="Muted.TLabel")
        self.copied.pack(side="right")
        # Above the first reply when it carries a fact of the knowledge base: where the fact came from.
        self.knowledge_source = ttk.Label(frame, text="", style="Knowledge.TLabel")
        self.replies: list[tuple[tk.Text, ttk.Button]] = []
        for i in range(MAX_REPLIES):
            row = ttk.Frame(frame)
            row.pack(fill="x", pady=2)
            text = readonly_text(row, height=3, width=30)
            button = ttk.Button(row, text=tr._("Copy"), width=-6, command=lambda i=i: self.copy_reply(i))
            # The button is packed first: a narrow pane narrows the text box, never the button's word.
            button.pack(side="right", padx=(4, 0))
            text.pack(side="left", fill="x", expand=True)
            self.replies.append((text, button))
        # Shown only for a message without replies: an empty line would cost the draft box its room.
        self.no_replies = ttk.Label(frame, text="", style="Empty.TLabel")
        self.no_replies_anchor = ttk.Frame(frame, height=1)
        self.no_replies_anchor.pack(fill="x")
        self._build_draft(frame)
        self._show_replies([])
        return self.detail_scroll

    def _build_draft(self, frame: ttk.Frame) -> None:
        tr = self.tr
        ttk.Label(frame, text=tr._("AI draft"), style="Section.TLabel").pack(anchor="w", pady=(8, 2))
        self.draft_text = readonly_text(frame, height=3, width=30)
        self.draft_text.pack(fill="x")
        # The buttons on a row of their own under the box: beside the heading they clipped in longer languages.
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(4, 2))
        self.draft_button = ttk.Button(buttons, text=tr._("Draft with AI"), style="Accent.TButton",
                                       command=self.draft_with_ai)
        self.draft_button.pack(side="left")
        self.draft_cancel = ttk.Button(buttons, text=tr._("Cancel"), width=-7, command=self.cancel_draft)
        self.draft_cancel.pack(side="left", padx=(4, 4))
        self.draft_copy = ttk.Button(buttons, text=tr._("Copy"), width=-6, command=self.copy_draft)
        self.draft_copy.pack(side="left")
        self.draft_stats = ttk.Label(frame, text="", style="Small.Muted.TLabel")  # packed once it has figures
        self.draft_status = ttk.Label(frame, text=tr._(DRAFT_NOTE), style="Muted.TLabel", wraplength=360,
                                      justify="left")
        self.draft_status.pack(anchor="w", fill="x")
        frame.bind("<Configure>", lambda e: self._wrap_to(max(200, e.width - 16)), add="+")
        self._draft_buttons()

    # -- loading ------------------------------------------------------------------------------------

    def filters(self) -> dict[str, Any]:
        """The query for the current filters; ValueError names a bad date."""
        tr = self.tr
        params: dict[str, Any] = {"q": self.search.text}
        if self.sentiment.get() not in ("", tr._(ANY)):
            params["sentiment"] = value_of(tr, SENTIMENT_LABELS, self.sentiment.get(), SENTIMENT_CHOICES)
        if self.intent.get() not in ("", tr._(ANY)):
            params["intent"] = value_of(tr, INTENT_LABELS, self.intent.get(), self.intents)
        for entry, key, bound in ((self.date_from, "since", 0), (self.date_to, "until", 1)):
            day = entry.get().strip()
            if day:
                try:
                    params[key] = local_day_bounds_ms(day, tr)[bound]
                except ValueError:
                    example = tr.date(date(2026, 11, 29))
                    raise ValueError((tr._("From: use a date like {example}") if key == "since"
                                      else tr._("To: use a date like {example}")).format(example=example)) from None
        return params

    def reload(self, offset: int = 0) -> None:
        """Show the page at offset (0, the default: the first page, which is what a changed filter or search asks
        for). Pages after the first are keyset pages (`before` the previous page's last message): as cheap deep in
        ten million messages as on top, and a capture arriving meanwhile never shifts a row onto the next page."""
        try:
            params = self.filters()
        except ValueError as exc:
            self.error.configure(text=str(exc))
            return
        self.error.configure(text="")
        self._last_dates = (self.date_from.get().strip(), self.date_to.get().strip())
        self.filtered = any(k != "q" or v for k, v in params.items())
        # A search's results come newest captured first, not by relevance: the pager says so.
        self.pager.note = self.tr._("newest first") if params.get("q") else ""
        path = "/api/messages" + query_string({**params, "limit": PAGE_SIZE, **self.pager.query(offset)})
        self.paged.load(self.link.get, path, offset=offset, on_page=self._page_loaded, empty_text=lambda: (
            self.tr._("No messages match these filters") if self.filtered else self.tr._("No messages yet")))

    def _page_loaded(self, page: dict[str, Any]) -> None:
        self.page = page

    def _list_failed(self, exc: Exception) -> None:
        if error_field(exc) == "before":
            # The message this page starts after was deleted meanwhile (retention, a deleted customer): its place in
            # the list is gone with it, so start again from the first page rather than leave the user on an error.
            self.reload()
            return
        self.window.on_error(exc)

    def _dates_changed(self) -> None:
        if (self.date_from.get().strip(), self.date_to.get().strip()) != self._last_dates:
            self.reload()

    def clear_filters(self) -> None:
        self.search.var.set("")
        self.sentiment.set(self.tr._(ANY))
        self.intent.set(self.tr._(ANY))
        for entry in (self.date_from, self.date_to):
            entry.delete(0, "end")
        self.reload()

    def set_intents(self, labels: list[str]) -> None:
        """The intent labels the service counts (from the dashboard figures), so configured labels appear."""
        if labels:
            self.intents = tuple(labels)
            self.intent.configure(values=(self.tr._(ANY), *labels_for(self.tr, INTENT_LABELS, labels)))

    def new_message_arrived(self) -> None:
        """A capture event: the first page without filters shows it (the list is not reloaded under a user
        who paged or filtered)."""
        if self._on_unfiltered_first_page():
            self.window.top.after_idle(self._reload_first_page_soon)

    def _on_unfiltered_first_page(self) -> bool:
        # The page asked for too: a Next still on its way must not be overtaken by a reload of the first page.
        return (self.pager.offset == 0 and self.paged.asked_offset == 0 and not self.filtered
                and not self.search.text)

    def _reload_first_page_soon(self) -> None:
        if not hasattr(self, "_first_page_debouncer"):
            self._first_page_debouncer = Debouncer(self, self._reload_if_still_on_first_page, min_interval_ms=1000)
        self._first_page_debouncer.trigger()

    def _reload_if_still_on_first_page(self) -> None:
        # The debounce waits up to a second: a user who paged or filtered meanwhile keeps the page they chose.
        if self._on_unfiltered_first_page():
            self.reload()

    # -- detail -------------------------------------------------------------------------------------

    def open_message(self, message_id: int) -> None:
        if self.draft.message_id is not None and self.draft.message_id != message_id:
            self._forget_draft()
        self._detail_seq += 1
        seq = self._detail_seq
        self.copied.configure(text="")
        self.link.get(f"/api/messages/{message_id}", lambda m: self._detail_loaded(seq, m),
                      lambda exc: self._detail_failed(seq, exc))

    def _detail_loaded(self, seq: int, message: dict[str, Any]) -> None:
        if seq != self._detail_seq:
            return
        tr = self.tr
        self.detail = message
        customer = message.get("customer") or {}
        who = customer.get("name") or customer.get("phone") or tr._("Unknown")
        title = tr._("Message from {who}") if message.get("direction") == "in" else tr._("Message to {who}")
        self.detail_title.configure(text=title.format(who=who))
        self.detail_meta.configure(text=" · ".join((
            customer.get("phone") or "", local_time(tr, message.get("sent_at")),
            label_for(tr, TYPE_LABELS, message.get("type") or "text"),
            tr._("language {code}").format(code=message.get("language") or "?"))))
        set_text(self.detail_text, message.get("content") or "")
        analysis = message.get("analysis") or {}
        self.analysis_label.configure(text=analysis_text(tr, analysis))
        self._show_replies(list(analysis.get("suggested_responses") or []), knowledge_title(analysis))
        self._draft_buttons()

    def _detail_failed(self, seq: int, exc: Exception) -> None:
        if seq != self._detail_seq:
            return
        self.detail = None
        self.detail_title.configure(text=self.tr._("Could not load the message"))
        self.detail_meta.configure(text=describe_error(exc, self.tr))
        self.window.on_error(exc)

    def _show_replies(self, replies: list[Any], source: str | None = None) -> None:
        texts = [reply_text(r) for r in replies][:MAX_REPLIES]
        for i, (text, button) in enumerate(self.replies):
            if i < len(texts):
                set_text(text, texts[i])
                text.master.pack(fill="x", pady=2, before=self.no_replies_anchor)
                button.state(["!disabled"])
            else:
                set_text(text, "")
                text.master.pack_forget()
        if source and texts:
            self.knowledge_source.configure(text=self.tr._("From your knowledge: {title}").format(title=source))
            self.knowledge_source.pack(anchor="w", before=self.replies[0][0].master)
        else:
            self.knowledge_source.configure(text="")
            self.knowledge_source.pack_forget()
        has_detail = self.detail is not None
        self.no_replies.configure(text="" if texts or not has_detail
                                  else self.tr._("No suggested replies for this message"))
        if texts or not has_detail:
            self.no_replies.pack_forget()
        else:
            self.no_replies.pack(anchor="w", before=self.no_replies_anchor)
        self.reply_texts = texts

    def copy_reply(self, index: int) -> None:
        texts = getattr(self, "reply_texts", [])
        if index >= len(texts):
            return
        copy_to_clipboard(self, texts[index])
        self.copied.configure(text=self.tr._("Reply {number} copied").format(number=index + 1))

    def shown_reply(self, index: int) -> str:
        return get_text(self.replies[index][0])

    @property
    def shown_source(self) -> str:
        return str(self.knowledge_source.cget("text")) if self.knowledge_source.winfo_manager() else ""

    # -- draft with AI --------------------------------------------------------------------------------

    def draft_with_ai(self) -> None:
        """Ask for a draft of a reply to the message shown; its words arrive as reply.draft.token events."""
        if self.detail is None or self.draft.running or self.detail.get("direction") == "out":
            return
        self.draft = DraftState(message_id=int(self.detail["id"]), running=True)
        set_text(self.draft_text, "")
        self._show_figures("")
        self._draft_said(self.tr._("Asking the model…") + " " + self.tr._(DRAFT_NOTE))
        self._draft_buttons()
        self.after_idle(lambda: self.detail_scroll.canvas.yview_moveto(1.0))
        draft = self.draft
        self.link.call("POST", "/api/replies/draft", {"message_id": draft.message_id},
                       on_done=lambda body: self._draft_started(draft, body),
                       on_error=lambda exc: self._draft_refused(draft, exc))

    def _draft_started(self, draft: DraftState, body: dict[str, Any]) -> None:
        if draft is not self.draft or not draft.running:
            # The user moved on, or pressed Cancel, before the service answered: stop it there too.
            self._cancel_on_service(body.get("draft_id"))
            return
        draft.draft_id = str(body.get("draft_id") or "")
        for event in draft.early.pop(draft.draft_id, []):
            self.on_draft_event(event)  # events that overtook the POST's answer

    def _draft_refused(self, draft: DraftState, exc: Exception) -> None:
        if draft is not self.draft:
            return
        draft.running = False
        if isinstance(exc, ApiError) and exc.code == "llm_disabled":
            self._draft_said(self.tr._(LLM_OFF), error=True)
        else:
            self._draft_said(self.tr._("No draft: {problem}").format(problem=describe_error(exc, self.tr)), error=True)
        self._draft_buttons()
        self.window.on_error(exc)

    def on_draft_event(self, event: dict[str, Any]) -> None:
        """A reply.draft.* event (Tk thread): only the draft this pane asked for is shown."""
        data = event.get("data")
        draft = self.draft
        if not isinstance(data, dict) or not draft.running:
            return
        draft_id = str(data.get("draft_id") or "")
        if not draft.draft_id:
            draft.early.setdefault(draft_id, []).append(event)  # the POST's answer (with its id) is on its way
            return
        if draft_id != draft.draft_id:
            return
        kind = event.get("type")
        if kind == "reply.draft.started":
            model = data.get("model")
            writing = self.tr._("Writing with {model}…").format(model=model) if model else \
                self.tr._("Writing with the model…")
            self._draft_said(writing + " " + self.tr._(DRAFT_NOTE))
        elif kind == "reply.draft.token":
            draft.text += str(data.get("text") or "")
            set_text(self.draft_text, draft.text)
            self.draft_text.see("end")
        elif kind in DRAFT_FINISHED:
            self._draft_finished(str(kind), data)

    def _draft_finished(self, kind: str, data: dict[str, Any]) -> None:
        draft = self.draft
        draft.running = False
        if kind == "reply.draft.completed":
            draft.text = str(data.get("text") or draft.text)
            draft.done = True
            set_text(self.draft_text, draft.text)
            self._show_figures(draft_figures(self.tr, data))
            self._draft_said(self.tr._(DRAFT_NOTE))
            self.after_idle(lambda: self.detail_scroll.canvas.yview_moveto(1.0))  # the figures made it taller
        elif kind == "reply.draft.failed":
            self._draft_said(self.tr._("The draft failed: {problem}").format(
                problem=data.get("error") or self.tr._("unknown error")), error=True)
        else:
            self._draft_said(self.tr._("Draft cancelled.") + " " + self.tr._(DRAFT_NOTE))
        self._draft_buttons()

    def cancel_draft(self) -> None:
        draft = self.draft
        if not draft.running:
            return
        draft.running = False
        self._cancel_on_service(draft.draft_id)
        self._draft_said(self.tr._("Draft cancelled.") + " " + self.tr._(DRAFT_NOTE))
        self._draft_buttons()

    def _cancel_on_service(self, draft_id: str | None) -> None:
        if draft_id:  # 404: it finished meanwhile, nothing to stop
            self.link.call("DELETE", f"/api/replies/draft/{draft_id}", on_done=lambda _b: None,
                           on_error=lambda _exc: None)

    def _forget_draft(self) -> None:
        """Another message was opened: a running draft of the previous one is stopped, the box emptied."""
        if self.draft.running:
            self.cancel_draft()
        self.draft = DraftState()
        set_text(self.draft_text, "")
        self._show_figures("")
        self._draft_said(self.tr._(DRAFT_NOTE))

    def copy_draft(self) -> None:
        if self.draft.text:
            copy_to_clipboard(self, self.draft.text)
            self._draft_said(self.tr._("Draft copied to the clipboard.") + " " + self.tr._(DRAFT_NOTE))

    @property
    def shown_draft(self) -> str:
        return get_text(self.draft_text)

    def _show_figures(self, text: str) -> None:
        self.draft_stats.configure(text=text)
        if text:
            self.draft_stats.pack(anchor="w", before=self.draft_status)
        else:
            self.draft_stats.pack_forget()

    def _wrap_to(self, width: int) -> None:
        """The detail's long lines wrap at the pane's width (a longer language must not clip them)."""
        for label in (self.draft_status, self.detail_title, self.detail_meta, self.analysis_label, self.no_replies,
                      self.knowledge_source):
            label.configure(wraplength=width)

    def _draft_said(self, text: str, *, error: bool = False) -> None:
        self.draft_status.configure(text=text, style="FieldError.TLabel" if error else "Muted.TLabel")

    def _draft_buttons(self) -> None:
        running = self.draft.running
        # A reply is drafted to a customer's message: the seller's own messages have nothing to answer.
        answerable = self.detail is not None and self.detail.get("direction") != "out"
        self.draft_button.state(["disabled"] if running or not answerable else ["!disabled"])
        self.draft_cancel.state(["!disabled"] if running else ["disabled"])
        self.draft_copy.state(["!disabled"] if self.draft.done and self.draft.text else ["disabled"])


class DraftState:
    """The draft this pane asked for: its message, the id the service gave it, the text so far."""

    def __init__(self, message_id: int | None = None, running: bool = False) -> None:
        self.message_id = message_id
        self.running = running
        self.done = False
        self.draft_id = ""
        self.text = ""
        self.early: dict[str, list[dict[str, Any]]] = {}


def draft_figures(tr: Translator, data: dict[str, Any]) -> str:
    """ "first words after 412 ms · 18.5 tokens/s · 52 tokens" from a reply.draft.completed event."""
    parts = []
    if isinstance(data.get("ttft_ms"), (int, float)):
        parts.append(tr._("first words after {ms} ms").format(ms=tr.decimal(data["ttft_ms"], 0)))
    if isinstance(data.get("tokens_per_s"), (int, float)):
        parts.append(tr._("{rate} tokens/s").format(rate=tr.decimal(data["tokens_per_s"], 1)))
    if isinstance(data.get("tokens"), int):
        parts.append(tr.n_("{n} token", "{n} tokens", data["tokens"]))
    return " · ".join(parts)


def knowledge_title(analysis: dict[str, Any]) -> str | None:
    """The title of the knowledge entry the first suggested reply was grounded in, if any."""
    knowledge = analysis.get("knowledge") if isinstance(analysis, dict) else None
    if isinstance(knowledge, dict) and knowledge.get("title"):
        return str(knowledge["title"])
    return None


def message_row(tr: Translator, m: dict[str, Any]) -> tuple[str, ...]:
    analysis = m.get("analysis") or {}
    customer = m.get("customer") or {}
    return (local_time(tr, m.get("sent_at"), compact=True), customer.get("name") or customer.get("phone") or "",
            "→" if m.get("direction") == "out" else "←", short(m.get("content"), 80),
            label_for(tr, SENTIMENT_LABELS, (analysis.get("sentiment") or {}).get("label")),
            label_for(tr, INTENT_LABELS, (analysis.get("intent") or {}).get("label")))


def reply_text(reply: Any) -> str:
    if isinstance(reply, dict):
        return str(reply.get("text") or reply.get("content") or "")
    return str(reply)


def analysis_text(tr: Translator, analysis: dict[str, Any]) -> str:
    """The analysis in words: the labels translated (the API's values stay English), scores in the locale."""
    if not analysis:
        return tr._("No analysis yet")
    sentiment = analysis.get("sentiment") or {}
    intent = analysis.get("intent") or {}
    score = sentiment.get("score")
    confidence = intent.get("confidence")
    sentiment_word = label_for(tr, SENTIMENT_LABELS, sentiment.get("label")) or "?"
    intent_word = label_for(tr, INTENT_LABELS, intent.get("label")) or "?"
    lines = [tr._("Sentiment: {label}").format(label=sentiment_word)
             + (" " + tr._("(score {score})").format(score=("+" if score >= 0 else "−") + tr.decimal(abs(score), 2))
                if score is not None else ""),
             tr._("Intent: {label}").format(label=intent_word)
             + (" " + tr._("(confidence {percent})").format(percent=tr.percent(confidence))
                if confidence is not None else ""),
             tr._("Engine: {engine}").format(engine=analysis.get("engine", "?"))
             + f" · {analysis.get('model_version', '')}"]
    return "\n".join(lines)
