import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { Background } from "../src/background/main.js";
import { MSG } from "../src/lib/messages.js";

const EXTENSION_BASE = "chrome-extension://ooklpichdiimjggfkplnbdebeeehhiji/";
const PAGE = { id: "ext", url: `${EXTENSION_BASE}options.html`, tab: { id: 1 } };
const CONTENT = { id: "ext", url: "https://web.whatsapp.com/", tab: { id: 2 } };

/** The slice of the chrome.* API the background uses, in memory. */
function fakeChrome() {
  const data = {};
  const listeners = { message: [], alarm: [] };
  const event = (list) => ({ addListener: (fn) => list.push(fn) });
  return {
    data,
    storage: { local: {
      async get(keys) { return Object.fromEntries(keys.filter((k) => k in data).map((k) => [k, structuredClone(data[k])])); },
      async set(values) { Object.assign(data, structuredClone(values)); },
      async remove(keys) { for (const k of keys) delete data[k]; },
      async setAccessLevel() {},
    } },
    alarms: {
      created: [],
      async get(name) { return this.created.find((alarm) => alarm.name === name); },
      async create(name, info) { this.created.push({ name, ...info }); },
      onAlarm: event(listeners.alarm),
    },
    runtime: {
      id: "ext", getURL: (path) => EXTENSION_BASE + path, getManifest: () => ({ version: "0.1.0" }),
      onMessage: event(listeners.message), onStartup: event([]), sendMessage: async () => {}, openOptionsPage: async () => {},
    },
    tabs: { query: async () => [], sendMessage: async () => {} },
  };
}

/** A scripted agent: route(method, path, body, headers) -> [status, body]. */
function fakeAgent(route) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    const path = url.replace(/^http:\/\/127\.0\.0\.1:8080/, "");
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ method: init.method, path, body, headers: init.headers });
    const [status, answer] = route(init.method, path, body, init.headers) ?? [404, { error: { code: "not_found", message: "" } }];
    return new Response(answer === undefined ? null : JSON.stringify(answer), { status, headers: { "Content-Type": "application/json" } });
  };
  return { calls, fetchImpl };
}

class NoWebSocket {
  constructor() { throw new Error("no WebSocket in this test"); }
}

const running = [];

async function started(route) {
  const api = fakeChrome();
  const agent = fakeAgent(route);
  const background = new Background({ api, fetchImpl: agent.fetchImpl, WebSocketImpl: NoWebSocket });
  running.push(background);
  await background.start();
  return { api, agent, background };
}

afterEach(async () => {
  await new Promise((resolve) => setTimeout(resolve, 150)); // let coalesced broadcasts run
  while (running.length) running.pop().stop();
});

const capture = (n) => ({ message_id: `false_5511987654321@c.us_M${n}`, chat_id: "5511987654321@c.us", content: `m${n}`,
  type: "text", direction: "in", timestamp: 1000 + n });

function pairingAgent(extra = () => undefined) {
  return (method, path, body, headers) => {
    if (path === "/api/pair/start") return [201, { pairing_id: "p1", expires_in_s: 120, code_length: 6 }];
    if (path === "/api/pair/complete") {
      return body.code === "123456"
        ? [201, { token: "tok", extension: { id: "e1", name: "Chromium on Linux" } }]
        : [403, { error: { code: "wrong_code", message: "wrong", details: { tries_left: 4 } } }];
    }
    return extra(method, path, body, headers);
  };
}

async function pair(background) {
  await background.handleMessage({ type: MSG.PAIR_START, agent_url: "127.0.0.1:8080" }, PAGE);
  return background.handleMessage({ type: MSG.PAIR_COMPLETE, code: "123456" }, PAGE);
}

test("the backstop alarm is created once, not pushed back at every wake-up", async () => {
  const api = fakeChrome();
  for (let wake = 0; wake < 3; wake += 1) {
    const background = new Background({ api, fetchImpl: fakeAgent(() => undefined).fetchImpl, WebSocketImpl: NoWebSocket });
    running.push(background);
    await background.start();
  }
  assert.deepEqual(api.alarms.created, [{ name: "crm-agent.backstop", periodInMinutes: 1 }]);
});

test("a content script cannot pair, unpair, pause or open the dashboard", async () => {
  const { background, agent } = await started(pairingAgent());
  for (const type of [MSG.PAIR_START, MSG.PAIR_COMPLETE, MSG.UNPAIR, MSG.PAUSE_SET, MSG.DASHBOARD_OPEN, MSG.QUEUE_FLUSH]) {
    const answer = await background.handleMessage({ type }, CONTENT);
    assert.equal(answer.error?.code, "forbidden", type);
  }
  assert.equal((await background.handleMessage({ type: MSG.STATE_GET }, { id: "another-extension", url: "x" })).ok, false);
  assert.equal(agent.calls.length, 0);
});

test("pairing: a wrong code shows tries left, the right one stores the token, which state never exposes", async () => {
  const { api, background, agent } = await started(pairingAgent());
  const start = await background.handleMessage({ type: MSG.PAIR_START, agent_url: "127.0.0.1:8080" }, PAGE);
  assert.equal(start.ok, true);
  assert.deepEqual(Object.keys(agent.calls[0].body).sort(), ["browser", "name", "version"]);
  assert.equal((await background.state()).pairing.pairing_id, "p1");
  const wrong = await background.handleMessage({ type: MSG.PAIR_COMPLETE, code: "000000" }, PAGE);
  assert.deepEqual([wrong.ok, wrong.error.code, wrong.error.details.tries_left], [false, "wrong_code", 4]);
  const right = await background.handleMessage({ type: MSG.PAIR_COMPLETE, code: "123 456" }, PAGE);
  assert.equal(right.ok, true);
  assert.equal(api.data["agent.token"], "tok");
  const state = await background.state();
  assert.equal(state.paired, true);
  assert.equal(state.pairing, null);
  assert.ok(!JSON.stringify(state).includes("tok\""), "the token is not in the public state");
});

test("captures are queued, sent with the token, and a 401 unpairs while keeping the queue", async () => {
  let revoked = false;
  const { api, background, agent } = await started(pairingAgent((method, path) => {
    if (path.startsWith("/api/messages/capture")) {
      if (revoked) return [401, { error: { code: "extension_revoked", message: "revoked" } }];
      return path.endsWith("/batch") ? [200, { results: [{ status: 201 }, { status: 200 }] }] : [201, {}];
    }
    return [200, { ok: true }];
  }));
  await pair(background);
  const answer = await background.handleMessage({ type: MSG.CAPTURE, captures: [capture(1), capture(2), { bad: true }] }, CONTENT);
  assert.deepEqual([answer.ok, answer.added], [true, 2]);
  await background.flush({ force: true });
  const sent = agent.calls.find((c) => c.path === "/api/messages/capture/batch");
  assert.equal(sent.headers.Authorization, "Bearer tok");
  assert.deepEqual(sent.body.messages.map((m) => m.content), ["m1", "m2"]);
  assert.equal(await background.queue.size(), 0);
  revoked = true;
  await background.handleMessage({ type: MSG.CAPTURE, captures: [capture(3)] }, CONTENT);
  await background.flush({ force: true });
  const state = await background.state();
  assert.equal(state.paired, false);
  assert.equal(state.lastError.code, "extension_revoked");
  assert.equal(api.data["agent.token"], undefined);
  assert.equal(await background.queue.size(), 1, "kept for after the next pairing");
});

test("a lone capture answered 400 or 413 is dropped, so the captures behind it are delivered", async () => {
  const { background, agent } = await started(pairingAgent((method, path, body) => {
    if (path === "/api/messages/capture") {
      if (body.content === "m1") return [413, { error: { code: "payload_too_large", message: "too large" } }];
      if (body.content === "m2") return [400, { error: { code: "invalid_json", message: "bad" } }];
      return [201, {}];
    }
    return [200, { ok: true }];
  }));
  await pair(background);
  for (const n of [1, 2, 3]) {
    await background.handleMessage({ type: MSG.CAPTURE, captures: [capture(n)] }, CONTENT);
    await background.flush({ force: true });
  }
  assert.equal(await background.queue.size(), 0);
  const sent = agent.calls.filter((c) => c.path === "/api/messages/capture").map((c) => c.body.content);
  assert.deepEqual(sent.filter((c) => c === "m3"), ["m3"]);
});

test("while paused nothing is queued", async () => {
  const { background } = await started(pairingAgent());
  await background.handleMessage({ type: MSG.PAUSE_SET, paused: true }, PAGE);
  const answer = await background.handleMessage({ type: MSG.CAPTURE, captures: [capture(1)] }, CONTENT);
  assert.deepEqual(answer, { ok: false, paused: true });
  assert.equal(await background.queue.size(), 0);
});

test("panel data: unpaired without a token, offline when the agent is down, data when up", async () => {
  let up = true;
  const api = fakeChrome();
  const route = pairingAgent((method, path) => (path.startsWith("/api/extension/chat") ? [200, { chat_id: "x", customer: null }] : [200, {}]));
  const fetchImpl = async (url, init) => {
    if (!up) throw new TypeError("Failed to fetch");
    return fakeAgent(route).fetchImpl(url, init);
  };
  const background = new Background({ api, fetchImpl, WebSocketImpl: NoWebSocket });
  running.push(background);
  await background.start();
  const chat = { type: MSG.PANEL_GET, chat_id: "5511987654321@c.us" };
  assert.equal((await background.handleMessage(chat, CONTENT)).state, "unpaired");
  await pair(background);
  assert.equal((await background.handleMessage(chat, CONTENT)).state, "ok");
  up = false;
  assert.equal((await background.handleMessage(chat, CONTENT)).state, "offline");
  assert.equal((await background.state()).reachable, false);
  assert.equal((await background.handleMessage({ type: MSG.PANEL_GET, chat_id: "nonsense" }, CONTENT)).state, "error");
});

test("open dashboard reports no_desktop on 409", async () => {
  const { background } = await started(pairingAgent((method, path) =>
    (path === "/api/extension/open-dashboard" ? [409, { error: { code: "no_desktop", message: "headless" } }] : [200, {}])));
  await pair(background);
  const answer = await background.handleMessage({ type: MSG.DASHBOARD_OPEN }, PAGE);
  assert.deepEqual([answer.ok, answer.error.code], [false, "no_desktop"]);
});

test("quick replies: asked with the prefix and the open chat, nothing when unpaired or offline", async () => {
  let up = true;
  const api = fakeChrome();
  const route = pairingAgent((method, path) => (path.startsWith("/api/quick-replies")
    ? [200, { items: [{ id: 3, shortcut: "frete", title: "Frete", text: "O frete para BH é R$ 25, Maria." }] }] : [200, {}]));
  const agent = fakeAgent(route);
  const fetchImpl = async (url, init) => {
    if (!up) throw new TypeError("Failed to fetch");
    return agent.fetchImpl(url, init);
  };
  const background = new Background({ api, fetchImpl, WebSocketImpl: NoWebSocket });
  running.push(background);
  await background.start();
  const ask = { type: MSG.QUICK_REPLIES, prefix: "fre", chat_id: "5511987654321@c.us" };
  assert.equal((await background.handleMessage(ask, CONTENT)).state, "unpaired");
  assert.equal(agent.calls.length, 0);
  await pair(background);
  const answer = await background.handleMessage(ask, CONTENT);
  assert.equal(answer.ok, true);
  assert.equal(answer.items[0].text, "O frete para BH é R$ 25, Maria.");
  const call = agent.calls.find((c) => c.path.startsWith("/api/quick-replies"));
  assert.equal(call.path, "/api/quick-replies?prefix=fre&chat_id=5511987654321%40c.us");
  assert.equal(call.headers.Authorization, "Bearer tok");
  await background.handleMessage({ type: MSG.QUICK_REPLIES, prefix: "", chat_id: "not a chat" }, CONTENT);
  assert.equal(agent.calls.at(-1).path, "/api/quick-replies?prefix="); // no chat: no placeholders filled
  assert.equal((await background.handleMessage({ type: MSG.QUICK_REPLIES, prefix: "x".repeat(33) }, CONTENT)).ok, false);
  up = false;
  assert.equal((await background.handleMessage(ask, CONTENT)).state, "offline");
});

test("drafts: started with the message id, cancelled by id (a finished one counts as cancelled), errors kept", async () => {
  let llmOn = true;
  const { background, agent } = await started(pairingAgent((method, path, body) => {
    if (method === "POST" && path === "/api/replies/draft") {
      return llmOn ? [202, { draft_id: "d1", message_id: body.message_id, knowledge: [3] }]
        : [409, { error: { code: "llm_disabled", message: "The LLM is off" } }];
    }
    if (method === "DELETE" && path === "/api/replies/draft/d1") return [204, undefined];
    return undefined; // 404
  }));
  await pair(background);
  const started1 = await background.handleMessage({ type: MSG.DRAFT_START, message_id: 42 }, CONTENT);
  assert.deepEqual([started1.ok, started1.draft_id, started1.message_id, started1.knowledge], [true, "d1", 42, [3]]);
  assert.deepEqual(agent.calls.at(-1).body, { message_id: 42 });
  assert.equal((await background.handleMessage({ type: MSG.DRAFT_CANCEL, draft_id: "d1" }, CONTENT)).ok, true);
  assert.equal(agent.calls.at(-1).method, "DELETE");
  assert.equal((await background.handleMessage({ type: MSG.DRAFT_CANCEL, draft_id: "gone" }, CONTENT)).ok, true);
  assert.equal((await background.handleMessage({ type: MSG.DRAFT_CANCEL, draft_id: "" }, CONTENT)).ok, false);
  assert.equal((await background.handleMessage({ type: MSG.DRAFT_START, message_id: "42" }, CONTENT)).ok, false);
  llmOn = false;
  const refused = await background.handleMessage({ type: MSG.DRAFT_START, message_id: 42 }, CONTENT);
  assert.deepEqual([refused.ok, refused.state, refused.error.code], [false, "error", "llm_disabled"]);
});

test("draft events reach the WhatsApp tabs; token events do not write the last event id", async () => {
  const api = fakeChrome();
  const toTabs = [];
  api.tabs = { query: async () => [{ id: 9 }], sendMessage: async (id, message) => { toTabs.push(message); } };
  const sockets = [];
  class FakeSocket {
    readyState = 1;
    constructor() { sockets.push(this); setTimeout(() => this.onopen?.(), 0); }
    send() {}
    close() {}
  }
  const background = new Background({ api, fetchImpl: fakeAgent(pairingAgent(() => [200, {}])).fetchImpl, WebSocketImpl: FakeSocket });
  running.push(background);
  await background.start();
  await pair(background);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const socket = sockets.at(-1);
  const deliver = (message) => socket.onmessage({ data: JSON.stringify(message) });
  deliver({ type: "auth.ok" });
  deliver({ type: "reply.draft.started", id: 5, data: { draft_id: "d1", message_id: 1, model: "m" } });
  deliver({ type: "reply.draft.token", id: 6, data: { draft_id: "d1", text: "Olá" } });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const events = toTabs.filter((m) => m.type === MSG.AGENT_EVENT).map((m) => m.event.type);
  assert.deepEqual(events, ["reply.draft.started", "reply.draft.token"]);
  assert.equal(api.data["ws.last_event_id"], 5);
});
