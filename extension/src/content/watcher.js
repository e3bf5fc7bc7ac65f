// Watches WhatsApp Web for message rows and reads each one once.
//
// Cost matters: a chat can hold thousands of rows and WhatsApp mutates the page constantly. One
// MutationObserver delivers a batch of records per microtask checkpoint (no requestAnimationFrame: it does
// not run in a background tab, where new messages must still be captured). Each batch looks only at the
// nodes it added; the whole chat is scanned once, when a chat opens. The cost of each batch is recorded with
// the Performance API (measure "crm-agent:mutation-batch"; "crm-agent:chat-open" for the opening scan).

import { buildCapture, captureEnvironment, parseDataId } from "../lib/parse.js";
import { openChat, readRow } from "./reader.js";
import { SELECTORS, SELECTORS_VERSION } from "./selectors.js";
import { StallDetector } from "./stall.js";

export const MEASURE_BATCH = "crm-agent:mutation-batch";
export const MEASURE_CHAT_OPEN = "crm-agent:chat-open";
const TICK_MS = 2000;
const UNREADABLE_GRACE_MS = 10_000; // a row still rendering gets this long before it is sent as it is
const MAX_WAITING_ROWS = 2000;
const MAX_MEASURES = 2000; // user-timing entries are kept by the page until cleared
const RECOUNT_SAMPLE = 30; // newest rows checked for readable text on each tick

export class ChatWatcher {
  #doc;
  #perf;
  #now;
  #onCaptures;
  #onChat;
  #onHealth;
  #observer = null;
  #timer = null;
  #paused = false;
  #main = null;
  #chat = { open: false, title: null, chatId: null };
  #seen = new Set(); // data-ids read (or skipped while paused), for this page's life
  #waiting = new Map(); // row element -> first time it was found unreadable
  #rows = 0; // rows in the open chat
  #readable = 0; // of which readable
  #rowsSeen = 0; // rows read since the page loaded (reported to the agent)
  #measures = 0;
  #counted = new WeakMap(); // row -> {main, readable}: counted once per opened chat for stall detection
  #arrivedWhilePaused = new WeakMap(); // row -> epoch ms it entered the page while capture was paused
  #lastReason = "";
  #stall;

  constructor({ doc, onCaptures, onChat = () => {}, onHealth = () => {}, perf = globalThis.performance,
    now = Date.now, stallThresholdMs }) {
    this.#doc = doc;
    this.#perf = perf;
    this.#now = now;
    this.#onCaptures = onCaptures;
    this.#onChat = onChat;
    this.#onHealth = onHealth;
    this.#stall = new StallDetector({ now, thresholdMs: stallThresholdMs });
  }

  get chat() {
    return { ...this.#chat };
  }

  get rowsSeen() {
    return this.#rowsSeen;
  }

  start({ paused = false } = {}) {
    this.#paused = paused;
    this.#observer = new MutationObserver((records) => this.#onMutations(records));
    this.#observer.observe(this.#doc.body, { childList: true, subtree: true });
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#checkChat(!paused); // paused from the start: the rows on screen are skipped, not read
  }

  stop() {
    this.#observer?.disconnect();
    clearInterval(this.#timer);
  }

  /**
   * Pause reads nothing. On resume, rows already on screen are skipped: what arrived while paused stays private.
   * resumedAt (epoch ms, from the background) is when the user resumed: rows that entered the page after it
   * but before this script heard of the resume are read, not skipped.
   */
  setPaused(paused, resumedAt = null) {
    if (paused === this.#paused) return;
    this.#paused = paused;
    if (!paused) {
      this.#main = null; // re-detect the open chat ...
      // Resumed here and now (no time from the background): every arrival noted so far came before this call,
      // one noted in this same millisecond too, so none is read (a real clock made that race: seen in CI).
      this.#resumedAt = resumedAt ?? Number.POSITIVE_INFINITY;
      this.#checkChat(false); // ... marking the rows from before the resume as seen without reading them
    }
  }

  #resumedAt = 0;

  /** Build the health report for the agent. */
  healthReport() {
    return {
      selectors_version: SELECTORS_VERSION,
      state: this.#paused ? "idle" : this.#stall.state ?? "idle",
      reason: this.#paused ? "capture paused" : this.#lastReason ?? "",
      rows_seen: this.#rowsSeen,
    };
  }

  #onMutations(records) {
    if (this.#paused) {
      this.#noteArrivalsWhilePaused(records);
      return;
    }
    const startMark = `${MEASURE_BATCH}:start`;
    this.#perf?.mark(startMark);
    const chat = openChat(this.#doc);
    if (chat.main !== this.#main) {
      this.#openChat(chat, true);
    } else if (chat.main) {
      this.#readAdded(records, chat.main);
    }
    this.#measure(MEASURE_BATCH, startMark);
  }

  // Only the arrival time: a paused page reads no text. Rows added as whole subtrees are rare while paused.
  #noteArrivalsWhilePaused(records) {
    const now = this.#now();
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        if (node.matches(SELECTORS.row)) this.#arrivedWhilePaused.set(node, now);
        if (node.firstElementChild) {
          for (const row of node.querySelectorAll(SELECTORS.row)) this.#arrivedWhilePaused.set(row, now);
        }
      }
    }
  }

  #checkChat(read) {
    const chat = openChat(this.#doc);
    if (chat.main !== this.#main || chat.title !== this.#chat.title) this.#openChat(chat, read);
  }

  // A chat opened (or was switched): scan its rows once, so the visible history is captured.
  #openChat(chat, read) {
    const startMark = `${MEASURE_CHAT_OPEN}:start`;
    this.#perf?.mark(startMark);
    this.#main = chat.main;
    this.#rows = 0;
    this.#readable = 0;
    this.#waiting.clear();
    const rows = chat.main ? chat.main.querySelectorAll(SELECTORS.row) : [];
    const captures = read ? this.#readRows(rows, chat.title) : this.#skipRows(rows, chat.title);
    const chatId = this.#chatIdFrom(rows);
    this.#chat = { open: chat.open, title: chat.title, chatId };
    this.#onChat(this.chat);
    this.#emit(captures);
    this.#measure(MEASURE_CHAT_OPEN, startMark);
    this.#checkHealth();
  }

  #readAdded(records, main) {
    const rows = [];
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1 || !main.contains(node)) continue;
        const isRow = node.matches(SELECTORS.row);
        if (isRow) rows.push(node);
        const inner = node.firstElementChild ? node.querySelectorAll(SELECTORS.row) : [];
        if (inner.length) rows.push(...inner);
        else if (!isRow && this.#waiting.size) this.#noteChangedRow(node, rows); // text rendered after its row
      }
    }
    if (rows.length === 0) return;
    if (this.#switchedChat(rows)) {
      this.#openChat(openChat(this.#doc), true); // WhatsApp reused #main for another chat
      return;
    }
    const title = this.#chat.title ?? openChat(this.#doc).title;
    const captures = this.#readRows(rows, title);
    if (!this.#chat.chatId) {
      this.#chat.chatId = this.#chatIdFrom(rows);
      if (this.#chat.chatId) this.#onChat(this.chat);
    }
    this.#emit(captures);
    this.#checkHealth();
  }

  #switchedChat(rows) {
    if (!this.#chat.chatId) return false;
    const id = parseDataId(rows[0].getAttribute("data-id"));
    return Boolean(id) && id.chatJid !== this.#chat.chatId;
  }

  #noteChangedRow(node, rows) {
    const row = node.parentElement?.closest(SELECTORS.row);
    if (row && this.#waiting.has(row)) rows.push(row);
  }

  #readRows(rows, title) {
    const captures = [];
    const now = this.#now();
    const env = captureEnvironment(now);
    for (const row of rows) {
      const dataId = row.getAttribute("data-id");
      if (this.#seen.has(dataId) && !this.#waiting.has(row)) {
        this.#countRow(row, true);
        continue;
      }
      const fields = readRow(row);
      this.#countRow(row, fields.readable);
      if (!fields.readable && !this.#waitedEnough(row, now)) continue; // still rendering, or the selectors broke
      this.#waiting.delete(row);
      this.#seen.add(dataId);
      const capture = buildCapture({ ...fields, chatTitle: title }, env);
      if (capture) {
        this.#rowsSeen += 1;
        captures.push(capture);
      }
    }
    return captures;
  }

  // Rows on screen when capture resumes: skipped, except those that arrived after the user resumed.
  #skipRows(rows, title) {
    const arrivedAfterResume = [];
    for (const row of rows) {
      const arrived = this.#arrivedWhilePaused.get(row);
      if (arrived !== undefined && arrived >= this.#resumedAt) {
        arrivedAfterResume.push(row);
        continue;
      }
      this.#seen.add(row.getAttribute("data-id"));
      this.#countRow(row, true);
    }
    return arrivedAfterResume.length ? this.#readRows(arrivedAfterResume, title) : [];
  }

  // Rows of the open chat (for stall detection): each counted once, and once more as readable when it becomes so.
  #countRow(row, readable) {
    const counted = this.#counted.get(row);
    if (counted?.main === this.#main) {
      if (readable && !counted.readable) {
        counted.readable = true;
        this.#readable += 1;
      }
      return;
    }
    this.#counted.set(row, { main: this.#main, readable });
    this.#rows += 1;
    if (readable) this.#readable += 1;
  }

  #waitedEnough(row, now) {
    const since = this.#waiting.get(row);
    if (since === undefined) {
      if (this.#waiting.size < MAX_WAITING_ROWS) this.#waiting.set(row, now);
      return false;
    }
    // Sent as it is only when other rows of the chat read fine: a chat where nothing reads is stalled.
    return now - since >= UNREADABLE_GRACE_MS && this.#readable > 0;
  }

  #chatIdFrom(rows) {
    for (const row of rows) {
      const id = parseDataId(row.getAttribute("data-id"));
      if (id) return id.chatJid;
    }
    return null;
  }

  #tick() {
    if (this.#paused) return;
    this.#checkChat(true);
    this.#recount();
    if (this.#waiting.size && this.#main) {
      const captures = this.#readRows([...this.#waiting.keys()].filter((row) => row.isConnected), this.#chat.title);
      this.#emit(captures);
    }
    this.#checkHealth();
  }

  // The open chat's rows counted afresh on each tick, off the mutation path: a WhatsApp release that renames
  // the row attribute while a chat is open leaves rows on screen that no longer match, and no mutation says so.
  // Only the newest rows are read for text: reading a long chat every tick would cost more than it tells.
  #recount() {
    if (!this.#main) return;
    const rows = this.#main.querySelectorAll(SELECTORS.row);
    let readable = 0;
    for (let i = Math.max(0, rows.length - RECOUNT_SAMPLE); i < rows.length; i += 1) {
      if (readRow(rows[i]).readable) readable += 1;
    }
    this.#rows = rows.length;
    this.#readable = readable;
  }

  #checkHealth() {
    const change = this.#stall.observe({ chatOpen: this.#chat.open, rows: this.#rows, readable: this.#readable });
    if (change) {
      this.#lastReason = change.reason;
      this.#onHealth(this.healthReport());
    }
  }

  #emit(captures) {
    if (captures.length) this.#onCaptures(captures);
  }

  #measure(name, startMark) {
    if (!this.#perf) return;
    try {
      this.#perf.measure(name, startMark);
      this.#perf.clearMarks(startMark);
      this.#measures += 1;
      if (this.#measures > MAX_MEASURES) {
        this.#perf.clearMeasures(name);
        this.#measures = 0;
      }
    } catch {
      // a page that replaced performance: measuring is optional
    }
  }
}
