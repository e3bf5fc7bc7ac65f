"""The browser extension end to end: Debian's Chromium (Playwright, headless) with extension/ loaded unpacked, the
real agent on port 0, and a fake WhatsApp Web served over HTTPS on loopback (tests/fake_whatsapp/).

Everything is checked where a user would see it (the options page, the in-page panel, the compose box) and
where the data lands (the agent's API with the local token). Screenshots go to the folder the run prints at
the end (tests/ui_helpers.SCREENSHOTS).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket

from tests.extension_helpers import (
    OTHER_HOST,
    Browser,
    FakeWhatsApp,
    extensions,
    health,
    launch_browser,
    message_total,
    pair,
    pending_code,
    pending_pairings,
    stored_messages,
    wait_for_messages,
)
from tests.helpers import ROOT, RunningService, start_service, wait_until, write_config
from tests.ui_helpers import SCREENSHOTS

pytestmark = pytest.mark.timeout(240)


class Agent:
    """The agent under test; restart() brings it back on the same data directory and port, as after an update."""

    def __init__(self, data_dir) -> None:
        self.data_dir = data_dir
        self.service: RunningService | None = start_service(data_dir)
        self.port = self.service.port

    @property
    def svc(self) -> RunningService:
        assert self.service is not None, "the agent is stopped"
        return self.service

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def restart(self) -> RunningService:
        self.stop()
        self.service = start_service(self.data_dir, extra_args=("--port", str(self.port)))
        return self.service


@pytest.fixture
def agent(tmp_path) -> Iterator[Agent]:
    running = Agent(tmp_path / "agent")
    yield running
    running.stop()


@pytest.fixture
def browser(playwright_driver, fake_whatsapp: FakeWhatsApp, tmp_path) -> Iterator[Browser]:
    opened = launch_browser(playwright_driver, tmp_path / "profile", fake_whatsapp)
    yield opened
    opened.close()
    print("browser console:\n" + opened.console_report())  # shown by pytest when the test fails


@pytest.fixture
def paired(browser: Browser, agent: Agent) -> Browser:
    options = pair(browser, agent.svc)
    options.page.close()
    return browser


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def msg_id(data_id: str) -> str:
    """The WhatsApp message id inside a row's data-id (to render the same row again after a reload)."""
    return data_id.split("_")[2]


def assert_sent_once(browser: Browser, ids: list[str]) -> None:
    browser.pump()
    sent = browser.captures.sent()
    twice = {i: n for i, n in sent.items() if n > 1}
    assert not twice, f"messages the agent received more than once: {twice}"
    assert all(sent[i] == 1 for i in ids), {i: sent[i] for i in ids if sent[i] != 1}


# -- pairing --------------------------------------------------------------------------------------------------


def test_pairing_with_a_wrong_then_the_right_code(browser: Browser, agent: Agent) -> None:
    svc = agent.svc
    # A fresh install opens its options page by itself: pairing is the first thing a user must do.
    options_url = f"chrome-extension://{browser.extension_id}/options.html"
    open_tabs = "chrome.tabs.query({}).then((tabs) => tabs.map((tab) => tab.url))"  # the worker sees them all
    wait_until(lambda: options_url in browser.worker_eval(open_tabs), timeout=15,
               message="the options page to open after the install")
    options = browser.options()
    options.wait_state("unpaired")
    options.start_pairing(svc.url)
    [pending] = wait_until(lambda: pending_pairings(svc), message="a pending pairing")
    assert pending["origin"] == f"chrome-extension://{browser.extension_id}", pending
    assert pending["browser"] == "chromium" and pending["tries_left"] == 5, pending
    code = pending["code"]
    assert re.fullmatch(r"\d{6}", code), code

    options.confirm(f"{(int(code) + 1) % 1_000_000:06d}")
    wait_until(lambda: pending_pairings(svc)[0]["tries_left"] == 4, message="the wrong code to be counted")
    assert options.state() != "paired"
    assert extensions(svc) == []
    screenshot(options.page, "extension-options-wrong-code")

    options.confirm(code)
    options.wait_state("paired")
    [ext] = extensions(svc)
    assert ext["state"] == "active" and ext["browser"] == "chromium", ext
    assert ext["origin"] == f"chrome-extension://{browser.extension_id}", ext
    assert pending_pairings(svc) == []
    assert code not in browser.stored_text(), "the pairing code was kept in extension storage"
    screenshot(options.page, "extension-options-paired")

    options.page.reload()  # the pairing is kept, not just shown
    options.wait_state("paired")

    # the token the extension really holds is least-privilege, even from its own origin
    token = json.loads(browser.stored_text()).get("agent.token")
    assert token, "no token in the extension's storage (the key may have been renamed)"
    headers = {"Authorization": f"Bearer {token}", "Origin": ext["origin"]}
    for method, path, body in (("GET", "/api/system/config", None), ("PUT", "/api/system/config", {"changes": {}}),
                               ("GET", "/api/system/logs", None), ("GET", "/api/users", None),
                               ("POST", "/api/system/backup", {}), ("POST", "/api/system/restore", {"file": "x"}),
                               ("GET", "/api/extensions", None), ("GET", "/api/pairing/pending", None)):
        r = svc.request(method, path, token=False, headers=headers, json=body)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    r = svc.request("GET", "/api/extension/me", token=False, headers=headers)
    assert r.status_code == 200 and r.json()["extension"]["id"] == ext["id"], r.text


def test_an_address_typed_while_another_is_looked_up_is_kept(browser: Browser, agent: Agent) -> None:
    """Seen in CI on a loaded machine: the options page's first lookup answered after the test typed the agent's
    address, wrote its own address back into the field, and Pair went to another agent. A lookup held open by a
    server that accepts and never answers makes the order certain."""
    svc = agent.svc
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as silent:
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
        options = browser.options()
        options.wait_state("unpaired")
        options.page.fill('[name="agent_url"]', silent_url)
        options.page.click('[data-action="find"]')
        wait_until(lambda: accepted, message="the lookup of the silent address to connect")
        options.start_pairing(svc.url)  # typed while that lookup is still waiting
        wait_until(lambda: pending_pairings(svc), message="a pending pairing at the typed address")
        accepted[0].close()  # the stale lookup now answers: unreachable
        options.page.wait_for_timeout(1500)
        assert options.page.input_value('[name="agent_url"]') == svc.url
        assert svc.url in options.page.inner_text('[data-role="agent"]')
        options.confirm(pending_code(svc))
        options.wait_state("paired")


# -- capture ----------------------------------------------------------------------------------------------------


def _at_minute(iso: str) -> int:
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() // 60)


def test_messages_are_captured_with_their_fields(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    wa = paired.whatsapp()
    chats, members = wa.chats, wa.members
    ids = {
        "in": wa.add(chat=chats["phone"], direction="in", text="Oi, quanto custa o plano mensal?"),
        "out": wa.add(chat=chats["phone"], direction="out", text="O plano mensal custa R$ 49,90."),
        "image": wa.add(chat=chats["phone"], direction="in", type="image", caption="Esse aqui tem em azul?"),
        "audio": wa.add(chat=chats["phone"], direction="in", type="audio"),
    }
    wa.open_chat(chats["phone"])  # the visible history is captured when a chat opens...
    ids["live"] = wa.add(direction="in", text="Pode me mandar o link de pagamento?")  # ...and new rows as they come
    ids["lid"] = wa.add(chat=chats["lid"], direction="in", text="Boa tarde, vocês entregam em Campinas?")
    wa.open_chat(chats["lid"])
    ids["group_phone"] = wa.add(chat=chats["group"], direction="in", participant=members["phone"]["jid"],
                                text="Alguém tem o catálogo novo?")
    ids["group_lid"] = wa.add(chat=chats["group"], direction="in", participant=members["lid"]["jid"],
                              text="Eu também quero o catálogo")
    ids["group_out"] = wa.add(chat=chats["group"], direction="out", text="Mando para todos agora!")
    wa.page.click("#pane-side [role='listitem'] span[title='Clientes VIP']")  # a user's click opens the group
    added = wa.get("added")

    stored = wait_for_messages(svc, list(ids.values()))
    m = {name: stored[data_id] for name, data_id in ids.items()}
    expect = {  # name: (direction, type, content, customer phone or key, customer name)
        "in": ("in", "text", "Oi, quanto custa o plano mensal?", "+5511987654321", "Maria Silva"),
        "out": ("out", "text", "O plano mensal custa R$ 49,90.", "+5511987654321", "Maria Silva"),
        "image": ("in", "image", "Esse aqui tem em azul?", "+5511987654321", "Maria Silva"),
        "audio": ("in", "audio", "", "+5511987654321", "Maria Silva"),
        "live": ("in", "text", "Pode me mandar o link de pagamento?", "+5511987654321", "Maria Silva"),
        # no phone known: the customer's key (shown where the phone is) is the JID (docs/decisions.md)
        "lid": ("in", "text", "Boa tarde, vocês entregam em Campinas?", chats["lid"], "Carlos Mendes"),
        "group_phone": ("in", "text", "Alguém tem o catálogo novo?", "+5511912345678", "Ana Souza"),
        "group_lid": ("in", "text", "Eu também quero o catálogo", members["lid"]["jid"], "Bruno Lima"),
        "group_out": ("out", "text", "Mando para todos agora!", chats["group"], "Clientes VIP"),
    }
    problems = []
    for name, (direction, kind, content, phone, customer) in expect.items():
        got = (m[name]["direction"], m[name]["type"], m[name]["content"], m[name]["customer"]["phone"],
               m[name]["customer"]["name"])
        if got != (direction, kind, content, phone, customer):
            problems.append(f"{name}: expected {(direction, kind, content, phone, customer)}, got {got}")
    assert not problems, "\n".join(problems)

    chat_of = {name: svc.get(f"/api/conversations/{m[name]['conversation_id']}",
                             token=svc.local_token).json()["chat_id"] for name in m}
    assert {chat_of[n] for n in ("in", "out", "image", "audio", "live")} == {chats["phone"]}
    assert chat_of["lid"] == chats["lid"]
    assert {chat_of[n] for n in ("group_phone", "group_lid", "group_out")} == {chats["group"]}
    # the two group members are different customers, and neither is the group
    assert len({m[n]["customer_id"] for n in ("group_phone", "group_lid", "group_out")}) == 3

    # sent_at comes from data-pre-plain-text ("[HH:MM, DD/MM/YYYY] Name: " in São Paulo time, pt-BR order)
    for name, data_id in ids.items():
        assert _at_minute(m[name]["sent_at"]) in range(added[data_id]["wall"] // 60000 - 1,
                                                       added[data_id]["wall"] // 60000 + 1), (name, m[name])

    customer = svc.get("/api/customers/+5511987654321", token=svc.local_token)
    assert customer.status_code == 200, customer.text
    assert customer.json()["name"] == "Maria Silva", customer.json()
    assert message_total(svc) == len(ids)
    assert_sent_once(paired, list(ids.values()))

    popup = paired.context.new_page()  # the toolbar popup, opened as a page
    popup.set_viewport_size({"width": 360, "height": 420})
    popup.goto(f"chrome-extension://{paired.extension_id}/popup.html")
    popup.wait_for_function("() => !document.querySelector('[data-field=\"last_capture\"]')?.textContent"
                            ".includes('…')")
    screenshot(popup, "extension-popup")


def test_a_lid_chat_joins_the_phone_customer_when_its_number_shows(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    wa = paired.whatsapp()
    lid = wa.chats["lid"]
    first = wa.add(chat=lid, direction="in", text="Oi, sou o Carlos")
    wa.open_chat(lid)
    before = wait_for_messages(svc, [first])[first]
    assert before["customer"]["phone"] == lid, before["customer"]

    # WhatsApp shows the number of a contact not saved; the next time the chat opens, the extension reads it
    # (it reads the title when a chat opens: a title changing under an open chat is read on the next open)
    wa.call("renameChat", lid, "+55 11 98888-7777")
    wa.call("closeChat")
    wa.open_chat(lid)
    second = wa.add(direction="in", text="Agora aparece o meu número")
    wait_for_messages(svc, [second])
    stored = stored_messages(svc)
    assert stored[second]["customer"]["phone"] == "+5511988887777", stored[second]["customer"]
    assert stored[first]["customer"]["id"] == stored[second]["customer"]["id"], (stored[first], stored[second])
    customer = svc.get("/api/customers/+5511988887777", token=svc.local_token)
    assert customer.status_code == 200, customer.text


def test_capture_paused_from_the_popup_keeps_those_rows_private(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    first = wa.add(chat=phone, direction="in", text="Antes da pausa")
    wa.open_chat(phone)
    wait_for_messages(svc, [first])

    popup = paired.context.new_page()
    popup.goto(f"chrome-extension://{paired.extension_id}/popup.html")
    popup.locator('[data-action="pause"]').check()
    popup.locator('[data-field="paused"][data-value="true"]').wait_for(state="attached")
    wa.page.locator('[data-role="paused"]').wait_for(state="attached")  # the page's panel knows it too
    private = wa.add(direction="in", text="Isto é particular, durante a pausa")
    # Nothing can signal "was not sent": a bounded chance for the extension to (wrongly) deliver it.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert private not in stored_messages(svc), "a row was captured while capture was paused"
        time.sleep(0.2)
    popup.locator('[data-action="pause"]').uncheck()
    popup.locator('[data-field="paused"][data-value="false"]').wait_for(state="attached")
    wa.page.locator('[data-role="paused"]').wait_for(state="detached")
    after = wa.add(direction="in", text="Depois da pausa")
    wait_for_messages(svc, [after])
    assert private not in stored_messages(svc), "a row that arrived during the pause was captured on resume"


# -- the durable queue ------------------------------------------------------------------------------------------


def _wait_queued(browser: Browser, ids: list[str]) -> None:
    def queued() -> bool:
        text = browser.stored_text()
        return all(i in text for i in ids)

    wait_until(queued, timeout=20, interval=0.1, message="the messages to be queued in chrome.storage.local")


def test_messages_wait_for_a_stopped_agent_across_a_page_reload(paired: Browser, agent: Agent) -> None:
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    first = wa.add(chat=phone, direction="in", text="Olá, vocês abrem sábado?")
    wa.open_chat(phone)
    wait_for_messages(agent.svc, [first])

    agent.stop()
    specs = [{"direction": d, "text": f"mensagem {i} com o agente parado"}
             for i, d in enumerate(("in", "out", "in", "in"))]
    queued = [wa.add(direction=s["direction"], text=s["text"]) for s in specs]
    _wait_queued(paired, queued)
    added = wa.get("added")

    # WhatsApp shows the same rows again after a reload: the extension must not deliver them twice
    wa.reload()
    rows = [{"chat": phone, "direction": "in", "text": "Olá, vocês abrem sábado?", "msgId": msg_id(first),
             "at": added[first]["wall"]}]
    rows += [{"chat": phone, "direction": s["direction"], "text": s["text"], "msgId": msg_id(i),
              "at": added[i]["wall"]} for s, i in zip(specs, queued, strict=True)]
    again = wa.add_many(rows)
    assert again == [first, *queued]
    wa.open_chat(phone)
    after_reload = wa.add(direction="in", text="Ainda estão aí?")
    _wait_queued(paired, [after_reload])

    svc = agent.restart()
    everything = [first, *queued, after_reload]
    wait_for_messages(svc, everything, timeout=60)
    assert message_total(svc) == len(everything)
    assert_sent_once(paired, everything)


def test_messages_wait_for_a_stopped_agent_across_a_browser_restart(paired: Browser, agent: Agent,
                                                                     playwright_driver,
                                                                     fake_whatsapp: FakeWhatsApp) -> None:
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    first = wa.add(chat=phone, direction="in", text="Bom dia!")
    wa.open_chat(phone)
    wait_for_messages(agent.svc, [first])

    agent.stop()
    queued = [wa.add(direction="in" if i % 2 else "out", text=f"antes de fechar o navegador {i}") for i in range(5)]
    _wait_queued(paired, queued)
    profile = paired.profile_dir
    before = paired.captures
    paired.close()

    reopened = launch_browser(playwright_driver, profile, fake_whatsapp)
    try:
        _wait_queued(reopened, queued)  # still there after the restart
        svc = agent.restart()
        wait_for_messages(svc, [first, *queued], timeout=60)
        assert message_total(svc) == 1 + len(queued)
        reopened.pump()
        sent = before.sent() + reopened.captures.sent()
        assert all(sent[i] == 1 for i in [first, *queued]), dict(sent)
        options = reopened.options()
        options.wait_state("paired")
    finally:
        reopened.close()


def test_a_history_of_2000_messages_arrives_through_the_batch_endpoint(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    ids = wa.call("loadHistory", 2000, {"chat": phone})
    assert len(set(ids)) == 2000
    started = time.monotonic()
    wa.open_chat(phone)
    wait_for_messages(svc, ids, timeout=120)
    elapsed = time.monotonic() - started
    assert message_total(svc) == 2000
    paired.pump()
    batched = sum(len(r["ids"]) for r in paired.captures.requests if r["path"].endswith("/batch"))
    assert batched >= 2000, f"only {batched} of 2000 went through the batch endpoint: {paired.captures.paths()}"
    assert max(len(r["ids"]) for r in paired.captures.requests) <= 500
    assert_sent_once(paired, ids)
    print(f"history of 2,000 imported in {elapsed:.1f} s, {paired.captures.paths()}")


# -- the panel ----------------------------------------------------------------------------------------------------

PANEL_TEXT = """() => {
  for (const el of document.querySelectorAll('*')) {
    if (el.shadowRoot && el.shadowRoot.querySelector('[data-action="insert-reply"]')) return el.shadowRoot.textContent;
  }
  return null;
}"""


def test_the_panel_shows_the_analysis_and_insert_fills_the_compose_box_without_sending(paired: Browser,
                                                                                          agent: Agent) -> None:
    svc = agent.svc
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    first = wa.add(chat=phone, direction="in", text="Oi, quanto custa o plano mensal? Quero assinar hoje.")
    wa.open_chat(phone)
    analysis = wait_for_messages(svc, [first])[first]["analysis"]
    replies = analysis["suggested_responses"]
    assert replies, analysis
    reply_texts = [r["text"] if isinstance(r, dict) else r for r in replies]

    insert = wa.page.locator('[data-action="insert-reply"]')  # Playwright's locators pierce open shadow roots
    insert.first.wait_for(state="visible")
    text = wa.page.evaluate(PANEL_TEXT)
    assert text is not None, "the panel is not in an open shadow root"
    assert "Maria Silva" in text, text
    assert any(t in text for t in reply_texts), (reply_texts, text)
    labels = (analysis["sentiment"]["label"], analysis["intent"]["label"])
    missing = [label for label in labels if label.lower() not in text.lower()]
    assert not missing, f"the panel does not show {missing}: {text}"
    screenshot(wa.page, "extension-panel")

    insert.first.click()
    wait_until(lambda: wa.call("composeText") in reply_texts, timeout=10, message="the reply in the compose box")
    assert wa.call("composeDomText") == wa.call("composeText")
    assert wa.get("sent") == [], "the extension sent a message"
    screenshot(wa.page, "extension-panel-inserted")

    # live update: a new message from the customer brings its own analysis into the panel
    second = wa.add(direction="in", text="Péssimo atendimento, quero cancelar e meu dinheiro de volta!")
    new = wait_for_messages(svc, [second])[second]["analysis"]
    new_texts = [r["text"] if isinstance(r, dict) else r for r in new["suggested_responses"]]
    if set(new_texts) != set(reply_texts):
        wa.page.wait_for_function(f"() => {{ const t = ({PANEL_TEXT})(); return t && {json.dumps(new_texts)}"
                                  ".some((r) => t.includes(r)); }")
    assert wa.get("sent") == []

    # collapsed, and still collapsed after a reload
    wa.page.locator('[data-action="collapse"]').click()
    wa.page.locator('section[data-collapsed="true"]').wait_for(state="attached")
    wa.reload()
    wa.add(chat=phone, direction="in", text="Oi de novo")
    wa.open_chat(phone)
    wa.page.locator('section[data-collapsed="true"]').wait_for(state="attached")
    assert wa.page.locator('section[data-collapsed="false"]').count() == 0


# -- revoke, other origins, Local Network Access, broken selectors ------------------------------------------------


def test_revoke_stops_the_extension(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    before = wa.add(chat=phone, direction="in", text="Antes de revogar")
    wa.open_chat(phone)
    wait_for_messages(svc, [before])

    [ext] = extensions(svc)
    r = svc.request("DELETE", f"/api/extensions/{ext['id']}", token=svc.local_token)
    assert r.status_code == 200 and r.json()["state"] == "revoked", r.text
    options = paired.options()
    options.wait_state("unpaired")
    screenshot(options.page, "extension-options-revoked")
    popup = paired.context.new_page()
    popup.set_viewport_size({"width": 360, "height": 420})
    popup.goto(f"chrome-extension://{paired.extension_id}/popup.html")
    popup.wait_for_function("() => !document.querySelector('[data-field=\"paired\"]').textContent.includes('…')")
    paired_text = popup.inner_text('[data-field="paired"]')
    assert paired_text.strip().lower() not in ("yes", "sim"), paired_text
    screenshot(popup, "extension-popup-revoked")

    after = wa.add(direction="in", text="Depois de revogar")
    # Nothing can signal "did not happen": give the extension a bounded chance to (wrongly) deliver it.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert after not in stored_messages(svc), "a revoked extension still captures"
        time.sleep(0.2)
    paired.pump()
    late = [r for r in paired.captures.requests if after in r["ids"]]
    assert not late, f"a revoked extension still posts captures: {late}"
    assert extensions(svc)[0]["state"] == "revoked"


OTHER_ORIGIN_ATTEMPTS = """async (agent) => {
  const body = JSON.stringify({name: "evil", browser: "chromium", version: "0.1.0"});
  const capture = JSON.stringify({message_id: "false_5511900000000@c.us_EVIL0001", chat_id: "5511900000000@c.us",
    content: "injected", direction: "in", type: "text", timestamp: Date.now()});
  const out = {};
  const attempt = async (name, path, init) => {
    try {
      const r = await fetch(agent + path, {method: "POST", ...init});
      out[name] = r.type === "opaque" ? "opaque" : r.status;
    } catch (e) { out[name] = "error"; }
  };
  await attempt("pair_cors", "/api/pair/start", {headers: {"Content-Type": "application/json"}, body});
  await attempt("pair_no_cors", "/api/pair/start", {mode: "no-cors", headers: {"Content-Type": "text/plain"}, body});
  await attempt("capture_cors", "/api/messages/capture", {headers: {"Content-Type": "application/json"},
                                                          body: capture});
  await attempt("capture_no_cors", "/api/messages/capture", {mode: "no-cors",
                                                             headers: {"Content-Type": "text/plain"}, body: capture});
  out.extension_reachable = typeof chrome !== "undefined" && !!(chrome.runtime && chrome.runtime.sendMessage);
  return out;
}"""


def test_a_page_on_another_origin_cannot_pair_or_capture(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    log_before = _request_log(svc)
    other = paired.whatsapp(host=OTHER_HOST)  # the same WhatsApp-like markup, on an ordinary https site
    result = other.page.evaluate(OTHER_ORIGIN_ATTEMPTS, svc.url)
    assert result["pair_cors"] == "error" and result["capture_cors"] == "error", result
    assert result["pair_no_cors"] in ("opaque", "error") and result["capture_no_cors"] in ("opaque", "error"), result
    assert not result["extension_reachable"], "a web page can message the extension"
    assert pending_pairings(svc) == []
    assert len(extensions(svc)) == 1
    log = _request_log(svc)[len(log_before):]
    answered = [line for line in log if "/api/pair/start" in line or "/api/messages/capture" in line]
    assert all(re.search(r" 40[13] ", line) for line in answered), answered

    # the content script does not run there: a row on that page is never captured
    other.open_chat(other.chats["phone"])
    foreign = other.add(direction="in", text="capturado num site qualquer?")
    wa = paired.whatsapp()
    wa.open_chat(wa.chats["phone"])
    marker = wa.add(direction="in", text="esta sim, no WhatsApp")
    stored = wait_for_messages(svc, [marker])
    assert foreign not in stored_messages(svc) and marker in stored
    assert "EVIL0001" not in json.dumps(stored_messages(svc))


def _request_log(svc: RunningService) -> list[str]:
    svc.log_text()  # every request answered so far is in the files
    lines = []
    for path in sorted((svc.data_dir / "logs").glob("agent.log*"), reverse=True):
        lines += [line for line in path.read_text(errors="replace").splitlines() if " POST /api/" in line]
    return lines


def test_capture_works_with_local_network_access_enforced(playwright_driver, fake_whatsapp: FakeWhatsApp,
                                                          agent: Agent, tmp_path) -> None:
    svc = agent.svc
    lna = f"--ip-address-space-overrides=127.0.0.1:{fake_whatsapp.port}=public"
    browser = launch_browser(playwright_driver, tmp_path / "lna-profile", fake_whatsapp, extra_args=(lna,))
    try:
        pair(browser, svc).page.close()
        wa = browser.whatsapp()
        # the page itself (a public site now) may not reach the agent on loopback...
        reached = wa.page.evaluate("""async (url) => {
          const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), 5000));
          const probe = fetch(url + "/api/health", {mode: "no-cors"}).then(() => "reached", () => "blocked");
          return Promise.race([probe, timeout]);
        }""", svc.url)
        assert reached in ("blocked", "timeout"), "Local Network Access is not enforced: the test proves nothing"
        # ...but the extension, whose service worker makes the requests, captures as usual
        phone = wa.chats["phone"]
        data_id = wa.add(chat=phone, direction="in", text="Capturado com Local Network Access ligado")
        wa.open_chat(phone)
        live = wa.add(direction="in", text="E esta chegou depois")
        wait_for_messages(svc, [data_id, live])
    finally:
        browser.close()


def agent_events(svc: RunningService) -> list[dict]:
    """Every event still in the agent's replay buffer (a WebSocket client resuming from id 0)."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{svc.port}/ws?token={svc.local_token}&since=0", timeout=5)
    received = []
    try:
        ws.settimeout(0.5)
        while True:
            try:
                received.append(json.loads(ws.recv()))
            except websocket.WebSocketTimeoutException:
                return received
    finally:
        ws.close()


def test_broken_selectors_are_reported_in_health(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    data_id = wa.add(chat=phone, direction="in", text="Tudo certo por aqui")
    wa.open_chat(phone)
    wait_for_messages(svc, [data_id])
    assert health(svc)["status"] != "degraded", health(svc)

    # A WhatsApp release renames the row attribute while this chat stays open: no chat is reopened, no row is
    # added, yet the rows on screen no longer match.
    renamed = wa.call("breakSelectors")
    assert renamed == 1

    def stalled() -> dict | None:
        h = health(svc)
        return h if h["status"] == "degraded" and "stalled" in json.dumps(h.get("extensions")) else None

    h = wait_until(stalled, timeout=60, interval=0.2, message="/api/health to report the stalled capture")
    assert h["status"] == "degraded", h
    types = [e["type"] for e in agent_events(svc)]
    assert types.count("capture.stalled") == 1, f"capture.stalled is published once per stall: {types}"

    wa.call("breakSelectors", "data-id")  # the selectors match again (e.g. the extension was updated)
    wait_until(lambda: health(svc)["status"] != "degraded", timeout=60, interval=0.2,
               message="/api/health to recover once rows match again")
    assert [e["type"] for e in agent_events(svc)].count("capture.stalled") == 1


# -- quick replies and drafts (issue 15) ---------------------------------------------------------------------------

COMPOSE = "#main footer [contenteditable='true']"


def _knowledge_entry(svc: RunningService, **fields) -> dict:
    r = svc.post("/api/knowledge", json=fields, token=svc.local_token)
    assert r.status_code == 201, r.text
    return r.json()


def _quick_list(wa) -> list[str]:
    """The shortcuts the open quick-reply list shows (Playwright's locators pierce its open shadow root)."""
    return wa.page.locator('[data-role="quick-reply"]').evaluate_all("(items) => items.map((i) => i.dataset.shortcut)")


def test_quick_replies_from_a_slash_in_the_message_box_insert_without_sending(paired: Browser, agent: Agent) -> None:
    svc = agent.svc
    _knowledge_entry(svc, title="Frete para BH", shortcut="frete",
                     content="Oi {first_name}! O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis.")
    _knowledge_entry(svc, title="Frete grátis SP", shortcut="frete-sp", content="Para São Paulo o frete é grátis.")
    _knowledge_entry(svc, title="Pix", shortcut="pix", content="Nossa chave Pix é o CNPJ 12.345.678/0001-90.")
    wa = paired.whatsapp()
    phone = wa.chats["phone"]
    first = wa.add(chat=phone, direction="in", text="Quanto é o frete pra BH?")
    wa.open_chat(phone)
    wait_for_messages(svc, [first])  # the agent knows the chat's customer: Maria Silva

    box = wa.page.locator(COMPOSE)
    box.click()
    wa.page.keyboard.type("/fre")
    options = wa.page.locator('[data-role="quick-reply"]')
    options.first.wait_for(state="visible")
    assert _quick_list(wa) == ["frete", "frete-sp"]
    listed = wa.page.locator(f"#{'crm-agent-quick-replies'}").evaluate("(host) => host.shadowRoot.textContent")
    assert "Oi Maria! O frete para Belo Horizonte é R$ 25" in listed, listed  # {first_name} filled by the agent
    host_box = wa.page.locator("#crm-agent-quick-replies").bounding_box()
    compose_box = box.bounding_box()
    assert host_box["y"] + host_box["height"] <= compose_box["y"] + 1, (host_box, compose_box)  # beside, not over it
    screenshot(wa.page, "extension-quick-replies")

    wa.page.keyboard.type("te-")  # typing on narrows the list
    wait_until(lambda: _quick_list(wa) == ["frete-sp"], timeout=10, message="the list narrowed to frete-sp")
    for _ in range(3):
        wa.page.keyboard.press("Backspace")  # back to "/fre": both again, frete-sp still highlighted
    wait_until(lambda: _quick_list(wa) == ["frete", "frete-sp"], timeout=10, message="the list widened again")
    selected = '[data-role="quick-reply"][aria-selected="true"]'
    assert wa.page.locator(selected).get_attribute("data-shortcut") == "frete-sp"
    wa.page.keyboard.press("ArrowDown")  # wraps to the first
    assert wa.page.locator(selected).get_attribute("data-shortcut") == "frete"
    wa.page.keyboard.press("Enter")
    expected = "Oi Maria! O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis."
    wait_until(lambda: wa.call("composeText") == expected, timeout=10,
               message=f"the quick reply in the box (it holds {wa.call('composeText')!r})")
    assert wa.call("composeDomText") == expected
    options.first.wait_for(state="hidden")
    assert wa.get("sent") == [], "the extension (or its Enter) sent a message"
    screenshot(wa.page, "extension-quick-replies-inserted")

    # Esc closes the list; the typed "/pi" stays as the user wrote it, and nothing is sent
    wa.page.keyboard.type(" /pi")
    options.first.wait_for(state="visible")
    assert _quick_list(wa) == ["pix"]
    wa.page.keyboard.press("Escape")
    options.first.wait_for(state="hidden")
    wa.page.keyboard.type("x")  # typing on in the closed word does not reopen it
    time.sleep(0.5)  # a bounded chance for the list to (wrongly) reopen
    assert options.count() == 0 or not options.first.is_visible()
    assert wa.call("composeText") == expected + " /pix"
    assert wa.get("sent") == []


def _api_has(path: str) -> bool:
    """Whether the agent under test has a route (docs/api.md is regenerated with every route change)."""
    return path in (ROOT / "docs" / "api.md").read_text()


@pytest.fixture
def llm_agent(tmp_path) -> Iterator[Agent]:
    """The agent with its LLM worker on (the bundled model, shared per machine as in tests/test_ai_service.py)."""
    pytest.importorskip("llama_cpp")
    models = Path(os.environ.get("CRM_AGENT_TEST_MODELS", Path(tempfile.gettempdir()) / "crm-agent-test-models"))
    models.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_path / "agent"
    data_dir.mkdir()
    (data_dir / "models").symlink_to(models, target_is_directory=True)
    write_config(data_dir, {"ai": {"job_timeout_s": 120}})
    running = Agent.__new__(Agent)
    running.data_dir = data_dir
    running.service = start_service(data_dir, llm=True, timeout=120)
    running.port = running.service.port
    yield running
    running.stop()


def test_the_panel_shows_the_knowledge_source_and_streams_an_ai_draft_into_the_box(browser: Browser,
                                                                                     llm_agent: Agent) -> None:
    svc = llm_agent.svc
    pair(browser, svc).page.close()
    _knowledge_entry(svc, title="Frete para BH", language="pt", tags=["frete"],
                     content="O frete para Belo Horizonte é R$ 25 e chega em 3 dias úteis.")
    wa = browser.whatsapp()
    phone = wa.chats["phone"]
    question = wa.add(chat=phone, direction="in", text="Oi, quanto é o frete pra BH?")
    wa.open_chat(phone)
    stored = wait_for_messages(svc, [question])[question]
    analysis = wait_until(lambda: stored_messages(svc)[question]["analysis"], timeout=60, message="the analysis")

    grounded = bool(analysis.get("knowledge"))
    if "knowledge" in analysis:  # k15-retrieval merged: the first suggestion carries the entry's fact
        assert analysis["knowledge"]["title"] == "Frete para BH", analysis
        source = wa.page.locator('[data-role="knowledge-source"]')
        source.wait_for(state="visible", timeout=20_000)
        assert source.inner_text() == "From your knowledge: Frete para BH"
    if not _api_has("/api/replies/draft"):
        pytest.skip("k15-draft is not merged: no POST /api/replies/draft"
                    + ("" if grounded else "; k15-retrieval neither: analyses carry no knowledge"))

    draft_button = wa.page.locator('[data-role="draft"] [data-action="draft"]')
    draft_button.wait_for(state="visible")
    draft_button.click()
    text = wa.page.locator('[data-role="draft-text"]')
    # the text grows as tokens arrive: seen non-empty while still running, then finished
    wait_until(lambda: wa.page.locator('[data-role="draft"][data-status="streaming"]').count() == 1
               and text.inner_text() not in ("", "Writing…"), timeout=120, interval=0.05,
               message="streamed draft text while the draft runs")
    wa.page.locator('[data-role="draft"][data-status="done"]').wait_for(state="attached", timeout=120_000)
    final = text.inner_text().strip()
    assert final, "an empty draft"
    # the click scrolled the panel down to the draft; the redraws since must have kept it there
    assert wa.page.locator('[data-role="draft"]').evaluate(
        "(d) => { const b = d.closest('.body').getBoundingClientRect(), r = d.getBoundingClientRect();"
        " return r.top >= b.top - 1 && r.top < b.bottom; }"), "the draft scrolled out of sight"
    wa.page.locator('[data-role="draft"]').evaluate(
        "(d) => { const body = d.closest('.body'); body.scrollTop = body.scrollHeight; }")  # all of the draft
    screenshot(wa.page, "extension-panel-grounded-draft")
    wa.page.locator('[data-action="draft-insert"]').click()
    wait_until(lambda: wa.call("composeText").strip() == final, timeout=10, message="the draft in the box")
    assert wa.get("sent") == [], "the extension sent the draft"
    assert stored["id"]  # the draft answered the chat's latest inbound message


# -- languages (issue 16) ------------------------------------------------------------------------------------------


@pytest.fixture
def browser_pt(playwright_driver, fake_whatsapp: FakeWhatsApp, tmp_path) -> Iterator[Browser]:
    """Chromium in Brazilian Portuguese (--lang=pt-BR and LANGUAGE=pt_BR): chrome.i18n picks _locales/pt_BR."""
    opened = launch_browser(playwright_driver, tmp_path / "profile-pt", fake_whatsapp, ui_language="pt-BR")
    yield opened
    opened.close()
    print("browser console:\n" + opened.console_report())


def _fits(page, selector: str) -> list[str]:
    """Elements under `selector` (shadow roots included) whose text is cut: wider content than box, or past the right
    edge of the page."""
    return page.evaluate("""(selector) => {
      const roots = [document];
      for (const el of document.querySelectorAll('*')) if (el.shadowRoot) roots.push(el.shadowRoot);
      const cut = [];
      for (const root of roots) for (const el of root.querySelectorAll(selector)) {
        if (!el.getClientRects().length || !el.textContent.trim()) continue;
        const r = el.getBoundingClientRect();
        if (el.scrollWidth > el.clientWidth + 1 || r.right > window.innerWidth + 1) cut.push(el.textContent.trim());
      }
      return cut;
    }""", selector)


def test_the_extension_speaks_portuguese_in_a_portuguese_browser(browser_pt: Browser, agent: Agent) -> None:
    svc = agent.svc
    assert browser_pt.worker_eval("() => chrome.i18n.getUILanguage()") == "pt-BR"

    options = browser_pt.options()
    options.page.set_viewport_size({"width": 1024, "height": 768})
    options.page.wait_for_function("() => !document.querySelector('[data-role=\"agent\"]').textContent.includes('…')"
                                   " && !!document.querySelector('[data-role=\"agent\"]').textContent")
    text = options.page.inner_text("main")
    for words in ("Encontrar o agente", "Endereço do agente", "Conectar ao agente", "Ainda não conectado."):
        assert words in text, text
    assert options.page.title() == "CRM Agent: conectar ao agente"
    assert options.page.get_attribute("html", "lang") == "pt-BR"
    # a wrong code: the error in Portuguese, with its plural
    options.start_pairing(svc.url)
    code = pending_code(svc)
    options.confirm("1" * 6 if code != "1" * 6 else "2" * 6)
    options.page.wait_for_function("() => document.querySelector('[data-role=\"error\"]').textContent.length > 0")
    error = options.page.inner_text('[data-role="error"]')
    assert re.fullmatch(r"Código errado: restam? \d+ tentativas?\.", error), error
    assert options.status_text().startswith("Conectando: digite o código"), options.status_text()
    assert _fits(options.page, "h2, label, button, p, [data-role=status]") == []
    screenshot(options.page, "extension-pt-options-wrong-code")
    options.confirm(code)
    options.wait_state("paired")
    assert options.status_text().startswith(f"Conectado ao agente em {svc.url}"), options.status_text()
    assert "Esquecer este agente" in options.page.inner_text("main")
    screenshot(options.page, "extension-pt-options-paired")
    options.page.close()

    wa = browser_pt.whatsapp()
    phone = wa.chats["phone"]
    first = wa.add(chat=phone, direction="in", text="Oi, quanto custa o plano mensal? Quero assinar hoje.")
    wa.open_chat(phone)
    wait_for_messages(svc, [first])
    wa.page.set_viewport_size({"width": 1024, "height": 768})
    wa.page.locator('[data-action="insert-reply"]').first.wait_for(state="visible")
    panel = wa.page.evaluate(PANEL_TEXT)
    for words in ("Cliente", "Telefone", "Primeiro contato", "Última mensagem", "Sentimento:", "Intenção:",
                  "Respostas sugeridas", "Inserir", "Rascunho com IA"):
        assert words in panel, (words, panel)
    for english in ("Customer", "Suggested replies", "Insert", "Last message"):
        assert english not in panel, (english, panel)
    first_contact = wa.page.locator('[data-field="first_contact"]').inner_text()
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", first_contact), first_contact  # 07/12/2026, not 12/7/2026
    assert _fits(wa.page, "h3, button, dt, .chip, .notice") == []
    screenshot(wa.page, "extension-pt-panel")
    wa.page.locator('[data-role="draft"]').evaluate(
        "(d) => { const body = d.closest('.body'); body.scrollTop = body.scrollHeight; }")  # the draft section
    assert wa.page.locator('[data-role="draft"] [data-action="draft"]').inner_text() == "Escrever com IA"
    screenshot(wa.page, "extension-pt-panel-draft")

    _knowledge_entry(svc, title="Frete para BH", shortcut="frete", content="O frete para Belo Horizonte é R$ 25.")
    wa.page.locator(COMPOSE).click()
    wa.page.keyboard.type("/fre")
    wa.page.locator('[data-role="quick-reply"]').first.wait_for(state="visible")
    listed = wa.page.locator("#crm-agent-quick-replies").evaluate("(host) => host.shadowRoot.textContent")
    assert "Respostas rápidas" in listed and "Esc fechar" in listed, listed
    assert _fits(wa.page, ".head, .hint") == []
    screenshot(wa.page, "extension-pt-quick-replies")
    wa.page.keyboard.press("Escape")

    popup = browser_pt.context.new_page()
    popup.set_viewport_size({"width": 300, "height": 420})  # the popup's own width (body is 300px)
    popup.goto(f"chrome-extension://{browser_pt.extension_id}/popup.html")
    popup.wait_for_function("() => !document.querySelector('[data-field=\"last_capture\"]').textContent.includes('…')"
                            " && !document.querySelector('[data-field=\"reachable\"]').textContent.includes('…')")
    text = popup.inner_text("main")
    for words in ("Agente", "Conectado", "Na fila", "Última captura", "Pausar captura", "Abrir painel",
                  "Configurações e conexão", "disponível", "sim", "ligada"):
        assert words in text, (words, text)
    assert re.search(r"há \d+ (s|seg\.|min\.?)|agora mesmo", popup.inner_text('[data-field="last_capture"]')), text
    screenshot(popup, "extension-pt-popup")
    assert _fits(popup, "dt, dd, button, label") == []
