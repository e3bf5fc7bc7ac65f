// Quick replies' pure logic (no DOM): finding the "/shortcut" being typed at the caret, the list's keyboard
// state, narrowing a list while the next answer is on its way, and a short per-prefix cache. The content
// script's picker (src/content/quick-picker.js) wires these to WhatsApp's message box.

// A shortcut is letters (any script), digits, "-" and "_": the agent stores it without the "/".
const SHORTCUT_CHAR = /[\p{L}\p{N}_-]/u;
const MAX_SHORTCUT_CHARS = 32; // the agent's limit (crm/knowledge.py SHORTCUT)

/**
 * The "/word" the caret is in or just after, or null. The "/" must start the text or follow white space, so
 * "http://x" or "1/2" never open the list. `text` is the text around the caret (one text node is enough: a word
 * never spans two), `caret` an offset in it.
 * -> {start: index of "/", end: index after the word (the caret may be inside it), prefix: the letters typed
 *     before the caret, lower-cased}
 */
export function slashWordAt(text, caret) {
  if (typeof text !== "string" || !Number.isInteger(caret) || caret < 1 || caret > text.length) return null;
  let start = caret;
  while (start > 0 && SHORTCUT_CHAR.test(text[start - 1])) start -= 1;
  const slash = start - 1;
  if (slash < 0 || text[slash] !== "/") return null;
  if (slash > 0 && !/\s/u.test(text[slash - 1])) return null;
  let end = caret;
  while (end < text.length && SHORTCUT_CHAR.test(text[end])) end += 1;
  if (end - start > MAX_SHORTCUT_CHARS) return null;
  return { start: slash, end, prefix: text.slice(start, caret).toLowerCase() };
}

/** Lower case without accents: "Frété" and "frete" are the same shortcut to a typing seller. */
export function foldShortcut(value) {
  return String(value ?? "").normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** The items whose shortcut starts with prefix (shown at once from a shorter prefix's answer). */
export function narrowItems(items, prefix) {
  const wanted = foldShortcut(prefix);
  return (Array.isArray(items) ? items : []).filter((item) => foldShortcut(item?.shortcut).startsWith(wanted));
}

/** The list's keyboard state: which item is highlighted; ↑/↓ wrap around. */
export class ListState {
  #items = [];
  #index = 0;

  get items() {
    return this.#items;
  }

  get index() {
    return this.#index;
  }

  get current() {
    return this.#items[this.#index] ?? null;
  }

  get open() {
    return this.#items.length > 0;
  }

  /** New items keep the highlighted one when it is still there (a narrowing list must not jump). */
  setItems(items) {
    const keep = this.current?.id;
    this.#items = Array.isArray(items) ? items.slice() : [];
    const again = keep === undefined ? -1 : this.#items.findIndex((item) => item.id === keep);
    this.#index = again >= 0 ? again : 0;
  }

  move(delta) {
    if (!this.#items.length) return;
    const n = this.#items.length;
    this.#index = (((this.#index + delta) % n) + n) % n;
  }

  select(index) {
    if (index >= 0 && index < this.#items.length) this.#index = index;
  }

  clear() {
    this.#items = [];
    this.#index = 0;
  }
}

/**
 * What a key does while the list is open: "up" | "down" | "choose" | "close" | null (let it through). Enter
 * and Tab choose (so no Enter reaches WhatsApp's send), Escape closes; a modified Enter (Shift: new line) too
 * is kept from the box while the list shows.
 */
export function keyAction(event) {
  if (event.isComposing) return null; // an IME is composing: its Enter is not ours
  switch (event.key) {
    case "ArrowDown": return "down";
    case "ArrowUp": return "up";
    case "Enter": return "choose";
    case "Tab": return event.shiftKey ? null : "choose";
    case "Escape": return "close";
    default: return null;
  }
}

/** Answers per (chat, prefix) for ttlMs: typing back and forth over a shortcut asks the agent once. */
export class PrefixCache {
  #ttlMs;
  #now;
  #entries = new Map();
  #max;

  constructor({ ttlMs = 5000, now = Date.now, max = 50 } = {}) {
    this.#ttlMs = ttlMs;
    this.#now = now;
    this.#max = max;
  }

  #key(chatId, prefix) {
    return `${chatId ?? ""}\u0000${prefix}`;
  }

  get(chatId, prefix) {
    const key = this.#key(chatId, prefix);
    const entry = this.#entries.get(key);
    if (!entry) return null;
    if (this.#now() - entry.at > this.#ttlMs) {
      this.#entries.delete(key);
      return null;
    }
    return entry.items;
  }

  /** The freshest answer for a shorter prefix of this one (to narrow while the exact one is asked). */
  nearest(chatId, prefix) {
    for (let n = prefix.length - 1; n >= 0; n -= 1) {
      const items = this.get(chatId, prefix.slice(0, n));
      if (items) return items;
    }
    return null;
  }

  set(chatId, prefix, items) {
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value);
    this.#entries.set(this.#key(chatId, prefix), { at: this.#now(), items });
  }
}
