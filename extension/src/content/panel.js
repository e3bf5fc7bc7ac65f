// The panel beside the open chat: customer, latest analysis, suggested replies. It lives in an OPEN shadow
// root (tests reach into it; WhatsApp's styles stay out) on a fixed host element added to document.body.
// A view only: main.js fetches the data through the background and calls render().

import { el } from "../lib/dom.js";
import { PANEL_CSS } from "./panel-style.js";

export const PANEL_HOST_ID = "crm-agent-panel";

export class Panel {
  #doc;
  #onInsert;
  #onCollapse;
  #onOpenOptions;
  #host = null;
  #root = null;
  #collapsed;
  #view = { state: "hidden" };

  constructor({ doc, collapsed = false, onInsert, onCollapse, onOpenOptions }) {
    this.#doc = doc;
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
    this.#root.replaceChildren(el(doc, "style", {}, PANEL_CSS), panel);
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
        return [paused, this.#customer(view.data), this.#analysis(view.data), this.#replies(view.data)];
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
    const list = replies.map((reply) => el(doc, "div", { class: "reply" },
      el(doc, "p", {}, reply),
      el(doc, "button", { "data-action": "insert-reply", title: "Put this reply in the message box (you send it)",
        onclick: () => {
          const inserted = this.#onInsert(reply);
          feedback.textContent = inserted ? "Inserted: review it and press Enter to send." : "Open a chat to insert the reply.";
        } }, "Insert")));
    return el(doc, "div", { "data-role": "replies" }, el(doc, "h3", {}, "Suggested replies"),
      list.length ? list : el(doc, "div", { class: "muted" }, "No suggestions."), feedback);
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
