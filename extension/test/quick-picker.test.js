// The quick-reply picker on a jsdom page shaped like WhatsApp Web's message box: "/fre" lists the agent's
// answer, keys move and choose, the "/fre" is replaced, and no Enter reaches the page while the list shows.
import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { JSDOM } from "jsdom";
import { PICKER_HOST_ID, QuickReplyPicker } from "../src/content/quick-picker.js";
import { catalogI18n } from "./locales.js";

const ITEMS = [
  { id: 1, shortcut: "frete", title: "Frete para BH", text: "O frete para BH é R$ 25, Maria." },
  { id: 2, shortcut: "frete-sp", title: "Frete SP", text: "Para SP o frete é grátis." },
];

let dom;
let doc;
let box;
let sent;
let asked;
let picker;

beforeEach(() => {
  dom = new JSDOM("<!doctype html><body><div id='main'><footer><div contenteditable='true'></div></footer></div></body>");
  doc = dom.window.document;
  box = doc.querySelector("[contenteditable]");
  sent = [];
  asked = [];
  // WhatsApp sends on Enter in the box: a listener on the box itself, like the page's.
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter") sent.push(box.textContent);
  });
  // jsdom has no execCommand: the picker's fallback InputEvent is applied here, as an editor would.
  box.addEventListener("beforeinput", (event) => {
    const range = doc.getSelection().getRangeAt(0);
    range.deleteContents();
    range.insertNode(doc.createTextNode(event.data));
    box.normalize();
  });
});

afterEach(() => {
  picker?.stop();
  dom.window.close();
});

function start(answer = (prefix) => ({ ok: true, items: ITEMS.filter((i) => i.shortcut.startsWith(prefix)) })) {
  picker = new QuickReplyPicker({ doc, i18n: catalogI18n("en"), chatId: () => "5511987654321@c.us", ask: async (prefix, chatId) => {
    asked.push([prefix, chatId]);
    return answer(prefix);
  } });
  picker.start();
}

/** The user typed `text` into the box, caret at its end. */
function type(text) {
  box.focus();
  box.textContent = text;
  const range = doc.createRange();
  range.setStart(box.firstChild, text.length);
  range.collapse(true);
  doc.getSelection().removeAllRanges();
  doc.getSelection().addRange(range);
  box.dispatchEvent(new dom.window.InputEvent("input", { bubbles: true }));
}

function key(name) {
  const event = new dom.window.KeyboardEvent("keydown", { key: name, bubbles: true, cancelable: true });
  box.dispatchEvent(event);
  return event;
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const options = () => [...doc.getElementById(PICKER_HOST_ID).shadowRoot.querySelectorAll('[data-role="quick-reply"]')];
const selected = () => options().find((o) => o.getAttribute("aria-selected") === "true")?.dataset.shortcut;

test("'/fre' lists the matches; ↓ and Enter insert the second in place of '/fre'; nothing is sent", async () => {
  start();
  type("Oi! /fre");
  await wait(200);
  assert.deepEqual(asked, [["fre", "5511987654321@c.us"]]);
  assert.equal(picker.open, true);
  assert.deepEqual(options().map((o) => o.dataset.shortcut), ["frete", "frete-sp"]);
  assert.equal(doc.getElementById(PICKER_HOST_ID).shadowRoot.mode, "open");
  key("ArrowDown");
  assert.equal(selected(), "frete-sp");
  key("ArrowDown");
  assert.equal(selected(), "frete");
  key("ArrowUp");
  const enter = key("Enter");
  assert.equal(enter.defaultPrevented, true);
  assert.deepEqual(sent, [], "an Enter reached the page while the list was open");
  assert.equal(box.textContent, "Oi! Para SP o frete é grátis.");
  assert.equal(picker.open, false);
});

test("typing on narrows from the cache at once; Tab chooses", async () => {
  start();
  type("/fr");
  await wait(200);
  type("/frete-");
  await wait(0);
  assert.deepEqual(options().map((o) => o.dataset.shortcut), ["frete-sp"]); // narrowed before the agent answered
  await wait(200);
  key("Tab");
  assert.equal(box.textContent, "Para SP o frete é grátis.");
  type("/fr");
  await wait(200);
  assert.deepEqual(asked.map(([p]) => p), ["fr", "frete-"], "the second '/fr' came from the cache");
});

test("Esc closes and the list stays closed while the user types on in that word; Enter then passes", async () => {
  start();
  type("/fre");
  await wait(200);
  assert.equal(picker.open, true);
  assert.equal(key("Escape").defaultPrevented, true);
  assert.equal(picker.open, false);
  type("/fret");
  await wait(200);
  assert.equal(picker.open, false);
  key("Enter");
  assert.deepEqual(sent, ["/fret"]); // the user's own choice: a closed list holds nothing back
});

test("not paired or offline: nothing shows and Enter is not held back once the answer is in", async () => {
  start(() => ({ ok: false, state: "offline" }));
  type("/fre");
  await wait(200);
  assert.equal(picker.open, false);
  assert.equal(doc.getElementById(PICKER_HOST_ID).style.display, "none");
  key("Enter");
  assert.deepEqual(sent, ["/fre"]);
});

test("an Enter while the lookup is on its way is held back", async () => {
  start();
  type("/fre");
  const enter = key("Enter");
  assert.equal(enter.defaultPrevented, true);
  assert.deepEqual(sent, []);
  await wait(200);
  assert.equal(picker.open, true);
});

test("a slash that does not start a word opens nothing", async () => {
  start();
  type("veja http://exemplo.com/fre");
  await wait(200);
  assert.deepEqual(asked, []);
  assert.equal(picker.open, false);
});
