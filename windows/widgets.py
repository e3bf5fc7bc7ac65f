"""Widgets and formatting shared by the windows: stat cards, a scrolled Treeview with an empty state, a pager,
a search box, clipboard copy, and the small formatters that turn API values into text.

Keep this module additive: the settings and logs windows import from it too.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from tkinter import ttk
from typing import Any

from babel.dates import format_skeleton
from babel.units import format_unit

from core.i18n import Translator
from windows.theme import PALETTE

# -- formatting -------------------------------------------------------------------------------------


def parse_iso(value: str | None) -> datetime | None:
    """The API's timestamps ("2026-11-29T19:00:00.000Z" or "2026-11-29T19:00Z") as aware datetimes."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def local_time(tr: Translator, value: str | None, *, with_date: bool = True, compact: bool = False,
               now: datetime | None = None) -> str:
    """A timestamp in the user's zone and language: "14:05" for today, "29 de nov. 14:05" otherwise; compact (list
    columns, where every pixel counts): "29/11 14:05" ("11/29 14:05" in English), the day and month as numbers."""
    moment = parse_iso(value)
    if moment is None:
        return "—"
    local = moment.astimezone()
    today = (now or datetime.now(timezone.utc)).astimezone().date()
    # Skeletons, not fixed patterns: each locale orders day and month its own way; 24-hour clock everywhere
    # (what sellers in Brazil and Latin America read, and what the English windows showed before).
    clock = format_skeleton("Hm", local, locale=tr.locale)
    if not with_date or local.date() == today:
        return clock
    return f"{format_skeleton('Md' if compact else 'MMMd', local, locale=tr.locale)} {clock}"


def time_column_width(tr: Translator, minimum: int) -> int:
    """Pixels a column of compact local_time() values needs in this language (the widest day of the year with its
    clock), so a date is never cut; at least minimum."""
    font = tkfont.nametofont("TkDefaultFont")
    now = datetime(2001, 1, 1, 12, tzinfo=timezone.utc)  # never the sample's day: the date is always shown
    samples = (local_time(tr, f"2000-{month:02d}-28T23:58:00+00:00", compact=True, now=now) for month in range(1, 13))
    return max(minimum, *(font.measure(text) + 14 for text in samples))


def fmt_count(tr: Translator, value: int | float | None) -> str:
    return "—" if value is None else tr.integer(int(value))


def fmt_percent(tr: Translator, fraction: float | None, digits: int = 1) -> str:
    return "—" if fraction is None else tr.percent(fraction, digits)


def _unit(tr: Translator, amount: int, unit: str) -> str:
    return format_unit(amount, f"duration-{unit}", length="short", locale=tr.locale)


def fmt_duration(tr: Translator, seconds: float | None) -> str:
    """Response times in the locale's short units: "45 s", "3 min 20 s", "2 h 5 min"."""
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return _unit(tr, round(seconds), "second")
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{_unit(tr, minutes, 'minute')} {_unit(tr, rest, 'second')}" if rest else _unit(tr, minutes, "minute")
    hours, rest = divmod(round(seconds) // 60, 60)
    return f"{_unit(tr, hours, 'hour')} {_unit(tr, rest, 'minute')}" if rest else _unit(tr, hours, "hour")


def _signed(text: str, diff: float) -> str:
    return ("+" if diff > 0 else "−" if diff < 0 else "±") + text


def fmt_change(tr: Translator, today: float | None, yesterday: float | None, *, kind: str = "count",
               lower_is_better: bool = False) -> tuple[str, str]:
    """The card's "change against yesterday" line and its tone ("up" good, "down" bad, "" neutral).

    kind "count" shows a relative change (+12% vs yesterday), "rate" a difference in points (+1.5 pts),
    "duration" a difference in time; for response times a lower value is the good direction.
    """
    if today is None or yesterday is None:
        return (tr._("no figure for yesterday") if yesterday is None else tr._("no figure yet today")), ""
    diff = today - yesterday
    if kind == "rate":
        text = tr._("{change} pts vs yesterday").format(change=_signed(tr.decimal(abs(diff) * 100, 1), diff))
    elif kind == "duration":
        text = (tr._("same as yesterday") if abs(diff) < 0.5
                else tr._("{change} vs yesterday").format(change=_signed(fmt_duration(tr, abs(diff)), diff)))
    elif yesterday == 0:
        text = tr._("none yesterday") if today == 0 else tr._("+{count} vs none yesterday").format(
            count=fmt_count(tr, today))
    else:
        text = tr._("{change} vs yesterday ({count})").format(
            change=_signed(tr.percent(abs(diff) / yesterday), diff), count=fmt_count(tr, yesterday))
    if abs(diff) < 1e-9:
        return text, ""
    good = (diff < 0) if lower_is_better else (diff > 0)
    return text, "up" if good else "down"


def mnemonic(text: str) -> tuple[str, int]:
    """A label with its Alt-key letter marked by "&" ("C&onhecimento") -> ("Conhecimento", 1): each language
    picks its own letters, so two tabs never share one. Unmarked text underlines its first letter."""
    index = text.find("&")
    if index < 0 or index == len(text) - 1:
        return text, 0
    return text[:index] + text[index + 1:], index


def local_day_bounds_ms(day: str, tr: Translator | None = None) -> tuple[int, int]:
    """"2026-11-29" (or the locale's short date, "29/11/2026") → epoch ms of that local midnight and of the next
    one (ValueError for a bad date)."""
    try:
        start = datetime.strptime(day.strip(), "%Y-%m-%d").astimezone()
    except ValueError:
        if tr is None:
            raise
        start = datetime.combine(_locale_date(day.strip(), tr), datetime.min.time()).astimezone()
    end = (start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _locale_date(text: str, tr: Translator) -> Any:
    from babel.dates import parse_date

    parts = [p for p in text.replace("-", "/").replace(".", "/").split("/") if p]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)  # Babel would guess a date from "12" or "abc"
    try:
        return parse_date(text, locale=tr.locale, format="short")
    except (ValueError, IndexError) as exc:
        raise ValueError(text) from exc


def query_string(params: dict[str, Any]) -> str:
    """?a=1&b=x for the non-empty params (URL-encoded)."""
    from urllib.parse import urlencode

    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def short(text: str | None, limit: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- widgets ----------------------------------------------------------------------------------------


class StatCard(ttk.Frame):
    """A figure with its title and its change against yesterday."""

    def __init__(self, parent: tk.Misc, title: str, wrap: int = 0) -> None:
        super().__init__(parent, style="Card.TFrame", padding=(12, 8))
        # wrap: a longer language wraps the title and the change line inside the card instead of clipping them.
        self.title = ttk.Label(self, text=title, style="CardTitle.TLabel", wraplength=wrap)
        self.value = ttk.Label(self, text="—", style="CardValue.TLabel")
        self.delta = ttk.Label(self, text=" ", style="CardDelta.TLabel", wraplength=wrap, justify="left")
        for label in (self.title, self.value, self.delta):
            label.pack(anchor="w")

    def set(self, value: str, delta: str = "", tone: str = "") -> None:
        self.value.configure(text=value)
        style = {"up": "Up.CardDelta.TLabel", "down": "Down.CardDelta.TLabel"}.get(tone, "CardDelta.TLabel")
        self.delta.configure(text=delta or " ", style=style)


class ScrolledTree(ttk.Frame):
    """A Treeview with a scrollbar and a centred message for empty and error states.

    columns: (id, heading, width, stretch) tuples.
    """

    def __init__(self, parent: tk.Misc, columns: Sequence[tuple[str, str, int, bool]], *, height: int = 10,
                 empty_text: str) -> None:
        super().__init__(parent)
        self.tree = ttk.Treeview(self, columns=[c[0] for c in columns], show="headings", height=height,
                                 selectmode="browse")
        heading_font = tkfont.nametofont("TkHeadingFont")
        bold = ttk.Style(self).lookup("Treeview.Heading", "font")
        if bold:
            heading_font = tkfont.Font(self, font=bold)
        for column, heading, width, stretch in columns:
            self.tree.heading(column, text=heading, anchor="w")
            # At least as wide as its heading: a longer language widens the column instead of clipping the word.
            wide_enough = max(width, heading_font.measure(heading) + 14) if heading else width
            self.tree.column(column, width=wide_enough, minwidth=40, stretch=stretch, anchor="w")
        scroll = ttk.Scrollbar(self, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.grid(row=0, column=0, sticky="nsew")
        scroll.grid(row=0, column=1, sticky="ns")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        self.empty_text = empty_text
        self.message = ttk.Label(self.tree, text="", style="Empty.TLabel", background="#ffffff")

    def replace(self, rows: Sequence[tuple[str, Sequence[Any]]], *, empty_text: str | None = None) -> None:
        """Show exactly these rows (iid, values); the empty-state text when there are none."""
        self.tree.delete(*self.tree.get_children())
        for iid, values in rows:
            self.tree.insert("", "end", iid=iid, values=list(values))
        if rows:
            self.hide_message()
        else:
            self.show_message(empty_text or self.empty_text)

    def show_message(self, text: str, style: str = "Empty.TLabel") -> None:
        self.message.configure(text=text, style=style)
        self.message.place(relx=0.5, rely=0.5, anchor="center")

    def hide_message(self) -> None:
        self.message.configure(text="")
        self.message.place_forget()

    @property
    def message_text(self) -> str:
        return str(self.message.cget("text")) if self.message.winfo_manager() else ""

    def rows(self) -> list[tuple[str, list[str]]]:
        """What the tree shows, as text (for tests and copy)."""
        return [(iid, [str(v) for v in self.tree.item(iid, "values")]) for iid in self.tree.get_children()]

    def selected(self) -> str | None:
        selection = self.tree.selection()
        return selection[0] if selection else None


class Pager(ttk.Frame):
    """A page label ("51-100 of 10,000+") with previous/next buttons; calls on_page(offset), the position of the
    first row of the page to show (0: the first page).

    Two ways to reach a page. A keyset list (its answers carry `next`: GET /api/messages) remembers the `before`
    anchor of every page walked through (self.anchors, a stack cut back whenever an earlier page loads again), so
    Next and Previous cost the same at any depth; query(offset) says what to ask for. A list without keyset pages
    (customers, knowledge) pages by offset. A capped total (`total_capped`) reads "10,000+" and does not stop Next.
    """

    def __init__(self, parent: tk.Misc, page_size: int, on_page: Callable[[int], Any], tr: Translator) -> None:
        super().__init__(parent)
        self.tr = tr
        self.page_size = page_size
        self.offset = 0
        self.total = 0
        self.capped = False
        self.has_next = False
        self.note = ""  # said after the range (" · newest first"), set by the pane before it loads
        self.anchors: list[int | None] = [None]  # anchors[i]: the `before` of page i (None: unknown, or the first)
        self._on_page = on_page
        # First: keyset pages cannot jump, so from page 300 the way back to the top is one click, not 299.
        self.first = ttk.Button(self, text=tr._("« First"), command=self.go_first, width=-6)
        # width=-9: sized to the label in each language (at least 9 characters).
        self.previous = ttk.Button(self, text=tr._("◀ Previous"), command=self.go_previous, width=-9)
        self.label = ttk.Label(self, text="", style="Muted.TLabel")
        self.next = ttk.Button(self, text=tr._("Next ▶"), command=self.go_next, width=-7)
        self.first.pack(side="left", padx=(0, 4))
        self.previous.pack(side="left")
        self.label.pack(side="left", padx=10)
        self.next.pack(side="left")

    def query(self, offset: int) -> dict[str, int]:
        """What to ask the API for the page at offset: nothing for the first page, {"before": id} for a keyset page
        whose anchor is known, else {"offset": n} (a list without keyset pages, or a page never walked to)."""
        if offset <= 0:
            return {}
        index, rest = divmod(offset, self.page_size)
        if not rest and index < len(self.anchors) and self.anchors[index] is not None:
            return {"before": int(self.anchors[index])}
        return {"offset": offset}

    def forget_anchors(self) -> None:
        """Another list (filters changed) or the first page again: the anchors walked so far are not its own."""
        self.anchors = [None]

    def update_page(self, offset: int, shown: int, total: int, *, capped: bool = False, keyset: bool = False,
                    next_before: int | None = None) -> None:
        """Show the page that loaded. keyset: the answer had `next` (next_before, None on the last page)."""
        self.offset, self.total, self.capped = offset, total, capped
        if keyset:
            index = offset // self.page_size
            # Cut the stack back to this page: the pages after it are the ones its `next` leads to.
            self.anchors = (self.anchors + [None] * index)[:index + 1]
            if next_before is not None and offset % self.page_size == 0:
                self.anchors.append(next_before)
            # `next` is set whenever the page is full, so on an exactly counted list the last full page would
            # lead to an empty one: a total that is exact says where the list ends.
            self.has_next = next_before is not None and (capped or offset + shown < total)
        else:
            self.has_next = offset + shown < total or (capped and shown >= self.page_size)
        self.label.configure(text=page_label(self.tr, offset, shown, total, capped)
                             + (f" · {self.note}" if self.note and shown else ""))
        for button in (self.first, self.previous):
            button.state(["!disabled"] if offset > 0 else ["disabled"])
        self.next.state(["!disabled"] if self.has_next else ["disabled"])

    def go_first(self) -> None:
        if self.offset > 0:
            self._on_page(0)

    def go_previous(self) -> None:
        if self.offset > 0:
            self._on_page(max(0, self.offset - self.page_size))

    def go_next(self) -> None:
        if self.has_next:
            self._on_page(self.offset + self.page_size)


def page_label(tr: Translator, offset: int, shown: int, total: int, capped: bool = False) -> str:
    """"51-100 of 1,234", or "51-100 of 10,000+" when the service stopped counting at 10,000 (capped)."""
    if capped:
        # Past the cap the rows shown are more than the count: "10,001-10,050 of 10,050+" stays true.
        total = max(total, offset + shown)
        if not shown:
            return tr._("0 of {total}+").format(total=tr.integer(total))
        return tr._("{first}–{last} of {total}+").format(first=tr.integer(offset + 1),
                                                          last=tr.integer(offset + shown), total=tr.integer(total))
    if not shown:
        return tr._("0 of {total}").format(total=tr.integer(total))
    return tr._("{first}–{last} of {total}").format(first=tr.integer(offset + 1), last=tr.integer(offset + shown),
                                                    total=tr.integer(total))


class PagedList(ttk.Frame):
    """One page of a paged API list at a time: a ScrolledTree (self.list) over a Pager (self.pager).

    load() asks for a page; the answer replaces the rows and keeps the selected row selected when it is still
    there; an answer to an older request than the latest is dropped; a failure shows `failure` (a translated
    sentence with {problem}) in place of the rows and tells on_error. PageUp/PageDown in the list turn pages.
    row(item) -> (iid, values); describe(exc) -> one line for the user.
    """

    def __init__(self, parent: tk.Misc, columns: Sequence[tuple[str, str, int, bool]], *, page_size: int,
                 on_page: Callable[[int], Any], row: Callable[[dict[str, Any]], tuple[str, Sequence[Any]]],
                 failure: str, empty_text: str, describe: Callable[[Exception], str],
                 on_error: Callable[[Exception], Any], tr: Translator, height: int = 16) -> None:
        super().__init__(parent)
        self._row, self._failure, self._describe, self._on_error = row, failure, describe, on_error
        self._request_seq = 0
        self.asked_offset: int | None = 0  # the offset of the latest page asked for (None: the answer says)
        self._chosen: str | None = None  # the row the user last selected (see on_select)
        self.list = ScrolledTree(self, columns, height=height, empty_text=empty_text)
        # The pager is packed first, at the bottom: a short window shrinks the list, never hides the pager.
        self.pager = Pager(self, page_size, on_page, tr)
        self.pager.pack(side="bottom", fill="x", pady=(4, 0))
        self.list.pack(fill="both", expand=True)
        self.list.tree.bind("<Prior>", lambda _e: self.pager.go_previous())
        self.list.tree.bind("<Next>", lambda _e: self.pager.go_next())

    def on_select(self, callback: Callable[[str], Any]) -> None:
        """callback(iid) when the user selects another row. A row kept selected across a reload is not a new
        selection: a reload answering late must not take the detail back from a message opened meanwhile."""
        def selection_changed(_event: tk.Event) -> None:
            iid = self.list.selected()
            if iid == self._chosen:
                return
            self._chosen = iid
            if iid:
                callback(iid)
        self.list.tree.bind("<<TreeviewSelect>>", selection_changed, add="+")

    def load(self, get: Callable[[str, Callable[[Any], Any], Callable[[Exception], Any]], Any], path: str, *,
             empty_text: Callable[[], str], on_page: Callable[[dict[str, Any]], Any] | None = None,
             offset: int | None = None) -> None:
        """GET path (one page: items, offset, total, maybe total_capped and next) through get(path, on_done,
        on_error); empty_text() is what an empty page says; on_page(page) runs first when the page is the latest
        one asked for. offset: the position of the page's first row, for a keyset page (path has `before`, the
        answer's offset is 0); None reads it from the answer."""
        self._request_seq += 1
        seq = self._request_seq
        self.asked_offset = offset
        if offset == 0:
            self.pager.forget_anchors()  # a first page (filters changed, a refresh): its anchors come with it
        get(path, lambda page: self._page_loaded(seq, page, empty_text, on_page, offset),
            lambda exc: self._page_failed(seq, exc))

    def _page_loaded(self, seq: int, page: dict[str, Any], empty_text: Callable[[], str],
                     on_page: Callable[[dict[str, Any]], Any] | None, offset: int | None) -> None:
        if seq != self._request_seq:
            return  # an older request answered late: a newer one is already on its way
        if on_page is not None:
            on_page(page)
        selected = self.list.selected()
        rows = [self._row(item) for item in page.get("items", [])]
        self.list.replace(rows, empty_text=empty_text())
        self.pager.update_page(page.get("offset", 0) if offset is None else offset, len(rows), page.get("total", 0),
                               capped=bool(page.get("total_capped")), keyset="next" in page,
                               next_before=page.get("next"))
        if selected and self.list.tree.exists(selected):
            self.list.tree.selection_set(selected)
        else:
            self._chosen = None  # the row left the page: selecting it again is a new choice

    def _page_failed(self, seq: int, exc: Exception) -> None:
        if seq != self._request_seq:
            return
        self.list.show_message(self._failure.format(problem=self._describe(exc)), style="Error.TLabel")
        self._on_error(exc)


class SearchBox(ttk.Frame):
    """An entry that calls on_search(text) after typing pauses (or at once on Return); Escape clears it."""

    def __init__(self, parent: tk.Misc, on_search: Callable[[str], Any], *, label: str,
                 delay_ms: int = 300, width: int = 28) -> None:
        super().__init__(parent)
        self._on_search = on_search
        self._delay_ms = delay_ms
        self._pending: str | None = None
        self.var = tk.StringVar()
        ttk.Label(self, text=label).pack(side="left", padx=(0, 4))
        self.entry = ttk.Entry(self, textvariable=self.var, width=width)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<KeyRelease>", self._typed)
        self.entry.bind("<Return>", lambda _e: self._fire())
        self.entry.bind("<Escape>", lambda _e: self.clear())

    @property
    def text(self) -> str:
        return self.var.get().strip()

    def focus(self) -> None:
        self.entry.focus_set()
        self.entry.select_range(0, "end")

    def clear(self) -> None:
        if self.var.get():
            self.var.set("")
            self._fire()

    def _typed(self, event: tk.Event) -> None:
        if event.keysym in ("Return", "Escape", "Tab"):
            return
        if self._pending is not None:
            self.after_cancel(self._pending)
        self._pending = self.after(self._delay_ms, self._fire)

    def _fire(self) -> None:
        if self._pending is not None:
            self.after_cancel(self._pending)
            self._pending = None
        self._on_search(self.text)


def wrap_to_width(frame: tk.Misc, *labels: ttk.Label, margin: int = 16) -> None:
    """Wrap the labels at their frame's width as it changes (a pane dragged, a longer language): long lines
    wrap instead of being cut at the pane's edge."""
    def resized(event: tk.Event) -> None:
        for label in labels:
            label.configure(wraplength=max(120, event.width - margin))

    frame.bind("<Configure>", resized, add="+")


def copy_to_clipboard(widget: tk.Misc, text: str) -> None:
    """Put text on the system clipboard (Tk keeps serving it while the process runs)."""
    widget.clipboard_clear()
    widget.clipboard_append(text)


def open_path(path: Any) -> None:
    """Show a folder (or open a file) in the desktop's file manager, without waiting for it."""
    import os
    import subprocess
    import sys

    if sys.platform == "win32":
        os.startfile(str(path))  # noqa: S606 - a path we located ourselves
        return
    command = "open" if sys.platform == "darwin" else "xdg-open"
    subprocess.Popen([command, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)


def readonly_text(parent: tk.Misc, *, height: int = 4, width: int = 40) -> tk.Text:
    """A wrapped, selectable, read-only Text in the theme's colours (set its content with set_text)."""
    text = tk.Text(parent, height=height, width=width, wrap="word", relief="solid", borderwidth=1,
                   background=PALETTE["surface"], foreground=PALETTE["text"], highlightthickness=0,
                   padx=6, pady=4, font="TkDefaultFont")
    text.configure(state="disabled")
    return text


def set_text(widget: tk.Text, content: str) -> None:
    widget.configure(state="normal")
    widget.delete("1.0", "end")
    widget.insert("1.0", content)
    widget.configure(state="disabled")


def get_text(widget: tk.Text) -> str:
    return widget.get("1.0", "end-1c")
