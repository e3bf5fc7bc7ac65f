import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_AGENT_URL, normalizeAgentUrl, websocketUrl } from "../src/lib/agent-url.js";

test("agent URLs are normalized to a loopback http origin", () => {
  assert.equal(normalizeAgentUrl(""), DEFAULT_AGENT_URL);
  assert.equal(normalizeAgentUrl(" 127.0.0.1:9000/ "), "http://127.0.0.1:9000");
  assert.equal(normalizeAgentUrl("http://localhost:8080/api/health"), "http://localhost:8080");
  assert.equal(normalizeAgentUrl("http://127.0.0.1"), "http://127.0.0.1");
});

test("anything off this machine or not http is refused", () => {
  for (const bad of ["https://127.0.0.1:8080", "http://example.com", "http://192.168.1.2:8080", "ftp://localhost", "http://[::1"]) {
    assert.throws(() => normalizeAgentUrl(bad), Error, bad);
  }
});

test("the WebSocket URL has no token and points at /ws", () => {
  assert.equal(websocketUrl("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/ws");
});
