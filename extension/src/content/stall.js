// Deciding, from counts only, whether capture works in the open chat (pure: tests drive it with a fake clock).
// "stalled" = a chat is open but the selectors find no rows, or rows but no text in any, for thresholdMs.

export const STALL_THRESHOLD_MS = 10_000;

export const STALL_REASONS = Object.freeze({
  noRows: "a chat is open but no message rows match #main [data-id]",
  noText: "message rows were found but none has readable text (.copyable-text .selectable-text)",
});

export class StallDetector {
  #now;
  #thresholdMs;
  #state = null;
  #reason = "";
  #badSince = null;

  constructor({ now = Date.now, thresholdMs = STALL_THRESHOLD_MS } = {}) {
    this.#now = now;
    this.#thresholdMs = thresholdMs;
  }

  get state() {
    return this.#state;
  }

  /** observe({chatOpen, rows, readable}) -> {state, reason} when the state changes, else null. */
  observe({ chatOpen, rows, readable }) {
    let next;
    let reason = "";
    if (!chatOpen) {
      next = "idle";
      this.#badSince = null;
    } else if (rows === 0 || readable === 0) {
      reason = rows === 0 ? STALL_REASONS.noRows : STALL_REASONS.noText;
      this.#badSince ??= this.#now();
      // Until the threshold passes, keep the previous verdict: a chat that is still loading is not broken.
      next = this.#now() - this.#badSince >= this.#thresholdMs ? "stalled" : (this.#state === "stalled" ? "stalled" : this.#state ?? "idle");
      if (next !== "stalled") reason = this.#reason;
    } else {
      next = "ok";
      this.#badSince = null;
    }
    if (next === this.#state && reason === this.#reason) return null;
    this.#state = next;
    this.#reason = reason;
    return { state: next, reason };
  }
}
