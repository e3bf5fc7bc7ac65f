"""Every setting declared once: default, validator, help text and whether a change needs a restart.

config.json holds only the user's overrides (sections -> keys). The docs (docs/config.md), the settings
window and `agent.py config check` are all generated from SETTINGS; tests check they cover every key.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.i18n import N_
from core.secrets_store import write_private_file
from core.untrusted import has_control_characters


class ConfigError(ValueError):
    """A bad config value; the message names the key (section.key)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


Validator = Callable[[Any], Any]


def _described(check: Validator, **spec: Any) -> Validator:
    """Keep what the validator accepts on it (type, range, choices), for the settings API and window."""
    check.spec = {k: v for k, v in spec.items() if v is not None}  # type: ignore[attr-defined]
    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be <= {maximum}")
        return value

    return _described(check, type="integer", minimum=minimum, maximum=maximum)


def number(minimum: float | None = None, maximum: float | None = None) -> Validator:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be <= {maximum}")
        return float(value)

    return _described(check, type="number", minimum=minimum, maximum=maximum)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


_described(boolean, type="boolean")


def text(pattern: str | None = None, max_length: int = 4096) -> Validator:
    compiled = re.compile(pattern) if pattern else None

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        if compiled and not compiled.fullmatch(value):
            raise ValueError(f"must match {pattern}")
        return value

    return _described(check, type="string", pattern=pattern, max_length=max_length)


READ, WRITE = "read", "write"


def file_path(access: str) -> Validator:
    """A file path (empty for the default): no control characters anywhere, start-up and API alike.

    access says what the service does with the file; check_path_change() adds the API's rules for each.
    """
    base = text(max_length=4096)

    def check(value: Any) -> str:
        value = base(value)
        if has_control_characters(value):
            raise ValueError("must not contain control characters (NUL, line breaks, ...)")
        return value

    return _described(check, type="string", max_length=4096, path=access)


def choice(*options: str) -> Validator:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return _described(check, type="choice", choices=list(options))


def string_list(pattern: str | None = None) -> Validator:
    item = text(pattern, max_length=512)

    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise ValueError("must be a list of strings")
        return [item(v) for v in value]

    return _described(check, type="list", pattern=pattern)


ORIGIN = r"(chrome-extension|moz-extension|safari-web-extension)://[A-Za-z0-9._-]+|https?://[A-Za-z0-9.-]+(:\d+)?"
HOSTNAME = r"[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]"


@dataclass(frozen=True)
class Setting:
    key: str  # "section.name"
    label: str  # what the settings window shows (marked N_(), translated there); the key stays for support
    default: Any
    validate: Validator
    help: str  # marked N_() too: the settings window shows it in the user's language, docs/config.md in English
    restart: bool = False  # True when the running service must restart to apply a change
    secret: bool = False

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


SETTINGS: tuple[Setting, ...] = (
    # server
    Setting("server.host", N_("Listen address"), "127.0.0.1", text(HOSTNAME, 255),
            N_("Address the API binds to. Anything but a loopback address exposes the API to the network "
               "(a warning is logged)."), restart=True),
    Setting("server.port", N_("Port"), 8080, integer(0, 65535),
            N_("TCP port of the API; 0 picks a free port."), restart=True),
    Setting("server.allowed_hosts", N_("Extra host names"), [], string_list(HOSTNAME),
            N_("Extra Host header names accepted besides localhost, 127.0.0.1 and [::1] (DNS-rebinding guard).")),
    Setting("server.max_body_bytes", N_("Largest request (bytes)"), 262144, integer(1024, 16 * 1024 * 1024),
            N_("Largest request body accepted; larger requests get 413.")),
    Setting("server.request_log", N_("Log every request"), True, boolean,
            N_("Log one line per request (method, path, status, ms).")),
    Setting("server.max_connections", N_("Most connections"), 1000, integer(16, 100_000),
            N_("Most connections open at once. At the cap, a new connection closes the one that has waited "
               "longest for its next request (idle keep-alives first, then slow headers, then slow bodies); when "
               "every connection is busy or a WebSocket, the new one is answered 503. Lowered when the process "
               "may not open that many files."), restart=True),
    Setting("server.header_timeout_s", N_("Header timeout (s)"), 10.0, number(0.5, 3600),
            N_("Seconds a connection has to send a whole request line and headers: from its opening for the "
               "first request, from the first byte for the next ones. Then it is closed."), restart=True),
    Setting("server.body_timeout_s", N_("Body timeout (s)"), 30.0, number(0.5, 3600),
            N_("Seconds a request body has to arrive once its headers have, plus 1 s for every 500 bytes "
               "received (so a slow but steady upload finishes); a body still short of its Content-Length then "
               "gets 408 and the connection is closed."), restart=True),
    Setting("server.keepalive_timeout_s", N_("Keep-alive timeout (s)"), 30.0, number(0.5, 3600),
            N_("Seconds an idle keep-alive connection is kept waiting for its next request. WebSockets are not "
               "affected (they have websocket.ping_interval_s)."), restart=True),
    Setting("server.tls_cert_file", N_("HTTPS certificate"), "", file_path(READ),
            N_("PEM certificate (chain) to serve HTTPS, e.g. on a team hub; empty serves plain HTTP."), restart=True),
    Setting("server.tls_key_file", N_("HTTPS private key"), "", file_path(READ),
            N_("PEM private key of server.tls_cert_file."), restart=True),
    # capture
    Setting("capture.default_region", N_("Default phone region"), "BR", text(r"[A-Z]{2}"),
            N_("Region used to read phone numbers written without a country code (ISO 3166 code).")),
    Setting("capture.paused", N_("Capture paused"), False, boolean,
            N_("When true, captures are refused with 503 (the tray's Pause capture).")),
    Setting("capture.max_content_bytes", N_("Largest message (bytes)"), 65536, integer(256, 1024 * 1024),
            N_("Largest message content accepted (UTF-8 bytes).")),
    # websocket
    Setting("websocket.max_message_bytes", N_("Largest WebSocket message (bytes)"), 65536,
            integer(128, 4 * 1024 * 1024),
            N_("Largest WebSocket message a client may send; the connection is closed (1009) above it.")),
    Setting("websocket.event_buffer", N_("Events kept for resuming"), 2000, integer(10, 1_000_000),
            N_("Events kept in memory so a reconnecting client can resume with ?since=<last id>.")),
    Setting("websocket.ping_interval_s", N_("Ping every (s)"), 20, integer(1, 3600),
            N_("Seconds between server pings.")),
    Setting("websocket.max_clients", N_("Most clients"), 64, integer(1, 10000),
            N_("Most WebSocket clients connected at once.")),
    Setting("websocket.outbox_max_events", N_("Queue per client (events)"), 5000, integer(10, 1_000_000),
            N_("Events (and answers) waiting for one slow WebSocket client before it is dropped (1008) to resume "
               "with ?since=.")),
    Setting("websocket.outbox_max_bytes", N_("Queue per client (bytes)"), 2 * 1024 * 1024,
            integer(4096, 256 * 1024 * 1024),
            N_("Bytes waiting for one slow WebSocket client before it is dropped (1008) to resume with ?since=.")),
    # database
    Setting("database.path", N_("Database file"), "", file_path(WRITE),
            N_("SQLite file; empty means crm_agent.db in the data directory. Set through the API (the settings "
               "window), a file path must be inside the data directory."), restart=True),
    Setting("database.busy_timeout_ms", N_("Lock wait (ms)"), 5000, integer(0, 600000),
            N_("How long a write waits for another process holding the database lock."), restart=True),
    Setting("database.synchronous", N_("Write safety"), "full", choice("full", "normal"),
            N_("full: every commit is on disk (fsync) before the API answers, so an acknowledged capture survives a "
               "power cut or an OS crash. normal: faster commits that survive a crash of the service only; the "
               "last answered captures may be lost to a power cut."), restart=True),
    Setting("database.cache_mib", N_("Cache (MiB)"), 64, integer(1, 4096),
            N_("SQLite's page cache of the service's connection, in MiB: the database's pages stay in memory once "
               "read, so the service's memory grows with the database up to this bound, then stays. Larger: fewer "
               "reads from disk on a large database; smaller: a smaller footprint."), restart=True),
    Setting("database.backup_interval_s", N_("Backup every (s)"), 86400, integer(0, 30 * 86400),
            N_("Seconds between automatic backups; 0 disables them.")),
    Setting("database.max_backups", N_("Backups kept"), 7, integer(1, 1000),
            N_("Backups kept; the oldest is removed first.")),
    Setting("database.backup_encryption", N_("Encrypt backups"), False, boolean,
            N_("Encrypt backups (AES-256-GCM) with the key in backup.key in the data directory, created on first "
               "use. Keep a copy of that file elsewhere: an encrypted backup cannot be restored without it.")),
    Setting("database.raw_retention_days", N_("Keep raw captures (days)"), 90, integer(0, 36500),
            N_("Raw capture payloads (messages.raw) of messages sent longer ago than this are cleared by the "
               "maintenance job; the message itself stays. 0 keeps them forever.")),
    Setting("database.message_retention_days", N_("Keep messages (days)"), 0, integer(0, 36500),
            N_("Messages sent longer ago than this are deleted by the maintenance job, with their analyses; a team "
               "hub is told through tombstones and deletes its copies too. 0 keeps them forever.")),
    Setting("database.pool_size", N_("Connection pool size"), 10, integer(1, 200),
            N_("PostgreSQL (a team hub) only: connections each hub process keeps for requests running at once. "
               "Every gunicorn worker has its own pool: workers x pool_size must stay below the server's "
               "max_connections."), restart=True),
    Setting("database.log_retention_days", N_("Keep system logs (days)"), 30, integer(0, 36500),
            N_("Rows of system_logs older than this are deleted by the maintenance job; 0 keeps them forever.")),
    Setting("database.maintenance_interval_s", N_("Maintenance every (s)"), 86400, integer(0, 30 * 86400),
            N_("Seconds between maintenance runs (retention, ANALYZE, VACUUM when worthwhile); the first runs "
               "10 minutes after start. 0 disables them.")),
    Setting("database.vacuum_min_free_percent", N_("Compact when free (%)"), 20.0, number(0, 100),
            N_("The maintenance job runs VACUUM (which rewrites the whole file) only when at least this share of "
               "the database's pages is free.")),
    # ai
    Setting("ai.engine", N_("Analysis engine"), "auto", choice("auto", "rules", "llm"),
            N_("auto: answer with the built-in analyzer at once and add the LLM analysis asynchronously; "
               "rules: built-in only; llm: the LLM analysis (falls back to rules when it is unavailable).")),
    Setting("ai.llm_enabled", N_("Use the local AI model"), True, boolean, N_("Run the local LLM worker at all.")),
    Setting("ai.rules_worker", N_("Analyze in a helper process"), True, boolean,
            N_("Run the built-in analysis of captures in a helper process, so a second CPU core shares the "
               "work of a busy capture stream."), restart=True),
    Setting("ai.backfill_chunk", N_("History analysis batch"), 250, integer(1, 500),
            N_("Messages of an imported history analysed per round after the import was answered. Smaller rounds "
               "let a live capture's analysis wait less behind them."), restart=True),
    Setting("ai.model_path", N_("Model file"), "", file_path(READ),
            N_("GGUF model file; empty uses the bundled Gemma 3 270M, assembled into the data directory.")),
    Setting("ai.n_threads", N_("CPU threads"), 2, integer(1, 256), N_("CPU threads llama.cpp uses.")),
    Setting("ai.n_ctx", N_("Context size (tokens)"), 1024, integer(128, 131072),
            N_("Context window of the model, in tokens.")),
    Setting("ai.temperature", N_("Temperature"), 0.2, number(0.0, 2.0),
            N_("Sampling temperature for generated replies.")),
    Setting("ai.max_tokens", N_("Reply length (tokens)"), 64, integer(1, 4096),
            N_("Most tokens generated for one reply.")),
    Setting("ai.use_gpu", N_("Use the GPU"), False, boolean,
            N_("Offload every layer to the GPU (n_gpu_layers=-1) when one is there.")),
    Setting("ai.keep_alive_s", N_("Unload the model after (s)"), 300, integer(0, 86400),
            N_("Unload the model after this many idle seconds.")),
    Setting("ai.prewarm_after_s", N_("Load the model after start (s)"), 20, integer(0, 86400),
            N_("Load the model in the background this many seconds after the service starts, so the first "
               "answer does not wait for it (0: load on first use). The loaded model takes about 450 MB.")),
    Setting("ai.queue_size", N_("Jobs waiting at most"), 64, integer(1, 100000),
            N_("LLM jobs waiting at most; more get 429.")),
    Setting("ai.job_timeout_s", N_("Job time limit (s)"), 30, number(0.1, 3600), N_("Seconds one LLM job may take.")),
    Setting("ai.draft_max_tokens", N_("Draft length (tokens)"), 160, integer(8, 2048),
            N_("Most tokens of one \"Draft with AI\" reply (a draft stops there, at the model's end or at its "
               "deadline).")),
    Setting("ai.draft_timeout_s", N_("Draft time limit (s)"), 30, number(1, 600),
            N_("Seconds one \"Draft with AI\" reply may generate; it stops there and keeps what it wrote.")),
    Setting("ai.max_drafts", N_("Drafts at once"), 4, integer(1, 100),
            N_("\"Draft with AI\" replies running or waiting at once, every user together (each user or extension has "
               "one at a time: a new one cancels the old); more get 429.")),
    # security
    Setting("security.token_expiry_s", N_("Sign-in lasts (s)"), 28800, integer(60, 30 * 86400),
            N_("Lifetime of access tokens (seconds).")),
    Setting("security.extension_origins", N_("Allowed extensions"), [], string_list(ORIGIN),
            N_("Browser extension origins allowed by CORS, e.g. chrome-extension://<id>.")),
    Setting("security.web_origins", N_("Allowed web pages"), [], string_list(ORIGIN),
            N_("Web page origins allowed by CORS. None by default: the extension reaches the agent from its "
               "background, never from the WhatsApp Web page.")),
    Setting("security.rate_limit_per_s", N_("Requests per second"), 500.0, number(0.1, 1_000_000),
            N_("Sustained requests per second per token and per client.")),
    Setting("security.rate_limit_burst", N_("Request burst"), 1000, integer(1, 1_000_000),
            N_("Requests allowed in a burst.")),
    Setting("security.login_rate_per_min", N_("Login attempts per minute"), 10.0, number(0.1, 10000),
            N_("Login attempts per minute per client.")),
    Setting("security.login_max_failures", N_("Failed logins before lockout"), 5, integer(1, 1000),
            N_("Failed logins for one user before a lockout that doubles with each further failure.")),
    Setting("security.login_lockout_s", N_("First lockout (s)"), 30, integer(1, 86400),
            N_("First lockout after repeated failed logins.")),
    Setting("security.pairing_starts_per_min", N_("Pairings per minute"), 10, integer(1, 1000),
            N_("Browser extension pairings that may be started per minute, all origins together (at most 3 are "
               "pending at once, each allows 5 tries of its 6-digit code).")),
    # monitor
    Setting("monitor.sample_interval_s", N_("Sample every (s)"), 5.0, number(0.1, 3600),
            N_("Seconds between CPU/RAM/disk samples.")),
    Setting("monitor.cpu_percent", N_("CPU alert (%)"), 80.0, number(0, 100), N_("CPU alert threshold (percent).")),
    Setting("monitor.memory_percent", N_("Memory alert (%)"), 90.0, number(0, 100),
            N_("RAM alert threshold (percent).")),
    Setting("monitor.disk_percent", N_("Disk alert (%)"), 85.0, number(0, 100),
            N_("Alert threshold for the disk holding the data (percent).")),
    Setting("monitor.sustain_s", N_("Alert after (s)"), 30.0, number(0, 86400),
            N_("A value must stay above its threshold this long before an alert fires.")),
    Setting("monitor.cooldown_s", N_("Time between alerts (s)"), 600.0, number(0, 86400 * 7),
            N_("Least time between two alerts of one kind.")),
    Setting("monitor.connection_timeout_s", N_("Silent extension alert (s)"), 900.0, number(0, 86400 * 7),
            N_("Alert when the browser extension has sent nothing for this long; 0 disables it.")),
    Setting("monitor.alert_on_negative", N_("Alert on negative messages"), False, boolean,
            N_("Alert on every new negative customer message.")),
    # notifications (shown by the tray process)
    Setting("ui.language", N_("Language"), "auto", choice("auto", "en", "pt_BR", "es"),
            N_("Language of the windows, tray menu, notifications and messages. Automatic follows the system's "
               "language (LANG). It applies when CRM Agent starts again: quit it from the tray menu and open it."),
            restart=True),
    Setting("notifications.enabled", N_("Show notifications"), True, boolean,
            N_("Show desktop notifications for alerts and agent events.")),
    Setting("notifications.muted", N_("Muted events"), [],
            string_list(r"alert\.raised|alert\.resolved|capture\.state|ai\.state|connection\.lost|backup\.failed"
                        r"|capture\.stalled"),
            N_("Event types never shown as notifications (a pairing code always shows: it answers your own action).")),
    Setting("notifications.quiet_hours", N_("Quiet hours"), "",
            text(r"|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d"),
            N_("Local time range without notifications, e.g. 22:00-07:00 (may wrap midnight); empty for none.")),
    Setting("notifications.burst_max", N_("Notifications per burst"), 3, integer(2, 100),
            N_("At most this many notifications per burst window; the rest merge into one 'and N more'.")),
    Setting("notifications.burst_window_s", N_("Burst window (s)"), 60.0, number(1, 3600),
            N_("Length of the burst window (seconds).")),
    Setting("notifications.connection_lost_after_s", N_("Connection lost after (s)"), 10.0, number(0, 3600),
            N_("Notify 'Connection lost' when the tray cannot reach the service for this long.")),
    Setting("notifications.timeout_s", N_("Notification shown for (s)"), 10, integer(1, 600),
            N_("Seconds a notification stays on screen where the desktop honours it.")),
    # sync (to a team hub; the hub token is kept in the 0600 file hub_token in the data directory)
    Setting("sync.hub_url", N_("Team hub address"), "",
            text(r"|https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/-]*)?", 2048),
            N_("Base URL of the team hub, e.g. https://hub.example.com:8443; empty turns sync off. Use https "
               "anywhere but a trusted network."), restart=True),
    Setting("sync.interval_s", N_("Sync every (s)"), 30.0, number(0.05, 86400),
            N_("Seconds between sync rounds."), restart=True),
    Setting("sync.batch_size", N_("Rows per push"), 500, integer(1, 20000),
            N_("Rows per table in one push (a batch always ends on a whole write transaction)."), restart=True),
    Setting("sync.ca_file", N_("Hub CA certificate"), "", file_path(READ),
            N_("PEM file of the CA that signed the hub's certificate (a private CA); empty uses the system CAs."),
            restart=True),
    Setting("sync.timeout_s", N_("Request timeout (s)"), 30.0, number(0.1, 600),
            N_("Seconds one request to the hub may take."), restart=True),
    Setting("sync.retry_attempts", N_("Attempts per request"), 8, integer(1, 1000),
            N_("Attempts per request in one round before the round gives up until the next interval."), restart=True),
    Setting("sync.backoff_initial_s", N_("First retry wait (s)"), 1.0, number(0.001, 600),
            N_("Scale of the exponential backoff between attempts (full jitter: a random wait up to "
               "initial * 2^attempt)."), restart=True),
    Setting("sync.backoff_max_s", N_("Longest retry wait (s)"), 60.0, number(0.001, 3600),
            N_("Longest wait between two attempts."), restart=True),
    Setting("sync.offsite_backups", N_("Off-site backups"), True, boolean,
            N_("Also upload each verified backup to the hub, encrypted here first with backup.key (the hub never "
               "gets the key: keep a copy with `agent.py backup export-key`)."), restart=True),
    Setting("sync.hub_backups_keep", N_("Off-site backups kept (hub)"), 7, integer(1, 1000),
            N_("On a hub: the newest off-site backups kept per agent; older ones are removed when a new one is "
               "complete."), restart=True),
    Setting("sync.hub_backup_max_bytes", N_("Largest off-site backup (hub)"), 4 * 1024**3, integer(1024 * 1024, 2**40),
            N_("On a hub: the largest off-site backup file an agent may upload."), restart=True),
    # logging
    Setting("logging.level", N_("Log level"), "INFO", choice("DEBUG", "INFO", "WARNING", "ERROR"), N_("Log level.")),
    Setting("logging.file", N_("Log file"), "", file_path(WRITE),
            N_("Log file; empty means logs/agent.log in the data directory. Set through the API (the settings "
               "window), it must be inside the data directory."), restart=True),
    Setting("logging.max_bytes", N_("Rotate at (bytes)"), 5 * 1024 * 1024, integer(10_000, 1024 * 1024 * 1024),
            N_("Size at which the log file rotates."), restart=True),
    Setting("logging.backup_count", N_("Rotated files kept"), 5, integer(0, 1000),
            N_("Rotated log files kept."), restart=True),
)

SETTINGS_BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}

# The keys the running service applies at once when they are saved through PUT /api/system/config
# (api/routes/config.py holds how). It reads every other key once, when it starts, whatever `restart` says.
LIVE_KEYS = frozenset({"capture.paused", "logging.level", "database.max_backups", "database.backup_encryption",
                       "database.raw_retention_days", "database.log_retention_days",
                       "database.message_retention_days", "database.vacuum_min_free_percent", "monitor.cpu_percent",
                       "monitor.memory_percent", "monitor.disk_percent", "monitor.sustain_s", "monitor.cooldown_s",
                       "monitor.connection_timeout_s", "monitor.alert_on_negative"})
# Sections the desktop agent (tray and windows) reads, once when it starts.
AGENT_SECTIONS = ("notifications", "ui")
NOW, SERVICE_RESTART, AGENT_RESTART = "now", "service restart", "desktop agent restart"


def takes_effect(setting: Setting) -> str:
    """When a saved change is used: now, after a service restart, or after a desktop agent restart."""
    if setting.section in AGENT_SECTIONS:
        return AGENT_RESTART
    if setting.key in LIVE_KEYS and not setting.restart:
        return NOW
    return SERVICE_RESTART
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(s.section for s in SETTINGS))


class Config:
    """Validated settings: defaults overlaid with the user's config.json. Read with config["section.key"]."""

    def __init__(self, values: dict[str, Any], path: Path | None = None) -> None:
        self._values = values
        self.path = path

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def as_sections(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
        for key, value in self._values.items():
            section, name = key.split(".", 1)
            out[section][name] = copy.deepcopy(value)
        return out

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        values = dict(self._values)
        values.update(validate_flat(overrides))
        return Config(values, self.path)


def defaults() -> dict[str, Any]:
    return {s.key: copy.deepcopy(s.default) for s in SETTINGS}


def validate_flat(flat: dict[str, Any]) -> dict[str, Any]:
    """Validate {"section.key": value}; raise ConfigError naming the first bad or unknown key."""
    out = {}
    for key, value in flat.items():
        setting = SETTINGS_BY_KEY.get(key)
        if setting is None:
            raise ConfigError(key, "unknown setting")
        try:
            out[key] = setting.validate(value)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
    return out


def flatten_sections(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError("(root)", "config must be a JSON object of sections")
    flat: dict[str, Any] = {}
    for section, entries in data.items():
        if section not in SECTIONS:
            raise ConfigError(section, "unknown section")
        if not isinstance(entries, dict):
            raise ConfigError(section, "section must be a JSON object")
        for name, value in entries.items():
            flat[f"{section}.{name}"] = value
    return flat


def read_user_file(path: Path) -> dict[str, Any]:
    """The user's overrides, validated and flattened; {} when the file does not exist."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError("(file)", f"{path} is not valid JSON: line {exc.lineno} column {exc.colno}") from None
    return validate_flat(flatten_sections(data))


def load_config(path: Path | None) -> Config:
    values = defaults()
    if path is not None:
        values.update(read_user_file(path))
    return Config(values, path)


def save_overrides(path: Path, changes: dict[str, Any]) -> Config:
    """Validate changes, merge them into the user's file and write it atomically.

    On any error nothing is written, so the user's file is never left half-updated.
    """
    current = read_user_file(path)
    current.update(validate_flat(changes))
    nested: dict[str, dict[str, Any]] = {}
    for key, value in sorted(current.items()):
        section, name = key.split(".", 1)
        nested.setdefault(section, {})[name] = value
    write_private_file(path, json.dumps(nested, indent=2, ensure_ascii=False) + "\n")
    return load_config(path)


def describe(setting: Setting) -> dict[str, Any]:
    """What a client needs to edit a setting: its type and limits (from the validator), default and help."""
    spec = dict(getattr(setting.validate, "spec", {"type": "string"}))
    return {"key": setting.key, "section": setting.section, "name": setting.name, **spec,
            "default": copy.deepcopy(setting.default), "help": setting.help}


def update_user_file(path: Path, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate changes and write the user's file atomically (0600), keeping only values that differ from
    their default. Returns the new overrides. Nothing is written when a value is bad (ConfigError)."""
    current = read_user_file(path)
    current.update(validate_flat(changes))
    kept = {key: value for key, value in current.items() if value != SETTINGS_BY_KEY[key].default}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in sorted(kept.items()):
        section, name = key.split(".", 1)
        nested.setdefault(section, {})[name] = value
    write_private_file(path, json.dumps(nested, indent=2, ensure_ascii=False) + "\n")
    return kept


def env_name(key: str) -> str:
    section, name = key.split(".", 1)
    return f"CRM_AGENT__{section.upper()}__{name.upper()}"


def load_effective_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """The settings a process runs with: defaults, then the user's file, then the environment's overrides."""
    return load_config(path).with_overrides(env_overrides(environ))


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """CRM_AGENT__SECTION__KEY=json-value overrides (handy for tests and containers); environ: os.environ."""
    out: dict[str, Any] = {}
    for name, raw in (os.environ if environ is None else environ).items():
        if not name.startswith("CRM_AGENT__"):
            continue
        parts = name[len("CRM_AGENT__"):].lower().split("__")
        if len(parts) != 2:
            continue
        try:
            out[f"{parts[0]}.{parts[1]}"] = json.loads(raw)
        except json.JSONDecodeError:
            out[f"{parts[0]}.{parts[1]}"] = raw
    return out
