"""The settings window: every declared setting (GET /api/system/config) on tabs, checked as the user types,
saved in one PUT (the service validates again and writes config.json atomically), the keys that need a
restart named, with a button that restarts the service. The Security tab also lists the paired browser
extensions (revoke) and pending pairings (deny), lists the users and changes passwords; the AI tab lists the
GGUF models in the models folder (GET /api/ai/models) and tests the model (POST /api/ai/model-test: time to
first token and tokens/s).

Every text is in the user's language (self.tr): a setting shows its label and help from core.config's SETTINGS
(marked N_(), translated here) with its key beneath in small type for support; validation messages the window
knows (its own checks and the API's) are said in that language, any other in the API's words.
"""

from __future__ import annotations

import logging
import re
import time
import tkinter as tk
from collections.abc import Callable
from datetime import datetime
from tkinter import ttk
from typing import Any

from core.config import SETTINGS_BY_KEY
from core.i18n import LANGUAGE_NAMES, N_, Translator
from desktop.service_client import ServiceUnavailable
from windows.base import BaseWindow
from windows.errors import ApiError
from windows.extensions_pane import ExtensionsPane, ask_yes_no
from windows.forms import FormDialog, ScrollFrame, SettingField, check_value
from windows.host import WindowHost

log = logging.getLogger(__name__)

# Tabs in order: title (English; shown translated, and the key of self.tabs) and the config sections on it.
# Sections not named here get a tab of their own. The language comes first: it is what a new user looks for.
TABS = ((N_("General"), ("ui",)),
        (N_("Server"), ("server", "capture", "websocket")),
        (N_("AI / LLaMA"), ("ai",)),
        (N_("Database"), ("database",)),
        (N_("Security"), ("security",)),
        (N_("Monitor & notifications"), ("monitor", "notifications")),
        (N_("Team sync"), ("sync",)),
        (N_("Logs"), ("logging",)))
SECTION_TITLES = {"ui": N_("Language"), "server": N_("Server"), "capture": N_("Capture"),
                  "websocket": N_("WebSocket"), "database": N_("Database"), "ai": N_("AI"),
                  "security": N_("Security"), "monitor": N_("Monitor"), "notifications": N_("Notifications"),
                  "sync": N_("Sync with the team hub"), "logging": N_("Logging")}
# Said when the service gives no advice of its own: the bundled model is tiny.
DEFAULT_ADVICE = N_("A larger instruction model (for example a 1–4 B parameter GGUF with a chat template) writes "
                    "better drafts than the bundled one: put it in the models folder and choose it in Model file.")
AUTOMATIC_LANGUAGE = N_("Automatic (system language)")
ROLE_NAMES = {"agent": N_("agent"), "admin": N_("administrator")}  # the API's role -> the name shown
# What a setting's "applies" (core.config.takes_effect) means, beside its editor.
RESTART_MARKERS = {"service restart": N_("↻ restart"), "desktop agent restart": N_("↻ restart CRM Agent")}
# The validation messages of core.config's validators, core/config_paths.py, the API and windows/forms.py's
# local checks, each with its translatable sentence (same English words: English is unchanged). A message
# not listed is shown as the API wrote it.
VALIDATION_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"must be an integer", N_("must be an integer")),
    (r"must be a number", N_("must be a number")),
    (r"must be true or false", N_("must be true or false")),
    (r"must be a string", N_("must be a string")),
    (r"must be a list of strings", N_("must be a list of strings")),
    (r"must be >= (?P<limit>.+)", N_("must be >= {limit}")),
    (r"must be <= (?P<limit>.+)", N_("must be <= {limit}")),
    (r"must be one of (?P<choices>.+)", N_("must be one of {choices}")),
    (r"must be at most (?P<n>\d+) characters", N_("must be at most {n} characters")),
    (r"must match (?P<pattern>.+)", N_("is not in the expected format ({pattern})")),
    (r"(?P<item>'.*') is not valid", N_("{item} is not valid")),
    (r"must not contain control characters \(NUL, line breaks, \.\.\.\)",
     N_("must not contain control characters (NUL, line breaks, ...)")),
    (r"unknown setting", N_("unknown setting")),
    (r"set by the environment variable (?P<variable>\S+); change it there",
     N_("set by the environment variable {variable}; change it there")),
    (r"give the SQLite file's path, not a sqlite: URL", N_("give the SQLite file's path, not a sqlite: URL")),
    (r"must be an absolute path inside the data directory", N_("must be an absolute path inside the data directory")),
    (r"must be an absolute path", N_("must be an absolute path")),
    (r"must not contain '\.\.'", N_("must not contain '..'")),
    (r"the service writes this file: it must be inside the data directory (?P<folder>.+) \(symlinks are followed\)",
     N_("the service writes this file: it must be inside the data directory {folder} (symlinks are followed)")),
    (r"names a file the service keeps for something else", N_("names a file the service keeps for something else")),
    (r"exists and is not a regular file", N_("exists and is not a regular file")),
    (r"no such file (?P<path>.+)", N_("no such file {path}")),
    (r"must be a regular file \(not a directory, device or FIFO\)",
     N_("must be a regular file (not a directory, device or FIFO)")),
    (r"is not a GGUF model", N_("is not a GGUF model")),
    (r"is not a PEM file", N_("is not a PEM file")),
)
# Errors of the settings API said in the user's language by their code (else the API's own message).
ERROR_CODES = {"config_file_invalid": N_("config.json has an error: fix it by hand first (its line is named in "
                                         "the message above the tabs)."),
               "config_write_failed": N_("config.json could not be written (is the disk full, or the file "
                                         "read-only?)."),
               "forbidden": N_("only an administrator may do this.")}
# A model test may load the model first (minutes for a large GGUF on a slow disk), and listing the models reads
# their headers in a child process: both take longer than the usual 10 s.
MODEL_TEST_TIMEOUT_S = 300
MODEL_COLUMNS = (("file", N_("File"), 230, True), ("size", N_("Size"), 90, False),
                 ("quant", N_("Quantisation"), 120, False), ("template", N_("Chat template"), 130, False),
                 ("current", N_("In use"), 70, False))
USER_COLUMNS = (("username", N_("User"), 160), ("role", N_("Role"), 120), ("last_login_at", N_("Last login"), 180),
                ("created_at", N_("Created"), 180))
LABEL_WRAP = 230  # a setting's label wraps beyond this width (96 dpi) so a long translation leaves room for its editor


def heading_width(text: str, width: int) -> int:
    """A column wide enough for its translated heading (bold, about 9 px a character) and never narrower than
    the English layout's width."""
    return max(width, 9 * len(text) + 16)


def validation_text(tr: Translator, message: str) -> str:
    """A validation message in the user's language when the window knows it, else as the service wrote it."""
    for pattern, sentence in VALIDATION_MESSAGES:
        match = re.fullmatch(pattern, message)
        if match:
            return tr._(sentence).format(**match.groupdict())
    return message


def error_text(tr: Translator, exc: Exception) -> str:
    """One line for a failed call: every field's problem in the user's language, a known error code's sentence,
    else the service's own words."""
    if isinstance(exc, ServiceUnavailable):
        return tr._("the service is not running")
    if not isinstance(exc, ApiError):
        return str(exc)
    details = exc.detail.get("details")
    if isinstance(details, list) and details:
        return "; ".join(f"{setting_name(tr, str(d.get('field')))}: {validation_text(tr, str(d.get('message')))}"
                         for d in details if isinstance(d, dict))
    if exc.code in ERROR_CODES:
        return tr._(ERROR_CODES[exc.code])
    if exc.field and exc.code == "validation_error":
        return f"{setting_name(tr, exc.field)}: {validation_text(tr, exc.message.split(': ', 1)[-1])}"
    return exc.message


def setting_name(tr: Translator, key: str) -> str:
    """A setting's label in the user's language; the key itself when it is not a declared setting."""
    setting = SETTINGS_BY_KEY.get(key)
    return tr._(setting.label) if setting is not None else key


def setting_names(tr: Translator, keys: list[str]) -> str:
    return ", ".join(setting_name(tr, key) for key in keys)


def choice_names(tr: Translator, key: str) -> dict[str, str]:
    """Choices shown by name rather than by value (value -> name); {} for the others."""
    if key == "ui.language":
        return {"auto": tr._(AUTOMATIC_LANGUAGE), **LANGUAGE_NAMES}  # each language in its own words
    return {}


class SettingRow(SettingField):
    """windows/forms.py's SettingField in the user's language: the declared label (the key beneath it, small, for
    support), the help, the restart marker and the validation messages translated, and a choice like the language
    shown by name."""

    def __init__(self, tr: Translator, parent: ttk.Frame, row: int, spec: dict[str, Any],
                 on_change: Callable[[], None], wrap: int, label_wrap: int) -> None:
        self.tr = tr
        self.names = choice_names(tr, spec["key"])
        self.values_by_name = {name: value for value, name in self.names.items()}
        setting = SETTINGS_BY_KEY.get(spec["key"])
        shown = {**spec, "name": tr._(setting.label) if setting else spec["name"].replace("_", " "),
                 "help": tr._(setting.help) if setting else spec.get("help", ""), "env_override": None}
        super().__init__(parent, row, shown, on_change, wrap, tr=tr)
        for label in parent.grid_slaves(row=row, column=0):
            label.configure(wraplength=label_wrap, justify="left")
        self.key_label = ttk.Label(parent, text=spec["key"], style="Small.Muted.TLabel")
        self.key_label.grid(row=row + 1, column=0, sticky="nw", padx=(0, 12))
        marker = RESTART_MARKERS.get(spec.get("applies", ""))
        self.marker.configure(text=tr._(marker) if marker else "")
        if spec.get("env_override"):
            self.help.configure(text=tr._("{help}  (set by {variable}; change it there)").format(
                help=shown["help"], variable=spec["env_override"]))
            self.widget.state(["disabled"])

    def _make_editor(self, holder: ttk.Frame) -> ttk.Widget:
        if not self.names:
            return super()._make_editor(holder)
        self.var = tk.StringVar(holder)
        widget = ttk.Combobox(holder, textvariable=self.var, values=list(self.names.values()), state="readonly",
                              width=max(len(name) for name in self.names.values()) + 2)
        widget.pack(side="left")
        return widget

    def set_value(self, value: Any) -> None:
        if self.names:
            self.var.set(self.names.get(value, str(value)))
        else:
            super().set_value(value)

    def value(self) -> tuple[Any, str | None]:
        # Checked in English, shown through validation_text (show_error): one wording for the window's own checks
        # and the service's answers, whose messages arrive in English.
        raw = self.var.get()
        return check_value(self.spec, self.values_by_name.get(raw, raw) if self.names else raw)

    def show_error(self, message: str | None) -> None:
        super().show_error(validation_text(self.tr, message) if message else message)

    def mark_saved(self, spec: dict[str, Any]) -> None:
        # The service's spec carries the English name and help: keep the shown ones.
        super().mark_saved({k: v for k, v in spec.items() if k not in ("name", "help", "env_override")})


class SettingsWindow(BaseWindow):
    name = "settings"
    title = N_("CRM Agent — Settings")
    default_size = (960, 680)

    def __init__(self, app: WindowHost) -> None:
        self.fields: dict[str, SettingField] = {}
        self.tabs: dict[str, ttk.Frame] = {}
        self.users: list[dict[str, Any]] = []
        self.loaded = False
        self.restart_keys: list[str] = []
        self.extensions: ExtensionsPane | None = None
        super().__init__(app)

    # -- layout ----------------------------------------------------------------------------------------

    def build(self, parent: ttk.Frame) -> None:
        _ = self.tr._
        self.top.title(_(self.title))
        head = ttk.Frame(parent)
        head.pack(side="top", fill="x")
        ttk.Label(head, text=_("Settings"), style="Title.TLabel").pack(side="left")
        self.path_label = ttk.Label(head, text="", style="Muted.TLabel")
        self.path_label.pack(side="left", padx=(12, 0))

        bottom = ttk.Frame(parent)
        bottom.pack(side="bottom", fill="x", pady=(8, 0))
        self.save_button = ttk.Button(bottom, text=_("Save"), style="Accent.TButton", command=self.save)
        self.save_button.pack(side="right")
        self.revert_button = ttk.Button(bottom, text=_("Revert"), command=self.revert)
        self.revert_button.pack(side="right", padx=(0, 6))
        self.restart_button = ttk.Button(bottom, text=_("Restart now"), command=self.restart)
        self.message = ttk.Label(bottom, text="", wraplength=self.scaled((600, 0))[0], justify="left")
        self.message.pack(side="left", fill="x", expand=True)

        self.notebook = ttk.Notebook(parent)
        self.placeholder = ttk.Label(parent, text=_("Loading the settings…"), style="Empty.TLabel", anchor="center")
        self.placeholder.pack(side="top", fill="both", expand=True)
        self.top.bind("<Control-s>", lambda _e: self.save())
        self._update_buttons()

    def _build_tabs(self, settings: list[dict[str, Any]]) -> None:
        _ = self.tr._
        wrap = self.scaled((540, 0))[0]
        label_wrap = self.scaled((LABEL_WRAP, 0))[0]
        placed: set[str] = set()
        tabs = list(TABS) + [(s, (s,)) for s in dict.fromkeys(i["section"] for i in settings)
                             if not any(s in sections for _t, sections in TABS)]
        for title, sections in tabs:
            items = [i for i in settings if i["section"] in sections]
            if not items and title != "Security":
                continue
            scroll = ScrollFrame(self.notebook)
            self.notebook.add(scroll, text=_(title))
            self.tabs[title] = scroll
            body = scroll.inner
            body.columnconfigure(1, weight=1)
            row = 0
            # The actions come first, where the user sees them without scrolling.
            if title == "AI / LLaMA":
                row = self._build_model_test(body, row)
            if title == "Security":
                row = self._build_extensions(body, row)
                row = self._build_users(body, row)
            for section in sections:
                section_items = [i for i in items if i["section"] == section]
                if not section_items:
                    continue
                title_text = _(SECTION_TITLES[section]) if section in SECTION_TITLES else section.capitalize()
                ttk.Label(body, text=title_text, style="Section.TLabel").grid(
                    row=row, column=0, columnspan=3, sticky="w", pady=(10 if row else 0, 2))
                row += 1
                for spec in section_items:
                    self.fields[spec["key"]] = SettingRow(self.tr, body, row, spec, self._update_buttons, wrap,
                                                          label_wrap)
                    placed.add(spec["key"])
                    row += 3
        self.placeholder.pack_forget()
        self.notebook.pack(side="top", fill="both", expand=True, pady=(6, 0))

    def _build_model_test(self, body: ttk.Frame, row: int) -> int:
        _ = self.tr._
        box = ttk.Frame(body)
        box.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(0, 10))
        ttk.Label(box, text=_("Models"), style="Section.TLabel").pack(anchor="w")
        self.models_dir = ttk.Label(box, text="", style="Muted.TLabel")
        self.models_dir.pack(anchor="w")
        self.model_tree = ttk.Treeview(box, columns=[c[0] for c in MODEL_COLUMNS], show="headings", height=3,
                                       selectmode="none")
        for column, heading, width, stretch in MODEL_COLUMNS:
            self.model_tree.heading(column, text=_(heading), anchor="w")
            self.model_tree.column(column, width=heading_width(_(heading), width), stretch=stretch, anchor="w")
        self.model_tree.pack(fill="x", pady=(4, 0))
        self.models_advice = ttk.Label(box, text="", wraplength=self.scaled((760, 0))[0], justify="left")
        self.models_advice.pack(anchor="w", pady=(4, 0))
        ttk.Label(box, text=_("Test the model"), style="Section.TLabel").pack(anchor="w", pady=(10, 0))
        line = ttk.Frame(box)
        line.pack(fill="x", pady=(4, 0))
        self.test_button = ttk.Button(line, text=_("Test the model"), command=self.test_model)
        self.test_button.pack(side="left")
        ttk.Label(line, text=_("a short reply from the model the running service loaded (saved settings)"),
                  style="Muted.TLabel", wraplength=self.scaled((600, 0))[0], justify="left").pack(side="left",
                                                                                                 padx=(8, 0))
        self.test_result = ttk.Label(box, text="", wraplength=self.scaled((760, 0))[0], justify="left")
        self.test_result.pack(anchor="w", pady=(4, 0))
        return row + 1

    def _build_extensions(self, body: ttk.Frame, row: int) -> int:
        self.extensions = ExtensionsPane(body, self.link, clock=time.time, confirm=ask_yes_no(self.top),
                                         open_connect=lambda: self.app.open("connect"))
        self.extensions.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(0, 10))
        return row + 1

    def _build_users(self, body: ttk.Frame, row: int) -> int:
        _ = self.tr._
        box = ttk.Frame(body)
        box.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(0, 10))
        ttk.Label(box, text=_("Users"), style="Section.TLabel").pack(anchor="w")
        self.user_tree = ttk.Treeview(box, columns=[c[0] for c in USER_COLUMNS], show="headings", height=4,
                                      selectmode="browse")
        for column, heading, width in USER_COLUMNS:
            self.user_tree.heading(column, text=_(heading))
            self.user_tree.column(column, width=heading_width(_(heading), width), stretch=column == "username")
        self.user_tree.pack(fill="x", pady=(4, 0))
        self.users_empty = ttk.Label(box, text="", style="Empty.TLabel")
        self.users_empty.pack(anchor="w")
        buttons = ttk.Frame(box)
        buttons.pack(fill="x", pady=(4, 0))
        ttk.Button(buttons, text=_("Add user…"), command=self.add_user_dialog).pack(side="left")
        self.password_button = ttk.Button(buttons, text=_("Change password…"), command=self.password_dialog)
        self.password_button.pack(side="left", padx=(6, 0))
        self.users_message = ttk.Label(buttons, text="", style="Muted.TLabel")
        self.users_message.pack(side="left", padx=(10, 0))
        return row + 1

    # -- loading ---------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        if self.extensions is not None:
            self.extensions.load()
        if self.loaded and any(f.dirty for f in self.fields.values()):
            return  # never throw away the user's edits on a reconnect or F5
        self.link.get("/api/system/config", self._show_config, self._load_failed)

    def _load_failed(self, exc: Exception) -> None:
        self.on_error(exc)
        if not self.loaded:
            why = error_text(self.tr, exc) if isinstance(exc, ApiError) else self.tr._("the service is not running")
            self.placeholder.configure(text=self.tr._("Cannot load the settings: {reason}.").format(reason=why),
                                       style="Error.TLabel")

    def _show_config(self, body: dict[str, Any]) -> None:
        if self.closed:
            return
        if not self.loaded:
            self._build_tabs(body["settings"])
            self.loaded = True
        else:
            for spec in body["settings"]:
                if spec["key"] in self.fields:
                    self.fields[spec["key"]].mark_saved(spec)
        self.path_label.configure(text=body.get("path", ""))
        if body.get("file_error"):
            self.say_message(self.tr._("config.json has an error (fix it here and save): {error}").format(
                error=body["file_error"]), error=True)
        elif body.get("pending_restart"):
            self._offer_restart(body["pending_restart"],
                                self.tr._("The running service still uses the old value of: {settings}"))
        self._update_buttons()
        self.load_users()
        self.load_models()
        if self.extensions is not None and not self.extensions.loaded:
            self.extensions.load()

    def load_users(self) -> None:
        self.link.get("/api/users", self._show_users,
                      lambda exc: self._users_said(self.tr._("Cannot list users: {reason}").format(
                          reason=error_text(self.tr, exc))))

    def _show_users(self, body: dict[str, Any]) -> None:
        if self.closed:
            return
        self.users = body.get("items", [])
        self.user_tree.delete(*self.user_tree.get_children())
        for user in self.users:
            role = str(user["role"])
            self.user_tree.insert("", "end", iid=user["username"], values=(
                user["username"], self.tr._(ROLE_NAMES[role]) if role in ROLE_NAMES else role,
                local_minute(self.tr, user.get("last_login_at")) or self.tr._("never"),
                local_minute(self.tr, user.get("created_at"))))
        self.users_empty.configure(text="" if self.users else self.tr._("No users yet."))

    def _users_said(self, text: str) -> None:
        if not self.closed:
            self.users_message.configure(text=text)

    # -- editing and saving ---------------------------------------------------------------------------------

    def changes(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The edited values and the local errors, by key."""
        changed, errors = {}, {}
        for key, field in self.fields.items():
            value, error = field.value()
            if error:
                errors[key] = error
            elif value != field.saved:
                changed[key] = value
        return changed, errors

    def _update_buttons(self) -> None:
        changed, errors = self.changes()
        self.save_button.state(["!disabled"] if changed and not errors else ["disabled"])
        self.revert_button.state(["!disabled"] if changed or errors else ["disabled"])

    def save(self) -> None:
        changed, errors = self.changes()
        if errors:
            self.say_message(self.tr._("Not saved: fix {settings}.").format(
                settings=setting_names(self.tr, list(errors))), error=True)
            self._show_tab_of(next(iter(errors)))
            return
        if not changed:
            self.say_message(self.tr._("Nothing changed."))
            return
        self.save_button.state(["disabled"])
        self.say_message(self.tr._("Saving…"))
        self.link.call("PUT", "/api/system/config", {"changes": changed}, on_done=self._saved,
                       on_error=self._save_failed)

    def _saved(self, body: dict[str, Any]) -> None:
        if self.closed:
            return
        for spec in body["settings"]:
            if spec["key"] in self.fields:
                self.fields[spec["key"]].mark_saved(spec)
        restart, agent = body.get("restart_required", []), body.get("agent_restart_required", [])
        _ = self.tr._
        parts = [_("Saved.")]
        if body.get("applied"):
            parts.append(_("Applied now: {settings}.").format(settings=setting_names(self.tr, body["applied"])))
        if agent:
            parts.append(_("Quit CRM Agent (tray menu) and open it again to apply: {settings}.").format(
                settings=setting_names(self.tr, agent)))
        if restart:
            self._offer_restart(restart, " ".join(parts) + " " + _("Restart the service to apply: {settings}"))
        else:
            self.say_message(" ".join(parts))
        self._update_buttons()

    def _save_failed(self, exc: Exception) -> None:
        if self.closed:
            return
        self._update_buttons()
        if isinstance(exc, ApiError) and exc.status == 422 and isinstance(exc.body, dict):
            details = exc.body.get("error", {}).get("details") or []
            for detail in details:
                field = self.fields.get(detail.get("field"))
                if field is not None:
                    field.show_error(detail.get("message"))
            if details:
                self._show_tab_of(details[0].get("field"))
            self.say_message(self.tr._("Not saved: {reason}").format(reason=error_text(self.tr, exc)), error=True)
            return
        self.on_error(exc)
        self.say_message(self.tr._("Not saved: {reason}").format(reason=error_text(self.tr, exc)), error=True)

    def revert(self) -> None:
        for field in self.fields.values():
            field.set_value(field.saved)
            field.show_error(None)
        self.say_message(self.tr._("Changes reverted."))
        self._update_buttons()

    def _show_tab_of(self, key: str | None) -> None:
        field = self.fields.get(key or "")
        if field is None:
            return
        for tab in self.tabs.values():
            if str(field.widget).startswith(str(tab)):
                self.notebook.select(tab)
                field.widget.focus_set()
                return

    def say_message(self, text: str, error: bool = False, offer_restart: bool = False) -> None:
        self.message.configure(text=text, style="FieldError.TLabel" if error else "TLabel")
        if offer_restart and not self.restart_button.winfo_manager():
            self.restart_button.pack(side="right", padx=(0, 12), after=self.revert_button)
        elif not offer_restart and self.restart_button.winfo_manager():
            self.restart_button.pack_forget()

    def _offer_restart(self, keys: list[str], sentence: str) -> None:
        """sentence: translated, with {settings} where the settings' names go."""
        self.restart_keys = list(keys)
        self.say_message(sentence.format(settings=setting_names(self.tr, keys)), offer_restart=True)

    # -- restart -----------------------------------------------------------------------------------------------

    def restart(self) -> None:
        self.restart_button.state(["disabled"])
        self.say_message(self.tr._("Restarting the service…"))
        self.link.run(self.link.restart_service, self._restart_started, self._restart_failed)

    def _restart_started(self, text: str) -> None:
        if self.closed:
            return
        self.restart_button.state(["!disabled"])
        self.say_message(self.tr._("{outcome} The settings reload once it is back.").format(outcome=text))
        self._waiting_for_restart = True

    def _restart_failed(self, exc: Exception) -> None:
        if not self.closed:
            self.restart_button.state(["!disabled"])
            # Still wanted: the offer stays, for when the user has dealt with the reason.
            self.say_message(self.tr._("Could not restart the service: {reason}").format(
                reason=error_text(self.tr, exc)), error=True, offer_restart=True)

    def on_event(self, event: dict[str, Any]) -> None:
        if self.extensions is not None:
            self.extensions.on_event(event)

    def _connection(self, connected: bool) -> None:
        super()._connection(connected)
        if connected and getattr(self, "_waiting_for_restart", False) and not self.closed:
            self._waiting_for_restart = False
            self.say_message(self.tr._("The service restarted with the saved settings."))
            self.link.get("/api/system/config", self._show_config, self._load_failed)

    # -- model test ----------------------------------------------------------------------------------------------

    def load_models(self) -> None:
        # The service reads each new GGUF's header in a child process: longer than the usual 10 s on a busy disk.
        self.link.run(lambda: self.link.request("GET", "/api/ai/models", timeout=MODEL_TEST_TIMEOUT_S),
                      self._show_models, self._models_failed)

    def _show_models(self, body: dict[str, Any]) -> None:
        if self.closed:
            return
        self.models = [m for m in body.get("items") or [] if isinstance(m, dict)]
        self.models_dir.configure(text=self.tr._("GGUF files in {folder}").format(
            folder=body.get("models_dir") or self.tr._("the models folder")))
        self.model_tree.delete(*self.model_tree.get_children())
        for model in self.models:
            self.model_tree.insert("", "end", iid=str(model.get("file")), values=model_row(self.tr, model))
        self.model_tree.configure(height=max(1, min(len(self.models), 5)))
        # The service's advice is its own English sentence (it names files and sizes): ours when it gives none or
        # the user reads another language.
        advice = body.get("advice") if body.get("advice") and self.tr.language == "en" else self.tr._(DEFAULT_ADVICE)
        self.models_advice.configure(text=advice if self.models else self.tr._(
            "No GGUF file in the models folder. {advice}").format(advice=advice), style="TLabel")

    def _models_failed(self, exc: Exception) -> None:
        if not self.closed:
            self.models_advice.configure(text=self.tr._("Cannot list the models: {reason}").format(
                reason=error_text(self.tr, exc)), style="FieldError.TLabel")

    def test_model(self) -> None:
        self.test_button.state(["disabled"])
        self.test_result.configure(text=self.tr._("Asking the model…"), style="Muted.TLabel")

        def done(result: dict[str, Any]) -> None:
            if self.closed:
                return
            self.test_button.state(["!disabled"])
            self.test_result.configure(text=describe_model_test(self.tr, result), style="TLabel")

        def failed(exc: Exception) -> None:
            if self.closed:
                return
            self.test_button.state(["!disabled"])
            self.test_result.configure(text=self.tr._("The test failed: {reason}").format(
                reason=model_test_error(self.tr, exc)), style="FieldError.TLabel")

        self.link.run(lambda: self.link.request("POST", "/api/ai/model-test", {}, timeout=MODEL_TEST_TIMEOUT_S),
                      done, failed)

    # -- users ------------------------------------------------------------------------------------------------------

    def add_user_dialog(self) -> FormDialog:
        _ = self.tr._
        roles = {_(name): role for role, name in ROLE_NAMES.items()}  # shown name -> the API's role

        def ok(values: dict[str, str]) -> None:
            if values["password"] != values["again"]:
                dialog.say(_("The passwords differ."))
                return
            body = {"username": values["username"], "password": values["password"],
                    "role": roles.get(values["role"], values["role"])}
            self.link.call("POST", "/api/users", body,
                           on_done=lambda user: self._user_done(dialog, _("User {name} added.").format(
                               name=user["username"])),
                           on_error=lambda exc: dialog.say(error_text(self.tr, exc)))

        dialog = FormDialog(self.top, _("Add a user"), [
            ("username", _("User name"), {}),
            ("role", _("Role"), {"choices": list(roles), "value": _(ROLE_NAMES["agent"])}),
            ("password", _("Password (8+ characters)"), {"secret": True}),
            ("again", _("Password again"), {"secret": True})], ok, ok_text=_("Add"))
        return dialog

    def password_dialog(self) -> FormDialog | None:
        selected = self.user_tree.selection()
        _ = self.tr._
        if not selected:
            self._users_said(_("Select a user first."))
            return None
        name = selected[0]

        def ok(values: dict[str, str]) -> None:
            if values["password"] != values["again"]:
                dialog.say(_("The passwords differ."))
                return
            self.link.call("PUT", f"/api/users/{name}/password", {"password": values["password"]},
                           on_done=lambda _b: self._user_done(dialog, _("Password of {name} changed.").format(
                               name=name)),
                           on_error=lambda exc: dialog.say(error_text(self.tr, exc)))

        dialog = FormDialog(self.top, _("New password for {name}").format(name=name), [
            ("password", _("New password (8+ characters)"), {"secret": True}),
            ("again", _("New password again"), {"secret": True})], ok, ok_text=_("Change"))
        return dialog

    def _user_done(self, dialog: FormDialog, text: str) -> None:
        try:
            dialog.close()
        except tk.TclError:
            pass
        self._users_said(text)
        self.load_users()


def local_minute(tr: Translator, timestamp: str | None) -> str:
    """'2026-11-29T19:53:21.433Z' (the service answers in UTC) -> this computer's time in the locale's format."""
    if not timestamp:
        return ""
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return tr.datetime(moment.astimezone() if moment.tzinfo else moment)


def model_row(tr: Translator, model: dict[str, Any]) -> tuple[str, ...]:
    """(file, "253,0 MB", "Q8_0", "sim", "✓") for the models list."""
    size = model.get("size_bytes")
    return (str(model.get("file") or ""),
            tr._("{size} MB").format(size=tr.decimal(size / 1e6, 1)) if isinstance(size, (int, float)) else "?",
            str(model.get("quantization") or "?"), tr._("yes") if model.get("chat_template") else tr._("no"),
            "✓" if model.get("current") else "")


def describe_model_test(tr: Translator, result: dict[str, Any]) -> str:
    """Which model answered, how fast its first token came, its speed, and what it wrote."""
    ttft, speed, tokens = result.get("ttft_ms"), result.get("tokens_per_s"), result.get("tokens")
    figures = [tr._("first token after {ms} ms").format(ms=tr.decimal(ttft, 0)) if isinstance(ttft, (int, float))
               else "",
               tr._("{speed} tokens/s").format(speed=tr.decimal(speed, 1)) if isinstance(speed, (int, float)) else "",
               tr.n_("{n} token", "{n} tokens", tokens) if isinstance(tokens, int) else ""]
    text = " ".join(str(result.get("text") or "").split())
    said = " " + tr._("It wrote: “{text}”").format(text=text[:200] + ("…" if len(text) > 200 else "")) if text else ""
    return f"{result.get('model') or tr._('The model')}: {', '.join(f for f in figures if f)}.{said}"


def model_test_error(tr: Translator, exc: Exception) -> str:
    """The service's reason, with the way out when the model is simply turned off."""
    if isinstance(exc, ApiError) and exc.code == "llm_disabled":
        sentence = tr._("The local AI model is turned off. Turn on “{setting}” below, save, and restart the service.")
        return sentence.format(setting=setting_name(tr, "ai.llm_enabled"))
    return error_text(tr, exc)
