// What the background keeps in chrome.storage.local besides the queue (src/lib/queue.js QUEUE_KEYS).
// Everything needed after a service-worker or browser restart lives here; memory holds only caches.

import { DEFAULT_AGENT_URL } from "../lib/agent-url.js";

export const KEYS = Object.freeze({
  agentUrl: "agent.url", // "http://127.0.0.1:8080"
  token: "agent.token", // the bearer token from pair/complete (never sent to content scripts)
  extension: "agent.extension", // {id, name, browser, origin, paired_at} from pair/complete
  pairing: "agent.pairing", // {pairing_id, agent_url, expires_at, code_length} while a pairing is pending
  lastError: "agent.last_error", // {code, message, at} | null
  paused: "capture.paused", // boolean: capture paused locally
  pausedChangedAt: "capture.paused_changed_at", // epoch ms of the last pause/resume (rows after a resume are read)
  lastCaptureAt: "capture.last_at", // epoch ms of the last row read and queued
  lastDeliveredAt: "capture.last_delivered_at", // epoch ms of the last 2xx from the agent
  collapsed: "panel.collapsed", // boolean: the in-page panel is collapsed
  lastEventId: "ws.last_event_id", // number: the `since` of the next WebSocket auth
});

export class Settings {
  #area;

  constructor(storageArea) {
    this.#area = storageArea;
  }

  async read() {
    const values = await this.#area.get(Object.values(KEYS));
    return {
      agentUrl: values[KEYS.agentUrl] || DEFAULT_AGENT_URL,
      token: values[KEYS.token] || null,
      extension: values[KEYS.extension] || null,
      pairing: values[KEYS.pairing] || null,
      lastError: values[KEYS.lastError] || null,
      paused: Boolean(values[KEYS.paused]),
      pausedChangedAt: values[KEYS.pausedChangedAt] || null,
      lastCaptureAt: values[KEYS.lastCaptureAt] || null,
      lastDeliveredAt: values[KEYS.lastDeliveredAt] || null,
      collapsed: Boolean(values[KEYS.collapsed]),
      lastEventId: values[KEYS.lastEventId] ?? null,
    };
  }

  async connection() {
    const values = await this.#area.get([KEYS.agentUrl, KEYS.token]);
    return { agentUrl: values[KEYS.agentUrl] || DEFAULT_AGENT_URL, token: values[KEYS.token] || null };
  }

  write(values) {
    const entries = Object.entries(values).map(([name, value]) => {
      if (!(name in KEYS)) throw new Error(`unknown setting ${name}`);
      return [KEYS[name], value];
    });
    return this.#area.set(Object.fromEntries(entries));
  }

  remove(names) {
    return this.#area.remove(names.map((name) => KEYS[name]));
  }
}

/** Keep the token away from content scripts where the browser allows it (Chromium; Firefox lacks it for local). */
export async function restrictToTrustedContexts(storageArea) {
  try {
    await storageArea.setAccessLevel?.({ accessLevel: "TRUSTED_CONTEXTS" });
    return Boolean(storageArea.setAccessLevel);
  } catch {
    return false;
  }
}
