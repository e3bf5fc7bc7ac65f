// The background: the only part of the extension that talks to the agent. It owns the capture queue,
// pairing, the live WebSocket, selector-health reports and the state shown by the popup and options page.
// One instance is created by background.js; listeners are registered synchronously there, as MV3 requires.

import { DEFAULT_AGENT_URL, normalizeAgentUrl } from "../lib/agent-url.js";
import { CONTENT_MESSAGES, MSG } from "../lib/messages.js";
import { jidKind } from "../lib/parse.js";
import { SELECTORS_VERSION } from "../content/selectors.js";
import { createCaptureQueue } from "../lib/queue.js";
import { StatusReporter } from "../lib/status-report.js";
import { requestAgent } from "./agent-client.js";
import { FORWARDED_EVENTS, LiveConnection } from "./live.js";
import { KEYS, Settings, restrictToTrustedContexts } from "./settings.js";

export const BACKSTOP_ALARM = "crm-agent.backstop";
const WHATSAPP_TABS = "https://web.whatsapp.com/*";
// The single capture's answers that are the item's own result (the queue settles them like a batch's);
// any other 4xx (400, 413 ...) is too: the queue drops those that can never succeed (src/lib/queue.js).
const SINGLE_CAPTURE_STATUSES = new Set([200, 201, 422, 429, 503]);
const isItemAnswer = (status) => SINGLE_CAPTURE_STATUSES.has(status) || (status >= 400 && status < 500);
const CAPTURE_TIMEOUT_MS = 30_000;
const QUICK_REPLIES_TIMEOUT_MS = 3000; // a list that comes later than this is no help to someone typing
const MAX_PREFIX_CHARS = 32;
// Tokens stream many events a second: remembering each one's id would write storage as often, for no gain
// (a draft is not resumed after a reconnect).
const UNREMEMBERED_EVENTS = new Set(["reply.draft.token"]);

export class Background {
  #api;
  #now;
  #fetch;
  #settings;
  #live;
  #reporter;
  #ready;
  #reachable = null; // null until the first request tells
  #queued = 0;
  #flushTimer = null;
  #broadcastTimer = null;

  /** api: the extension namespace (chrome/browser); fetchImpl and WebSocketImpl are injectable for tests. */
  constructor({ api, now = Date.now, fetchImpl = (...args) => globalThis.fetch(...args), WebSocketImpl = globalThis.WebSocket }) {
    this.#api = api;
    this.#now = now;
    this.#fetch = fetchImpl;
    this.#settings = new Settings(api.storage.local);
    this.queue = createCaptureQueue({
      storage: { get: (keys) => api.storage.local.get(keys), set: (values) => api.storage.local.set(values) },
      send: (bodies) => this.#sendCaptures(bodies),
      scheduleRetry: (delayMs) => this.#scheduleFlush(delayMs),
      log: (...args) => console.warn("[crm-agent]", ...args),
      onChange: ({ queued }) => {
        this.#queued = queued;
        this.#stateChanged();
      },
      now,
    });
    this.#live = new LiveConnection({
      getConnection: () => this.#settings.connection(),
      getSince: async () => (await this.#settings.read()).lastEventId,
      onEvent: (event) => this.#agentEvent(event),
      onAuthenticated: () => {
        this.#noteReachable(true);
        this.flush({ force: true }); // the agent is back: deliver what waited without waiting for the backoff
      },
      onAuthRejected: () => this.#dropToken({ code: "extension_revoked", message: "The agent closed the connection" }),
      onStateChange: () => this.#stateChanged(),
      WebSocketImpl,
    });
    this.#reporter = new StatusReporter({ post: (report) => this.#postStatus(report), now, selectorsVersion: SELECTORS_VERSION });
  }

  /** Register every listener synchronously (an MV3 worker woken by an event must find its listener). */
  listen() {
    const api = this.#api;
    api.runtime.onMessage.addListener((message, sender, sendResponse) => {
      this.handleMessage(message, sender).then(sendResponse, (error) => {
        sendResponse({ ok: false, error: { code: "internal", message: String(error?.message ?? error) } });
      });
      return true; // the answer is asynchronous
    });
    api.alarms.onAlarm.addListener((alarm) => {
      if (alarm.name === BACKSTOP_ALARM) this.backstop();
    });
    api.runtime.onStartup?.addListener(() => this.flush());
    // A fresh install has nothing to do until it is paired: take the user straight to the pairing page.
    api.runtime.onInstalled?.addListener(async ({ reason }) => {
      if (reason !== "install" || (await this.#settings.connection()).token) return;
      await api.runtime.openOptionsPage().catch((error) => console.warn("[crm-agent] options page", error));
    });
  }

  /** Start-up: restrict storage, arm the backstop alarm, connect, deliver what survived the restart. */
  start() {
    this.#ready = (async () => {
      await restrictToTrustedContexts(this.#api.storage.local);
      // Created once: re-creating it at every wake-up would push its next run out, forever if the worker
      // is woken more often than once a minute.
      if (!(await this.#api.alarms.get(BACKSTOP_ALARM))) {
        await this.#api.alarms.create(BACKSTOP_ALARM, { periodInMinutes: 1 });
      }
      this.#queued = await this.queue.size();
    })();
    this.#ready.then(() => {
      this.#connectLive();
      this.flush({ force: true });
    }).catch((error) => console.error("[crm-agent] start-up failed", error));
    return this.#ready;
  }

  /** Every minute: whatever timers died with a suspended worker, the queue and the connection recover here. */
  async backstop() {
    await this.#ready;
    this.flush();
    this.#connectLive();
    if (this.#reporter.current) this.#reporter.update({ queued: this.#queued }); // sent when a minute has passed
  }

  /** Stop timers and the connection (tests; a real worker simply ends). */
  stop() {
    this.#live.stop();
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#broadcastTimer);
    this.#flushTimer = null;
    this.#broadcastTimer = null;
  }

  /** Deliver the queue now; never rejects (callers often do not wait), a storage failure is logged. */
  flush({ force = false } = {}) {
    return this.queue.flush({ force }).catch((error) => {
      console.warn("[crm-agent] flush failed", error);
      return { status: "error", delivered: 0, dropped: 0, reason: String(error?.message ?? error) };
    });
  }

  async state({ probe = false } = {}) {
    await this.#ready;
    if (probe) await this.#probeAgent();
    return this.#publicState();
  }

  async handleMessage(message, sender) {
    await this.#ready;
    const type = message?.type;
    if (sender?.id !== this.#api.runtime.id) return refused("not from this extension");
    // Extension pages (options, popup; the options page is a tab too) have our own URL; content scripts the page's.
    const fromExtensionPage = String(sender.url ?? "").startsWith(this.#api.runtime.getURL(""));
    if (!fromExtensionPage && !CONTENT_MESSAGES.has(type)) return refused("not allowed from a web page");
    switch (type) {
      case MSG.CAPTURE: return this.#capture(message.captures);
      case MSG.HEALTH: return this.#health(message.report);
      case MSG.PANEL_GET: return this.#panelData(message.chat_id);
      case MSG.PANEL_SET_COLLAPSED: return this.#setCollapsed(message.collapsed);
      case MSG.OPEN_OPTIONS: await this.#api.runtime.openOptionsPage(); return { ok: true };
      case MSG.QUICK_REPLIES: return this.#quickReplies(message.prefix, message.chat_id);
      case MSG.DRAFT_START: return this.#startDraft(message.message_id);
      case MSG.DRAFT_CANCEL: return this.#cancelDraft(message.draft_id);
      case MSG.STATE_GET: return { ok: true, state: await this.state({ probe: Boolean(message.probe) }) };
      case MSG.AGENT_FIND: return this.#findAgent(message.agent_url);
      case MSG.PAIR_START: return this.#startPairing(message.agent_url);
      case MSG.PAIR_COMPLETE: return this.#completePairing(message.code);
      case MSG.UNPAIR: await this.#dropToken(null); return { ok: true };
      case MSG.PAUSE_SET: return this.#setPaused(message.paused);
      case MSG.DASHBOARD_OPEN: return this.#openDashboard();
      case MSG.QUEUE_FLUSH: return { ok: true, result: await this.flush({ force: true }) };
      default: return { ok: false, error: { code: "unknown_message", message: `unknown message type ${type}` } };
    }
  }

  // -- capture --------------------------------------------------------------------------------------

  async #capture(captures) {
    const settings = await this.#settings.read();
    if (settings.paused) return { ok: false, paused: true }; // pause is local: nothing is queued
    const valid = (Array.isArray(captures) ? captures : []).filter(isCaptureBody);
    const result = await this.queue.enqueue(valid);
    if (result.added) await this.#settings.write({ lastCaptureAt: this.#now() });
    this.flush();
    return { ok: true, ...result };
  }

  async #sendCaptures(bodies) {
    const { agentUrl, token } = await this.#settings.connection();
    if (!token) return { ok: false, blocked: true, code: "not_paired" };
    const single = bodies.length === 1; // a lone live message: the single endpoint, the lowest latency
    const outcome = await this.#request(agentUrl, single ? "/api/messages/capture" : "/api/messages/capture/batch", {
      method: "POST", token, body: single ? bodies[0] : { messages: bodies }, timeoutMs: CAPTURE_TIMEOUT_MS,
    });
    this.#noteReachable(outcome.status !== 0);
    if (outcome.status === 401) {
      await this.#dropToken(outcome.error);
      return { ok: false, blocked: true, code: outcome.error?.code };
    }
    let results = null;
    if (single && isItemAnswer(outcome.status)) {
      results = [{ status: outcome.status, error: outcome.error, retry_after_ms: outcome.retryAfterMs }];
    } else if (!single && outcome.ok && Array.isArray(outcome.data?.results)) {
      results = outcome.data.results;
    }
    if (!results) {
      return { ok: false, status: outcome.status, code: outcome.error?.code, retryAfterMs: outcome.retryAfterMs };
    }
    if (results.some((result) => result?.status >= 200 && result?.status < 300)) {
      await this.#settings.write({ lastDeliveredAt: this.#now() });
    }
    return { ok: true, results };
  }

  // A retry timer lives only as long as the worker: the alarm backstop covers a worker that was suspended.
  #scheduleFlush(delayMs) {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null;
      this.flush();
    }, delayMs);
  }

  // -- selector health --------------------------------------------------------------------------------

  async #health(report) {
    const settings = await this.#settings.read();
    const state = ["ok", "stalled", "idle"].includes(report?.state) ? report.state : "idle";
    this.#reporter.update({
      selectors_version: String(report?.selectors_version ?? ""),
      state,
      reason: String(report?.reason ?? "").slice(0, 200),
      rows_seen: Number(report?.rows_seen) || 0,
      queued: this.#queued,
      paused: settings.paused,
    });
    this.#stateChanged();
    return { ok: true };
  }

  async #postStatus(report) {
    const { agentUrl, token } = await this.#settings.connection();
    if (!token) return false;
    const outcome = await this.#request(agentUrl, "/api/extension/status", { method: "POST", token, body: report });
    this.#noteReachable(outcome.status !== 0);
    if (outcome.status === 401) await this.#dropToken(outcome.error);
    return outcome.ok;
  }

  // -- panel, pause, dashboard ------------------------------------------------------------------------

  async #panelData(chatId) {
    if (!jidKind(chatId)) return { ok: false, state: "error", error: { code: "bad_chat", message: "not a chat id" } };
    const { agentUrl, token } = await this.#settings.connection();
    if (!token) return { ok: false, state: "unpaired" };
    const outcome = await this.#request(agentUrl, `/api/extension/chat?chat_id=${encodeURIComponent(chatId)}`, { token });
    this.#noteReachable(outcome.status !== 0);
    if (outcome.status === 401) {
      await this.#dropToken(outcome.error);
      return { ok: false, state: "unpaired" };
    }
    if (outcome.status === 0) return { ok: false, state: "offline" };
    if (!outcome.ok) return { ok: false, state: "error", error: outcome.error };
    return { ok: true, state: "ok", data: outcome.data, live: this.#live.connected };
  }

  // -- quick replies and drafts (the panel and the message box ask; only this side talks to the agent) -----

  async #quickReplies(prefix, chatId) {
    if (typeof prefix !== "string" || prefix.length > MAX_PREFIX_CHARS) {
      return { ok: false, state: "error", error: { code: "bad_prefix", message: "prefix: at most 32 characters" } };
    }
    const query = new URLSearchParams({ prefix });
    if (jidKind(chatId)) query.set("chat_id", chatId);
    const outcome = await this.#agentCall(`/api/quick-replies?${query}`, { timeoutMs: QUICK_REPLIES_TIMEOUT_MS });
    if (!outcome.ok) return outcome;
    return { ok: true, items: Array.isArray(outcome.data?.items) ? outcome.data.items : [] };
  }

  async #startDraft(messageId) {
    if (!Number.isInteger(messageId) || messageId <= 0) {
      return { ok: false, state: "error", error: { code: "bad_message", message: "not a message id" } };
    }
    const outcome = await this.#agentCall("/api/replies/draft", { method: "POST", body: { message_id: messageId } });
    if (!outcome.ok) return outcome;
    return { ok: true, draft_id: outcome.data?.draft_id, message_id: outcome.data?.message_id,
      knowledge: outcome.data?.knowledge ?? [], live: this.#live.connected };
  }

  async #cancelDraft(draftId) {
    if (typeof draftId !== "string" || !draftId || draftId.length > 200) {
      return { ok: false, state: "error", error: { code: "bad_draft", message: "not a draft id" } };
    }
    const outcome = await this.#agentCall(`/api/replies/draft/${encodeURIComponent(draftId)}`, { method: "DELETE" });
    // 404: it finished (or was cancelled) meanwhile: the user's intent is met either way.
    if (!outcome.ok && outcome.status !== 404) return outcome;
    return { ok: true };
  }

  /** An authenticated call for a content-script feature: {ok: true, data} or {ok: false, state, error}. */
  async #agentCall(path, { method = "GET", body, timeoutMs } = {}) {
    const { agentUrl, token } = await this.#settings.connection();
    if (!token) return { ok: false, state: "unpaired", error: { code: "not_paired", message: "Pair with the agent first" } };
    const outcome = await this.#request(agentUrl, path, { method, token, body, timeoutMs });
    this.#noteReachable(outcome.status !== 0);
    if (outcome.status === 401) {
      await this.#dropToken(outcome.error);
      return { ok: false, state: "unpaired", error: outcome.error };
    }
    if (outcome.status === 0) return { ok: false, state: "offline", error: outcome.error };
    if (!outcome.ok) return { ok: false, state: "error", status: outcome.status, error: outcome.error };
    return { ok: true, data: outcome.data };
  }

  async #setCollapsed(collapsed) {
    await this.#settings.write({ collapsed: Boolean(collapsed) });
    return { ok: true };
  }

  async #setPaused(paused) {
    await this.#settings.write({ paused: Boolean(paused), pausedChangedAt: this.#now() });
    this.#reporter.update({ paused: Boolean(paused), queued: this.#queued });
    this.#stateChanged();
    return { ok: true, state: await this.#publicState() };
  }

  async #openDashboard() {
    const { agentUrl, token } = await this.#settings.connection();
    if (!token) return { ok: false, error: { code: "not_paired", message: "Pair with the agent first" } };
    const outcome = await this.#request(agentUrl, "/api/extension/open-dashboard", { method: "POST", token });
    this.#noteReachable(outcome.status !== 0);
    if (outcome.status === 401) await this.#dropToken(outcome.error);
    return outcome.ok ? { ok: true } : { ok: false, error: outcome.error };
  }

  // -- pairing ----------------------------------------------------------------------------------------

  async #findAgent(input) {
    let agentUrl;
    try {
      agentUrl = normalizeAgentUrl(input);
    } catch (error) {
      return { ok: false, reachable: false, error: { code: "bad_url", message: error.message } };
    }
    const outcome = await this.#request(agentUrl, "/api/health", { timeoutMs: 5000 });
    const reachable = outcome.status !== 0;
    const current = (await this.#settings.connection()).agentUrl;
    if (agentUrl === current) this.#noteReachable(reachable);
    return { ok: true, reachable, agent_url: agentUrl, health: outcome.data ?? null, error: reachable ? null : outcome.error };
  }

  async #startPairing(input) {
    let agentUrl;
    try {
      agentUrl = normalizeAgentUrl(input);
    } catch (error) {
      return { ok: false, error: { code: "bad_url", message: error.message } };
    }
    const current = await this.#settings.connection();
    if (current.token && current.agentUrl !== agentUrl) await this.#dropToken(null); // a token is for one agent
    await this.#settings.write({ agentUrl });
    const outcome = await this.#request(agentUrl, "/api/pair/start", { method: "POST", body: this.#describeSelf() });
    this.#noteReachable(outcome.status !== 0);
    if (!outcome.ok) return { ok: false, error: outcome.error, retry_after_ms: outcome.retryAfterMs };
    const pairing = {
      pairing_id: outcome.data.pairing_id,
      agent_url: agentUrl,
      expires_at: this.#now() + (Number(outcome.data.expires_in_s) || 120) * 1000,
      code_length: Number(outcome.data.code_length) || 6,
    };
    await this.#settings.write({ pairing, lastError: null });
    this.#stateChanged();
    return { ok: true, ...pairing };
  }

  async #completePairing(code) {
    const { pairing } = await this.#settings.read();
    if (!pairing || pairing.expires_at <= this.#now()) {
      await this.#settings.remove(["pairing"]);
      this.#stateChanged();
      return { ok: false, error: { code: "pairing_expired", message: "The code expired: start pairing again" } };
    }
    const digits = String(code ?? "").replace(/\s/g, "");
    if (!/^\d+$/.test(digits) || digits.length !== pairing.code_length) {
      return { ok: false, error: { code: "bad_code", message: `Enter the ${pairing.code_length}-digit code`,
        details: { code_length: pairing.code_length } } };
    }
    const outcome = await this.#request(pairing.agent_url, "/api/pair/complete", {
      method: "POST", body: { pairing_id: pairing.pairing_id, code: digits },
    });
    this.#noteReachable(outcome.status !== 0);
    if (outcome.status === 410) {
      await this.#settings.remove(["pairing"]);
      this.#stateChanged();
    }
    if (!outcome.ok) return { ok: false, error: outcome.error };
    await this.#settings.write({ token: outcome.data.token, extension: outcome.data.extension ?? null,
      agentUrl: pairing.agent_url, lastError: null, lastEventId: null });
    await this.#settings.remove(["pairing"]);
    this.#reporter.reset();
    this.#live.stop();
    this.#connectLive();
    this.flush({ force: true });
    this.#reporter.update({ queued: this.#queued, paused: (await this.#settings.read()).paused });
    this.#stateChanged();
    return { ok: true, extension: outcome.data.extension ?? null };
  }

  /** Forget the token: on unpair (error null) or when the agent rejects it (revoked, unknown). */
  async #dropToken(error) {
    await this.#settings.remove(["token", "extension", "pairing"]);
    await this.#settings.write({
      lastError: error ? { code: error.code ?? "unauthorized", message: "Disconnected by the agent: pair again", at: this.#now() } : null,
    });
    this.#live.stop();
    this.#reporter.reset();
    this.#stateChanged();
  }

  #describeSelf() {
    const manifest = this.#api.runtime.getManifest();
    const browser = this.#api.runtime.getURL("").startsWith("moz-extension:") ? "firefox" : "chromium";
    const nav = globalThis.navigator ?? {};
    const brand = nav.userAgentData?.brands?.map((b) => b.brand).find((b) => /Chrome|Edge|Brave|Opera|Chromium/.test(b));
    const platform = nav.userAgentData?.platform || nav.platform || "this computer";
    const product = browser === "firefox" ? "Firefox" : (brand ?? "Chromium");
    return { name: `${product} on ${platform}`.slice(0, 100), browser, version: manifest.version };
  }

  // -- agent state ------------------------------------------------------------------------------------

  async #probeAgent() {
    const { agentUrl, token } = await this.#settings.connection();
    const outcome = await this.#request(agentUrl, token ? "/api/extension/me" : "/api/health", { token, timeoutMs: 3000 });
    this.#noteReachable(outcome.status !== 0);
    if (token && outcome.status === 401) await this.#dropToken(outcome.error);
    if (token && outcome.ok) this.#connectLive();
  }

  #request(baseUrl, path, options = {}) {
    return requestAgent(baseUrl, path, { ...options, fetchImpl: this.#fetch });
  }

  #connectLive() {
    this.#live.ensure().catch((error) => console.warn("[crm-agent] live connection failed", error));
  }

  #noteReachable(reachable) {
    if (this.#reachable === reachable) return;
    this.#reachable = reachable;
    this.#stateChanged();
  }

  // Forwarded before the id is stored: waiting for storage first would let a later event (a draft's token,
  // not stored) overtake an earlier one.
  async #agentEvent(event) {
    if (FORWARDED_EVENTS.has(event.type)) this.#sendToTabs({ type: MSG.AGENT_EVENT, event });
    if (Number.isFinite(event.id) && event.id > 0 && !UNREMEMBERED_EVENTS.has(event.type)) {
      await this.#settings.write({ lastEventId: event.id });
    }
  }

  async #publicState() {
    const s = await this.#settings.read();
    const pending = s.pairing && s.pairing.expires_at > this.#now() ? s.pairing : null;
    return {
      agentUrl: s.agentUrl ?? DEFAULT_AGENT_URL,
      paired: Boolean(s.token),
      extension: s.extension,
      pairing: pending && { pairing_id: pending.pairing_id, expires_at: pending.expires_at, code_length: pending.code_length },
      reachable: this.#reachable,
      live: this.#live.connected,
      queued: this.#queued,
      lastCaptureAt: s.lastCaptureAt,
      lastDeliveredAt: s.lastDeliveredAt,
      paused: s.paused,
      pausedChangedAt: s.pausedChangedAt,
      collapsed: s.collapsed,
      lastError: s.lastError,
      health: this.#reporter.current,
      version: this.#api.runtime.getManifest().version,
    };
  }

  // Coalesced: a history import changes the queue hundreds of times a second; pages need one update.
  #stateChanged() {
    if (this.#broadcastTimer) return;
    this.#broadcastTimer = setTimeout(async () => {
      this.#broadcastTimer = null;
      const message = { type: MSG.STATE_CHANGED, state: await this.#publicState() };
      this.#api.runtime.sendMessage(message).catch(() => {}); // no page open: nobody to tell
      this.#sendToTabs(message);
    }, 100);
  }

  async #sendToTabs(message) {
    const tabs = await this.#api.tabs.query({ url: WHATSAPP_TABS }).catch(() => []);
    for (const tab of tabs) this.#api.tabs.sendMessage(tab.id, message).catch(() => {});
  }
}

function refused(why) {
  return { ok: false, error: { code: "forbidden", message: why } };
}

function isCaptureBody(body) {
  return typeof body?.message_id === "string" && body.message_id.length > 0 && body.message_id.length <= 300
    && typeof body.chat_id === "string" && typeof body.content === "string"
    && (body.direction === "in" || body.direction === "out") && Number.isFinite(body.timestamp);
}

export { KEYS };
