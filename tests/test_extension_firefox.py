"""The browser extension end to end in Firefox: Debian's firefox-esr, headless, driven over its built-in WebDriver
BiDi (tests/firefox_bidi.py), with the Firefox build of the extension (scripts/build-extension.sh
--firefox-dir-only) installed as a temporary add-on, the real agent on port 0 and the fake WhatsApp Web over HTTPS
on loopback (tests/fake_whatsapp/, tests/extension_helpers.FakeWhatsApp).

How Firefox is made to fit:
- `--remote-allow-system-access`: without it, BiDi refuses to navigate to a moz-extension:// page ("Navigation to
  ... is not allowed in this context") and does not list or script extension pages; with it, the options page is
  an ordinary context for browsingContext.navigate and script.evaluate.
- the pref `extensions.webextensions.uuids` pins the extension's moz-extension://<uuid> origin (random per
  install otherwise), so the test knows the origin the agent must bind at pairing;
- the pref `network.dns.localDomains` makes web.whatsapp.com resolve to 127.0.0.1 (Firefox has no port mapping:
  the page is https://web.whatsapp.com:<port>/, which the content script's match pattern still matches), and
  the session's acceptInsecureCerts takes the fake page's self-signed certificate;
- a temporary install grants the manifest's host permissions, so the options page's permissions.request on Pair
  has nothing to ask (checked below: a prompt would block a headless run).

Environment: CRM_AGENT_FIREFOX (default /usr/bin/firefox-esr). Skipped when it is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.extension_helpers import FakeWhatsApp, extensions, pending_pairings, wait_for_messages
from tests.firefox_bidi import Bidi, Firefox
from tests.helpers import ROOT, RunningService, start_service, wait_until

FIREFOX = os.environ.get("CRM_AGENT_FIREFOX", "/usr/bin/firefox-esr")
GECKO_ID = "crm-agent@crm-agent.local"  # scripts/firefox-manifest.js
HOST_PERMISSIONS = ["http://127.0.0.1/*", "http://localhost/*", "https://web.whatsapp.com/*"]

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(FIREFOX).exists(),
                       reason=f"{FIREFOX} is not installed (apt-get install firefox-esr, or set CRM_AGENT_FIREFOX)"),
    pytest.mark.skipif(shutil.which("node") is None,
                       reason="building the Firefox extension needs node (scripts/system-packages.sh --test)"),
]

# Keep Firefox off the network and quiet (the remote agent adds its own recommended automation prefs).
QUIET_PREFS: dict[str, Any] = {
    "app.update.enabled": False,
    "app.update.auto": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.topsites": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "app.normandy.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.proxy.type": 0,  # no system proxy: every host here is loopback
    "browser.tabs.warnOnClose": False,
}


# -- the pieces ---------------------------------------------------------------------------------------------------


def build_firefox_extension(into: Path) -> Path:
    """scripts/build-extension.sh --firefox-dir-only, then a private copy (a later build cannot change it under
    the running browser)."""
    result = subprocess.run(["sh", "scripts/build-extension.sh", "--firefox-dir-only"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"the Firefox build failed:\n{result.stdout}\n{result.stderr}"
    built = ROOT / "build" / "extension-firefox"
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["browser_specific_settings"]["gecko"]["id"] == GECKO_ID, manifest
    shutil.copytree(built, into)
    return into


class FirefoxSession:
    """A headless Firefox with the extension installed, one BiDi session, and the pages the test uses."""

    def __init__(self, workdir: Path, ext_dir: Path, wa: FakeWhatsApp) -> None:
        self.uuid = str(uuid.uuid4())
        self.origin = f"moz-extension://{self.uuid}"
        self.wa = wa
        prefs = {**QUIET_PREFS,
                 "extensions.webextensions.uuids": json.dumps({GECKO_ID: self.uuid}),
                 "network.dns.localDomains": "web.whatsapp.com"}
        self.firefox = Firefox(FIREFOX, workdir / "profile", prefs, workdir / "firefox.log",
                               args=("--remote-allow-system-access",))
        try:
            self.bidi = Bidi(self.firefox.bidi_url)
            caps = self.bidi.call("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
            self.version = caps["capabilities"].get("browserVersion")
            self.bidi.call("session.subscribe", {"events": ["log.entryAdded"]})
            installed = self.bidi.call("webExtension.install",
                                       {"extensionData": {"type": "path", "path": str(ext_dir)}})
            assert installed.get("extension") == GECKO_ID, installed
        except BaseException:
            self.close()
            raise

    def new_tab(self, url: str) -> str:
        context = self.bidi.call("browsingContext.create", {"type": "tab"})["context"]
        self.navigate(context, url)
        return context

    def navigate(self, context: str, url: str) -> None:
        self.bidi.call("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})

    def console_report(self) -> str:
        lines = []
        for event in self.bidi.events if hasattr(self, "bidi") else []:
            p = event.get("params", {})
            lines.append(f"[{p.get('level')}] {p.get('source', {}).get('context', '?')}: {p.get('text')}")
        return "\n".join(lines[-200:])

    def close(self) -> None:
        if hasattr(self, "bidi"):
            try:
                self.bidi.call("browser.close", timeout=5)  # a clean shutdown: Firefox reaps its own processes
            except Exception:
                pass
            self.bidi.close()
        self.firefox.stop(timeout=5)


class Options:
    """moz-extension://<uuid>/options.html, through the same attributes as the Chromium tests."""

    def __init__(self, session: FirefoxSession) -> None:
        self.s = session
        self.url = f"{session.origin}/options.html"
        self.context = session.new_tab(self.url)
        self.wait_ready()

    def js(self, expression: str) -> Any:
        return self.s.bidi.evaluate(self.context, expression)

    def state(self) -> str | None:
        return self.js("document.querySelector('[data-role=\"status\"]')?.dataset.state ?? null")

    def error_text(self) -> str:
        return self.js("document.querySelector('[data-role=\"error\"]').textContent")

    def wait_ready(self) -> None:
        """init() has run to its end: the status is no longer "Checking…" and the agent check has answered (it
        writes the address field, so typing before it ends would race with it)."""
        def ready() -> bool:
            return bool(self.js("""(() => {
              const status = document.querySelector('[data-role="status"]');
              const agent = document.querySelector('[data-role="agent"]');
              return !!status && !status.textContent.includes('…') && !!agent.textContent
                && !agent.textContent.includes('…');
            })()"""))
        wait_until(ready, timeout=20, interval=0.1, message="the options page to finish loading")

    def wait_state(self, state: str, timeout: float = 20.0) -> None:
        wait_until(lambda: self.state() == state, timeout=timeout, interval=0.1,
                   message=f'the options page status data-state="{state}" (it is {self.state()!r})')

    def reload(self) -> None:
        self.s.bidi.call("browsingContext.reload", {"context": self.context, "wait": "complete"})
        self.wait_ready()

    def _fill_and_click(self, field: str, value: str, action: str) -> None:
        # As a user (or Playwright's click) would: only once the field is shown and the button enabled (the page
        # disables a button while its previous click is being handled; a click on it then does nothing).
        wait_until(lambda: self.s.bidi.call_function(self.context, """(field, action) => {
          const input = document.querySelector(`[name="${field}"]`);
          const button = document.querySelector(`[data-action="${action}"]`);
          return !!input && !!button && !button.disabled && !input.disabled && input.getClientRects().length > 0
            && button.getClientRects().length > 0;
        }""", field, action), timeout=20, interval=0.05, message=f"{field} and an enabled {action} button")
        # userActivation: the click runs as a user's would (the Pair handler may call permissions.request)
        self.s.bidi.call_function(self.context, """(field, value, action) => {
          const input = document.querySelector(`[name="${field}"]`);
          input.focus();
          input.value = value;
          input.dispatchEvent(new Event('input', {bubbles: true}));
          input.dispatchEvent(new Event('change', {bubbles: true}));
          document.querySelector(`[data-action="${action}"]`).click();
        }""", field, value, action, user_activation=True)

    def start_pairing(self, agent_url: str) -> None:
        self._fill_and_click("agent_url", agent_url, "pair")

    def confirm(self, code: str) -> None:
        self._fill_and_click("code", code, "confirm")


class WhatsApp:
    def __init__(self, session: FirefoxSession) -> None:
        self.s = session
        self.context = session.new_tab(f"https://web.whatsapp.com:{session.wa.port}/")
        wait_until(lambda: self.s.bidi.evaluate(self.context, "!!(window.fakeWA && window.fakeWA.ready)"),
                   timeout=20, interval=0.1, message="the fake WhatsApp page")

    def call(self, method: str, *args: Any) -> Any:
        return self.s.bidi.call_function(self.context, "(m, args) => window.fakeWA[m](...args)", method, list(args))

    def get(self, name: str) -> Any:
        return self.s.bidi.call_function(self.context, "(n) => window.fakeWA[n]", name)


# -- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path) -> Iterator[RunningService]:
    running = start_service(tmp_path / "agent")
    yield running
    running.stop()


@pytest.fixture
def firefox(tmp_path, fake_whatsapp: FakeWhatsApp) -> Iterator[FirefoxSession]:
    ext_dir = build_firefox_extension(tmp_path / "extension-firefox")
    session = FirefoxSession(tmp_path / "firefox", ext_dir, fake_whatsapp)
    try:
        yield session
    finally:
        session.close()
        print(f"Firefox {session.version}; console:\n{session.console_report()}\n-- firefox log (tail):\n"
              f"{session.firefox.log_tail()}")  # shown by pytest when the test fails
    assert session.firefox.process.poll() is not None, "Firefox is still running"
    wait_until(lambda: not session.firefox.leftover_processes(), timeout=10, interval=0.1,
               message="Firefox's processes to end")


# -- the test -----------------------------------------------------------------------------------------------------


def test_firefox_pairs_captures_and_is_revoked(firefox: FirefoxSession, agent: RunningService) -> None:
    svc = agent
    options = Options(firefox)
    assert options.state() == "unpaired"
    # a prompt would hang a headless run: the temporary install must have granted the host permissions
    granted = firefox.bidi.evaluate(options.context,
                                    f"browser.permissions.contains({{origins: {json.dumps(HOST_PERMISSIONS)}}})")
    assert granted is True, "the extension's host permissions are not granted after the temporary install"

    # -- pairing: a wrong code, then the right one
    options.start_pairing(svc.url)
    [pending] = wait_until(lambda: pending_pairings(svc), timeout=20, interval=0.1, message="a pending pairing")
    assert pending["origin"] == firefox.origin, pending
    assert pending["browser"] == "firefox" and pending["tries_left"] == 5, pending
    code = pending["code"]
    options.wait_state("pairing")

    options.confirm(f"{(int(code) + 1) % 1_000_000:06d}")
    wait_until(lambda: pending_pairings(svc)[0]["tries_left"] == 4, timeout=20, interval=0.1,
               message="the wrong code to be counted")
    wait_until(options.error_text, timeout=20, interval=0.1, message="the wrong code's error on the options page")
    assert options.state() != "paired"
    assert extensions(svc) == []

    options.confirm(code)
    options.wait_state("paired")
    [ext] = extensions(svc)
    assert ext["state"] == "active" and ext["browser"] == "firefox", ext
    assert ext["origin"] == firefox.origin, ext
    assert pending_pairings(svc) == []
    options.reload()  # kept, not just shown
    options.wait_state("paired")

    # -- capture: an incoming and an outgoing message of an open chat
    wa = WhatsApp(firefox)
    phone = wa.get("CHATS")["phone"]
    incoming = wa.call("addMessage", {"chat": phone, "direction": "in", "text": "Oi, vocês entregam no sábado?"})
    wa.call("openChat", phone)
    outgoing = wa.call("addMessage", {"direction": "out", "text": "Entregamos sim, até as 14h."})
    stored = wait_for_messages(svc, [incoming, outgoing], timeout=30)
    got = {name: (stored[i]["direction"], stored[i]["type"], stored[i]["content"], stored[i]["customer"]["phone"],
                  stored[i]["customer"]["name"]) for name, i in (("in", incoming), ("out", outgoing))}
    assert got == {
        "in": ("in", "text", "Oi, vocês entregam no sábado?", "+5511987654321", "Maria Silva"),
        "out": ("out", "text", "Entregamos sim, até as 14h.", "+5511987654321", "Maria Silva"),
    }, got

    # -- revoke: the options page shows the extension unpaired
    r = svc.request("DELETE", f"/api/extensions/{ext['id']}", token=svc.local_token)
    assert r.status_code == 200 and r.json()["state"] == "revoked", r.text
    options.reload()
    options.wait_state("unpaired")
    assert extensions(svc)[0]["state"] == "revoked"
