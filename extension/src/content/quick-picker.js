// Quick replies in WhatsApp's message box: typing "/" at the start of a word (then letters) lists the agent's
// matching quick replies beside the box; ↑/↓ move, Enter/Tab or a click choose, Esc closes, typing narrows.
// Choosing replaces the "/shortcut" with the reply's text (placeholders filled by the agent) as editing input;
// it NEVER sends: while the list shows (or is being fetched) no Enter reaches WhatsApp.
//
// The list lives in its own open shadow root (like the panel) so the page's CSS cannot reach it. Requests go
// through the background (ask), debounced, with a few seconds' cache per prefix.

import { el } from "../lib/dom.js";
import { keyAction, ListState, narrowItems, PrefixCache, slashWordAt } from "../lib/quick-replies.js";
import { caretInCompose, findComposeBox, replaceInCompose } from "./compose.js";

export const PICKER_HOST_ID = "crm-agent-quick-replies";
const DEBOUNCE_MS = 120;
const CACHE_TTL_MS = 5000;
const GAP_PX = 6;

const PICKER_CSS = `
:host { all: initial; }
.list { box-sizing: border-box; max-height: 260px; overflow-y: auto; margin: 0; padding: 4px; list-style: none;
  font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; background: #ffffff;
  border: 1px solid #d9e2ec; border-radius: 10px; box-shadow: 0 4px 16px rgba(15, 23, 42, 0.16); }
.head { padding: 2px 8px 4px; font-size: 11px; font-weight: 600; letter-spacing: 0.04em; text-transform: uppercase;
  color: #627d98; }
.item { display: flex; flex-direction: column; gap: 1px; padding: 6px 8px; border-radius: 6px; cursor: pointer; }
.item[aria-selected="true"] { background: #e6f4ee; }
.line { display: flex; gap: 8px; align-items: baseline; }
.shortcut { font-weight: 600; color: #0b6e4f; white-space: nowrap; }
.title { color: #486581; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.text { color: #334e68; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.hint { padding: 4px 8px 2px; font-size: 11px; color: #829ab1; }
`;

export class QuickReplyPicker {
  #doc;
  #i18n;
  #ask;
  #chatId;
  #list = new ListState();
  #cache;
  #host = null;
  #root = null;
  #word = null; // {start, end, prefix, before}: the "/word" at the caret
  #dismissed = null; // the word Esc closed: it stays closed while the user types on in it
  #pending = false; // a lookup for the current word is on its way (Enter is held back meanwhile)
  #timer = null;
  #checkQueued = false;
  #listeners = [];

  /** ask(prefix, chatId) -> Promise<{ok, items}>; chatId() -> the open chat's id or null; i18n: the list's words. */
  constructor({ doc, i18n, ask, chatId = () => null, now = Date.now }) {
    this.#doc = doc;
    this.#i18n = i18n;
    this.#ask = ask;
    this.#chatId = chatId;
    this.#cache = new PrefixCache({ ttlMs: CACHE_TTL_MS, now });
  }

  get open() {
    return this.#list.open && this.#host?.style.display !== "none";
  }

  start() {
    const doc = this.#doc;
    const win = doc.defaultView;
    this.#mount();
    // Capture phase on the window: this runs before WhatsApp's own handler on the box sees the key.
    this.#on(win, "keydown", (event) => this.#onKeyDown(event), true);
    this.#on(doc, "input", (event) => this.#inBox(event) && this.#queueCheck(), true);
    this.#on(doc, "keyup", (event) => this.#inBox(event) && !keyAction(event) && this.#queueCheck(), true);
    this.#on(doc, "selectionchange", () => this.#queueCheck());
    this.#on(win, "resize", () => this.open && this.#place());
  }

  stop() {
    for (const [target, type, listener, capture] of this.#listeners) target.removeEventListener(type, listener, capture);
    this.#listeners = [];
    clearTimeout(this.#timer);
    this.#host?.remove();
  }

  #on(target, type, listener, capture = false) {
    target.addEventListener(type, listener, capture);
    this.#listeners.push([target, type, listener, capture]);
  }

  #inBox(event) {
    const box = findComposeBox(this.#doc);
    return Boolean(box && event.target instanceof this.#doc.defaultView.Node && box.contains(event.target));
  }

  #mount() {
    const doc = this.#doc;
    doc.getElementById(PICKER_HOST_ID)?.remove(); // a previous copy of this script (extension reloaded)
    this.#host = doc.createElement("div");
    this.#host.id = PICKER_HOST_ID;
    Object.assign(this.#host.style, { position: "fixed", zIndex: "2147483001", display: "none" });
    this.#root = this.#host.attachShadow({ mode: "open" });
    doc.body.append(this.#host);
  }

  // Several events fire per keystroke (input, keyup, selectionchange): one check after them all.
  #queueCheck() {
    if (this.#checkQueued) return;
    this.#checkQueued = true;
    setTimeout(() => {
      if (this.#checkQueued) this.#check();
    }, 0);
  }

  #check() {
    this.#checkQueued = false;
    const word = this.#wordAtCaret();
    if (!word) {
      this.#dismissed = null;
      this.#close();
      return;
    }
    if (this.#dismissed && sameWord(this.#dismissed, word)) return;
    this.#dismissed = null;
    const changed = !this.#word || this.#word.prefix !== word.prefix || !sameWord(this.#word, word);
    this.#word = word;
    if (!changed && (this.open || this.#pending)) return;
    const chatId = this.#chatId();
    const cached = this.#cache.get(chatId, word.prefix);
    if (cached) {
      this.#pending = false;
      clearTimeout(this.#timer);
      this.#show(cached);
      return;
    }
    const nearest = this.#cache.nearest(chatId, word.prefix);
    if (nearest) this.#show(narrowItems(nearest, word.prefix)); // at once, while the exact answer is asked
    this.#pending = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#lookUp(chatId, word.prefix), DEBOUNCE_MS);
  }

  async #lookUp(chatId, prefix) {
    let answer;
    try {
      answer = await this.#ask(prefix, chatId);
    } catch {
      answer = null;
    }
    const items = answer?.ok && Array.isArray(answer.items) ? answer.items.filter(isQuickReply) : null;
    if (items) this.#cache.set(chatId, prefix, items);
    if (this.#word?.prefix !== prefix || this.#chatId() !== chatId) return; // typed on meanwhile: a later lookup answers
    this.#pending = false;
    if (items) this.#show(items);
    else this.#close(); // not paired, agent offline: nothing shows
  }

  #wordAtCaret() {
    const caret = caretInCompose(this.#doc);
    if (!caret) return null;
    const word = slashWordAt(caret.text, caret.offset);
    return word && { ...word, node: caret.node, before: caret.text.slice(0, word.start) };
  }

  #onKeyDown(event) {
    if (this.#checkQueued && keyAction(event)) this.#check(); // a key right after typing: decide on the fresh text
    if (!this.open && !this.#pending) return;
    if (!this.#inBox(event)) return;
    const action = keyAction(event);
    if (!action) return;
    if (!this.open) {
      // Still fetching: only Enter is held back, so "/fre" + a quick Enter never sends "/fre".
      if (action === "choose" && event.key === "Enter") stopKey(event);
      return;
    }
    stopKey(event);
    if (action === "down" || action === "up") {
      this.#list.move(action === "down" ? 1 : -1);
      this.#draw();
    } else if (action === "choose") {
      this.#choose(this.#list.current);
    } else if (action === "close") {
      this.#dismissed = this.#word;
      this.#close();
    }
  }

  #choose(item) {
    if (!item) return;
    const word = this.#wordAtCaret() ?? this.#word; // the editor may have re-rendered its text nodes
    this.#close();
    if (!word) return;
    this.#word = null;
    replaceInCompose(this.#doc, word.node, word.start, word.end, item.text);
  }

  #show(items) {
    this.#list.setItems(items);
    if (!this.#list.open) {
      this.#close();
      return;
    }
    this.#host.style.display = "block";
    this.#draw();
    this.#place();
  }

  #close() {
    this.#pending = false;
    clearTimeout(this.#timer);
    this.#list.clear();
    if (this.#host) this.#host.style.display = "none";
    this.#root?.replaceChildren();
  }

  #draw() {
    const doc = this.#doc;
    const items = this.#list.items.map((item, index) => el(doc, "li", {
      class: "item", role: "option", "data-role": "quick-reply", "data-shortcut": item.shortcut,
      "aria-selected": String(index === this.#list.index),
      // mousedown would move focus (and the caret) out of the message box: keep them there
      onmousedown: (event) => event.preventDefault(),
      onmouseenter: () => {
        this.#list.select(index);
        this.#markSelected();
      },
      onclick: () => this.#choose(item),
    },
    el(doc, "div", { class: "line" },
      el(doc, "span", { class: "shortcut" }, `/${item.shortcut}`),
      item.title ? el(doc, "span", { class: "title" }, item.title) : null),
    el(doc, "div", { class: "text" }, item.text)));
    const list = el(doc, "ul", { class: "list", role: "listbox", "aria-label": this.#i18n.t("picker_heading") },
      el(doc, "li", { class: "head", role: "presentation" }, this.#i18n.t("picker_heading")),
      items,
      el(doc, "li", { class: "hint", role: "presentation" }, this.#i18n.t("picker_hint")));
    this.#root.replaceChildren(el(doc, "style", {}, PICKER_CSS), list);
    this.#root.querySelector('[aria-selected="true"]')?.scrollIntoView?.({ block: "nearest" });
  }

  #markSelected() {
    const options = this.#root.querySelectorAll('[data-role="quick-reply"]');
    options.forEach((option, index) => option.setAttribute("aria-selected", String(index === this.#list.index)));
  }

  // Above the box (it sits at the bottom of the window), as wide as it up to 440 px; below when there is no room.
  #place() {
    const box = findComposeBox(this.#doc);
    if (!box) return;
    const rect = box.getBoundingClientRect();
    const win = this.#doc.defaultView;
    const style = this.#host.style;
    style.left = `${Math.max(8, rect.left)}px`;
    style.width = `${Math.max(260, Math.min(440, rect.width))}px`;
    if (rect.top > 200) {
      style.top = "";
      style.bottom = `${win.innerHeight - rect.top + GAP_PX}px`;
    } else {
      style.bottom = "";
      style.top = `${rect.bottom + GAP_PX}px`;
    }
  }
}

function sameWord(a, b) {
  return a.start === b.start && a.before === b.before;
}

function stopKey(event) {
  event.preventDefault();
  event.stopImmediatePropagation();
}

function isQuickReply(item) {
  return item && typeof item.text === "string" && typeof item.shortcut === "string";
}
