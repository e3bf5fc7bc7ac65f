"""Drive the browser extension in a real Chromium against a real agent and a fake WhatsApp Web.

- `FakeWhatsApp`: an HTTPS server on a loopback port (a Python thread with ssl and a self-signed certificate
  made here with `cryptography`) serving tests/fake_whatsapp/ for https://web.whatsapp.com (Chromium maps the
  name to it with --host-resolver-rules) and for a second origin, https://shop.example.net, that plays an
  ordinary web site.
- `launch_browser()`: Debian's /usr/bin/chromium through Playwright for Python (no browser download), headless,
  with the unpacked extension loaded, a persistent profile (so a test can restart the browser on it), and the
  flags that keep Chromium off the network.
- `Browser`: the extension's service worker and id, its options page (`OptionsPage`: agent URL, pairing), the
  fake WhatsApp tab (`WhatsAppTab`: the page's window.fakeWA API), and `captures`: every capture request the
  service worker finished, read from Playwright's service-worker network events (so a test can prove that no
  message was delivered twice).
- agent-side checks through the API with the local token: `pending_code()`, `stored_messages()`,
  `wait_for_messages()`.

Environment: CRM_AGENT_EXTENSION_DIR (default ./extension) and CRM_AGENT_CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, RunningService, wait_until

EXTENSION_DIR = Path(os.environ.get("CRM_AGENT_EXTENSION_DIR") or ROOT / "extension").resolve()
CHROMIUM = os.environ.get("CRM_AGENT_CHROMIUM", "/usr/bin/chromium")
FAKE_WA_DIR = ROOT / "tests" / "fake_whatsapp"
WA_HOST = "web.whatsapp.com"
OTHER_HOST = "shop.example.net"
WA_URL = f"https://{WA_HOST}/"
CAPTURE_PATHS = ("/api/messages/capture", "/api/messages/capture/batch")

# Playwright reports a Chromium service worker's own requests only with this switch (read by its driver process,
# so it must be set before sync_playwright() starts).
os.environ.setdefault("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")

# Chromium's background traffic (component updates, safe browsing, sync, field trials) is noise here and would
# try to reach the internet.
QUIET_FLAGS = ("--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", "--no-default-browser-check", "--disable-default-apps",
               "--disable-features=Translate,OptimizationHints,MediaRouter")


def require_extension() -> Path:
    manifest = EXTENSION_DIR / "manifest.json"
    if not manifest.exists():
        raise AssertionError(f"no extension to test: {manifest} is missing (set CRM_AGENT_EXTENSION_DIR?)")
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: run scripts/system-packages.sh --test (the test command does)")
    return EXTENSION_DIR


# -- the fake WhatsApp Web over HTTPS -------------------------------------------------------------------------


def make_certificate(directory: Path, hosts: tuple[str, ...] = (WA_HOST, OTHER_HOST)) -> tuple[Path, Path]:
    """A self-signed certificate for these names and 127.0.0.1 (Chromium runs with --ignore-certificate-errors
    too: a test CA would need the profile's NSS database)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt_names = [x509.DNSName(h) for h in hosts] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png", ".ico": "image/x-icon"}


class FakeWhatsApp:
    """HTTPS on 127.0.0.1:<port>: tests/fake_whatsapp/ for every Host. `hits` counts requests per Host header."""

    def __init__(self, workdir: Path) -> None:
        cert, key = make_certificate(workdir / "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.hits: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_port

    def url(self, host: str = WA_HOST, path: str = "/") -> str:
        return f"https://{host}{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                hits[(self.headers.get("Host") or "").split(":")[0]] += 1
                path = self.path.split("?")[0]
                if path == "/favicon.ico":
                    self._send(204, b"", "image/x-icon")
                    return
                name = "index.html" if path in ("", "/") else path.lstrip("/")
                target = (FAKE_WA_DIR / name).resolve()
                if FAKE_WA_DIR.resolve() not in target.parents or not target.is_file():
                    self._send(404, b"not found", "text/plain")
                    return
                self._send(200, target.read_bytes(), CONTENT_TYPES.get(target.suffix, "application/octet-stream"))

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        return Handler


# -- the browser ------------------------------------------------------------------------------------------------


@dataclass
class CaptureLog:
    """Capture requests the service worker finished (it got an HTTP answer), with the message ids they carried."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def record(self, request: Any) -> None:  # a playwright Request
        path = "/" + request.url.split("/", 3)[-1].split("?")[0] if request.url.count("/") >= 3 else ""
        if request.method != "POST" or path not in CAPTURE_PATHS:
            return
        try:
            body = json.loads(request.post_data or "null")
        except ValueError:
            body = None
        items = body.get("messages", []) if path.endswith("/batch") and isinstance(body, dict) else [body]
        ids = [item.get("message_id") for item in items if isinstance(item, dict)]
        self.requests.append({"path": path, "ids": ids, "at": time.time()})

    def sent(self) -> Counter[str]:
        return Counter(i for r in self.requests for i in r["ids"])

    def sent_more_than_once(self) -> dict[str, int]:
        return {k: n for k, n in self.sent().items() if n > 1}

    def paths(self) -> Counter[str]:
        return Counter(r["path"] for r in self.requests)


class Browser:
    def __init__(self, context: Any, profile_dir: Path, wa: FakeWhatsApp) -> None:
        self.context = context
        self.profile_dir = profile_dir
        self.wa = wa
        self.captures = CaptureLog()
        self.console: list[str] = []  # the pages' and the service worker's console, for failure reports
        context.on("requestfinished", self.captures.record)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.console.append(f"[weberror] {error.error}"))
        context.on("page", lambda page: page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}")))
        worker = self.service_worker()
        self.extension_id = worker.url.split("/")[2]

    def _console(self, msg: Any) -> None:
        try:
            where = msg.page.url if msg.page else "worker"
        except Exception:
            where = "?"
        self.console.append(f"[{msg.type}] {where}: {msg.text}")

    def console_report(self) -> str:
        return "\n".join(self.console[-200:])

    def service_worker(self, timeout: float = 15.0) -> Any:
        for worker in self.context.service_workers:
            if worker.url.startswith("chrome-extension://"):
                return worker
        return self.context.wait_for_event("serviceworker", timeout=timeout * 1000)

    def worker_eval(self, expression: str, arg: Any = None) -> Any:
        return self.service_worker().evaluate(expression, arg)

    def stored_text(self) -> str:
        """Everything the extension keeps in chrome.storage.local, as JSON (to look for queued message ids)."""
        return self.worker_eval("async () => JSON.stringify(await chrome.storage.local.get(null))")

    def options(self) -> OptionsPage:
        page = self.context.new_page()
        page.goto(f"chrome-extension://{self.extension_id}/options.html")
        return OptionsPage(page)

    def whatsapp(self, host: str = WA_HOST) -> WhatsAppTab:
        page = self.context.new_page()
        page.goto(self.wa.url(host))
        page.wait_for_function("window.fakeWA && window.fakeWA.ready")
        return WhatsAppTab(page)

    def pump(self) -> None:
        """Let Playwright deliver pending events (the capture log fills only while Playwright runs)."""
        self.context.pages[0].evaluate("1") if self.context.pages else self.service_worker().evaluate("1")

    def close(self) -> None:
        try:
            self.context.close()
        except Exception:
            pass


def browser_args(ext: Path, wa_port: int, extra: tuple[str, ...] = ()) -> list[str]:
    return ["--headless=new", "--no-sandbox", f"--disable-extensions-except={ext}", f"--load-extension={ext}",
            f"--host-resolver-rules=MAP {WA_HOST} 127.0.0.1:{wa_port}, MAP {OTHER_HOST} 127.0.0.1:{wa_port}",
            "--ignore-certificate-errors", *QUIET_FLAGS, *extra]


def launch_browser(playwright: Any, profile_dir: Path, wa: FakeWhatsApp, extra_args: tuple[str, ...] = (),
                   ext: Path | None = None, ui_language: str = "en-US") -> Browser:
    """ui_language: Chromium's own language, which chrome.i18n follows (the extension's _locales). Linux Chromium
    takes it from LANGUAGE (--lang is honoured on Windows); both are set, so the machine's LANG never decides."""
    ext = ext or require_extension()
    env = {**os.environ, "LANGUAGE": ui_language.replace("-", "_")}
    context = playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, headless=True, ignore_default_args=["--disable-extensions"],
        args=browser_args(ext, wa.port, (f"--lang={ui_language}", *extra_args)),
        viewport={"width": 1280, "height": 800}, locale="pt-BR", timezone_id="America/Sao_Paulo", env=env)
    context.set_default_timeout(20_000)
    return Browser(context, profile_dir, wa)


# -- the extension's pages ------------------------------------------------------------------------------------


class OptionsPage:
    """chrome-extension://<id>/options.html through the attributes the issue fixes (see docs/extension-protocol.md)."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def state(self) -> str | None:
        return self.page.get_attribute('[data-role="status"]', "data-state")

    def status_text(self) -> str:
        return self.page.inner_text('[data-role="status"]')

    def wait_state(self, state: str, timeout: float = 20.0) -> None:
        self.page.wait_for_selector(f'[data-role="status"][data-state="{state}"]', timeout=timeout * 1000)

    def start_pairing(self, agent_url: str) -> None:
        self.page.fill('[name="agent_url"]', agent_url)
        self.page.click('[data-action="pair"]')

    def confirm(self, code: str) -> None:
        self.page.fill('[name="code"]', code)
        self.page.click('[data-action="confirm"]')


def pending_pairings(service: RunningService) -> list[dict[str, Any]]:
    r = service.get("/api/pairing/pending", token=service.local_token)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def pending_code(service: RunningService, timeout: float = 20.0) -> str:
    items = wait_until(lambda: pending_pairings(service), timeout=timeout, message="a pending pairing")
    assert len(items) == 1, items
    return items[0]["code"]


SHOWN_FIELDS = """() => ['agent_url', 'status', 'agent', 'error'].map((what) => {
  const el = document.querySelector(`[name="${what}"], [data-role="${what}"]`);
  return `${what}: ${el ? (el.value ?? el.textContent) : '-'}`;
}).join(' | ')"""


def pair(browser: Browser, service: RunningService) -> OptionsPage:
    """Pair through the options page as a user does: agent URL, Pair, the code shown on the desktop, Confirm."""
    options = browser.options()
    options.start_pairing(service.url)
    try:
        code = pending_code(service)
    except AssertionError as exc:  # say what the page showed: the agent's log only says nothing arrived
        raise AssertionError(f"{exc}; the options page showed {options.page.evaluate(SHOWN_FIELDS)}") from exc
    options.confirm(code)
    options.wait_state("paired")
    return options


def extensions(service: RunningService) -> list[dict[str, Any]]:
    r = service.get("/api/extensions", token=service.local_token)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# -- the fake WhatsApp tab --------------------------------------------------------------------------------------


class WhatsAppTab:
    def __init__(self, page: Any) -> None:
        self.page = page

    def call(self, method: str, *args: Any) -> Any:
        return self.page.evaluate("([m, args]) => window.fakeWA[m](...args)", [method, list(args)])

    def get(self, name: str) -> Any:
        return self.page.evaluate("(n) => window.fakeWA[n]", name)

    @property
    def chats(self) -> dict[str, str]:
        return self.get("CHATS")

    @property
    def members(self) -> dict[str, dict[str, str]]:
        return self.get("MEMBERS")

    def open_chat(self, jid: str) -> int:
        return self.call("openChat", jid)

    def add(self, **spec: Any) -> str:
        return self.call("addMessage", spec)

    def add_many(self, specs: list[dict[str, Any]]) -> list[str]:
        return self.call("addMessages", specs)

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_function("window.fakeWA && window.fakeWA.ready")


# -- the agent's view -------------------------------------------------------------------------------------------


def stored_messages(service: RunningService, limit: int | None = None) -> dict[str, dict[str, Any]]:
    """The agent's messages keyed by message_id (newest first pages of 200, all of them unless limit)."""
    out: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        r = service.get(f"/api/messages?limit=200&offset={offset}", token=service.local_token)
        assert r.status_code == 200, r.text
        page = r.json()
        for item in page["items"]:
            assert item["message_id"] not in out, f"message stored twice: {item['message_id']}"
            out[item["message_id"]] = item
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"] or (limit and offset >= limit):
            return out


def message_total(service: RunningService) -> int:
    r = service.get("/api/messages?limit=1", token=service.local_token)
    assert r.status_code == 200, r.text
    return r.json()["total"]


def wait_for_messages(service: RunningService, ids: list[str], timeout: float = 30.0) -> dict[str, dict[str, Any]]:
    """Wait until every id is stored; return those messages."""
    wanted = set(ids)

    def arrived() -> dict[str, dict[str, Any]] | None:
        if message_total(service) < len(wanted):
            return None
        stored = stored_messages(service)
        return {k: v for k, v in stored.items() if k in wanted} if wanted <= stored.keys() else None

    try:
        return wait_until(arrived, timeout=timeout, interval=0.1, message=f"{len(wanted)} messages at the agent")
    except AssertionError:
        missing = wanted - stored_messages(service).keys()
        raise AssertionError(f"{len(missing)} of {len(wanted)} messages never reached the agent: "
                             f"{sorted(missing)[:5]}") from None


def health(service: RunningService) -> dict[str, Any]:
    return service.get("/api/health", token=False).json()
