"""The settings window: every declared setting (GET /api/system/config) on tabs, checked as the user types,
saved in one PUT (the service validates again and writes config.json atomically), the keys that need a
restart named, with a button that restarts the service. The Security tab also lists the paired browser
extensions (revoke) and pending pairings (deny), lists the users and changes passwords; the AI tab lists the
GGUF models in the models folder (GET /api/ai/models) and tests the model (POST /api/ai/model-test: time to
first token and tokens/s).
"""

from __future__ import annotations

import logging
import time
import tkinter as tk
from tkinter import ttk
from typing import Any

from windows.base import BaseWindow
from windows.errors import ApiError
from windows.extensions_pane import ExtensionsPane, ask_yes_no
from windows.forms import FormDialog, ScrollFrame, SettingField
from windows.host import WindowHost

log = logging.getLogger(__name__)

# Tabs in order: title and the config sections on it. Sections not named here get a tab of their own.
TABS = (("Server", ("server", "capture", "websocket")),
        ("AI / LLaMA", ("ai",)),
        ("Database", ("database",)),
        ("Security", ("security",)),
        ("Monitor & notifications", ("monitor", "notifications")),
        ("Team sync", ("sync",)),
        ("Logs", ("logging",)))
SECTION_TITLES = {"ai": "AI"}
# Said when the service gives no advice of its own: the bundled model is tiny.
DEFAULT_ADVICE = ("A larger instruction model (for example a 1–4 B parameter GGUF with a chat template) writes "
                  "better drafts than the bundled one: put it in the models folder and choose it in model path.")
# A model test may load the model first (minutes for a large GGUF on a slow disk), and listing the models reads
# their headers in a child process: both take longer than the usual 10 s.
MODEL_TEST_TIMEOUT_S = 300
MODEL_COLUMNS = (("file", "File", 240, True), ("size", "Size", 80, False), ("quant", "Quantisation", 115, False),
                 ("template", "Chat template", 120, False), ("current", "In use", 60, False))


class SettingsWindow(BaseWindow):
    name = "settings"
    title = "CRM Agent — Settings"
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
        head = ttk.Frame(parent)
        head.pack(side="top", fill="x")
        ttk.Label(head, text="Settings", style="Title.TLabel").pack(side="left")
        self.path_label = ttk.Label(head, text="", style="Muted.TLabel")
        self.path_label.pack(side="left", padx=(12, 0))

        bottom = ttk.Frame(parent)
        bottom.pack(side="bottom", fill="x", pady=(8, 0))
        self.save_button = ttk.Button(bottom, text="Save", style="Accent.TButton", command=self.save, width=10)
        self.save_button.pack(side="right")
        self.revert_button = ttk.Button(bottom, text="Revert", command=self.revert, width=10)
        self.revert_button.pack(side="right", padx=(0, 6))
        self.restart_button = ttk.Button(bottom, text="Restart now", command=self.restart)
        self.message = ttk.Label(bottom, text="", wraplength=self.scaled((640, 0))[0], justify="left")
        self.message.pack(side="left", fill="x", expand=True)

        self.notebook = ttk.Notebook(parent)
        self.placeholder = ttk.Label(parent, text="Loading the settings…", style="Empty.TLabel", anchor="center")
        self.placeholder.pack(side="top", fill="both", expand=True)
        self.top.bind("<Control-s>", lambda _e: self.save())
        self._update_buttons()

    def _build_tabs(self, settings: list[dict[str, Any]]) -> None:
        wrap = self.scaled((560, 0))[0]
        placed: set[str] = set()
        tabs = list(TABS) + [(s, (s,)) for s in dict.fromkeys(i["section"] for i in settings)
                             if not any(s in sections for _t, sections in TABS)]
        for title, sections in tabs:
            items = [i for i in settings if i["section"] in sections]
            if not items and title != "Security":
                continue
            scroll = ScrollFrame(self.notebook)
            self.notebook.add(scroll, text=title)
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
                title_text = SECTION_TITLES.get(section, section.capitalize())
                ttk.Label(body, text=title_text, style="Section.TLabel").grid(
                    row=row, column=0, columnspan=3, sticky="w", pady=(10 if row else 0, 2))
                row += 1
                for spec in section_items:
                    self.fields[spec["key"]] = SettingField(body, row, spec, self._update_buttons, wrap)
                    placed.add(spec["key"])
                    row += 3
        self.placeholder.pack_forget()
        self.notebook.pack(side="top", fill="both", expand=True, pady=(6, 0))

    def _build_model_test(self, body: ttk.Frame, row: int) -> int:
        box = ttk.Frame(body)
        box.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(0, 10))
        ttk.Label(box, text="Models", style="Section.TLabel").pack(anchor="w")
        self.models_dir = ttk.Label(box, text="", style="Muted.TLabel")
        self.models_dir.pack(anchor="w")
        self.model_tree = ttk.Treeview(box, columns=[c[0] for c in MODEL_COLUMNS], show="headings", height=3,
                                       selectmode="none")
        for column, heading, width, stretch in MODEL_COLUMNS:
            self.model_tree.heading(column, text=heading, anchor="w")
            self.model_tree.column(column, width=width, stretch=stretch, anchor="w")
        self.model_tree.pack(fill="x", pady=(4, 0))
        self.models_advice = ttk.Label(box, text="", wraplength=self.scaled((760, 0))[0], justify="left")
        self.models_advice.pack(anchor="w", pady=(4, 0))
        ttk.Label(box, text="Test the model", style="Section.TLabel").pack(anchor="w", pady=(10, 0))
        line = ttk.Frame(box)
        line.pack(fill="x", pady=(4, 0))
        self.test_button = ttk.Button(line, text="Test the model", command=self.test_model)
        self.test_button.pack(side="left")
        ttk.Label(line, text="a short reply from the model the running service loaded (saved settings)",
                  style="Muted.TLabel").pack(side="left", padx=(8, 0))
        self.test_result = ttk.Label(box, text="", wraplength=self.scaled((760, 0))[0], justify="left")
        self.test_result.pack(anchor="w", pady=(4, 0))
        return row + 1

    def _build_extensions(self, body: ttk.Frame, row: int) -> int:
        self.extensions = ExtensionsPane(body, self.link, clock=time.time, confirm=ask_yes_no(self.top),
                                         open_connect=lambda: self.app.open("connect"))
        self.extensions.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(0, 10))
        return row + 1

    def _build_users(self, body: ttk.Frame, row: int) -> int:
        box = ttk.Frame(body)
        box.grid(row=row, column=0, columnspan=3, sticky="ew", pady=(0, 10))
        ttk.Label(box, text="Users", style="Section.TLabel").pack(anchor="w")
        columns = ("username", "role", "last_login_at", "created_at")
        self.user_tree = ttk.Treeview(box, columns=columns, show="headings", height=4, selectmode="browse")
        for column, heading, width in zip(columns, ("User", "Role", "Last login", "Created"), (160, 80, 200, 200),
                                          strict=True):
            self.user_tree.heading(column, text=heading)
            self.user_tree.column(column, width=width, stretch=column == "username")
        self.user_tree.pack(fill="x", pady=(4, 0))
        self.users_empty = ttk.Label(box, text="", style="Empty.TLabel")
        self.users_empty.pack(anchor="w")
        buttons = ttk.Frame(box)
        buttons.pack(fill="x", pady=(4, 0))
        ttk.Button(buttons, text="Add user…", command=self.add_user_dialog).pack(side="left")
        self.password_button = ttk.Button(buttons, text="Change password…", command=self.password_dialog)
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
            why = "the service is not running" if not isinstance(exc, ApiError) else _error_text(exc)
            self.placeholder.configure(text=f"Cannot load the settings: {why}.", style="Error.TLabel")

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
            self.say_message(f"config.json has an error (fix it here and save): {body['file_error']}", error=True)
        elif body.get("pending_restart"):
            self._offer_restart(body["pending_restart"], "The running service still uses the old value of: ")
        self._update_buttons()
        self.load_users()
        self.load_models()
        if self.extensions is not None and not self.extensions.loaded:
            self.extensions.load()

    def load_users(self) -> None:
        self.link.get("/api/users", self._show_users,
                      lambda exc: self._users_said(f"Cannot list users: {_error_text(exc)}"))

    def _show_users(self, body: dict[str, Any]) -> None:
        if self.closed:
            return
        self.users = body.get("items", [])
        self.user_tree.delete(*self.user_tree.get_children())
        for user in self.users:
            self.user_tree.insert("", "end", iid=user["username"], values=(
                user["username"], user["role"], _minute(user.get("last_login_at")) or "never",
                _minute(user.get("created_at"))))
        self.users_empty.configure(text="" if self.users else "No users yet.")

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
            self.say_message(f"Not saved: fix {', '.join(errors)}.", error=True)
            self._show_tab_of(next(iter(errors)))
            return
        if not changed:
            self.say_message("Nothing changed.")
            return
        self.save_button.state(["disabled"])
        self.say_message("Saving…")
        self.link.call("PUT", "/api/system/config", {"changes": changed}, on_done=self._saved,
                       on_error=self._save_failed)

    def _saved(self, body: dict[str, Any]) -> None:
        if self.closed:
            return
        for spec in body["settings"]:
            if spec["key"] in self.fields:
                self.fields[spec["key"]].mark_saved(spec)
        restart, agent = body.get("restart_required", []), body.get("agent_restart_required", [])
        parts = ["Saved."]
        if body.get("applied"):
            parts.append(f"Applied now: {', '.join(body['applied'])}.")
        if agent:
            parts.append(f"Quit and start CRM Agent again to apply: {', '.join(agent)}.")
        if restart:
            self._offer_restart(restart, " ".join(parts) + " Restart the service to apply: ")
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
            self.say_message(f"Not saved: {_error_text(exc)}", error=True)
            return
        self.on_error(exc)
        self.say_message(f"Not saved: {_error_text(exc)}", error=True)

    def revert(self) -> None:
        for field in self.fields.values():
            field.set_value(field.saved)
            field.show_error(None)
        self.say_message("Changes reverted.")
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

    def _offer_restart(self, keys: list[str], prefix: str) -> None:
        self.restart_keys = list(keys)
        self.say_message(prefix + ", ".join(keys), offer_restart=True)

    # -- restart -----------------------------------------------------------------------------------------------

    def restart(self) -> None:
        self.restart_button.state(["disabled"])
        self.say_message("Restarting the service…")
        self.link.run(self.link.restart_service, self._restart_started, self._restart_failed)

    def _restart_started(self, text: str) -> None:
        if self.closed:
            return
        self.restart_button.state(["!disabled"])
        self.say_message(f"{text} The settings reload once it is back.")
        self._waiting_for_restart = True

    def _restart_failed(self, exc: Exception) -> None:
        if not self.closed:
            self.restart_button.state(["!disabled"])
            # Still wanted: the offer stays, for when the user has dealt with the reason.
            self.say_message(f"Could not restart the service: {_error_text(exc)}", error=True, offer_restart=True)

    def on_event(self, event: dict[str, Any]) -> None:
        if self.extensions is not None:
            self.extensions.on_event(event)

    def _connection(self, connected: bool) -> None:
        super()._connection(connected)
        if connected and getattr(self, "_waiting_for_restart", False) and not self.closed:
            self._waiting_for_restart = False
            self.say_message("The service restarted with the saved settings.")
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
        self.models_dir.configure(text=f"GGUF files in {body.get('models_dir') or 'the models folder'}")
        self.model_tree.delete(*self.model_tree.get_children())
        for model in self.models:
            self.model_tree.insert("", "end", iid=str(model.get("file")), values=model_row(model))
        self.model_tree.configure(height=max(1, min(len(self.models), 5)))
        advice = body.get("advice") or DEFAULT_ADVICE
        self.models_advice.configure(text=advice if self.models else f"No GGUF file in the models folder. {advice}",
                                     style="TLabel")

    def _models_failed(self, exc: Exception) -> None:
        if not self.closed:
            self.models_advice.configure(text=f"Cannot list the models: {_error_text(exc)}", style="FieldError.TLabel")

    def test_model(self) -> None:
        self.test_button.state(["disabled"])
        self.test_result.configure(text="Asking the model…", style="Muted.TLabel")

        def done(result: dict[str, Any]) -> None:
            if self.closed:
                return
            self.test_button.state(["!disabled"])
            self.test_result.configure(text=describe_model_test(result), style="TLabel")

        def failed(exc: Exception) -> None:
            if self.closed:
                return
            self.test_button.state(["!disabled"])
            self.test_result.configure(text=f"The test failed: {model_test_error(exc)}", style="FieldError.TLabel")

        self.link.run(lambda: self.link.request("POST", "/api/ai/model-test", {}, timeout=MODEL_TEST_TIMEOUT_S),
                      done, failed)

    # -- users ------------------------------------------------------------------------------------------------------

    def add_user_dialog(self) -> FormDialog:
        def ok(values: dict[str, str]) -> None:
            if values["password"] != values["again"]:
                dialog.say("The passwords differ.")
                return
            body = {"username": values["username"], "password": values["password"], "role": values["role"]}
            self.link.call("POST", "/api/users", body,
                           on_done=lambda user: self._user_done(dialog, f"User {user['username']} added."),
                           on_error=lambda exc: dialog.say(_error_text(exc)))

        dialog = FormDialog(self.top, "Add a user", [
            ("username", "User name", {}), ("role", "Role", {"choices": ["agent", "admin"], "value": "agent"}),
            ("password", "Password (8+ characters)", {"secret": True}), ("again", "Password again", {"secret": True})],
            ok, ok_text="Add")
        return dialog

    def password_dialog(self) -> FormDialog | None:
        selected = self.user_tree.selection()
        if not selected:
            self._users_said("Select a user first.")
            return None
        name = selected[0]

        def ok(values: dict[str, str]) -> None:
            if values["password"] != values["again"]:
                dialog.say("The passwords differ.")
                return
            self.link.call("PUT", f"/api/users/{name}/password", {"password": values["password"]},
                           on_done=lambda _b: self._user_done(dialog, f"Password of {name} changed."),
                           on_error=lambda exc: dialog.say(_error_text(exc)))

        dialog = FormDialog(self.top, f"New password for {name}", [
            ("password", "New password (8+ characters)", {"secret": True}),
            ("again", "New password again", {"secret": True})], ok, ok_text="Change")
        return dialog

    def _user_done(self, dialog: FormDialog, text: str) -> None:
        try:
            dialog.close()
        except tk.TclError:
            pass
        self._users_said(text)
        self.load_users()


def _minute(timestamp: str | None) -> str:
    """'2026-11-29T19:53:21.433Z' -> '2026-11-29 19:53 UTC' (the service answers in UTC)."""
    return f"{timestamp[:16].replace('T', ' ')} UTC" if timestamp else ""


def _error_text(exc: Exception) -> str:
    """The service's own sentence: every field's problem, else its error message."""
    return exc.message if isinstance(exc, ApiError) else str(exc)


def model_row(model: dict[str, Any]) -> tuple[str, ...]:
    """(file, "253.0 MB", "Q8_0", "yes", "✓") for the models list."""
    size = model.get("size_bytes")
    return (str(model.get("file") or ""), f"{size / 1e6:,.1f} MB" if isinstance(size, (int, float)) else "?",
            str(model.get("quantization") or "?"), "yes" if model.get("chat_template") else "no",
            "✓" if model.get("current") else "")


def describe_model_test(result: dict[str, Any]) -> str:
    """Which model answered, how fast its first token came, its speed, and what it wrote."""
    ttft, speed = result.get("ttft_ms"), result.get("tokens_per_s")
    figures = [f"first token after {ttft:.0f} ms" if isinstance(ttft, (int, float)) else "",
               f"{speed:.1f} tokens/s" if isinstance(speed, (int, float)) else "",
               f"{result['tokens']} tokens" if isinstance(result.get("tokens"), int) else ""]
    text = " ".join(str(result.get("text") or "").split())
    said = f" It wrote: “{text[:200]}{'…' if len(text) > 200 else ''}”" if text else ""
    return f"{result.get('model') or 'The model'}: {', '.join(f for f in figures if f)}.{said}"


def model_test_error(exc: Exception) -> str:
    """The service's reason, with the way out when the model is simply turned off."""
    if isinstance(exc, ApiError) and exc.code == "llm_disabled":
        return f"{exc.message} Turn on “llm enabled” below, save, and restart the service."
    return _error_text(exc)
