// "Draft with AI" as a small state machine (no DOM), fed by the agent's answers and its reply.draft.* events.
// The panel draws whatever state this holds; src/content/main.js feeds it.
//
// Events may arrive before the POST's answer says which draft_id is ours (the WebSocket is faster than the
// HTTP answer's trip through the background): while "starting", events are kept and replayed once the id is known.

export const DRAFT_EVENTS = Object.freeze({
  STARTED: "reply.draft.started",
  TOKEN: "reply.draft.token",
  COMPLETED: "reply.draft.completed",
  FAILED: "reply.draft.failed",
  CANCELLED: "reply.draft.cancelled",
});

const MAX_EARLY_EVENTS = 500;

/** status: "idle" | "starting" | "streaming" | "done" | "cancelled" | "failed" */
export class DraftState {
  status = "idle";
  messageId = null;
  draftId = null;
  text = "";
  error = null; // {code, message}
  stats = null; // {tokens, ttft_ms, tokens_per_s} from completed
  #early = [];

  get running() {
    return this.status === "starting" || this.status === "streaming";
  }

  /** Insert is offered once there is text and nothing more will arrive. */
  get insertable() {
    return !this.running && this.text.trim().length > 0;
  }

  start(messageId) {
    this.status = "starting";
    this.messageId = messageId;
    this.draftId = null;
    this.text = "";
    this.error = null;
    this.stats = null;
    this.#early = [];
  }

  /** The POST answer: {ok, draft_id} or {ok: false, error}. Returns whether the state changed. */
  started(answer) {
    if (this.status !== "starting") return false;
    if (!answer?.ok || typeof answer.draft_id !== "string") {
      this.status = "failed";
      this.error = answer?.error ?? { code: "agent_unreachable", message: "The agent is not reachable" };
      return true;
    }
    this.draftId = answer.draft_id;
    this.status = "streaming";
    const early = this.#early;
    this.#early = [];
    for (const event of early) this.apply(event);
    return true;
  }

  /** The user cancelled: the text so far stays (and can be inserted). */
  cancelled() {
    if (!this.running) return false;
    this.status = "cancelled";
    return true;
  }

  /** A reply.draft.* event {type, data}. Returns whether it concerned this draft (and changed the state). */
  apply(event) {
    const data = event?.data ?? {};
    if (typeof event?.type !== "string" || !event.type.startsWith("reply.draft.")) return false;
    if (this.status === "starting") {
      if (this.#early.length < MAX_EARLY_EVENTS) this.#early.push(event);
      return false;
    }
    if (!this.draftId || data.draft_id !== this.draftId) return false;
    if (this.status !== "streaming") return false; // cancelled here, or already finished: late events change nothing
    switch (event.type) {
      case DRAFT_EVENTS.TOKEN:
        this.text += typeof data.text === "string" ? data.text : "";
        return true;
      case DRAFT_EVENTS.COMPLETED:
        if (typeof data.text === "string") this.text = data.text;
        this.status = "done";
        this.stats = { tokens: data.tokens, ttft_ms: data.ttft_ms, tokens_per_s: data.tokens_per_s };
        return true;
      case DRAFT_EVENTS.FAILED:
        this.status = "failed";
        this.error = typeof data.error === "object" && data.error
          ? data.error : { code: String(data.error ?? "draft_failed"), message: String(data.error ?? "The draft failed") };
        return true;
      case DRAFT_EVENTS.CANCELLED:
        this.status = "cancelled";
        return true;
      default:
        return false; // started: nothing to show beyond "streaming"
    }
  }

  reset() {
    this.start(null);
    this.status = "idle";
  }
}

/** A plain sentence (from _locales, through i18n) for an error code; other codes show the agent's own message. */
export function draftErrorText(error, i18n) {
  const code = error?.code ?? "";
  if (code === "llm_disabled") return i18n.t("draft_error_llm_disabled");
  if (code === "agent_unreachable") return i18n.t("error_agent_unreachable");
  if (code === "unpaired" || code === "not_paired") return i18n.t("error_not_paired");
  return error?.message || i18n.t("draft_error_failed", code || "unknown");
}
