import { test } from "node:test";
import assert from "node:assert/strict";
import { LiveConnection, PING_INTERVAL_MS } from "../src/background/live.js";

/** A WebSocket stand-in the test drives by hand. */
function fakeWebSocketClass() {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      sockets.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.readyState = 3; }
    open() { this.readyState = 1; this.onopen?.(); }
    receive(message) { this.onmessage?.({ data: JSON.stringify(message) }); }
    closeWith(code) { this.readyState = 3; this.onclose?.({ code }); }
  }
  return { FakeSocket, sockets };
}

function connection(overrides = {}) {
  const { FakeSocket, sockets } = fakeWebSocketClass();
  const seen = { events: [], rejected: 0, authenticated: 0 };
  const live = new LiveConnection({
    getConnection: async () => ({ agentUrl: "http://127.0.0.1:8080", token: "secret-token" }),
    getSince: async () => 41,
    onEvent: (event) => seen.events.push(event),
    onAuthenticated: () => { seen.authenticated += 1; },
    onAuthRejected: () => { seen.rejected += 1; },
    WebSocketImpl: FakeSocket,
    ...overrides,
  });
  return { live, sockets, seen };
}

test("the token goes in the first message, never in the URL; since resumes the stream", async () => {
  const { live, sockets, seen } = connection();
  await live.ensure();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, "ws://127.0.0.1:8080/ws");
  assert.ok(!sockets[0].url.includes("secret"));
  sockets[0].open();
  assert.deepEqual(sockets[0].sent[0], { type: "auth", token: "secret-token", since: 41 });
  sockets[0].receive({ type: "auth.ok", id: 0, data: { principal: "extension" } });
  assert.equal(live.connected, true);
  assert.equal(seen.authenticated, 1);
  sockets[0].receive({ type: "analysis.completed", id: 42, data: {} });
  sockets[0].receive({ type: "pong" });
  assert.deepEqual(seen.events.map((e) => e.type), ["analysis.completed"]);
  live.stop();
});

test("pings every 20 s once authenticated", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "setTimeout"] });
  const { live, sockets } = connection();
  await live.ensure();
  sockets[0].open();
  sockets[0].receive({ type: "auth.ok" });
  t.mock.timers.tick(PING_INTERVAL_MS * 2);
  assert.deepEqual(sockets[0].sent.slice(1), [{ type: "ping" }, { type: "ping" }]);
  live.stop();
});

test("close code 4401 drops the pairing and does not reconnect; other closes reconnect with backoff", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "setTimeout"] });
  const { live, sockets, seen } = connection();
  await live.ensure();
  sockets[0].open();
  sockets[0].closeWith(1006);
  assert.equal(live.connected, false);
  t.mock.timers.tick(1300); // first retry after ~1 s (with jitter)
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(sockets.length, 2, "reconnected");
  sockets[1].open();
  sockets[1].closeWith(4401);
  assert.equal(seen.rejected, 1);
  t.mock.timers.tick(60_000);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(sockets.length, 2, "no reconnect after a rejected token");
});

test("without a token nothing connects", async () => {
  const { live, sockets } = connection({ getConnection: async () => ({ agentUrl: "http://127.0.0.1:8080", token: null }) });
  await live.ensure();
  assert.equal(sockets.length, 0);
});
