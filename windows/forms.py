"""Form pieces for the settings window: one editor per declared setting (built from the type, range and choices
GET /api/system/config reports), checked as the user types, a scrollable tab body and a small dialog.

Local checks mirror core.config's validators from the spec the service sends; the service validates again
on save and its messages are shown in the same place.
"""

from __future__ import annotations

import re
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog, ttk
from typing import Any

from core.i18n import N_, SOURCE_LANGUAGE, Translator
from windows.theme import PALETTE

# Settings that name a file: a "Browse…" button next to the entry, with these file types.
FILE_SETTINGS = {
    "ai.model_path": [(N_("GGUF models"), "*.gguf"), (N_("All files"), "*")],
    "database.path": [(N_("SQLite databases"), "*.db *.sqlite *.sqlite3"), (N_("All files"), "*")],
    "logging.file": [(N_("Log files"), "*.log"), (N_("All files"), "*")],
}


def check_value(spec: dict[str, Any], raw: Any, tr: Translator | None = None) -> tuple[Any, str | None]:
    """Turn what the widget holds into the setting's value; (value, None) or (None, message in tr's language;
    English without one)."""
    tr = tr or Translator(SOURCE_LANGUAGE)
    kind = spec.get("type")
    if kind == "boolean":
        return bool(raw), None
    if kind == "integer":
        try:
            value: Any = int(str(raw).strip())
        except ValueError:
            return None, tr._("must be an integer")
        return _in_range(spec, value, tr)
    if kind == "number":
        try:
            value = float(str(raw).strip())
        except ValueError:
            return None, tr._("must be a number")
        if value != value or value in (float("inf"), float("-inf")):
            return None, tr._("must be a number")
        return _in_range(spec, value, tr)
    if kind == "choice":
        return (raw, None) if raw in spec.get("choices", []) else (
            None, tr._("must be one of {choices}").format(choices=", ".join(spec["choices"])))
    if kind == "list":
        items = [item.strip() for item in str(raw).split(",") if item.strip()]
        for item in items:
            if spec.get("pattern") and not re.fullmatch(spec["pattern"], item):
                return None, tr._("“{item}” is not valid").format(item=item)
        return items, None
    text = str(raw)
    if spec.get("max_length") is not None and len(text) > spec["max_length"]:
        return None, tr.n_("must be at most {n} character", "must be at most {n} characters", spec["max_length"])
    if spec.get("pattern") and not re.fullmatch(spec["pattern"], text):
        return None, tr._("must match {pattern}").format(pattern=spec["pattern"])
    return text, None


def _in_range(spec: dict[str, Any], value: float, tr: Translator) -> tuple[Any, str | None]:
    if spec.get("minimum") is not None and value < spec["minimum"]:
        return None, tr._("must be >= {minimum}").format(minimum=spec["minimum"])
    if spec.get("maximum") is not None and value > spec["maximum"]:
        return None, tr._("must be <= {maximum}").format(maximum=spec["maximum"])
    return value, None


def shown_text(spec: dict[str, Any], value: Any) -> str:
    if spec.get("type") == "list":
        return ", ".join(value or [])
    if spec.get("type") == "number" and isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return "" if value is None else str(value)


class SettingField:
    """Label, editor, restart marker, help and the inline error of one setting, on one grid row pair."""

    def __init__(self, parent: ttk.Frame, row: int, spec: dict[str, Any], on_change: Callable[[], None],
                 wrap: int, tr: Translator | None = None) -> None:
        self.spec = spec
        self.tr = tr = tr or Translator(SOURCE_LANGUAGE)  # optional: the settings window passes its own
        self.key = spec["key"]
        self._on_change = on_change
        self.saved: Any = spec.get("value")
        self.error: str | None = None
        label = ttk.Label(parent, text=spec["name"].replace("_", " "), anchor="w")
        label.grid(row=row, column=0, sticky="nw", padx=(0, 12), pady=(6, 0))
        holder = ttk.Frame(parent)
        holder.grid(row=row, column=1, sticky="ew", pady=(6, 0))
        self.var: tk.Variable
        self.widget = self._make_editor(holder)
        marker = {"service restart": tr._("restart"),
                  "desktop agent restart": tr._("agent restart")}.get(spec.get("applies", ""))
        self.marker = ttk.Label(parent, text=f"↻ {marker}" if marker else "", style="Muted.TLabel")
        self.marker.grid(row=row, column=2, sticky="nw", padx=(8, 0), pady=(6, 0))
        help_text = spec.get("help", "")
        if spec.get("env_override"):
            help_text += "  " + tr._("(set by {variable}; change it there)").format(variable=spec["env_override"])
        self.help = ttk.Label(parent, text=help_text, style="Muted.TLabel", wraplength=wrap, justify="left")
        self.help.grid(row=row + 1, column=1, columnspan=2, sticky="w")
        self.error_label = ttk.Label(parent, text="", style="FieldError.TLabel")
        self.error_label.grid(row=row + 2, column=1, columnspan=2, sticky="w")
        self.error_label.grid_remove()
        self.set_value(self.saved)
        if spec.get("env_override"):
            self.widget.state(["disabled"])
        self.var.trace_add("write", lambda *_: self._changed())

    def _make_editor(self, holder: ttk.Frame) -> ttk.Widget:
        kind = self.spec.get("type")
        if kind == "boolean":
            self.var = tk.BooleanVar(holder)
            widget = ttk.Checkbutton(holder, variable=self.var)
            widget.pack(side="left")
            return widget
        self.var = tk.StringVar(holder)
        if kind == "choice":
            widget = ttk.Combobox(holder, textvariable=self.var, values=self.spec["choices"], state="readonly",
                                  width=12)
            widget.pack(side="left")
            return widget
        width = 12 if kind in ("integer", "number") else 44
        widget = ttk.Entry(holder, textvariable=self.var, width=width)
        widget.pack(side="left", fill="x", expand=kind not in ("integer", "number"))
        if kind in ("integer", "number") and (self.spec.get("minimum") is not None or self.spec.get("maximum")):
            ttk.Label(holder, text=f"{shown_text(self.spec, self.spec.get('minimum'))} – "
                                   f"{shown_text(self.spec, self.spec.get('maximum'))}",
                      style="Muted.TLabel").pack(side="left", padx=(8, 0))
        if self.key in FILE_SETTINGS:
            self.browse = ttk.Button(holder, text=self.tr._("Browse…"), command=self._browse)
            self.browse.pack(side="left", padx=(6, 0))
        return widget

    def _browse(self) -> None:
        chosen = filedialog.askopenfilename(parent=self.widget.winfo_toplevel(), title=self.spec["name"],
                                            filetypes=[(self.tr._(name), pattern)
                                                       for name, pattern in FILE_SETTINGS[self.key]])
        if chosen:
            self.var.set(chosen)

    def set_value(self, value: Any) -> None:
        if self.spec.get("type") == "boolean":
            self.var.set(bool(value))
        else:
            self.var.set(shown_text(self.spec, value))

    def value(self) -> tuple[Any, str | None]:
        raw = self.var.get()
        return check_value(self.spec, raw, self.tr)

    @property
    def dirty(self) -> bool:
        value, error = self.value()
        return error is not None or value != self.saved

    def show_error(self, message: str | None) -> None:
        self.error = message
        if message:
            self.error_label.configure(text=message)
            self.error_label.grid()
        else:
            self.error_label.grid_remove()

    def mark_saved(self, spec: dict[str, Any]) -> None:
        self.spec = {**self.spec, **spec}
        self.saved = spec.get("value")
        self.set_value(self.saved)
        self.show_error(None)

    def _changed(self) -> None:
        _value, error = self.value()
        self.show_error(error)
        self._on_change()


class ScrollFrame(ttk.Frame):
    """A vertically scrolling frame: put content in `.inner`. Wheel scrolling works over any child."""

    def __init__(self, parent: tk.Misc) -> None:
        super().__init__(parent)
        self.canvas = tk.Canvas(self, highlightthickness=0, borderwidth=0)
        self.canvas.configure(background=PALETTE["bg"])
        scrollbar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=scrollbar.set)
        scrollbar.pack(side="right", fill="y")
        self.canvas.pack(side="left", fill="both", expand=True)
        self.inner = ttk.Frame(self.canvas, padding=(4, 4, 12, 12))
        self._window = self.canvas.create_window(0, 0, window=self.inner, anchor="nw")
        self.inner.bind("<Configure>", lambda _e: self.canvas.configure(scrollregion=self.canvas.bbox("all")))
        self.canvas.bind("<Configure>", lambda e: self.canvas.itemconfigure(self._window, width=e.width))
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.bind_all_children(sequence)

    def bind_all_children(self, sequence: str) -> None:
        self.canvas.bind_all(sequence, self._wheel, add="+")

    def _wheel(self, event: tk.Event) -> None:
        # bind_all: every wheel event of the process comes here; act only on our own children.
        name = str(event.widget)
        if name != str(self) and not name.startswith(str(self) + "."):
            return
        try:
            if self.winfo_ismapped():
                step = -1 if getattr(event, "num", None) == 4 or getattr(event, "delta", 0) > 0 else 1
                self.canvas.yview_scroll(step * 3, "units")
        except tk.TclError:  # destroyed with its window
            pass


class FormDialog:
    """A small modal dialog of labelled entries; `on_ok(values)` acts on them (and closes the dialog, or says
    what is wrong with `say` / `show_field_errors`).

    A field's options: "value" (its first text), "choices" (a read-only combobox), "secret" (hidden typing),
    "lines" (a multi-line text box of that height), "width" (an entry's width in characters), "hint" (a muted
    line under it). Each field has its own
    error line, filled by `show_field_errors({name: message})` or, from a refused request, by
    `show_api_error(exc)` (the service's validation errors name the fields).
    """

    def __init__(self, parent: tk.Misc, title: str, fields: list[tuple[str, str, dict[str, Any]]],
                 on_ok: Callable[[dict[str, str]], None], ok_text: str = "OK", tr: Translator | None = None) -> None:
        # The caller translates the title, labels, hints and ok_text; tr is for the dialog's own words (Cancel,
        # "Not saved…"). Optional so a caller not yet translated keeps working, in English.
        self.tr = tr or Translator(SOURCE_LANGUAGE)
        self.top = tk.Toplevel(parent)
        self.top.title(title)
        self.top.transient(parent.winfo_toplevel())
        self.top.resizable(False, False)
        body = ttk.Frame(self.top, padding=12)
        body.pack(fill="both", expand=True)
        body.columnconfigure(1, weight=1)
        self.vars: dict[str, tk.StringVar] = {}
        self.texts: dict[str, tk.Text] = {}
        self.entries: dict[str, tk.Widget] = {}
        self.field_errors: dict[str, ttk.Label] = {}
        row = 0
        for name, label, options in fields:
            ttk.Label(body, text=label).grid(row=row, column=0, sticky="nw", pady=3, padx=(0, 8))
            self.entries[name] = self._editor(body, name, options)
            self.entries[name].grid(row=row, column=1, sticky="ew", pady=3)
            row += 1
            if options.get("hint"):
                ttk.Label(body, text=options["hint"], style="Muted.TLabel", wraplength=420, justify="left").grid(
                    row=row, column=1, sticky="w")
                row += 1
            error = ttk.Label(body, text="", style="FieldError.TLabel", wraplength=420, justify="left")
            error.grid(row=row, column=1, sticky="w")
            error.grid_remove()
            self.field_errors[name] = error
            row += 1
        self.error = ttk.Label(body, text="", style="FieldError.TLabel", wraplength=420, justify="left")
        self.error.grid(row=row, column=0, columnspan=2, sticky="w", pady=(6, 0))
        buttons = ttk.Frame(body)
        buttons.grid(row=row + 1, column=0, columnspan=2, sticky="e", pady=(8, 0))
        ttk.Button(buttons, text=self.tr._("Cancel"), command=self.close).pack(side="right")
        self.ok = ttk.Button(buttons, text=ok_text, style="Accent.TButton", command=self._ok)
        self.ok.pack(side="right", padx=(0, 6))
        self._on_ok = on_ok
        self.top.bind("<Return>", self._return_pressed)
        self.top.bind("<Escape>", lambda _e: self.close())
        first = next(iter(self.entries.values()), None)
        if first is not None:
            first.focus_set()

    def _editor(self, body: ttk.Frame, name: str, options: dict[str, Any]) -> tk.Widget:
        if options.get("lines"):
            text = tk.Text(body, height=int(options["lines"]), width=52, wrap="word", relief="solid", borderwidth=1,
                           background=PALETTE["surface"], foreground=PALETTE["text"], highlightthickness=0,
                           padx=6, pady=4, font="TkDefaultFont", undo=True)
            text.insert("1.0", options.get("value", ""))
            self.texts[name] = text
            return text
        var = tk.StringVar(self.top, value=options.get("value", ""))
        self.vars[name] = var
        if "choices" in options:
            return ttk.Combobox(body, textvariable=var, values=options["choices"], state="readonly", width=24)
        return ttk.Entry(body, textvariable=var, width=int(options.get("width", 28)),
                         show="•" if options.get("secret") else "")

    def values(self) -> dict[str, str]:
        values = {name: var.get() for name, var in self.vars.items()}
        values.update({name: text.get("1.0", "end-1c") for name, text in self.texts.items()})
        return {name: values[name] for name in self.entries}

    def set_value(self, name: str, value: str) -> None:
        if name in self.texts:
            self.texts[name].delete("1.0", "end")
            self.texts[name].insert("1.0", value)
        else:
            self.vars[name].set(value)

    def say(self, message: str) -> None:
        self.error.configure(text=message)

    def show_field_errors(self, errors: dict[str, str]) -> None:
        """Each named field's problem under it (the others cleared); the first one gets the focus."""
        for name, label in self.field_errors.items():
            if errors.get(name):
                label.configure(text=errors[name])
                label.grid()
            else:
                label.configure(text="")
                label.grid_remove()
        first = next((name for name in self.entries if errors.get(name)), None)
        if first is not None:
            self.entries[first].focus_set()

    def show_api_error(self, exc: Exception) -> None:
        """A refused request: the field errors it names under their fields, and the whole message below."""
        from windows.errors import ApiError, describe_error

        errors: dict[str, str] = {}
        if isinstance(exc, ApiError):
            details = exc.detail.get("details")
            for detail in details if isinstance(details, list) else []:
                if isinstance(detail, dict) and detail.get("field"):
                    errors.setdefault(str(detail["field"]).split(".")[0], str(detail.get("message") or ""))
            if exc.field and not errors:
                errors[str(exc.field).split(".")[0]] = exc.message
        self.show_field_errors(errors)
        unplaced = [f for f in errors if f not in self.entries]
        self.say(describe_error(exc, self.tr) if unplaced or not errors
                 else self.tr._("Not saved: fix the fields above."))

    def field_error(self, name: str) -> str:
        label = self.field_errors[name]
        return str(label.cget("text")) if label.winfo_manager() else ""

    def _return_pressed(self, event: tk.Event) -> str | None:
        if isinstance(event.widget, tk.Text):
            return None  # a new line in a multi-line field, not OK
        self._ok()
        return "break"

    def _ok(self) -> None:
        self._on_ok(self.values())

    def close(self) -> None:
        self.top.destroy()
