// The durable capture queue (docs/extension-protocol.md, "Capture" and the batch endpoint).
//
// Pure logic over injected parts, so tests run it under node with a fake storage and clock:
//   storage: {get(keys) -> Promise<object>, set(object) -> Promise}   (chrome.storage.local in the extension)
//   send(bodies) -> Promise<{ok: true, results: [{status}]} | {ok: false, status, blocked?, retryAfterMs?}>
//   now() -> epoch ms; random() -> [0, 1); scheduleRetry(delayMs): arrange for flush() to run again.
//
// Storage is the source of truth: every change is written before it is acknowledged, so a service-worker
// restart, a page reload or a browser restart loses nothing. Writes go through one promise chain, so two
// enqueues racing each other (two tabs, a history import and a live row) never overwrite each other.

export const QUEUE_KEYS = Object.freeze({ items: "queue.items", delivered: "queue.delivered" });

export const DEFAULT_LIMITS = Object.freeze({
  maxItems: 500, // the batch endpoint takes 1 to 500 items
  maxBytes: 1024 * 1024, // well under the agent's 8 MiB body limit, so a batch is never refused for size
  deliveredMemory: 5000, // ids remembered after delivery, so re-reading a chat does not send them again
  baseDelayMs: 1000,
  maxDelayMs: 30000,
  maxRetryAfterMs: 5 * 60 * 1000,
  jitter: 0.2,
});

const encoder = new TextEncoder();

/** Size in bytes of a capture body once serialized (what it adds to a batch request). */
export function bodyBytes(body) {
  return encoder.encode(JSON.stringify(body)).length;
}

/** How many leading items fit one batch: at most maxItems and maxBytes, but always at least one. */
export function takeBatch(items, limits = DEFAULT_LIMITS) {
  let bytes = 0;
  let count = 0;
  for (const item of items) {
    if (count >= limits.maxItems) break;
    const size = item.bytes ?? bodyBytes(item.body);
    if (count > 0 && bytes + size > limits.maxBytes) break;
    bytes += size;
    count += 1;
  }
  return count;
}

/** Delay before retry number `attempt` (0-based): base * 2^attempt, capped, with +-jitter so tabs spread out. */
export function backoffDelay(attempt, limits = DEFAULT_LIMITS, random = Math.random) {
  const raw = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** Math.min(attempt, 30));
  const factor = 1 - limits.jitter + 2 * limits.jitter * random();
  return Math.round(Math.min(limits.maxDelayMs, raw * factor));
}

export function isDelivered(status) {
  return status >= 200 && status < 300;
}

// 4xx answers that say "not now" or "not you" rather than "never this body": the item stays queued.
const RETRYABLE_4XX = new Set([401, 403, 408, 409, 429]);

/**
 * A 4xx other than 401/403/408/409/429 can never succeed (the agent refused the body itself: 400, 413,
 * 422 ...): log it and drop it, or one poison item blocks the queue behind it forever.
 */
export function isUnprocessable(status) {
  return status >= 400 && status < 500 && !RETRYABLE_4XX.has(status);
}

export function createCaptureQueue(options) {
  return new CaptureQueue(options);
}

export class CaptureQueue {
  #storage;
  #send;
  #now;
  #random;
  #scheduleRetry;
  #log;
  #onChange;
  #limits;
  #chain = Promise.resolve();
  #state = null; // {items, delivered: string[], deliveredSet, queuedSet}, loaded once from storage
  #flushing = null;
  #attempt = 0;
  #retryAt = 0;

  constructor({ storage, send, now = Date.now, random = Math.random, scheduleRetry = () => {},
    log = () => {}, onChange = () => {}, limits = {} }) {
    this.#storage = storage;
    this.#send = send;
    this.#now = now;
    this.#random = random;
    this.#scheduleRetry = scheduleRetry;
    this.#log = log;
    this.#onChange = onChange;
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** When the next retry is due (epoch ms; 0 when not backing off). */
  get retryAt() {
    return this.#retryAt;
  }

  get attempt() {
    return this.#attempt;
  }

  /** Add capture bodies; ids already queued or recently delivered are skipped. */
  enqueue(bodies) {
    return this.#serialized(async (state) => {
      const fresh = [];
      const ids = new Set();
      for (const body of bodies) {
        const id = body?.message_id;
        if (typeof id !== "string" || !id || ids.has(id) || state.queuedSet.has(id) || state.deliveredSet.has(id)) {
          continue;
        }
        ids.add(id);
        fresh.push({ id, body, bytes: bodyBytes(body), enqueuedAt: this.#now() });
      }
      if (fresh.length) {
        // Memory changes only after the write succeeded: a failed write leaves the queue as it was.
        const items = state.items.concat(fresh);
        await this.#storage.set({ [QUEUE_KEYS.items]: items });
        state.items = items;
        for (const id of ids) state.queuedSet.add(id);
      }
      return { added: fresh.length, duplicates: bodies.length - fresh.length, queued: state.items.length };
    }, true);
  }

  /** Number of items waiting. */
  size() {
    return this.#serialized(async (state) => state.items.length);
  }

  /** A copy of the waiting capture bodies, oldest first (for diagnostics and tests). */
  pending() {
    return this.#serialized(async (state) => state.items.map((item) => item.body));
  }

  /**
   * Deliver everything that is waiting, oldest first, in batches. One flush at a time: a call during a
   * flush joins it. While backing off, only a forced flush (e.g. the agent just came back) tries early.
   */
  flush({ force = false } = {}) {
    if (!this.#flushing) {
      this.#flushing = this.#deliverAll(force).finally(() => {
        this.#flushing = null;
      });
    }
    return this.#flushing;
  }

  async #deliverAll(force) {
    if (!force && this.#now() < this.#retryAt) return { status: "backoff", delivered: 0, dropped: 0 };
    let delivered = 0;
    let dropped = 0;
    let oneByOne = 0; // after a whole batch was refused 4xx: send that many items alone to find the bad one
    for (;;) {
      const batch = await this.#serialized(async (state) => state.items.slice(
        0, oneByOne > 0 ? Math.min(1, state.items.length) : takeBatch(state.items, this.#limits)));
      if (batch.length === 0) {
        this.#resetBackoff();
        return { status: "idle", delivered, dropped };
      }
      if (oneByOne > 0) oneByOne -= 1;
      const outcome = await this.#sendSafely(batch.map((item) => item.body));
      if (!outcome.ok && isUnprocessable(Number(outcome.status))) {
        if (batch.length > 1) {
          oneByOne = batch.length;
          continue;
        }
        // A lone item refused as a whole request: it is the poison one.
        this.#log(`capture dropped (${outcome.status})`, batch[0].id, outcome.code ?? null);
        await this.#remove({ delivered: [], dropped: [batch[0].id] });
        dropped += 1;
        continue;
      }
      if (!outcome.ok) {
        if (outcome.blocked) return { status: "blocked", delivered, dropped, reason: outcome.code };
        this.#backOff(outcome.retryAfterMs);
        return { status: "failed", delivered, dropped, reason: outcome.code ?? outcome.status };
      }
      const settled = this.#settle(batch, outcome.results);
      await this.#remove(settled);
      delivered += settled.delivered.length;
      dropped += settled.dropped.length;
      if (settled.retry) {
        this.#backOff(settled.retryAfterMs);
        return { status: "partial", delivered, dropped };
      }
      this.#resetBackoff();
    }
  }

  async #sendSafely(bodies) {
    try {
      const outcome = await this.#send(bodies);
      return outcome ?? { ok: false, status: 0 };
    } catch (error) {
      return { ok: false, status: 0, code: "send_failed", message: String(error?.message ?? error) };
    }
  }

  // Per the contract: remove exactly the items answered 2xx (and the 4xx that can never succeed, logged);
  // retry the rest.
  #settle(batch, results) {
    const settled = { delivered: [], dropped: [], retry: false, retryAfterMs: 0 };
    batch.forEach((item, index) => {
      const result = results?.[index];
      const status = Number(result?.status);
      if (isDelivered(status)) {
        settled.delivered.push(item.id);
      } else if (isUnprocessable(status)) {
        this.#log(`capture dropped (${status})`, item.id, result?.error ?? null);
        settled.dropped.push(item.id);
      } else {
        settled.retry = true;
        settled.retryAfterMs = Math.max(settled.retryAfterMs, Number(result?.retry_after_ms) || 0);
      }
    });
    return settled;
  }

  #remove({ delivered, dropped }) {
    const done = new Set([...delivered, ...dropped]);
    if (done.size === 0) return Promise.resolve();
    return this.#serialized(async (state) => {
      const items = state.items.filter((item) => !done.has(item.id));
      const delivered = state.delivered.concat([...done]).slice(-this.#limits.deliveredMemory);
      await this.#storage.set({ [QUEUE_KEYS.items]: items, [QUEUE_KEYS.delivered]: delivered });
      state.items = items;
      state.delivered = delivered;
      for (const id of done) state.queuedSet.delete(id);
      // Bounded memory of delivered ids: the oldest are forgotten first.
      state.deliveredSet = new Set(delivered);
    }, true);
  }

  #backOff(retryAfterMs = 0) {
    const delay = Math.max(
      backoffDelay(this.#attempt, this.#limits, this.#random),
      Math.min(Number(retryAfterMs) || 0, this.#limits.maxRetryAfterMs),
    );
    this.#attempt += 1;
    this.#retryAt = this.#now() + delay;
    this.#scheduleRetry(delay);
  }

  #resetBackoff() {
    this.#attempt = 0;
    this.#retryAt = 0;
  }

  // Every read-modify-write runs in order on one chain; a failing step does not break the chain.
  #serialized(step, changes = false) {
    const run = this.#chain.then(async () => {
      const state = await this.#loadedState();
      const result = await step(state);
      if (changes) this.#onChange({ queued: state.items.length });
      return result;
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  async #loadedState() {
    if (!this.#state) {
      const stored = await this.#storage.get([QUEUE_KEYS.items, QUEUE_KEYS.delivered]);
      const items = Array.isArray(stored?.[QUEUE_KEYS.items]) ? stored[QUEUE_KEYS.items] : [];
      const delivered = Array.isArray(stored?.[QUEUE_KEYS.delivered]) ? stored[QUEUE_KEYS.delivered] : [];
      this.#state = {
        items,
        delivered,
        deliveredSet: new Set(delivered),
        queuedSet: new Set(items.map((item) => item.id)),
      };
    }
    return this.#state;
  }
}
