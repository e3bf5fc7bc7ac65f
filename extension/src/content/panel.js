// The panel beside the open chat: customer, latest analysis, suggested replies. It lives in an OPEN shadow
// root (tests reach into it; WhatsApp's styles stay out) on a fixed host element added to document.body.
// A view only: main.js fetches the data through the background and calls render().

import { el } from "../lib/dom.js";
import { draftErrorText } from "../lib/draft.js";
import { PANEL_CSS } from "./panel-style.js";

export const PANEL_HOST_ID = "crm-agent-panel";

export class Panel {
  #doc;
  #onInsert;
  #onCollapse;
  #onOpenOptions;
  #onDraft;
  #onDraftCancel;
  #draft;
  #draftText = null; // the element showing the draft's text: tokens update it without redrawing the panel
  #host = null;
  #root = null;
  #collapsed;
  #view = { state: "hidden" };

  /** draft: a DraftState (src/lib/draft.js) the panel draws; onDraft/onDraftCancel start and cancel it. */
  constructor({ doc, collapsed = false, onInsert, onCollapse, onOpenOptions, draft = null, onDraft = () => {},
    onDraftCancel = () => {} }) {
    this.#doc = doc;
    this.#draft = draft;
    this.#onDraft = onDraft;
    this.#onDraftCancel = onDraftCancel;
    this.#collapsed = collapsed;
    this.#onInsert = onInsert;
    this.#onCollapse = onCollapse;
    this.#onOpenOptions = onOpenOptions;
  }

  get host() {
    return this.#host;
  }

  mount() {
    this.#doc.getElementById(PANEL_HOST_ID)?.remove(); // a previous copy of this script (extension reloaded)
    this.#host = this.#doc.createElement("div");
    this.#host.id = PANEL_HOST_ID;
    Object.assign(this.#host.style, {
      position: "fixed", top: "68px", right: "16px", zIndex: "2147483000", display: "none",
    });
    this.#root = this.#host.attachShadow({ mode: "open" });
    this.#doc.body.append(this.#host);
    this.#draw();
  }

  setCollapsed(collapsed) {
    this.#collapsed = collapsed;
    this.#draw();
  }

  /**
   * view: {state: "hidden" | "empty" | "loading" | "unpaired" | "offline" | "error" | "ok", data?, agent?: {paused, queued}}
   */
  render(view) {
    this.#view = view;
    this.#draw();
  }

  /** Draw again with the same view (the draft changed state). */
  refresh() {
    this.#draw();
  }

  /** The draft's text grew: only its element changes (a full redraw per token would flicker and lose focus). */
  updateDraftText() {
    if (this.#draftText?.isConnected) this.#draftText.textContent = this.#draft.text || "Writing…";
    else this.#draw();
  }

  #draw() {
    if (!this.#root) return;
    const doc = this.#doc;
    this.#host.style.display = this.#view.state === "hidden" ? "none" : "block";
    const panel = el(doc, "section", { class: "panel", "data-state": this.#view.state, "data-collapsed": String(this.#collapsed),
      "aria-label": "CRM Agent" },
    el(doc, "div", { class: "bar" },
      el(doc, "span", { class: "brand" }, "CRM Agent"),
      el(doc, "button", { class: "icon", "data-action": "collapse", "aria-expanded": String(!this.#collapsed),
        title: this.#collapsed ? "Expand" : "Collapse", onclick: () => this.#toggle() }, this.#collapsed ? "◂" : "▸")),
    el(doc, "div", { class: "body" }, this.#bodyFor(this.#view)));
    // Redrawn on every refresh (a captured message, a draft's state): the reader's scroll position stays.
    const scrolled = this.#root.querySelector(".body")?.scrollTop ?? 0;
    this.#root.replaceChildren(el(doc, "style", {}, PANEL_CSS), panel);
    if (scrolled) panel.querySelector(".body").scrollTop = scrolled;
  }

  #toggle() {
    this.#collapsed = !this.#collapsed;
    this.#draw();
    this.#onCollapse(this.#collapsed);
  }

  #bodyFor(view) {
    const doc = this.#doc;
    const paused = view.agent?.paused ? el(doc, "div", { class: "notice", "data-role": "paused" }, "Capture is paused") : null;
    switch (view.state) {
      case "unpaired":
        return [el(doc, "div", { class: "notice off", "data-role": "notice" }, "Not paired with the agent."),
          el(doc, "button", { "data-action": "open-options", onclick: () => this.#onOpenOptions() }, "Pair now")];
      case "offline":
        return [paused, el(doc, "div", { class: "notice off", "data-role": "notice" },
          `Agent offline. Messages wait in the queue (${view.agent?.queued ?? 0}) and are sent when it is back.`)];
      case "error":
        return [paused, el(doc, "div", { class: "notice off", "data-role": "notice" }, view.error?.message ?? "Something went wrong")];
      case "loading":
        return [paused, el(doc, "div", { class: "muted" }, "Loading…")];
      case "empty":
        return [paused, el(doc, "div", { class: "muted" }, "No messages in this chat yet.")];
      case "ok":
        return [paused, this.#customer(view.data), this.#analysis(view.data), this.#replies(view.data),
          this.#draftSection(view.data)];
      default:
        return [];
    }
  }

  #customer(data) {
    const doc = this.#doc;
    const customer = data?.customer;
    if (!customer) {
      return el(doc, "div", { "data-role": "customer" }, el(doc, "h3", {}, "Customer"),
        el(doc, "div", { class: "muted" }, "Not known to the agent yet."));
    }
    const tags = Array.isArray(customer.tags) ? customer.tags : [];
    return el(doc, "div", { "data-role": "customer" },
      el(doc, "h3", {}, "Customer"),
      el(doc, "div", { class: "name" }, customer.name || "Unnamed"),
      el(doc, "dl", {},
        el(doc, "dt", {}, "Phone"), el(doc, "dd", { "data-field": "phone" }, customer.phone || "phone hidden"),
        el(doc, "dt", {}, "Status"), el(doc, "dd", { "data-field": "status" }, customer.status || "—"),
        el(doc, "dt", {}, "First contact"), el(doc, "dd", { "data-field": "first_contact" }, formatDate(customer.first_contact_at)),
        el(doc, "dt", {}, "Messages"), el(doc, "dd", { "data-field": "message_count" }, String(customer.message_count ?? 0))),
      tags.length ? el(doc, "div", { class: "tags" }, tags.map((tag) => el(doc, "span", { class: "tag" }, String(tag)))) : null);
  }

  #analysis(data) {
    const doc = this.#doc;
    const latest = data?.latest;
    const analysis = latest?.analysis;
    if (!analysis) return el(doc, "div", { "data-role": "analysis" }, el(doc, "h3", {}, "Last message"),
      el(doc, "div", { class: "muted" }, "No analysis yet."));
    const sentiment = labelOf(analysis.sentiment);
    const intent = labelOf(analysis.intent);
    const confidence = analysis.intent?.confidence ?? analysis.confidence;
    return el(doc, "div", { "data-role": "analysis" },
      el(doc, "h3", {}, "Last message"),
      latest.preview ? el(doc, "p", { class: "preview" }, latest.preview) : null,
      el(doc, "div", { class: "chips" },
        el(doc, "span", { class: "chip", "data-sentiment": sentiment, "data-field": "sentiment" }, `Sentiment: ${sentiment}`),
        el(doc, "span", { class: "chip", "data-field": "intent" }, `Intent: ${intent}`),
        Number.isFinite(confidence)
          ? el(doc, "span", { class: "chip", "data-field": "confidence" }, `Confidence: ${Math.round(confidence * 100)}%`) : null));
  }

  #replies(data) {
    const doc = this.#doc;
    const replies = (data?.latest?.analysis?.suggested_responses ?? []).filter((r) => typeof r === "string" && r.trim());
    const feedback = el(doc, "div", { class: "feedback", "data-role": "feedback", "aria-live": "polite" });
    const knowledge = data?.latest?.analysis?.knowledge;
    const source = typeof knowledge?.title === "string" && knowledge.title ? knowledge.title : null;
    const list = replies.map((reply, index) => el(doc, "div", { class: "reply", "data-grounded": String(index === 0 && Boolean(source)) },
      // The first suggestion of a grounded analysis carries the entry's fact: say where it came from.
      index === 0 && source
        ? el(doc, "div", { class: "source", "data-role": "knowledge-source", "data-entry-id": knowledge.entry_id ?? null },
          `From your knowledge: ${source}`) : null,
      el(doc, "p", {}, reply),
      el(doc, "button", { "data-action": "insert-reply", title: "Put this reply in the message box (you send it)",
        onclick: () => {
          const inserted = this.#onInsert(reply);
          feedback.textContent = inserted ? "Inserted: review it and press Enter to send." : "Open a chat to insert the reply.";
        } }, "Insert")));
    return el(doc, "div", { "data-role": "replies" }, el(doc, "h3", {}, "Suggested replies"),
      list.length ? list : el(doc, "div", { class: "muted" }, "No suggestions."), feedback);
  }

  #draftSection(data) {
    const doc = this.#doc;
    const draft = this.#draft;
    this.#draftText = null;
    if (!draft) return null;
    const latestId = data?.latest?.id;
    const heading = el(doc, "h3", {}, "Draft with AI");
    if (!Number.isInteger(latestId)) {
      return el(doc, "div", { "data-role": "draft", "data-status": "none" }, heading,
        el(doc, "div", { class: "muted" }, "No customer message to answer yet."));
    }
    const start = (label) => el(doc, "button", { "data-action": "draft", title: "The agent's language model writes a reply "
      + "from your knowledge and this conversation; you review it, nothing is sent", onclick: () => this.#onDraft(latestId) }, label);
    const parts = [heading];
    if (draft.status === "idle") {
      parts.push(start("Draft with AI"));
    } else {
      this.#draftText = el(doc, "p", { class: "draft-text", "data-role": "draft-text", "aria-live": "polite" },
        draft.text || (draft.running ? "Writing…" : ""));
      if (draft.status === "failed") {
        parts.push(el(doc, "div", { class: "notice off", "data-role": "draft-error" }, draftErrorText(draft.error)));
        if (draft.text) parts.push(this.#draftText);
      } else {
        parts.push(this.#draftText);
      }
      if (draft.running) {
        parts.push(el(doc, "div", { class: "actions" },
          el(doc, "span", { class: "muted" }, draft.status === "starting" ? "Starting…" : "Writing…"),
          el(doc, "button", { "data-action": "draft-cancel", onclick: () => this.#onDraftCancel() }, "Cancel")));
      } else {
        const feedback = el(doc, "div", { class: "feedback", "data-role": "draft-feedback", "aria-live": "polite" });
        parts.push(el(doc, "div", { class: "actions" },
          draft.insertable ? el(doc, "button", { "data-action": "draft-insert",
            title: "Put this draft in the message box (you send it)", onclick: () => {
              const inserted = this.#onInsert(draft.text.trim());
              feedback.textContent = inserted ? "Inserted: review it and press Enter to send." : "Open a chat to insert the draft.";
            } }, "Insert") : null,
          start(draft.status === "failed" ? "Try again" : "Draft again")), feedback);
        if (draft.status === "cancelled") parts.push(el(doc, "div", { class: "muted" }, "Cancelled: the text so far is kept."));
        if (draft.status === "done" && Number.isFinite(draft.stats?.tokens_per_s)) {
          parts.push(el(doc, "div", { class: "muted", "data-role": "draft-stats" },
            `${draft.stats.tokens ?? "?"} tokens, ${draft.stats.tokens_per_s.toFixed(1)} tokens/s`));
        }
      }
    }
    return el(doc, "div", { "data-role": "draft", "data-status": draft.status }, parts);
  }
}

function labelOf(value) {
  if (typeof value === "string") return value;
  return value?.label ?? "unknown";
}

function formatDate(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleDateString();
}
