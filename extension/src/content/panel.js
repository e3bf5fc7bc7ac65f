// The panel beside the open chat: customer, latest analysis, suggested replies. It lives in an OPEN shadow
// root (tests reach into it; WhatsApp's styles stay out) on a fixed host element added to document.body.
// A view only: main.js fetches the data through the background and calls render().

import { el } from "../lib/dom.js";
import { draftErrorText } from "../lib/draft.js";
import { describeError } from "../lib/errors.js";
import { msgKey } from "../lib/i18n.js";
import { PANEL_CSS } from "./panel-style.js";

export const PANEL_HOST_ID = "crm-agent-panel";

export class Panel {
  #doc;
  #i18n;
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

  /**
   * i18n: an I18n (src/lib/i18n.js) for every word and number shown.
   * draft: a DraftState (src/lib/draft.js) the panel draws; onDraft/onDraftCancel start and cancel it.
   */
  constructor({ doc, i18n, collapsed = false, onInsert, onCollapse, onOpenOptions, draft = null, onDraft = () => {},
    onDraftCancel = () => {} }) {
    this.#doc = doc;
    this.#i18n = i18n;
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
    if (this.#draftText?.isConnected) this.#draftText.textContent = this.#draft.text || this.#i18n.t("draft_writing");
    else this.#draw();
  }

  #draw() {
    if (!this.#root) return;
    const doc = this.#doc;
    const i18n = this.#i18n;
    this.#host.style.display = this.#view.state === "hidden" ? "none" : "block";
    const panel = el(doc, "section", { class: "panel", "data-state": this.#view.state, "data-collapsed": String(this.#collapsed),
      "aria-label": "CRM Agent" },
    el(doc, "div", { class: "bar" },
      el(doc, "span", { class: "brand" }, "CRM Agent"),
      el(doc, "button", { class: "icon", "data-action": "collapse", "aria-expanded": String(!this.#collapsed),
        title: this.#collapsed ? i18n.t("panel_expand") : i18n.t("panel_collapse"), onclick: () => this.#toggle() }, this.#collapsed ? "◂" : "▸")),
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
    const i18n = this.#i18n;
    const paused = view.agent?.paused ? el(doc, "div", { class: "notice", "data-role": "paused" }, i18n.t("panel_paused")) : null;
    switch (view.state) {
      case "unpaired":
        return [el(doc, "div", { class: "notice off", "data-role": "notice" }, i18n.t("panel_not_paired")),
          el(doc, "button", { "data-action": "open-options", onclick: () => this.#onOpenOptions() }, i18n.t("panel_pair_now"))];
      case "offline":
        return [paused, el(doc, "div", { class: "notice off", "data-role": "notice" },
          i18n.plural("panel_offline_queued", view.agent?.queued ?? 0))];
      case "error":
        return [paused, el(doc, "div", { class: "notice off", "data-role": "notice" }, describeError(view.error, i18n))];
      case "loading":
        return [paused, el(doc, "div", { class: "muted" }, i18n.t("panel_loading"))];
      case "empty":
        return [paused, el(doc, "div", { class: "muted" }, i18n.t("panel_no_messages"))];
      case "ok":
        return [paused, this.#customer(view.data), this.#analysis(view.data), this.#replies(view.data),
          this.#draftSection(view.data)];
      default:
        return [];
    }
  }

  #customer(data) {
    const doc = this.#doc;
    const i18n = this.#i18n;
    const customer = data?.customer;
    if (!customer) {
      return el(doc, "div", { "data-role": "customer" }, el(doc, "h3", {}, i18n.t("panel_customer")),
        el(doc, "div", { class: "muted" }, i18n.t("panel_customer_unknown")));
    }
    const tags = Array.isArray(customer.tags) ? customer.tags : [];
    return el(doc, "div", { "data-role": "customer" },
      el(doc, "h3", {}, i18n.t("panel_customer")),
      el(doc, "div", { class: "name" }, customer.name || i18n.t("panel_unnamed")),
      el(doc, "dl", {},
        el(doc, "dt", {}, i18n.t("panel_phone")), el(doc, "dd", { "data-field": "phone" }, customer.phone || i18n.t("panel_phone_hidden")),
        el(doc, "dt", {}, i18n.t("panel_status")), el(doc, "dd", { "data-field": "status", "data-value": customer.status ?? null },
          labelText(i18n, STATUS_KEYS, customer.status)),
        el(doc, "dt", {}, i18n.t("panel_first_contact")), el(doc, "dd", { "data-field": "first_contact" }, i18n.date(customer.first_contact_at)),
        el(doc, "dt", {}, i18n.t("panel_messages")), el(doc, "dd", { "data-field": "message_count" }, i18n.number(customer.message_count ?? 0))),
      tags.length ? el(doc, "div", { class: "tags" }, tags.map((tag) => el(doc, "span", { class: "tag" }, String(tag)))) : null);
  }

  #analysis(data) {
    const doc = this.#doc;
    const i18n = this.#i18n;
    const latest = data?.latest;
    const analysis = latest?.analysis;
    if (!analysis) return el(doc, "div", { "data-role": "analysis" }, el(doc, "h3", {}, i18n.t("panel_last_message")),
      el(doc, "div", { class: "muted" }, i18n.t("panel_no_analysis")));
    const sentiment = labelOf(analysis.sentiment);
    const intent = labelOf(analysis.intent);
    const confidence = analysis.intent?.confidence ?? analysis.confidence;
    return el(doc, "div", { "data-role": "analysis" },
      el(doc, "h3", {}, i18n.t("panel_last_message")),
      latest.preview ? el(doc, "p", { class: "preview" }, latest.preview) : null,
      el(doc, "div", { class: "chips" },
        el(doc, "span", { class: "chip", "data-sentiment": sentiment, "data-field": "sentiment" },
          i18n.t("panel_sentiment", labelText(i18n, SENTIMENT_KEYS, sentiment))),
        el(doc, "span", { class: "chip", "data-field": "intent", "data-value": intent },
          i18n.t("panel_intent", labelText(i18n, INTENT_KEYS, intent))),
        Number.isFinite(confidence)
          ? el(doc, "span", { class: "chip", "data-field": "confidence" }, i18n.t("panel_confidence", i18n.percent(confidence))) : null));
  }

  #replies(data) {
    const doc = this.#doc;
    const i18n = this.#i18n;
    const replies = (data?.latest?.analysis?.suggested_responses ?? []).filter((r) => typeof r === "string" && r.trim());
    const feedback = el(doc, "div", { class: "feedback", "data-role": "feedback", "aria-live": "polite" });
    const knowledge = data?.latest?.analysis?.knowledge;
    const source = typeof knowledge?.title === "string" && knowledge.title ? knowledge.title : null;
    const list = replies.map((reply, index) => el(doc, "div", { class: "reply", "data-grounded": String(index === 0 && Boolean(source)) },
      // The first suggestion of a grounded analysis carries the entry's fact: say where it came from.
      index === 0 && source
        ? el(doc, "div", { class: "source", "data-role": "knowledge-source", "data-entry-id": knowledge.entry_id ?? null },
          i18n.t("panel_from_knowledge", source)) : null,
      el(doc, "p", {}, reply),
      el(doc, "button", { "data-action": "insert-reply", title: i18n.t("panel_insert_reply_title"),
        onclick: () => {
          const inserted = this.#onInsert(reply);
          feedback.textContent = inserted ? i18n.t("panel_inserted") : i18n.t("panel_open_chat_to_insert_reply");
        } }, i18n.t("panel_insert"))));
    return el(doc, "div", { "data-role": "replies" }, el(doc, "h3", {}, i18n.t("panel_suggested_replies")),
      list.length ? list : el(doc, "div", { class: "muted" }, i18n.t("panel_no_suggestions")), feedback);
  }

  #draftSection(data) {
    const doc = this.#doc;
    const i18n = this.#i18n;
    const draft = this.#draft;
    this.#draftText = null;
    if (!draft) return null;
    const latestId = data?.latest?.id;
    const heading = el(doc, "h3", {}, i18n.t("draft_heading"));
    if (!Number.isInteger(latestId)) {
      return el(doc, "div", { "data-role": "draft", "data-status": "none" }, heading,
        el(doc, "div", { class: "muted" }, i18n.t("draft_nothing_to_answer")));
    }
    const start = (label) => el(doc, "button", { "data-action": "draft", title: i18n.t("draft_button_title"),
      onclick: () => this.#onDraft(latestId) }, label);
    const parts = [heading];
    if (draft.status === "idle") {
      parts.push(start(i18n.t("draft_button")));
    } else {
      this.#draftText = el(doc, "p", { class: "draft-text", "data-role": "draft-text", "aria-live": "polite" },
        draft.text || (draft.running ? i18n.t("draft_writing") : ""));
      if (draft.status === "failed") {
        parts.push(el(doc, "div", { class: "notice off", "data-role": "draft-error" }, draftErrorText(draft.error, i18n)));
        if (draft.text) parts.push(this.#draftText);
      } else {
        parts.push(this.#draftText);
      }
      if (draft.running) {
        parts.push(el(doc, "div", { class: "actions" },
          el(doc, "span", { class: "muted" }, draft.status === "starting" ? i18n.t("draft_starting") : i18n.t("draft_writing")),
          el(doc, "button", { "data-action": "draft-cancel", onclick: () => this.#onDraftCancel() }, i18n.t("draft_cancel"))));
      } else {
        const feedback = el(doc, "div", { class: "feedback", "data-role": "draft-feedback", "aria-live": "polite" });
        parts.push(el(doc, "div", { class: "actions" },
          draft.insertable ? el(doc, "button", { "data-action": "draft-insert",
            title: i18n.t("draft_insert_title"), onclick: () => {
              const inserted = this.#onInsert(draft.text.trim());
              feedback.textContent = inserted ? i18n.t("panel_inserted") : i18n.t("draft_open_chat_to_insert");
            } }, i18n.t("panel_insert")) : null,
          start(draft.status === "failed" ? i18n.t("draft_try_again") : i18n.t("draft_again"))), feedback);
        if (draft.status === "cancelled") parts.push(el(doc, "div", { class: "muted" }, i18n.t("draft_cancelled")));
        if (draft.status === "done" && Number.isFinite(draft.stats?.tokens_per_s)) {
          parts.push(el(doc, "div", { class: "muted", "data-role": "draft-stats" },
            i18n.plural("draft_stats", draft.stats.tokens ?? 0, i18n.decimal(draft.stats.tokens_per_s, 1))));
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

// The agent's labels (ai/analysis.py SENTIMENT_LABELS, INTENT_LABELS; crm/customer_status.py) are identifiers:
// shown in the user's words; one this list does not know yet is shown as it came.
const SENTIMENT_KEYS = {
  positive: msgKey("sentiment_positive"), neutral: msgKey("sentiment_neutral"), negative: msgKey("sentiment_negative"),
  unknown: msgKey("label_unknown"),
};
const INTENT_KEYS = {
  greeting: msgKey("intent_greeting"), pricing: msgKey("intent_pricing"), purchase: msgKey("intent_purchase"),
  order_status: msgKey("intent_order_status"), support: msgKey("intent_support"), complaint: msgKey("intent_complaint"),
  cancellation: msgKey("intent_cancellation"), payment: msgKey("intent_payment"), scheduling: msgKey("intent_scheduling"),
  praise: msgKey("intent_praise"), other: msgKey("intent_other"), unknown: msgKey("label_unknown"),
};
const STATUS_KEYS = {
  lead: msgKey("status_lead"), prospect: msgKey("status_prospect"), customer: msgKey("status_customer"),
  active: msgKey("status_active"), inactive: msgKey("status_inactive"), churned: msgKey("status_churned"),
};

function labelText(i18n, keys, label) {
  if (!label) return "—";
  return Object.hasOwn(keys, label) ? i18n.t(keys[label]) : String(label);
}

