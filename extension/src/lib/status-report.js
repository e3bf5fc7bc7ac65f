// Selector health reports to POST /api/extension/status: sent at once when something meaningful changes
// (state, reason, paused), otherwise at most once a minute, so a busy chat does not flood the agent.

export const STATUS_MIN_INTERVAL_MS = 60_000;

function meaningfulKey(report) {
  return JSON.stringify([report.state, report.reason ?? "", Boolean(report.paused), report.selectors_version]);
}

export class StatusReporter {
  #post;
  #now;
  #minIntervalMs;
  #current = null;
  #sentKey = null;
  #sentAt = -Infinity;
  #sending = null;
  #recheck = false;
  #selectorsVersion;

  /** post(report) -> Promise<boolean delivered>; now() -> ms. */
  constructor({ post, now = Date.now, minIntervalMs = STATUS_MIN_INTERVAL_MS, selectorsVersion = "" }) {
    this.#selectorsVersion = selectorsVersion;
    this.#post = post;
    this.#now = now;
    this.#minIntervalMs = minIntervalMs;
  }

  get current() {
    return this.#current;
  }

  /** Merge new facts into the report; send when due. Returns whether a post was made. */
  update(partial) {
    const initial = { selectors_version: this.#selectorsVersion, state: "idle", reason: "", rows_seen: 0, queued: 0, paused: false };
    this.#current = { ...(this.#current ?? initial), ...partial };
    return this.#sendIfDue();
  }

  /** Periodic call (alarm): resend the unchanged report once the interval has passed. */
  heartbeat() {
    return this.#sendIfDue();
  }

  /** Forget what was sent (after pairing, so the new token reports at once). */
  reset() {
    this.#sentKey = null;
    this.#sentAt = -Infinity;
  }

  // A plain update that changes nothing meaningful waits for the interval like a heartbeat does.
  async #sendIfDue() {
    if (!this.#current) return false;
    if (this.#sending) {
      this.#recheck = true; // a change during a post is sent right after it
      return false;
    }
    const report = { ...this.#current };
    const changed = meaningfulKey(report) !== this.#sentKey;
    const intervalPassed = this.#now() - this.#sentAt >= this.#minIntervalMs;
    if (!changed && !intervalPassed) return false;
    this.#sending = (async () => {
      const delivered = await this.#post(report).catch(() => false);
      if (delivered) {
        this.#sentKey = meaningfulKey(report);
        this.#sentAt = this.#now();
      }
      return delivered;
    })();
    try {
      return await this.#sending;
    } finally {
      this.#sending = null;
      if (this.#recheck) {
        this.#recheck = false;
        if (meaningfulKey(this.#current) !== this.#sentKey) this.#sendIfDue();
      }
    }
  }
}
