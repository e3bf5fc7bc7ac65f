// The agent's live events over WebSocket. The token goes in the first message (URLs end up in logs);
// a ping every 20 s keeps the MV3 service worker alive (Chrome 116+) and the connection warm.

import { websocketUrl } from "../lib/agent-url.js";
import { backoffDelay, DEFAULT_LIMITS } from "../lib/queue.js";

export const PING_INTERVAL_MS = 20_000;
export const AUTH_FAILED_CLOSE_CODE = 4401;
export const FORWARDED_EVENTS = new Set(["message.captured", "analysis.completed", "capture.state",
  "reply.draft.started", "reply.draft.token", "reply.draft.completed", "reply.draft.failed", "reply.draft.cancelled"]);

export class LiveConnection {
  #getConnection;
  #getSince;
  #onEvent;
  #onAuthenticated;
  #onAuthRejected;
  #onStateChange;
  #WebSocketImpl;
  #socket = null;
  #pingTimer = null;
  #reconnectTimer = null;
  #attempt = 0;
  #connected = false;
  #stopped = true;

  constructor({ getConnection, getSince, onEvent, onAuthenticated = () => {}, onAuthRejected = () => {},
    onStateChange = () => {}, WebSocketImpl = globalThis.WebSocket }) {
    this.#getConnection = getConnection;
    this.#getSince = getSince;
    this.#onEvent = onEvent;
    this.#onAuthenticated = onAuthenticated;
    this.#onAuthRejected = onAuthRejected;
    this.#onStateChange = onStateChange;
    this.#WebSocketImpl = WebSocketImpl;
  }

  get connected() {
    return this.#connected;
  }

  /** Connect if paired and not already connected or waiting to reconnect. */
  async ensure() {
    this.#stopped = false;
    if (this.#socket || this.#reconnectTimer) return;
    const { agentUrl, token } = await this.#getConnection();
    if (!token || this.#socket || this.#stopped) return;
    this.#open(agentUrl, token, await this.#getSince());
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const socket = this.#socket;
    this.#socket = null;
    this.#setConnected(false);
    this.#stopPing();
    try {
      socket?.close(1000, "bye");
    } catch {
      // already closed
    }
  }

  #open(agentUrl, token, since) {
    let socket;
    try {
      socket = new this.#WebSocketImpl(websocketUrl(agentUrl));
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token, since: since ?? null }));
    socket.onmessage = (message) => this.#receive(socket, message.data);
    socket.onclose = (event) => this.#closed(socket, event.code);
    socket.onerror = () => {}; // onclose follows and decides
  }

  #receive(socket, raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message?.type === "auth.ok") {
      this.#attempt = 0;
      this.#setConnected(true);
      this.#startPing(socket);
      this.#onAuthenticated();
      return;
    }
    if (message?.type === "pong") return;
    if (typeof message?.type === "string") this.#onEvent(message);
  }

  #closed(socket, code) {
    if (socket !== this.#socket) return; // an old socket we already replaced
    this.#socket = null;
    this.#stopPing();
    this.#setConnected(false);
    if (code === AUTH_FAILED_CLOSE_CODE) {
      this.#stopped = true;
      this.#onAuthRejected(code);
      return;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    if (this.#stopped || this.#reconnectTimer) return;
    const delay = backoffDelay(this.#attempt, DEFAULT_LIMITS);
    this.#attempt += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.ensure().catch(() => this.#scheduleReconnect());
    }, delay);
  }

  #startPing(socket) {
    this.#stopPing();
    this.#pingTimer = setInterval(() => {
      if (socket.readyState === 1) socket.send(JSON.stringify({ type: "ping" }));
    }, PING_INTERVAL_MS);
  }

  #stopPing() {
    clearInterval(this.#pingTimer);
    this.#pingTimer = null;
  }

  #setConnected(connected) {
    if (this.#connected === connected) return;
    this.#connected = connected;
    this.#onStateChange(connected);
  }
}
